// A small RBAC evaluator: Kubernetes' request attributes from an HTTP request (as the API
// server's RequestInfoFactory derives them) and the RBAC authorizer's rule matching over the
// Roles, ClusterRoles and bindings of a set of manifests, for one ServiceAccount.

export interface RequestAttributes {
  /** Resource requests: get list watch create update patch delete deletecollection; otherwise the lowercased HTTP method. */
  verb: string;
  resourceRequest: boolean;
  /** "" for the core group. */
  apiGroup: string;
  resource: string;
  subresource: string;
  /** "" for cluster-scoped requests and for lists across all namespaces. */
  namespace: string;
  name: string;
  /** The path, for non-resource requests (/api, /version, ...). */
  path: string;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

interface RbacObject {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string; apiGroup?: string }[];
}

// Namespace subresources are addressed as /namespaces/{name}/{sub}, not as namespaced resources.
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/** The request attributes of `method` + `url` (path and query), as kube-apiserver computes them. */
export function requestAttributes(method: string, url: string): RequestAttributes {
  const u = new URL(url, "http://x");
  const path = u.pathname;
  const out: RequestAttributes = { verb: method.toLowerCase(), resourceRequest: false, apiGroup: "", resource: "", subresource: "", namespace: "", name: "", path };
  let parts = path.split("/").filter(Boolean);
  if (parts[0] === "api" && parts.length >= 2) {
    parts = parts.slice(2); // api, v1
  } else if (parts[0] === "apis" && parts.length >= 3) {
    out.apiGroup = parts[1];
    parts = parts.slice(3); // apis, group, version
  } else {
    return out;
  }
  if (parts.length === 0) return out; // discovery: /api/v1, /apis/g/v
  out.resourceRequest = true;
  const m = method.toUpperCase();
  const verbs: Record<string, string> = { POST: "create", GET: "get", HEAD: "get", PUT: "update", PATCH: "patch", DELETE: "delete" };
  out.verb = verbs[m] ?? m.toLowerCase();
  if (parts[0] === "watch") {
    out.verb = "watch";
    parts = parts.slice(1);
  }
  if (parts[0] === "namespaces" && parts.length > 1) {
    out.namespace = parts[1];
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2])) parts = parts.slice(2);
  }
  out.resource = parts[0] ?? "";
  out.name = parts[1] ?? "";
  out.subresource = parts[2] ?? "";
  if (out.verb === "get" && !out.name) out.verb = "list";
  if (out.verb === "delete" && !out.name) out.verb = "deletecollection";
  const watch = u.searchParams.getAll("watch");
  if ((out.verb === "list" || out.verb === "get") && watch.length > 0 && !["false", "0"].includes(watch[0].toLowerCase())) out.verb = "watch";
  // A list or watch with a `metadata.name=X` field selector is about X: kube-apiserver's
  // RequestInfo takes the name from it, so resourceNames can grant it.
  if ((out.verb === "list" || out.verb === "watch") && !out.name) {
    const term = (u.searchParams.get("fieldSelector") ?? "").split(",").map((t) => /^metadata\.name==?(.+)$/.exec(t.trim())).find(Boolean);
    if (term) out.name = term[1];
  }
  return out;
}

function has(list: string[] | undefined, value: string): boolean {
  return !!list && (list.includes("*") || list.includes(value));
}

/** The authorizer's ResourceMatches: "*", "resource", "resource/subresource", "*\/subresource". */
function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return (rule.resources ?? []).some((r) => r === "*" || r === combined || (!!subresource && r === `*/${subresource}`));
}

export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!a.resourceRequest) {
    if (!has(rule.verbs, a.verb)) return false;
    return (rule.nonResourceURLs ?? []).some((u) => u === "*" || u === a.path || (u.endsWith("*") && a.path.startsWith(u.slice(0, -1))));
  }
  if (!has(rule.verbs, a.verb) || !has(rule.apiGroups, a.apiGroup) || !resourceMatches(rule, a.resource, a.subresource)) return false;
  // resourceNames never match a request without a name (create, list, watch of a collection).
  return !rule.resourceNames?.length || rule.resourceNames.includes(a.name);
}

