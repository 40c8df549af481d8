// Per-kind behaviour of the real server that clients can observe: defaulting and allocation on
// create/update (Service clusterIP, nodePorts, ipFamilies), status reset on create, name rules,
// and the few validations our code could get wrong (Lease MicroTime, CRD names).
import { ApiError, badRequest, invalid, type StatusCause } from "./errors.ts";
import type { NameRule, ResourceType } from "./types.ts";

const LABEL_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function nameError(name: string, rule: NameRule): string | undefined {
  switch (rule) {
    case "label1035":
      if (name.length > 63 || !LABEL_1035.test(name)) return `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`;
      return undefined;
    case "label1123":
      if (name.length > 63 || !LABEL_1123.test(name)) return `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`;
      return undefined;
    case "path":
      if (name === "." || name === ".." || /[/%]/.test(name)) return `may not be '.' or '..' and may not contain '/' or '%'`;
      return undefined;
    case "subdomain":
      if (name.length > 253 || !name.split(".").every((l) => LABEL_1123.test(l))) return `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`;
      return undefined;
  }
}

/** Cluster IP and node port allocation for Services (addresses never leave this process). */
export class ServiceAllocator {
  private nextV4 = 1;
  private nextV6 = 1;
  private readonly usedNodePorts = new Set<number>();
  private nextNodePort: number;

  /** `nodePorts`: the --service-node-port-range, default 30000-32767 (2768 ports) as in a real cluster. */
  constructor(private readonly nodePorts: { min: number; max: number } = { min: 30000, max: 32767 }) {
    this.nextNodePort = nodePorts.min;
  }

  clusterIP(family: "IPv4" | "IPv6"): string {
    if (family === "IPv4") {
      const n = this.nextV4++; // 10.96.0.0/12
      return `10.${96 + ((n >> 16) & 15)}.${(n >> 8) & 255}.${n & 255}`;
    }
    const n = this.nextV6++;
    return `fd00:10:96::${n.toString(16)}`;
  }

  nodePort(): number {
    const { min, max } = this.nodePorts;
    for (let i = 0; i <= max - min; i++) {
      const p = this.nextNodePort;
      this.nextNodePort = p >= max ? min : p + 1;
      if (!this.usedNodePorts.has(p)) {
        this.usedNodePorts.add(p);
        return p;
      }
    }
    // The real server's answer when the range is exhausted (LoadBalancer Services need
    // spec.allocateLoadBalancerNodePorts: false beyond ~2700 of them).
    throw new ApiError(500, "InternalError", "Internal error occurred: failed to allocate a nodePort: range is full");
  }

  reserveNodePort(p: number): void {
    this.usedNodePorts.add(p);
  }

  releaseNodePorts(svc: any): void {
    for (const p of svc?.spec?.ports ?? []) if (typeof p.nodePort === "number") this.usedNodePorts.delete(p.nodePort);
  }
}

/** Defaults a Service spec in place as the real server does; `old` supplies allocated values on update. */
export function defaultService(svc: any, old: any | undefined, alloc: ServiceAllocator): void {
  const spec = (svc.spec ??= {});
  const oldSpec = old?.spec ?? {};
  if (old) dropTypeDependentFields(spec, oldSpec);
  spec.type ??= "ClusterIP";
  spec.sessionAffinity ??= "None";
  const external = spec.type === "NodePort" || spec.type === "LoadBalancer";
  if (spec.type !== "ExternalName") {
    spec.internalTrafficPolicy ??= "Cluster";
    spec.ipFamilyPolicy ??= oldSpec.ipFamilyPolicy ?? "SingleStack";
    spec.ipFamilies ??= oldSpec.ipFamilies ?? (spec.ipFamilyPolicy === "SingleStack" ? ["IPv4"] : ["IPv4", "IPv6"]);
    if (spec.clusterIP === undefined && oldSpec.clusterIP !== undefined) {
      spec.clusterIP = oldSpec.clusterIP;
      spec.clusterIPs = oldSpec.clusterIPs;
    }
    if (spec.clusterIP === undefined || spec.clusterIP === "") {
      spec.clusterIPs = (spec.ipFamilies as string[]).map((f) => alloc.clusterIP(f === "IPv6" ? "IPv6" : "IPv4"));
      spec.clusterIP = spec.clusterIPs[0];
    } else {
      spec.clusterIPs ??= [spec.clusterIP];
    }
  }
  if (external) {
    spec.externalTrafficPolicy ??= "Cluster";
    if (spec.type === "LoadBalancer") spec.allocateLoadBalancerNodePorts ??= true;
  }
  const oldPorts = new Map<string, any>((oldSpec.ports ?? []).map((p: any) => [`${p.port}/${p.protocol ?? "TCP"}`, p]));
  for (const p of spec.ports ?? []) {
    p.protocol ??= "TCP";
    p.targetPort ??= p.port;
    if (external && (spec.type === "NodePort" || spec.allocateLoadBalancerNodePorts !== false)) {
      if (p.nodePort === undefined) p.nodePort = oldPorts.get(`${p.port}/${p.protocol}`)?.nodePort ?? alloc.nodePort();
      else alloc.reserveNodePort(p.nodePort);
    }
  }
}

