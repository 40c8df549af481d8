// Strategic merge patch (what kubectl apply sends for built-in kinds), for the lists of the kinds
// this server stores: lists with a merge key are merged element by element, `merge` lists of
// primitives are unions, every other list is replaced. Directives honoured: `$patch`
// (replace/delete, on maps and list elements), `$setElementOrder/<list>`,
// `$deleteFromPrimitiveList/<list>`, `$retainKeys`. Custom resources never get here (415).

type Json = unknown;
type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A list's patch strategy: merge by `key`, or union of primitives ("primitive"). */
type ListMeta = { key: string } | "primitive";

const POD_SPEC: Record<string, ListMeta> = {
  containers: { key: "name" },
  initContainers: { key: "name" },
  ephemeralContainers: { key: "name" },
  "containers.ports": { key: "containerPort" },
  "initContainers.ports": { key: "containerPort" },
  "containers.env": { key: "name" },
  "initContainers.env": { key: "name" },
  "containers.volumeMounts": { key: "mountPath" },
  "initContainers.volumeMounts": { key: "mountPath" },
  "containers.volumeDevices": { key: "devicePath" },
  volumes: { key: "name" },
  imagePullSecrets: { key: "name" },
  hostAliases: { key: "ip" },
  topologySpreadConstraints: { key: "topologyKey" },
  resourceClaims: { key: "name" },
};

function prefixed(prefix: string, table: Record<string, ListMeta>): Record<string, ListMeta> {
  const out: Record<string, ListMeta> = {};
  for (const [k, v] of Object.entries(table)) out[`${prefix}.${k}`] = v;
  return out;
}

const COMMON: Record<string, ListMeta> = {
  "metadata.finalizers": "primitive",
  "metadata.ownerReferences": { key: "uid" },
  "status.conditions": { key: "type" },
};

/** Merge metadata of list fields per kind, by dotted path (array levels omitted). */
const LISTS: Record<string, Record<string, ListMeta>> = {
  Service: { "spec.ports": { key: "port" } },
  Pod: { ...prefixed("spec", POD_SPEC), "status.podIPs": { key: "ip" }, "status.hostIPs": { key: "ip" } },
  Node: { "spec.podCIDRs": "primitive", "spec.taints": { key: "key" }, "status.addresses": { key: "type" } },
  Deployment: prefixed("spec.template.spec", POD_SPEC),
  DaemonSet: prefixed("spec.template.spec", POD_SPEC),
  ServiceAccount: { secrets: { key: "name" } },
};

export function strategicMergePatch(kind: string, original: Json, patch: Obj): Json {
  const table = { ...COMMON, ...(LISTS[kind] ?? {}) };
  return mergeMap(isObject(original) ? original : {}, patch, "", table);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function mergeMap(orig: Obj, patch: Obj, path: string, table: Record<string, ListMeta>): Obj | undefined {
  if (patch.$patch === "delete") return undefined;
  if (patch.$patch === "replace") return stripDirectives(patch) as Obj;
  const out: Obj = { ...orig };
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue;
    const p = join(path, k);
    if (v === null) delete out[k];
    else if (isObject(v)) {
      const merged = mergeMap(isObject(out[k]) ? (out[k] as Obj) : {}, v, p, table);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(v)) out[k] = mergeList(Array.isArray(out[k]) ? (out[k] as Json[]) : [], v, p, table);
    else out[k] = v;
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$deleteFromPrimitiveList/") && Array.isArray(v)) {
      const f = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[f])) out[f] = (out[f] as Json[]).filter((x) => !v.includes(x));
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$setElementOrder/") && Array.isArray(v)) {
      const f = k.slice("$setElementOrder/".length);
      if (Array.isArray(out[f])) out[f] = order(out[f] as Json[], v, table[join(path, f)]);
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys as string[]);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

function mergeList(orig: Json[], patch: Json[], path: string, table: Record<string, ListMeta>): Json[] {
  const meta = table[path];
  if (meta === undefined) return patch.filter((e) => !(isObject(e) && e.$patch !== undefined)).map(stripDirectives);
  if (meta === "primitive") {
    const out = [...orig];
    for (const v of patch) if (!out.includes(v)) out.push(v);
    return out;
  }
  if (patch.some((e) => isObject(e) && e.$patch === "replace")) return patch.filter((e) => !(isObject(e) && e.$patch === "replace")).map(stripDirectives);
  const out = [...orig];
  for (const e of patch) {
    if (!isObject(e)) continue;
    const i = out.findIndex((o) => isObject(o) && o[meta.key] === e[meta.key]);
    if (e.$patch === "delete") {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = mergeMap(out[i] as Obj, e, path, table) ?? out[i];
    else out.push(stripDirectives(e));
  }
  return out;
}

/** `$setElementOrder`: elements named in `wanted` first, in that order; the others after, as they were. */
function order(list: Json[], wanted: Json[], meta: ListMeta | undefined): Json[] {
  const keyOf = (e: Json): Json => (meta && meta !== "primitive" && isObject(e) ? e[meta.key] : e);
  const wantedKeys = wanted.map(keyOf);
  const pos = (e: Json) => {
    const i = wantedKeys.indexOf(keyOf(e));
    return i < 0 ? wantedKeys.length : i;
  };
  return list.map((e, i) => ({ e, i })).sort((a, b) => pos(a.e) - pos(b.e) || a.i - b.i).map((x) => x.e);
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith("$")) out[k] = stripDirectives(x);
  return out;
}
