// The RBAC evaluator the deploy tests rely on: request attributes as kube-apiserver derives
// them, and rule matching as its RBAC authorizer does.
import { describe, expect, test } from "bun:test";
import { Authorizer, requestAttributes, ruleAllows } from "./rbac.ts";

describe("requestAttributes", () => {
  const attrs = (m: string, u: string) => {
    const a = requestAttributes(m, u);
    return [a.verb, a.apiGroup, a.resource, a.subresource, a.namespace, a.name];
  };
  test("verbs from method, name and watch", () => {
    expect(attrs("GET", "/api/v1/services")).toEqual(["list", "", "services", "", "", ""]);
    expect(attrs("GET", "/api/v1/services?watch=true&resourceVersion=5")).toEqual(["watch", "", "services", "", "", ""]);
    expect(attrs("GET", "/api/v1/services?watch=0")).toEqual(["list", "", "services", "", "", ""]);
    expect(attrs("GET", "/api/v1/watch/namespaces/a/services")).toEqual(["watch", "", "services", "", "a", ""]);
    expect(attrs("GET", "/api/v1/namespaces/a/services/s")).toEqual(["get", "", "services", "", "a", "s"]);
    expect(attrs("POST", "/apis/sart.terassyi.net/v1alpha2/addressblocks")).toEqual(["create", "sart.terassyi.net", "addressblocks", "", "", ""]);
    expect(attrs("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l")).toEqual(["update", "coordination.k8s.io", "leases", "", "kube-system", "l"]);
    expect(attrs("PATCH", "/api/v1/namespaces/a/services/s/status")).toEqual(["patch", "", "services", "status", "a", "s"]);
    expect(attrs("DELETE", "/apis/g/v1/namespaces/a/things")).toEqual(["deletecollection", "g", "things", "", "a", ""]);
  });
  test("namespaces themselves, and non-resource paths", () => {
    expect(attrs("GET", "/api/v1/namespaces")).toEqual(["list", "", "namespaces", "", "", ""]);
    expect(attrs("GET", "/api/v1/namespaces/a")).toEqual(["get", "", "namespaces", "", "a", "a"]);
    expect(attrs("PUT", "/api/v1/namespaces/a/finalize")).toEqual(["update", "", "namespaces", "finalize", "a", "a"]);
    for (const p of ["/api", "/apis", "/api/v1", "/apis/g/v1", "/version", "/healthz"]) expect(requestAttributes("GET", p).resourceRequest).toBe(false);
  });
});

describe("rules", () => {
  const a = (m: string, u: string) => requestAttributes(m, u);
  test("groups, resources, subresources, verbs, wildcards", () => {
    const rule = { apiGroups: [""], resources: ["services"], verbs: ["get", "patch"] };
    expect(ruleAllows(rule, a("GET", "/api/v1/namespaces/x/services/s"))).toBe(true);
    expect(ruleAllows(rule, a("GET", "/api/v1/services"))).toBe(false); // list
    expect(ruleAllows(rule, a("PATCH", "/api/v1/namespaces/x/services/s/status"))).toBe(false); // subresource needs its own entry
    expect(ruleAllows(rule, a("GET", "/apis/apps/v1/namespaces/x/services/s"))).toBe(false); // group
    expect(ruleAllows({ apiGroups: [""], resources: ["*/status"], verbs: ["patch"] }, a("PATCH", "/api/v1/namespaces/x/services/s/status"))).toBe(true);
    expect(ruleAllows({ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }, a("DELETE", "/apis/g/v1/things/t"))).toBe(true);
  });
  test("resourceNames match named requests only", () => {
    const rule = { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["l"], verbs: ["get", "create", "list"] };
    expect(ruleAllows(rule, a("GET", "/apis/coordination.k8s.io/v1/namespaces/n/leases/l"))).toBe(true);
    expect(ruleAllows(rule, a("GET", "/apis/coordination.k8s.io/v1/namespaces/n/leases/m"))).toBe(false);
    expect(ruleAllows(rule, a("POST", "/apis/coordination.k8s.io/v1/namespaces/n/leases"))).toBe(false);
    expect(ruleAllows(rule, a("GET", "/apis/coordination.k8s.io/v1/namespaces/n/leases"))).toBe(false);
    // A list or watch of one object by a metadata.name field selector is named (as kube-apiserver's RequestInfo).
    const secrets = { apiGroups: [""], resources: ["secrets"], resourceNames: ["s"], verbs: ["list", "watch"] };
    expect(ruleAllows(secrets, a("GET", "/api/v1/namespaces/n/secrets?fieldSelector=metadata.name%3Ds"))).toBe(true);
    expect(ruleAllows(secrets, a("GET", "/api/v1/namespaces/n/secrets?fieldSelector=metadata.name%3Ds&watch=true"))).toBe(true);
    expect(ruleAllows(secrets, a("GET", "/api/v1/namespaces/n/secrets?fieldSelector=metadata.name%3Dt&watch=true"))).toBe(false);
    expect(ruleAllows(secrets, a("GET", "/api/v1/namespaces/n/secrets?watch=true"))).toBe(false);
  });
  test("bindings: ClusterRoleBinding everywhere, RoleBinding in its namespace, other subjects ignored", () => {
    const sa = { name: "me", namespace: "ns" };
    const objects = [
      { kind: "ClusterRole", metadata: { name: "read" }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }] },
      { kind: "ClusterRole", metadata: { name: "pods" }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }] },
      { kind: "Role", metadata: { name: "cm", namespace: "ns" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }] },
      { kind: "ClusterRoleBinding", metadata: { name: "b1" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "read" }, subjects: [{ kind: "ServiceAccount", name: "me", namespace: "ns" }] },
      { kind: "RoleBinding", metadata: { name: "b2", namespace: "ns" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "cm" }, subjects: [{ kind: "ServiceAccount", name: "me", namespace: "ns" }] },
      { kind: "RoleBinding", metadata: { name: "b3", namespace: "other" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "pods" }, subjects: [{ kind: "ServiceAccount", name: "me", namespace: "ns" }] },
      { kind: "ClusterRoleBinding", metadata: { name: "b4" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "pods" }, subjects: [{ kind: "ServiceAccount", name: "me", namespace: "elsewhere" }] },
    ];
    const authz = new Authorizer(objects, sa);
    expect(authz.allows(a("GET", "/api/v1/nodes"))).toBe(true);
    expect(authz.allows(a("GET", "/api/v1/namespaces/ns/configmaps/c"))).toBe(true);
    expect(authz.allows(a("GET", "/api/v1/namespaces/default/configmaps/c"))).toBe(false);
    expect(authz.allows(a("GET", "/api/v1/namespaces/other/pods"))).toBe(true);
    expect(authz.allows(a("GET", "/api/v1/namespaces/ns/pods"))).toBe(false);
    expect(authz.allows(a("GET", "/api/v1/pods"))).toBe(false); // all namespaces needs a cluster-wide grant
  });
});