const needsNodePorts = (type: unknown) => type === "NodePort" || type === "LoadBalancer";

/** As the real server does when the type changes: fields the new type cannot have go, unless the client changed them. */
function dropTypeDependentFields(spec: any, oldSpec: any): void {
  const same = (k: string) => JSON.stringify(spec[k]) === JSON.stringify(oldSpec[k]);
  if (needsNodePorts(oldSpec.type) && !needsNodePorts(spec.type)) {
    const oldPorts = new Map<number, number>((oldSpec.ports ?? []).map((p: any) => [p.port, p.nodePort]));
    if (Array.isArray(spec.ports)) spec.ports = spec.ports.map((p: any) => (p.nodePort !== undefined && oldPorts.get(p.port) === p.nodePort ? omitKey(p, "nodePort") : p));
  }
  if (oldSpec.type === "LoadBalancer" && spec.type !== "LoadBalancer") {
    for (const k of ["allocateLoadBalancerNodePorts", "loadBalancerClass", "healthCheckNodePort"]) if (same(k)) delete spec[k];
  }
  if (needsNodePorts(oldSpec.type) && !needsNodePorts(spec.type) && same("externalTrafficPolicy")) delete spec.externalTrafficPolicy;
}

function omitKey(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in o) if (k !== key) out[k] = o[k];
  return out;
}

const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

/** The Service validations a controller could trip over. */
function validateService(svc: any): void {
  const spec = svc.spec ?? {};
  const causes: StatusCause[] = [];
  if (!SERVICE_TYPES.includes(spec.type)) causes.push({ reason: "FieldValueNotSupported", field: "spec.type", message: `Unsupported value: ${JSON.stringify(spec.type)}: supported values: ${SERVICE_TYPES.map((t) => `"${t}"`).join(", ")}` });
  if (spec.type !== "ExternalName" && spec.clusterIP !== "None" && !(Array.isArray(spec.ports) && spec.ports.length > 0)) causes.push({ reason: "FieldValueRequired", field: "spec.ports", message: "Required value" });
  if (spec.externalTrafficPolicy !== undefined && !needsNodePorts(spec.type)) causes.push({ reason: "FieldValueInvalid", field: "spec.externalTrafficPolicy", message: `Invalid value: ${JSON.stringify(spec.externalTrafficPolicy)}: may only be set when \`type\` is 'NodePort' or 'LoadBalancer'` });
  else if (spec.externalTrafficPolicy !== undefined && !["Cluster", "Local"].includes(spec.externalTrafficPolicy)) causes.push({ reason: "FieldValueNotSupported", field: "spec.externalTrafficPolicy", message: `Unsupported value: ${JSON.stringify(spec.externalTrafficPolicy)}: supported values: "Cluster", "Local"` });
  if (spec.loadBalancerClass !== undefined && spec.type !== "LoadBalancer") causes.push({ reason: "FieldValueForbidden", field: "spec.loadBalancerClass", message: "Forbidden: may only be used when `type` is 'LoadBalancer'" });
  const fams: unknown[] = spec.ipFamilies ?? [];
  if (spec.ipFamilyPolicy === "SingleStack" && fams.length > 1) causes.push({ reason: "FieldValueInvalid", field: "spec.ipFamilies", message: `Invalid value: ${JSON.stringify(fams)}: when spec.ipFamilyPolicy is SingleStack, at most one ip family is allowed` });
  for (const [i, f] of fams.entries()) if (f !== "IPv4" && f !== "IPv6") causes.push({ reason: "FieldValueNotSupported", field: `spec.ipFamilies[${i}]`, message: `Unsupported value: ${JSON.stringify(f)}: supported values: "IPv4", "IPv6"` });
  if (causes.length) throw invalid("Service", "", svc.metadata.name, causes);
}

