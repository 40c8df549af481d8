// Server-side printing (meta.k8s.io/v1 Table), what `kubectl get` asks for: custom resources
// print their CRD's additionalPrinterColumns, a few built-in kinds print the columns kubectl users
// know (Service EXTERNAL-IP above all), every other kind NAME and AGE.
import type { ResourceType } from "./types.ts";

interface Column {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority: number;
  cell: (obj: any, now: number) => unknown;
}

/** Like k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  return d % 365 === 0 || y >= 8 ? `${y}y` : `${y}y${d % 365}d`;
}

function age(ts: unknown, now: number): string {
  if (typeof ts !== "string") return "<unknown>";
  const t = Date.parse(ts);
  return Number.isNaN(t) ? "<invalid>" : humanDuration(now - t);
}

/**
 * The simple JSONPath subset printer columns use: .a.b, .a[0].b, .a[*].b, .a['x.y'], a
 * filter on list items, .a[?(@.type=="Ready")].b (== or !=, a quoted string or a bare word),
 * and slices, .a[-1:] (the BGPPeer and NodeBGP STATUS columns).
 */
export function jsonPath(obj: unknown, path: string): unknown[] {
  type Filter = { field: string; op: "==" | "!="; value: string };
  type Slice = { start?: number; end?: number };
  const tokens: Array<string | number | "*" | Filter | Slice> = [];
  const re = /\.([A-Za-z0-9_$-]+)|\[(\d+|\*|'[^']*'|"[^"]*")\]|\[\?\(@\.([A-Za-z0-9_$-]+)\s*(==|!=)\s*("[^"]*"|'[^']*'|[^)\]\s]+)\s*\)\]|\[(-?\d*):(-?\d*)\]/g;
  let m: RegExpExecArray | null;
  const p = path.trim().replace(/^\{|\}$/g, "").replace(/^\$/, "");
  let consumed = 0;
  while ((m = re.exec(p))) {
    if (m.index !== consumed) return [];
    consumed = re.lastIndex;
    if (m[1] !== undefined) tokens.push(m[1]);
    else if (m[3] !== undefined) tokens.push({ field: m[3], op: m[4] as "==" | "!=", value: /^["']/.test(m[5]) ? m[5].slice(1, -1) : m[5] });
    else if (m[6] !== undefined) tokens.push({ start: m[6] ? Number(m[6]) : undefined, end: m[7] ? Number(m[7]) : undefined });
    else if (m[2] === "*") tokens.push("*");
    else if (/^\d+$/.test(m[2])) tokens.push(Number(m[2]));
    else tokens.push(m[2].slice(1, -1));
  }
  if (consumed !== p.length) return [];
  let cur: unknown[] = [obj];
  for (const t of tokens) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (c === null || typeof c !== "object") continue;
      if (t === "*") next.push(...(Array.isArray(c) ? c : Object.values(c)));
      else if (typeof t === "object") {
        if ("field" in t) {
          for (const item of Array.isArray(c) ? c : Object.values(c)) {
            const v = item !== null && typeof item === "object" ? (item as any)[t.field] : undefined;
            if (v !== undefined && (String(v) === t.value) === (t.op === "==")) next.push(item);
          }
        } else if (Array.isArray(c)) next.push(...c.slice(t.start, t.end));
      } else {
        const v = (c as any)[t];
        if (v !== undefined) next.push(v);
      }
    }
    cur = next;
  }
  return cur;
}

