// The test API server driven through the real @kubernetes/client-node 1.4: CRUD of core and custom
// resources, Status errors, optimistic concurrency, generateName, patches, status subresource,
// finalizers, Leases, label/field selectors and pagination.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as k8s from "@kubernetes/client-node";
import { startApiServer, type ApiServer } from "./apiserver/index.ts";

let server: ApiServer;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;
let coord: k8s.CoordinationV1Api;

const G = "sart.terassyi.net";
const V = "v1alpha2";
const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

/** The Status object and HTTP code of a failed client-node call. */
async function failure(p: Promise<unknown>): Promise<{ code: number; status: any }> {
  try {
    await p;
  } catch (e) {
    const err = e as k8s.ApiException<unknown>;
    const body = typeof err.body === "string" ? JSON.parse(err.body) : err.body;
    return { code: err.code, status: body };
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  server = await startApiServer({ validator: "none" });
  kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeconfig());
  core = kc.makeApiClient(k8s.CoreV1Api);
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  coord = kc.makeApiClient(k8s.CoordinationV1Api);
  await core.createNamespace({ body: { metadata: { name: "crud" } } });
});

afterAll(async () => {
  await server?.stop();
});

describe("core resources", () => {
  test("Service create/get/list/replace/delete with server defaults", async () => {
    const created = await core.createNamespacedService({
      namespace: "crud",
      body: { metadata: { name: "web", labels: { app: "web" } }, spec: { type: "LoadBalancer", selector: { app: "web" }, ports: [{ port: 80 }] } },
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.generation).toBe(1);
    expect(created.spec?.clusterIP).toMatch(/^10\.\d+\.\d+\.\d+$/);
    expect(created.spec?.ports?.[0].protocol).toBe("TCP");
    expect(created.spec?.ports?.[0].nodePort).toBeGreaterThanOrEqual(30000);
    expect(created.spec?.externalTrafficPolicy).toBe("Cluster");
    expect(created.spec?.ipFamilies).toEqual(["IPv4"]);

    const got = await core.readNamespacedService({ name: "web", namespace: "crud" });
    expect(got.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);

    const list = await core.listNamespacedService({ namespace: "crud" });
    expect(list.items.map((s) => s.metadata?.name)).toEqual(["web"]);
    expect(Number(list.metadata?.resourceVersion)).toBe(server.resourceVersion());

    got.spec!.externalTrafficPolicy = "Local";
    const replaced = await core.replaceNamespacedService({ name: "web", namespace: "crud", body: got });
    expect(replaced.spec?.externalTrafficPolicy).toBe("Local");
    expect(replaced.spec?.clusterIP).toBe(created.spec?.clusterIP);
    expect(replaced.metadata?.generation).toBe(2);
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));

    await core.deleteNamespacedService({ name: "web", namespace: "crud" });
    const nf = await failure(core.readNamespacedService({ name: "web", namespace: "crud" }));
    expect(nf.code).toBe(404);
    expect(nf.status).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: 'services "web" not found', details: { name: "web", kind: "services" } });
  });

  test("AlreadyExists, missing namespace, invalid name", async () => {
    await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "dup" }, data: { a: "1" } } });
    const dup = await failure(core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "dup" } } }));
    expect(dup.code).toBe(409);
    expect(dup.status).toMatchObject({ reason: "AlreadyExists", message: 'configmaps "dup" already exists' });

    const nons = await failure(core.createNamespacedService({ namespace: "no-such-ns", body: { metadata: { name: "x" }, spec: { ports: [{ port: 1 }] } } }));
    expect(nons.code).toBe(404);
    expect(nons.status.message).toBe('namespaces "no-such-ns" not found');

    const bad = await failure(core.createNamespacedService({ namespace: "crud", body: { metadata: { name: "1-starts-with-digit" }, spec: { ports: [{ port: 1 }] } } }));
    expect(bad.code).toBe(422);
    expect(bad.status.reason).toBe("Invalid");
    expect(bad.status.details.causes[0].field).toBe("metadata.name");
  });

  test("Service validation and type-dependent fields dropped on a type change", async () => {
    const noPorts = await failure(core.createNamespacedService({ namespace: "crud", body: { metadata: { name: "noports" }, spec: { type: "LoadBalancer" } } }));
    expect(noPorts.status).toMatchObject({ code: 422, reason: "Invalid", details: { causes: [{ field: "spec.ports", reason: "FieldValueRequired" }] } });
    const etp = await failure(core.createNamespacedService({ namespace: "crud", body: { metadata: { name: "etp" }, spec: { externalTrafficPolicy: "Local", ports: [{ port: 1 }] } } }));
    expect(etp.status.details.causes[0].field).toBe("spec.externalTrafficPolicy");
    const lb = await core.createNamespacedService({ namespace: "crud", body: { metadata: { name: "retype" }, spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", ports: [{ port: 80 }] } } });
    expect(lb.spec?.ports?.[0].nodePort).toBeDefined();
    const ci = await core.patchNamespacedService({ name: "retype", namespace: "crud", body: { spec: { type: "ClusterIP" } } }, merge);
    expect(ci.spec?.ports?.[0].nodePort).toBeUndefined();
    expect(ci.spec?.externalTrafficPolicy).toBeUndefined();
    expect(ci.spec?.allocateLoadBalancerNodePorts).toBeUndefined();
    expect(ci.spec?.clusterIP).toBe(lb.spec?.clusterIP);
  });

  test("Events live in their object's namespace", async () => {
    const ev = (ns: string, objNs?: string) => core.createNamespacedEvent({ namespace: ns, body: { metadata: { generateName: "e-" }, involvedObject: { kind: "Service", name: "x", namespace: objNs }, reason: "R", message: "m", type: "Normal" } });
    await ev("crud", "crud");
    await ev("default"); // a cluster-scoped object's events go to "default"
    expect((await failure(ev("crud", "other"))).code).toBe(422);
  });

  test("generateName", async () => {
    const a = await core.createNamespacedPod({ namespace: "crud", body: { metadata: { generateName: "worker-" }, spec: { containers: [{ name: "c", image: "i" }] } } });
    const b = await core.createNamespacedPod({ namespace: "crud", body: { metadata: { generateName: "worker-" }, spec: { containers: [{ name: "c", image: "i" }] } } });
    expect(a.metadata?.name).toMatch(/^worker-[a-z0-9]{5}$/);
    expect(b.metadata?.name).not.toBe(a.metadata?.name);
    expect(a.status?.phase).toBe("Pending");
    const missing = await failure(core.createNamespacedPod({ namespace: "crud", body: { metadata: {}, spec: { containers: [] } } }));
    expect(missing.code).toBe(422);
    expect(missing.status.details.causes[0]).toMatchObject({ field: "metadata.name" });
  });

  test("409 Conflict on a stale resourceVersion; no-op writes keep the resourceVersion", async () => {
    const v1 = await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "occ" }, data: { k: "1" } } });
    const v2 = await core.replaceNamespacedConfigMap({ name: "occ", namespace: "crud", body: { ...v1, data: { k: "2" } } });
    const stale = await failure(core.replaceNamespacedConfigMap({ name: "occ", namespace: "crud", body: { ...v1, data: { k: "3" } } }));
    expect(stale.code).toBe(409);
    expect(stale.status).toMatchObject({ reason: "Conflict", message: 'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please apply your changes to the latest version and try again' });
    const same = await core.replaceNamespacedConfigMap({ name: "occ", namespace: "crud", body: v2 });
    expect(same.metadata?.resourceVersion).toBe(v2.metadata?.resourceVersion);
    // A patch that carries a stale resourceVersion is a precondition and conflicts too.
    const stalePatch = await failure(core.patchNamespacedConfigMap({ name: "occ", namespace: "crud", body: { metadata: { resourceVersion: v1.metadata?.resourceVersion }, data: { k: "4" } } }, merge));
    expect(stalePatch.code).toBe(409);
  });

  test("concurrent patches without a resourceVersion all apply (no 409)", async () => {
    await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "busy" } } });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => core.patchNamespacedConfigMap({ name: "busy", namespace: "crud", body: { data: { [`k${i}`]: "v" } } }, merge)));
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(0);
    expect(Object.keys((await core.readNamespacedConfigMap({ name: "busy", namespace: "crud" })).data ?? {})).toHaveLength(50);
  });

  test("list resourceVersionMatch=Exact serves an older snapshot until it is compacted", async () => {
    await core.createNamespace({ body: { metadata: { name: "exact" } } });
    await core.createNamespacedConfigMap({ namespace: "exact", body: { metadata: { name: "one" } } });
    const then = (await core.listNamespacedConfigMap({ namespace: "exact" })).metadata!.resourceVersion!;
    await core.createNamespacedConfigMap({ namespace: "exact", body: { metadata: { name: "two" } } });
    await core.deleteNamespacedConfigMap({ name: "one", namespace: "exact" });
    const old = await core.listNamespacedConfigMap({ namespace: "exact", resourceVersion: then, resourceVersionMatch: "Exact" });
    expect(old.items.map((c) => c.metadata?.name)).toEqual(["one"]);
    expect(old.metadata?.resourceVersion).toBe(then);
    // Without Exact, a resourceVersion means "not older than": the current state.
    expect((await core.listNamespacedConfigMap({ namespace: "exact", resourceVersion: then })).items.map((c) => c.metadata?.name)).toEqual(["two"]);
    server.compact();
    const gone = await failure(core.listNamespacedConfigMap({ namespace: "exact", resourceVersion: then, resourceVersionMatch: "Exact" }));
    expect(gone.status).toMatchObject({ code: 410, reason: "Expired" });
  });

  test("merge patch, JSON patch and strategic merge patch", async () => {
    await core.createNamespacedService({ namespace: "crud", body: { metadata: { name: "patched", labels: { a: "1", b: "2" } }, spec: { ports: [{ port: 80 }] } } });
    const m = await core.patchNamespacedService({ name: "patched", namespace: "crud", body: { metadata: { labels: { a: null, c: "3" } } } }, merge);
    expect(m.metadata?.labels).toEqual({ b: "2", c: "3" });
    expect(m.metadata?.generation).toBe(1); // metadata changes do not bump generation
    const j = await core.patchNamespacedService({
      name: "patched",
      namespace: "crud",
      body: [
        { op: "test", path: "/metadata/labels/b", value: "2" },
        { op: "add", path: "/metadata/annotations", value: { "x/y": "z" } },
        { op: "replace", path: "/spec/ports/0/port", value: 8080 },
        { op: "remove", path: "/metadata/labels/c" },
      ],
    }, jsonPatch);
    expect(j.metadata?.labels).toEqual({ b: "2" });
    expect(j.metadata?.annotations).toEqual({ "x/y": "z" });
    expect(j.spec?.ports?.[0].port).toBe(8080);
    expect(j.metadata?.generation).toBe(2);
    const failedTest = await failure(core.patchNamespacedService({ name: "patched", namespace: "crud", body: [{ op: "test", path: "/metadata/labels/b", value: "nope" }] }, jsonPatch));
    expect(failedTest.code).toBe(422);
    const s = await core.patchNamespacedService({ name: "patched", namespace: "crud", body: { metadata: { labels: { d: "4" } } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch));
    expect(s.metadata?.labels).toEqual({ b: "2", d: "4" });
    const apply = await failure(core.patchNamespacedService({ name: "patched", namespace: "crud", body: {} }, k8s.setHeaderOptions("Content-Type", "application/apply-patch+yaml")));
    expect(apply.code).toBe(415);
  });

  test("status subresource isolation and generation", async () => {
    const svc = await core.createNamespacedService({ namespace: "crud", body: { metadata: { name: "lb" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] }, status: { loadBalancer: { ingress: [{ ip: "192.0.2.9" }] } } } });
    expect(svc.status?.loadBalancer?.ingress).toBeUndefined(); // status is not settable on create
    const st = await core.patchNamespacedServiceStatus({ name: "lb", namespace: "crud", body: { status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } }, spec: { type: "ClusterIP" }, metadata: { labels: { ignored: "yes" } } } }, merge);
    expect(st.status?.loadBalancer?.ingress).toEqual([{ ip: "192.0.2.10" }]);
    expect(st.spec?.type).toBe("LoadBalancer"); // /status ignores everything but status
    expect(st.metadata?.labels).toBeUndefined();
    expect(st.metadata?.generation).toBe(1);
    const main = await core.patchNamespacedService({ name: "lb", namespace: "crud", body: { status: { loadBalancer: { ingress: [{ ip: "192.0.2.11" }] } }, metadata: { labels: { kept: "yes" } } } }, merge);
    expect(main.status?.loadBalancer?.ingress).toEqual([{ ip: "192.0.2.10" }]); // main resource ignores status
    expect(main.metadata?.labels).toEqual({ kept: "yes" });
    const put = await core.replaceNamespacedServiceStatus({ name: "lb", namespace: "crud", body: { ...main, status: { loadBalancer: {} } } });
    expect(put.status?.loadBalancer?.ingress).toBeUndefined();
  });

  test("finalizers: delete sets deletionTimestamp, removing the last finalizer deletes", async () => {
    await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "fin", finalizers: ["sart.terassyi.net/a", "sart.terassyi.net/b"] } } });
    await core.deleteNamespacedConfigMap({ name: "fin", namespace: "crud" });
    const deleting = await core.readNamespacedConfigMap({ name: "fin", namespace: "crud" });
    expect(deleting.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    const noNew = await failure(core.patchNamespacedConfigMap({ name: "fin", namespace: "crud", body: { metadata: { finalizers: ["sart.terassyi.net/a", "sart.terassyi.net/b", "c/d"] } } }, merge));
    expect(noNew.code).toBe(422);
    await core.patchNamespacedConfigMap({ name: "fin", namespace: "crud", body: [{ op: "remove", path: "/metadata/finalizers/0" }] }, jsonPatch);
    expect((await core.readNamespacedConfigMap({ name: "fin", namespace: "crud" })).metadata?.finalizers).toEqual(["sart.terassyi.net/b"]);
    await core.patchNamespacedConfigMap({ name: "fin", namespace: "crud", body: { metadata: { finalizers: null } } }, merge);
    expect((await failure(core.readNamespacedConfigMap({ name: "fin", namespace: "crud" }))).code).toBe(404);
  });

  test("delete preconditions", async () => {
    const cm = await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "pre" } } });
    const wrong = await failure(core.deleteNamespacedConfigMap({ name: "pre", namespace: "crud", body: { preconditions: { uid: "00000000-0000-0000-0000-000000000000" } } }));
    expect(wrong.code).toBe(409);
    await core.deleteNamespacedConfigMap({ name: "pre", namespace: "crud", body: { preconditions: { uid: cm.metadata?.uid } } });
  });

  test("label and field selectors, pagination", async () => {
    await core.createNamespace({ body: { metadata: { name: "sel" } } });
    for (let i = 0; i < 7; i++) {
      await core.createNamespacedConfigMap({ namespace: "sel", body: { metadata: { name: `cm-${i}`, labels: { parity: i % 2 ? "odd" : "even", ...(i === 3 ? { special: "" } : {}) } } } });
    }
    const names = (l: k8s.V1ConfigMapList) => l.items.map((c) => c.metadata?.name).sort();
    expect(names(await core.listNamespacedConfigMap({ namespace: "sel", labelSelector: "parity=odd" }))).toEqual(["cm-1", "cm-3", "cm-5"]);
    expect(names(await core.listNamespacedConfigMap({ namespace: "sel", labelSelector: "parity in (odd),!special" }))).toEqual(["cm-1", "cm-5"]);
    expect(names(await core.listNamespacedConfigMap({ namespace: "sel", labelSelector: "special" }))).toEqual(["cm-3"]);
    expect(names(await core.listNamespacedConfigMap({ namespace: "sel", labelSelector: "parity!=odd", fieldSelector: "metadata.name!=cm-0" }))).toEqual(["cm-2", "cm-4", "cm-6"]);
    expect(names(await core.listConfigMapForAllNamespaces({ fieldSelector: "metadata.namespace=sel,metadata.name=cm-4" }))).toEqual(["cm-4"]);
    const badField = await failure(core.listNamespacedConfigMap({ namespace: "sel", fieldSelector: "data.x=1" }));
    expect(badField.code).toBe(400);

    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    let rv: string | undefined;
    do {
      const page = await core.listNamespacedConfigMap({ namespace: "sel", limit: 3, _continue: cont });
      seen.push(...page.items.map((c) => c.metadata!.name!));
      rv ??= page.metadata?.resourceVersion;
      expect(page.metadata?.resourceVersion).toBe(rv); // one consistent snapshot
      if (pages === 0) await core.createNamespacedConfigMap({ namespace: "sel", body: { metadata: { name: "cm-late" } } });
      cont = page.metadata?._continue;
      pages++;
    } while (cont);
    expect(pages).toBe(3);
    expect(seen).toEqual(["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-5", "cm-6"]); // cm-late is after the snapshot

    const first = await core.listNamespacedConfigMap({ namespace: "sel", limit: 2 });
    await core.createNamespacedConfigMap({ namespace: "sel", body: { metadata: { name: "cm-after" } } });
    server.compact(); // the snapshot of `first` is older than the compaction now
    const gone = await failure(core.listNamespacedConfigMap({ namespace: "sel", limit: 2, _continue: first.metadata?._continue }));
    expect(gone.code).toBe(410);
    expect(gone.status.reason).toBe("Expired");
  });

  test("namespace deletion removes its objects", async () => {
    await core.createNamespace({ body: { metadata: { name: "doomed" } } });
    await core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "a" } } });
    await core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "held", finalizers: ["x/y"] } } });
    await core.deleteNamespace({ name: "doomed" });
    const ns = await core.readNamespace({ name: "doomed" });
    expect(ns.status?.phase).toBe("Terminating");
    expect((await failure(core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "new" } } }))).code).toBe(403);
    const left = async () => (await core.listNamespacedConfigMap({ namespace: "doomed" })).items.map((c) => c.metadata?.name);
    // Like the namespace controller, the server empties it a moment later.
    for (let i = 0; i < 200 && (await left()).length > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await left()).toEqual(["held"]);
    await core.patchNamespacedConfigMap({ name: "held", namespace: "doomed", body: { metadata: { finalizers: null } } }, merge);
    expect((await failure(core.readNamespace({ name: "doomed" }))).code).toBe(404);
  });

  test("ownerReferences: dependents are garbage collected", async () => {
    const owner = await core.createNamespacedService({ namespace: "crud", body: { metadata: { name: "owner" }, spec: { ports: [{ port: 1 }] } } });
    const ref = { apiVersion: "v1", kind: "Service", name: "owner", uid: owner.metadata!.uid! };
    await core.createNamespacedConfigMap({ namespace: "crud", body: { metadata: { name: "dependent", ownerReferences: [ref] } } });
    await core.deleteNamespacedService({ name: "owner", namespace: "crud" });
    expect((await failure(core.readNamespacedConfigMap({ name: "dependent", namespace: "crud" }))).code).toBe(404);
  });
});

