// Resource types the server serves: the built-in kinds we need, plus types registered at run time
// from CustomResourceDefinition objects.

/** "path": any name that is a valid path segment (RBAC names, e.g. "system:controller"). */
export type NameRule = "subdomain" | "label1123" | "label1035" | "path";

export interface ResourceType {
  group: string;
  version: string;
  /** "v1" or "group/version", as objects carry it. */
  apiVersion: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  /** Has a status subresource: main writes keep the stored status, /status writes change only status. */
  hasStatus: boolean;
  shortNames: string[];
  categories: string[];
  /** Field paths accepted in fieldSelector besides metadata.name and metadata.namespace. */
  fieldSelectors: string[];
  /** PUT of a missing object creates it (Leases, Events). */
  allowCreateOnUpdate: boolean;
  /** PUT without metadata.resourceVersion is accepted (false for custom resources). */
  allowUnconditionalUpdate: boolean;
  nameRule: NameRule;
  /** The CustomResourceDefinition that defines this type (custom resources only). */
  crd?: any;
}

export const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function builtin(t: Partial<ResourceType> & Pick<ResourceType, "group" | "version" | "plural" | "kind" | "namespaced">): ResourceType {
  return {
    apiVersion: t.group ? `${t.group}/${t.version}` : t.version,
    singular: t.kind.toLowerCase(),
    listKind: `${t.kind}List`,
    hasStatus: false,
    shortNames: [],
    categories: [],
    fieldSelectors: [],
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: true,
    nameRule: "subdomain",
    ...t,
  };
}

export function builtinTypes(): ResourceType[] {
  return [
    builtin({ group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false, hasStatus: true, shortNames: ["ns"], fieldSelectors: ["status.phase"], nameRule: "label1123" }),
    builtin({ group: "", version: "v1", plural: "services", kind: "Service", namespaced: true, hasStatus: true, shortNames: ["svc"], categories: ["all"], fieldSelectors: ["spec.clusterIP", "spec.type"], nameRule: "label1035" }),
    builtin({ group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false, hasStatus: true, shortNames: ["no"], fieldSelectors: ["spec.unschedulable"] }),
    builtin({
      group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true, hasStatus: true, shortNames: ["po"], categories: ["all"],
      fieldSelectors: ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"],
    }),
    builtin({
      group: "", version: "v1", plural: "events", kind: "Event", namespaced: true, shortNames: ["ev"], allowCreateOnUpdate: true,
      fieldSelectors: ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"],
    }),
    builtin({ group: "discovery.k8s.io", version: "v1", plural: "endpointslices", kind: "EndpointSlice", namespaced: true, fieldSelectors: ["addressType"] }),
    builtin({ group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true, allowCreateOnUpdate: true }),
    // Stored only (no controllers), so deploy manifests (RBAC, Deployment, DaemonSet) apply.
    builtin({ group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true, shortNames: ["cm"] }),
    builtin({ group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true, fieldSelectors: ["type"] }),
    builtin({ group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", namespaced: true, shortNames: ["sa"] }),
    builtin({ group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true, hasStatus: true, shortNames: ["deploy"], categories: ["all"] }),
    builtin({ group: "apps", version: "v1", plural: "daemonsets", kind: "DaemonSet", namespaced: true, hasStatus: true, shortNames: ["ds"], categories: ["all"] }),
    builtin({ group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", kind: "ClusterRole", namespaced: false, nameRule: "path" }),
    builtin({ group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false, nameRule: "path" }),
    builtin({ group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", kind: "Role", namespaced: true, nameRule: "path" }),
    builtin({ group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding", namespaced: true, nameRule: "path" }),
    builtin({ group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", kind: "CustomResourceDefinition", namespaced: false, hasStatus: true, shortNames: ["crd", "crds"], categories: ["api-extensions"] }),
  ];
}

/** The served versions of a CRD, each as a ResourceType (all share one storage in this server). */
export function typesFromCrd(crd: any): ResourceType[] {
  const spec = crd.spec;
  const names = spec.names;
  return (spec.versions as any[])
    .filter((v) => v.served !== false)
    .map((v) => ({
      group: spec.group,
      version: v.name,
      apiVersion: `${spec.group}/${v.name}`,
      plural: names.plural,
      singular: names.singular ?? names.kind.toLowerCase(),
      kind: names.kind,
      listKind: names.listKind ?? `${names.kind}List`,
      namespaced: spec.scope === "Namespaced",
      hasStatus: v.subresources?.status !== undefined,
      shortNames: names.shortNames ?? [],
      categories: names.categories ?? [],
      fieldSelectors: (v.selectableFields ?? []).map((f: any) => String(f.jsonPath).replace(/^\./, "")),
      allowCreateOnUpdate: false,
      allowUnconditionalUpdate: false,
      nameRule: "subdomain" as NameRule,
      crd,
    }));
}

/** Storage key of a resource: one collection per group+plural, whatever the version. */
export function storageKey(group: string, plural: string): string {
  return group ? `${plural}.${group}` : plural;
}