function nameColumn(): Column {
  return { name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace.", priority: 0, cell: (o) => o.metadata.name };
}

function ageColumn(): Column {
  return { name: "Age", type: "string", description: "CreationTimestamp is a timestamp representing the server time when this object was created.", priority: 0, cell: (o, now) => age(o.metadata.creationTimestamp, now) };
}

function col(name: string, cell: Column["cell"], priority = 0): Column {
  return { name, type: "string", description: name, priority, cell };
}

function servicePorts(o: any): string {
  const ports: any[] = o.spec?.ports ?? [];
  if (ports.length === 0) return "<none>";
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`).join(",");
}

function externalIPs(o: any): string {
  const spec = o.spec ?? {};
  if (spec.type === "ExternalName") return spec.externalName ?? "<none>";
  const ips: string[] = [...((o.status?.loadBalancer?.ingress ?? []) as any[]).map((i) => i.ip ?? i.hostname), ...(spec.externalIPs ?? [])];
  if (ips.length) return ips.join(",");
  return spec.type === "LoadBalancer" ? "<pending>" : "<none>";
}

function builtinColumns(kind: string): Column[] {
  switch (kind) {
    case "Service":
      return [nameColumn(), col("Type", (o) => o.spec?.type), col("Cluster-IP", (o) => o.spec?.clusterIP ?? "<none>"), col("External-IP", externalIPs), col("Port(s)", servicePorts), ageColumn(), col("Selector", (o) => Object.entries(o.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(",") || "<none>", 1)];
    case "Node":
      return [nameColumn(), col("Status", (o) => ((o.status?.conditions ?? []) as any[]).find((c) => c.type === "Ready")?.status === "True" ? "Ready" : "NotReady"), ageColumn(), col("Internal-IP", (o) => ((o.status?.addresses ?? []) as any[]).find((a) => a.type === "InternalIP")?.address ?? "<none>", 1)];
    case "Pod":
      // kubectl's columns: READY is ready containers / containers, RESTARTS their sum.
      return [
        nameColumn(),
        col("Ready", (o) => `${((o.status?.containerStatuses ?? []) as any[]).filter((c) => c.ready).length}/${(o.spec?.containers ?? []).length}`),
        col("Status", (o) => (o.metadata.deletionTimestamp ? "Terminating" : o.status?.phase ?? "Unknown")),
        col("Restarts", (o) => String(((o.status?.containerStatuses ?? []) as any[]).reduce((n, c) => n + (c.restartCount ?? 0), 0))),
        ageColumn(),
        col("IP", (o) => o.status?.podIP ?? "<none>", 1),
        col("Node", (o) => o.spec?.nodeName ?? "<none>", 1),
        col("Nominated Node", () => "<none>", 1),
        col("Readiness Gates", () => "<none>", 1),
      ];
    case "Namespace":
      return [nameColumn(), col("Status", (o) => o.status?.phase ?? ""), ageColumn()];
    case "Lease":
      return [nameColumn(), col("Holder", (o) => o.spec?.holderIdentity ?? ""), ageColumn()];
    case "EndpointSlice":
      return [nameColumn(), col("AddressType", (o) => o.addressType), col("Ports", (o) => ((o.ports ?? []) as any[]).map((p) => p.port).join(",") || "<unset>"), col("Endpoints", (o) => ((o.endpoints ?? []) as any[]).flatMap((e) => e.addresses ?? []).join(",") || "<unset>"), ageColumn()];
    case "Event":
      return [col("Last Seen", (o, now) => age(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp, now)), col("Type", (o) => o.type), col("Reason", (o) => o.reason), col("Object", (o) => `${String(o.involvedObject?.kind ?? "").toLowerCase()}/${o.involvedObject?.name ?? ""}`), col("Message", (o) => o.message), nameColumn()];
    default:
      return [nameColumn(), ageColumn()];
  }
}

function crdColumns(t: ResourceType): Column[] {
  const version = (t.crd.spec.versions as any[]).find((v) => v.name === t.version);
  const defs: any[] | undefined = version?.additionalPrinterColumns;
  if (!defs) return [nameColumn(), ageColumn()];
  return [
    nameColumn(),
    ...defs.map((d): Column => ({
      name: d.name,
      type: d.type === "date" ? "string" : d.type,
      ...(d.format ? { format: d.format } : {}),
      description: d.description ?? d.name,
      priority: d.priority ?? 0,
      cell: (o, now) => {
        const vals = jsonPath(o, d.jsonPath);
        if (vals.length === 0) return null;
        if (d.type === "date") return age(vals[0], now);
        if (vals.length > 1 || typeof vals[0] === "object") return vals.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(",");
        return vals[0];
      },
    })),
  ];
}

const tableColumns = new WeakMap<ResourceType, Column[]>();

function columnsOf(t: ResourceType): Column[] {
  let c = tableColumns.get(t);
  if (!c) tableColumns.set(t, (c = t.crd ? crdColumns(t) : builtinColumns(t.kind)));
  return c;
}

export type IncludeObject = "None" | "Metadata" | "Object";

function rowObject(obj: any, include: IncludeObject): unknown {
  if (include === "None") return undefined;
  if (include === "Object") return obj;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata };
}

/** A Table of `objs` as JSON text. */
export function tableJson(t: ResourceType, objs: any[], rv: number, include: IncludeObject, cont?: string, remaining?: number): string {
  const cols = columnsOf(t);
  const now = Date.now();
  const table = {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: String(rv), ...(cont ? { continue: cont, remainingItemCount: remaining } : {}) },
    columnDefinitions: cols.map(({ cell: _cell, ...def }) => def),
    rows: objs.map((o) => ({ cells: cols.map((c) => c.cell(o, now) ?? null), object: rowObject(o, include) })),
  };
  return JSON.stringify(table);
}

/** Whether the Accept header asks for a meta.k8s.io/v1 Table (kubectl get does, with JSON as fallback). */
export function wantsTable(accept: string): boolean {
  const first = accept.split(",")[0] ?? "";
  return /as=Table/.test(first) && /g=meta\.k8s\.io/.test(first) && /v=v1(;|$)/.test(first.replace(/\s/g, ""));
}