describe("custom resources", () => {
  test("cluster-scoped CRUD, status subresource, generation", async () => {
    const pool = await custom.createClusterCustomObject({
      group: G, version: V, plural: "addresspools",
      body: { apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "lb-pool" }, spec: { cidr: "192.0.2.0/24", type: "service", allocType: "bit", blockSize: 24, autoAssign: true }, status: { ignored: true } },
    });
    expect(pool.metadata.generation).toBe(1);
    expect(pool.status).toBeUndefined();
    const st = await custom.patchClusterCustomObjectStatus({ group: G, version: V, plural: "addresspools", name: "lb-pool", body: { status: { allocated: 3 } } }, merge);
    expect(st.status).toEqual({ allocated: 3 });
    expect(st.metadata.generation).toBe(1);
    const spec = await custom.patchClusterCustomObject({ group: G, version: V, plural: "addresspools", name: "lb-pool", body: { spec: { autoAssign: false } } }, merge);
    expect(spec.metadata.generation).toBe(2);
    expect(spec.status).toEqual({ allocated: 3 });

    // Custom resources need a resourceVersion on update, and do not take strategic merge patches.
    const noRv = await failure(custom.replaceClusterCustomObject({ group: G, version: V, plural: "addresspools", name: "lb-pool", body: { ...spec, metadata: { name: "lb-pool" } } }));
    expect(noRv.code).toBe(422);
    const smp = await failure(custom.patchClusterCustomObject({ group: G, version: V, plural: "addresspools", name: "lb-pool", body: { spec: {} } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch)));
    expect(smp.code).toBe(415);

    const list = await custom.listClusterCustomObject({ group: G, version: V, plural: "addresspools" });
    expect(list.kind).toBe("AddressPoolList");
    expect(list.items.map((p: any) => p.metadata.name)).toEqual(["lb-pool"]);
    await custom.deleteClusterCustomObject({ group: G, version: V, plural: "addresspools", name: "lb-pool" });
    const nf = await failure(custom.getClusterCustomObject({ group: G, version: V, plural: "addresspools", name: "lb-pool" }));
    expect(nf.status.message).toBe('addresspools.sart.terassyi.net "lb-pool" not found');
  });

  test("namespaced BGPAdvertisement", async () => {
    const adv = await custom.createNamespacedCustomObject({
      group: G, version: V, plural: "bgpadvertisements", namespace: "crud",
      body: { apiVersion: `${G}/${V}`, kind: "BGPAdvertisement", metadata: { name: "adv" }, spec: { cidr: "192.0.2.1/32", type: "service", protocol: "ipv4", attrs: [] } },
    });
    expect(adv.metadata.namespace).toBe("crud");
    const wrongKind = await failure(custom.createNamespacedCustomObject({ group: G, version: V, plural: "bgpadvertisements", namespace: "crud", body: { apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "x" } } }));
    expect(wrongKind.code).toBe(400);
    const all = await custom.listCustomObjectForAllNamespaces({ group: G, version: V, plural: "bgpadvertisements" });
    expect(all.items.length).toBe(1);
  });

  test("a validator turns schema errors into 422 Invalid naming the field", async () => {
    const strict = await startApiServer({
      validator: (obj) => (typeof obj.spec?.cidr === "string" && obj.spec.cidr.includes("/") ? [] : [{ reason: "FieldValueInvalid", field: "spec.cidr", message: `Invalid value: ${JSON.stringify(obj.spec?.cidr)}: must be a CIDR` }]),
    });
    try {
      const kc2 = new k8s.KubeConfig();
      kc2.loadFromString(strict.kubeconfig());
      const api = kc2.makeApiClient(k8s.CustomObjectsApi);
      const bad = await failure(api.createClusterCustomObject({ group: G, version: V, plural: "addresspools", body: { apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "bad" }, spec: { cidr: "nope" } } }));
      expect(bad.code).toBe(422);
      expect(bad.status).toMatchObject({ reason: "Invalid", message: 'AddressPool.sart.terassyi.net "bad" is invalid: spec.cidr: Invalid value: "nope": must be a CIDR', details: { causes: [{ field: "spec.cidr" }] } });
    } finally {
      await strict.stop();
    }
  });
});