/** The rules bound to one ServiceAccount, each with the namespace it is limited to ("" = everywhere). */
export class Authorizer {
  readonly grants: { rule: PolicyRule; namespace: string; via: string }[] = [];

  constructor(objects: RbacObject[], serviceAccount: { name: string; namespace: string }) {
    const roles = new Map<string, RbacObject>();
    for (const o of objects) {
      if (o.kind === "ClusterRole") roles.set(`ClusterRole//${o.metadata.name}`, o);
      if (o.kind === "Role") roles.set(`Role/${o.metadata.namespace ?? ""}/${o.metadata.name}`, o);
    }
    for (const b of objects) {
      if (b.kind !== "ClusterRoleBinding" && b.kind !== "RoleBinding") continue;
      const bound = (b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === serviceAccount.name && s.namespace === serviceAccount.namespace);
      if (!bound) continue;
      const ns = b.kind === "RoleBinding" ? (b.metadata.namespace ?? "") : "";
      if (b.kind === "RoleBinding" && !ns) throw new Error(`RoleBinding ${b.metadata.name} has no namespace`);
      const ref = b.roleRef!;
      if (b.kind === "ClusterRoleBinding" && ref.kind !== "ClusterRole") throw new Error(`ClusterRoleBinding ${b.metadata.name} refers to a ${ref.kind}`);
      const key = ref.kind === "ClusterRole" ? `ClusterRole//${ref.name}` : `Role/${ns}/${ref.name}`;
      const role = roles.get(key);
      if (!role) throw new Error(`${b.kind} ${b.metadata.name}: ${ref.kind} ${ref.name} is not in the manifests`);
      for (const rule of role.rules ?? []) this.grants.push({ rule, namespace: ns, via: `${b.kind} ${b.metadata.name} -> ${ref.kind} ${ref.name}` });
    }
  }

  /** The grants that allow `a` (empty: denied). */
  allowing(a: RequestAttributes): { rule: PolicyRule; namespace: string; via: string }[] {
    return this.grants.filter((g) => (!g.namespace || g.namespace === a.namespace) && ruleAllows(g.rule, a));
  }

  allows(a: RequestAttributes): boolean {
    return this.allowing(a).length > 0;
  }
}

/** "verb group/resource[/subresource] [in namespace] [name]", for messages and reports. */
export function describeRequest(a: RequestAttributes): string {
  if (!a.resourceRequest) return `${a.verb} ${a.path}`;
  const gr = `${a.apiGroup || "core"}/${a.resource}${a.subresource ? `/${a.subresource}` : ""}`;
  return `${a.verb} ${gr}${a.namespace ? ` in ${a.namespace}` : ""}${a.name ? ` ${a.name}` : ""}`;
}

/** Every (verb, group/resource[/subresource]) a rule grants, as describeRequest() writes it without namespace and name. */
export function grantedCalls(rules: { apiGroups?: string[]; resources?: string[]; verbs: string[] }[]): string[] {
  const out: string[] = [];
  for (const r of rules) for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs) out.push(`${v} ${g || "core"}/${res}`);
  return out;
}

/**
 * A client's recorded requests against a ServiceAccount's rules: the distinct calls it made,
 * those denied, the non-resource ones, the grants it never used (minus the named exceptions),
 * and exceptions that name no grant.
 */
export function rbacCoverage(authz: Authorizer, requests: { method: string; url: string }[], unexercised: Record<string, string>) {
  const seen = new Map<string, RequestAttributes>();
  for (const r of requests) {
    const a = requestAttributes(r.method, r.url);
    const key = describeRequest({ ...a, name: "" });
    if (!seen.has(key)) seen.set(key, a);
  }
  const used = new Set([...seen.values()].map((a) => describeRequest({ ...a, namespace: "", name: "" })));
  const granted = [...new Set(grantedCalls(authz.grants.map((g) => g.rule)))].sort();
  return {
    calls: [...seen.keys()].sort(),
    denied: [...seen.values()].filter((a) => a.resourceRequest && !authz.allows(a)).map(describeRequest),
    nonResource: [...seen.values()].filter((a) => !a.resourceRequest).map(describeRequest),
    unused: granted.filter((c) => !used.has(c) && !(c in unexercised)),
    staleExceptions: Object.keys(unexercised).filter((c) => !granted.includes(c)),
  };
}
