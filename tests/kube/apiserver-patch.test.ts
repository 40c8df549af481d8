// Patch semantics of the test API server (pure functions): strategic merge patch directives as
// kubectl sends them, JSON merge patch, JSON patch; plus label selector parsing.
import { describe, expect, test } from "bun:test";
import { applyPatch, jsonPatch, mergePatch } from "./apiserver/patch.ts";
import { parseLabelSelector } from "./apiserver/selectors.ts";
import { strategicMergePatch } from "./apiserver/smp.ts";
import { humanDuration, jsonPath } from "./apiserver/table.ts";

describe("strategic merge patch", () => {
  const svc = {
    metadata: { name: "s", finalizers: ["a"], labels: { x: "1" } },
    spec: { ports: [{ name: "http", port: 80, targetPort: 8080 }, { name: "https", port: 443 }], selector: { app: "a" } },
  };

  test("lists with a merge key merge by key; $patch delete removes; $setElementOrder orders", () => {
    const out: any = strategicMergePatch("Service", svc, {
      spec: {
        "$setElementOrder/ports": [{ port: 8443 }, { port: 80 }],
        ports: [{ name: "https", port: 8443 }, { $patch: "delete", port: 443 }, { port: 80, targetPort: 9090 }],
      },
    });
    expect(out.spec.ports).toEqual([{ name: "https", port: 8443 }, { name: "http", port: 80, targetPort: 9090 }]);
    expect(out.spec.selector).toEqual({ app: "a" });
    expect(svc.spec.ports[0].targetPort).toBe(8080); // the original is untouched
  });

  test("primitive merge lists are unions; $deleteFromPrimitiveList removes; lists without a key are replaced", () => {
    const out: any = strategicMergePatch("Service", svc, { metadata: { finalizers: ["b"], "$deleteFromPrimitiveList/finalizers": ["a"] } });
    expect(out.metadata.finalizers).toEqual(["b"]);
    const pod: any = strategicMergePatch("Pod", { spec: { tolerations: [{ key: "a" }], containers: [{ name: "c", image: "1" }] } }, { spec: { tolerations: [{ key: "b" }], containers: [{ name: "d", image: "2" }] } });
    expect(pod.spec.tolerations).toEqual([{ key: "b" }]);
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(["c", "d"]);
  });

  test("$patch replace on a map, $retainKeys, null deletes", () => {
    const out: any = strategicMergePatch("Service", svc, { metadata: { labels: { $patch: "replace", y: "2" } }, spec: { $retainKeys: ["ports"], selector: null } });
    expect(out.metadata.labels).toEqual({ y: "2" });
    expect(out.spec).toEqual({ ports: svc.spec.ports });
  });
});

describe("merge patch and JSON patch", () => {
  test("RFC 7386: null deletes, objects merge, arrays replace", () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).toEqual({ a: { c: 2, d: 3 }, l: [3] });
    expect(applyPatch("merge", { a: 1 }, { b: 2 }, "ConfigMap")).toEqual({ a: 1, b: 2 });
  });

  test("RFC 6902: add/remove/replace/move/copy/test, '-' appends, escaped pointers", () => {
    const doc = { a: [1, 2], "x/y": { "m~n": 1 } };
    const out = jsonPatch(doc, [
      { op: "add", path: "/a/-", value: 3 },
      { op: "add", path: "/a/0", value: 0 },
      { op: "replace", path: "/x~1y/m~0n", value: 2 },
      { op: "copy", from: "/a", path: "/b" },
      { op: "move", from: "/b", path: "/c" },
      { op: "remove", path: "/a/1" },
      { op: "test", path: "/c/3", value: 3 },
    ]);
    expect(out).toEqual({ a: [0, 2, 3], "x/y": { "m~n": 2 }, c: [0, 1, 2, 3] });
    expect(doc.a).toEqual([1, 2]);
    expect(() => jsonPatch(doc, [{ op: "remove", path: "/nope" }])).toThrow();
    expect(() => jsonPatch(doc, [{ op: "replace", path: "/a/5", value: 1 }])).toThrow();
    // "test" compares structurally: member order does not matter (RFC 6902 4.6), values do.
    expect(jsonPatch({ o: { a: 1, b: 2 } }, [{ op: "test", path: "/o", value: { b: 2, a: 1 } }])).toEqual({ o: { a: 1, b: 2 } });
    expect(() => jsonPatch({ o: { a: 1 } }, [{ op: "test", path: "/o", value: { a: 2 } }])).toThrow(/testing value \/o failed/);
  });
});

describe("label selectors", () => {
  test("equality, set-based and existence requirements", () => {
    const sel = parseLabelSelector("env in (prod, staging), tier!=db, app, !legacy")!;
    expect(sel({ env: "prod", tier: "web", app: "x" })).toBe(true);
    expect(sel({ env: "dev", tier: "web", app: "x" })).toBe(false);
    expect(sel({ env: "prod", tier: "db", app: "x" })).toBe(false);
    expect(sel({ env: "prod", app: "x", legacy: "" })).toBe(false);
    expect(sel({ env: "prod" })).toBe(false);
    expect(parseLabelSelector("")).toBeUndefined();
    expect(() => parseLabelSelector("a b c")).toThrow();
  });
});

describe("server-side printing helpers", () => {
  test("humanDuration matches kubectl's AGE format", () => {
    expect(humanDuration(5_000)).toBe("5s");
    expect(humanDuration(150_000)).toBe("2m30s");
    expect(humanDuration(45 * 60_000)).toBe("45m");
    expect(humanDuration((3 * 60 + 5) * 60_000)).toBe("3h5m");
    expect(humanDuration(30 * 3_600_000)).toBe("30h");
    expect(humanDuration((3 * 24 + 2) * 3_600_000)).toBe("3d2h");
  });

  test("printer column JSONPath subset", () => {
    const o = { spec: { cidr: "192.0.2.0/24", peers: [{ addr: "a" }, { addr: "b" }] }, metadata: { labels: { "a.b/c": "x" } } };
    expect(jsonPath(o, ".spec.cidr")).toEqual(["192.0.2.0/24"]);
    expect(jsonPath(o, ".spec.peers[1].addr")).toEqual(["b"]);
    expect(jsonPath(o, ".spec.peers[*].addr")).toEqual(["a", "b"]);
    expect(jsonPath(o, ".metadata.labels['a.b/c']")).toEqual(["x"]);
    expect(jsonPath(o, ".spec.missing")).toEqual([]);
    const conditions = { status: { conditions: [{ type: "AutoAssign", status: "False" }, { type: "Ready", status: "True" }] } };
    expect(jsonPath(conditions, '.status.conditions[?(@.type=="Ready")].status')).toEqual(["True"]);
    expect(jsonPath(conditions, ".status.conditions[?(@.type=='AutoAssign')].status")).toEqual(["False"]);
    expect(jsonPath(conditions, '.status.conditions[?(@.type!="Ready")].type')).toEqual(["AutoAssign"]);
    expect(jsonPath(conditions, '.status.conditions[?(@.type=="Missing")].status')).toEqual([]);
    // BGPPeer and NodeBGP STATUS: the last condition's status.
    expect(jsonPath(o, ".spec.peers[-1:].addr")).toEqual(["b"]);
    expect(jsonPath(o, ".spec.peers[0:1].addr")).toEqual(["a"]);
    expect(jsonPath(o, ".spec.cidr[-1:]")).toEqual([]);
  });
});