describe("KubernetesObjectApi (generic client, resolves kinds through discovery)", () => {
  test("create/read/patch/delete of a core and a custom kind", async () => {
    const objs = k8s.KubernetesObjectApi.makeApiClient(kc);
    const pool = await objs.create({ apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "generic" }, spec: { cidr: "198.51.100.0/24", type: "service", allocType: "bit", blockSize: 24 } } as k8s.KubernetesObject);
    expect(pool.metadata?.uid).toBeDefined();
    const read = await objs.read({ apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "generic" } });
    expect((read as any).spec.cidr).toBe("198.51.100.0/24");
    // Its default patch type is strategic merge patch, which custom resources refuse (415) as on a real server.
    const smp = await failure(objs.patch({ apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "generic" }, spec: { autoAssign: true } } as k8s.KubernetesObject));
    expect(smp.code).toBe(415);
    const patched = await objs.patch({ apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "generic" }, spec: { autoAssign: true } } as k8s.KubernetesObject, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch);
    expect((patched as any).spec.autoAssign).toBe(true);
    const svc = await objs.create({ apiVersion: "v1", kind: "Service", metadata: { name: "generic", namespace: "crud" }, spec: { ports: [{ port: 53, protocol: "UDP" }] } } as k8s.KubernetesObject);
    expect((svc as any).spec.clusterIP).toBeDefined();
    await objs.delete({ apiVersion: "v1", kind: "Service", metadata: { name: "generic", namespace: "crud" } });
    await objs.delete({ apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "generic" } });
    expect((await failure(objs.read({ apiVersion: `${G}/${V}`, kind: "AddressPool", metadata: { name: "generic" } }))).code).toBe(404);
  });
});

describe("Lease (leader election)", () => {
  test("create, replace with resourceVersion, lose on a stale one; MicroTime enforced", async () => {
    const now = () => new k8s.V1MicroTime();
    const lease = await coord.createNamespacedLease({ namespace: "crud", body: { metadata: { name: "sart-controller" }, spec: { holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: now(), renewTime: now() } } });
    expect(lease.spec?.holderIdentity).toBe("a");
    const renewed = await coord.replaceNamespacedLease({ name: "sart-controller", namespace: "crud", body: { ...lease, spec: { ...lease.spec, renewTime: now() } } });
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(Number(lease.metadata?.resourceVersion));
    const lost = await failure(coord.replaceNamespacedLease({ name: "sart-controller", namespace: "crud", body: { ...lease, spec: { ...lease.spec, holderIdentity: "b" } } }));
    expect(lost.code).toBe(409);
    // A plain Date serialises with 3 fractional digits, which the real server rejects for MicroTime.
    const badTime = await failure(coord.createNamespacedLease({ namespace: "crud", body: { metadata: { name: "bad-time" }, spec: { renewTime: new Date() as k8s.V1MicroTime } } }));
    expect(badTime.code).toBe(400);
  });
});