/** core/v1 Events live in their object's namespace ("default" for cluster-scoped objects). */
function validateEvent(ev: any): void {
  const ns = ev.metadata.namespace;
  const objNs = ev.involvedObject?.namespace;
  const ok = objNs ? objNs === ns : ns === "" || ns === "default" || ns === undefined;
  if (!ok) throw invalid("Event", "", ev.metadata.name, [{ reason: "FieldValueInvalid", field: "involvedObject.namespace", message: `Invalid value: ${JSON.stringify(objNs ?? "")}: does not match event.namespace` }]);
}

/** The status a newly created object starts with, when clients may not set it on create. */
export function initialStatus(type: ResourceType, requested: unknown): unknown {
  if (type.kind === "Node") return requested; // nodes may set all fields, status included, on create
  if (type.kind === "Service") return { loadBalancer: {} };
  if (type.kind === "Pod") return { phase: "Pending", qosClass: "BestEffort" };
  if (type.kind === "Namespace") return { phase: "Active" };
  return undefined;
}

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

/** Kind-specific checks run on every create and update. */
export function validateBuiltin(type: ResourceType, obj: any): void {
  if (type.kind === "Lease") {
    for (const f of ["acquireTime", "renewTime"]) {
      const v = obj.spec?.[f];
      if (v !== undefined && v !== null && (typeof v !== "string" || !MICRO_TIME.test(v))) {
        throw badRequest(`Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse spec.${f} (a MicroTime needs exactly 6 fractional digits)`);
      }
    }
    const d = obj.spec?.leaseDurationSeconds;
    if (d !== undefined && d !== null && (!Number.isInteger(d) || d <= 0)) {
      throw invalid("Lease", "coordination.k8s.io", obj.metadata.name, [{ reason: "FieldValueInvalid", field: "spec.leaseDurationSeconds", message: `Invalid value: ${d}: must be greater than 0` }]);
    }
  }
  if (type.kind === "CustomResourceDefinition") validateCrd(obj);
  if (type.kind === "Service") validateService(obj);
  if (type.kind === "Event") validateEvent(obj);
}

function validateCrd(crd: any): void {
  const causes: StatusCause[] = [];
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  const req = (field: string, ok: boolean) => ok || causes.push({ reason: "FieldValueRequired", field, message: "Required value" });
  req("spec.group", typeof spec.group === "string" && spec.group.length > 0);
  req("spec.names.plural", typeof names.plural === "string" && names.plural.length > 0);
  req("spec.names.kind", typeof names.kind === "string" && names.kind.length > 0);
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") causes.push({ reason: "FieldValueNotSupported", field: "spec.scope", message: `Unsupported value: ${JSON.stringify(spec.scope)}: supported values: "Cluster", "Namespaced"` });
  if (!Array.isArray(spec.versions) || spec.versions.length === 0) causes.push({ reason: "FieldValueRequired", field: "spec.versions", message: "Required value: must have exactly one version marked as storage version" });
  else if (spec.versions.filter((v: any) => v.storage).length !== 1) causes.push({ reason: "FieldValueInvalid", field: "spec.versions", message: "Invalid value: must have exactly one version marked as storage version" });
  if (names.plural && spec.group && crd.metadata.name !== `${names.plural}.${spec.group}`) {
    causes.push({ reason: "FieldValueInvalid", field: "metadata.name", message: `Invalid value: "${crd.metadata.name}": must be spec.names.plural+"."+spec.group` });
  }
  if (causes.length) throw invalid("CustomResourceDefinition", "apiextensions.k8s.io", crd.metadata.name, causes);
}

/** Status the real server writes on an accepted CRD (the names are accepted and it is established at once). */
export function crdStatus(crd: any): unknown {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const names = crd.spec.names;
  return {
    acceptedNames: { kind: names.kind, listKind: names.listKind ?? `${names.kind}List`, plural: names.plural, singular: names.singular ?? names.kind.toLowerCase(), ...(names.shortNames ? { shortNames: names.shortNames } : {}), ...(names.categories ? { categories: names.categories } : {}) },
    conditions: [
      { type: "NamesAccepted", status: "True", lastTransitionTime: now, reason: "NoConflicts", message: "no conflicts found" },
      { type: "Established", status: "True", lastTransitionTime: now, reason: "InitialNamesAccepted", message: "the initial names have been accepted" },
    ],
    storedVersions: (crd.spec.versions as any[]).filter((v) => v.storage).map((v) => v.name),
  };
}
