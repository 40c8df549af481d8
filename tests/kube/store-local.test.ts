// LocalStore: API-server semantics over a directory of manifests and an atomically written state file.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStore, ManifestError } from "../../host/kube/local-store.ts";
import { runStoreContract } from "./store-contract.ts";
import {
  ConflictError,
  NotFoundError,
  StoreError,
  retryOnConflict,
  type EventObject,
  type KubeObject,
  type WatchEvent,
} from "../../host/kube/store.ts";

const API = "sart.terassyi.net/v1alpha2";

const pool = (name: string, cidr: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: API,
  kind: "AddressPool",
  metadata: { name, labels: { tier: "lb" } },
  spec: { cidr, type: "service", allocType: "bit", blockSize: Number(cidr.split("/")[1]), autoAssign: false, ...extra },
});

let dir: string;
let stores: LocalStore[];

async function open(d = dir): Promise<LocalStore> {
  const s = await LocalStore.open({ dir: d });
  stores.push(s);
  return s;
}

/** Resolves when `pred` holds for the events seen so far (bounded). */
async function until(pred: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sart-local-store-"));
  stores = [];
});
afterEach(async () => {
  for (const s of stores) await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe("LocalStore contract", () => {
  runStoreContract("LocalStore", async () => ({ store: await open(), ns: "contract" }));
});

describe("LocalStore CRUD", () => {
  test("create sets server metadata, get/list return copies, labelSelector filters", async () => {
    const s = await open();
    const a = await s.create(pool("a", "192.0.2.0/24"));
    expect(a.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.metadata.generation).toBe(1);
    expect(a.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await s.create({ ...pool("b", "198.51.100.0/24"), metadata: { name: "b", labels: { tier: "pod" } } });
    await expect(s.create(pool("a", "203.0.113.0/24"))).rejects.toMatchObject({ status: 409, reason: "AlreadyExists" });

    const got = (await s.get("AddressPool", { name: "a" }))!;
    got.metadata.labels!.tier = "changed";
    expect((await s.get<KubeObject>("AddressPool", { name: "a" }))!.metadata.labels!.tier).toBe("lb");
    expect((await s.list("AddressPool", { labelSelector: "tier=lb" })).map((o) => o.metadata.name)).toEqual(["a"]);
    expect((await s.list("AddressPool", { labelSelector: "tier in (lb,pod)" })).length).toBe(2);
    expect((await s.list("AddressPool", { labelSelector: "tier!=lb" })).map((o) => o.metadata.name)).toEqual(["b"]);
    expect((await s.list("AddressPool", { labelSelector: "!tier" })).length).toBe(0);
    expect(await s.get("AddressPool", { name: "missing" })).toBeUndefined();
  });

  test("generateName, namespaces default, apiVersion must match the kind", async () => {
    const s = await open();
    const adv = await s.create({
      apiVersion: API,
      kind: "BGPAdvertisement",
      metadata: { name: "", generateName: "web-" },
      spec: { cidr: "192.0.2.1/32", type: "service", protocol: "ipv4", attrs: [] },
    });
    expect(adv.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(adv.metadata.namespace).toBe("default");
    await expect(s.create({ ...pool("x", "192.0.2.0/24"), apiVersion: "v1" })).rejects.toMatchObject({ status: 422 });
  });

  test("optimistic concurrency: stale update is 409 Conflict, no-op write keeps resourceVersion", async () => {
    const s = await open();
    const a = await s.create(pool("a", "192.0.2.0/24"));
    const b1 = await s.update({ ...a, spec: { ...(a.spec as object), autoAssign: true } });
    expect(Number(b1.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    expect(b1.metadata.generation).toBe(2);
    const err = await s.update({ ...a, spec: { ...(a.spec as object), autoAssign: false } }).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.status).toBe(409);
    expect(err.message).toContain('AddressPool "a"');
    const same = await s.update(b1);
    expect(same.metadata.resourceVersion).toBe(b1.metadata.resourceVersion);
    // Label changes bump resourceVersion but not generation.
    const labelled = await s.patch("AddressPool", { name: "a" }, { metadata: { labels: { extra: "1" } } });
    expect(labelled.metadata.generation).toBe(2);
    expect(labelled.metadata.labels).toEqual({ tier: "lb", extra: "1" });
    await expect(
      s.patch("AddressPool", { name: "a" }, { spec: { autoAssign: false } }, { resourceVersion: b1.metadata.resourceVersion }),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(s.update(pool("nope", "192.0.2.0/24"))).rejects.toBeInstanceOf(NotFoundError);
    // Custom resources need a resourceVersion on update, as on the API server.
    await expect(s.update(pool("a", "192.0.2.0/24"))).rejects.toMatchObject({ status: 422, reason: "Invalid" });
  });

  test("custom kinds are admitted against the CRD schema: defaults applied, invalid writes refused by field", async () => {
    const s = await open();
    const p = await s.create<KubeObject>({ apiVersion: API, kind: "AddressPool", metadata: { name: "d" }, spec: { cidr: "192.0.2.0/24", type: "service" } });
    expect(p.spec).toMatchObject({ allocType: "bit", autoAssign: false });
    const bad = await s.patch("AddressPool", { name: "d" }, { spec: { cidr: "198.51.100.0/24" } }).catch((e) => e);
    expect(bad).toMatchObject({ status: 422, reason: "Invalid", kind: "AddressPool" });
    expect(bad.message).toContain("spec.cidr");
    await expect(s.patchStatus("AddressPool", { name: "d" }, { allocated: { b: "x" } })).rejects.toMatchObject({ status: 422 });
    expect((await s.get<KubeObject>("AddressPool", { name: "d" }))!.metadata.resourceVersion).toBe(p.metadata.resourceVersion);
  });

  test("status isolation: create and main-resource writes ignore status, patchStatus touches only status", async () => {
    const s = await open();
    const created = await s.create({ ...pool("a", "192.0.2.0/24"), status: { allocated: { x: 1 } } });
    expect(created.status).toBeUndefined();
    const st = await s.patchStatus<KubeObject>("AddressPool", { name: "a" }, { conditions: [{ type: "Ready", status: "True" }] });
    expect(st.status).toEqual({ conditions: [{ type: "Ready", status: "True" }] });
    expect(st.metadata.generation).toBe(1);
    const upd = await s.update({ ...st, spec: { ...(st.spec as object), autoAssign: true }, status: { conditions: [] } });
    expect(upd.status).toEqual(st.status);
    expect((upd.spec as { autoAssign: boolean }).autoAssign).toBe(true);
    const patched = await s.patch<KubeObject>("AddressPool", { name: "a" }, { status: { hacked: true } });
    expect(patched.status).toEqual(st.status);
    // A status write carrying spec changes changes only the status.
    const merged = await s.patchStatus<KubeObject>("AddressPool", { name: "a" }, { conditions: null, released: ["q"] });
    expect(merged.status).toEqual({ released: ["q"] });
    expect((merged.spec as { autoAssign: boolean }).autoAssign).toBe(true);
    // Kinds without a status subresource answer 404 like the API server.
    await s.create({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "l", namespace: "default" }, spec: {} });
    await expect(s.patchStatus("Lease", { name: "l", namespace: "default" }, {})).rejects.toMatchObject({ status: 404 });
  });

  test("finalizers: delete sets deletionTimestamp; removing the last finalizer deletes", async () => {
    const s = await open();
    await s.create({ ...pool("a", "192.0.2.0/24"), metadata: { name: "a", finalizers: ["x/y"] } });
    await s.delete("AddressPool", { name: "a" });
    const marked = (await s.get<KubeObject>("AddressPool", { name: "a" }))!;
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    await s.delete("AddressPool", { name: "a" }); // idempotent
    // deletionTimestamp cannot be cleared by a write
    const kept = await s.update({ ...marked, metadata: { ...marked.metadata, deletionTimestamp: undefined, labels: { a: "b" } } });
    expect(kept.metadata.deletionTimestamp).toBe(marked.metadata.deletionTimestamp);
    await expect(s.patch("AddressPool", { name: "a" }, { metadata: { finalizers: ["x/y", "new/one"] } })).rejects.toMatchObject({ status: 422 });
    await s.patch("AddressPool", { name: "a" }, { metadata: { finalizers: null } });
    expect(await s.get("AddressPool", { name: "a" })).toBeUndefined();
    await s.delete("AddressPool", { name: "a" }); // missing is not an error
  });

  test("retryOnConflict: concurrent read-modify-writes all land", async () => {
    const s = await open();
    await s.create({ apiVersion: "v1", kind: "Node", metadata: { name: "n1", annotations: { count: "0" } } });
    let conflicts = 0;
    const bump = () =>
      retryOnConflict(async (attempt) => {
        if (attempt > 0) conflicts++;
        const n = (await s.get<KubeObject>("Node", { name: "n1" }))!;
        // Yield between read and write so the writers interleave.
        await new Promise((r) => setTimeout(r, 1));
        n.metadata.annotations!.count = String(Number(n.metadata.annotations!.count) + 1);
        return s.update(n);
      }, 20);
    await Promise.all(Array.from({ length: 5 }, bump));
    expect((await s.get<KubeObject>("Node", { name: "n1" }))!.metadata.annotations!.count).toBe("5");
    expect(conflicts).toBeGreaterThan(0);
    // Non-conflict errors are not retried.
    let calls = 0;
    await expect(
      retryOnConflict(async () => {
        calls++;
        throw new StoreError("boom", 500);
      }),
    ).rejects.toThrow("boom");
    expect(calls).toBe(1);
  });

  test("recordEvent writes core/v1 Events and dedupes repeats by count", async () => {
    const s = await open();
    const svc = await s.create({ apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "apps" }, spec: { type: "LoadBalancer" } });
    await s.recordEvent(svc, "Warning", "NoPool", "no address pool");
    await s.recordEvent(svc, "Warning", "NoPool", "no address pool");
    await s.recordEvent(svc, "Normal", "Allocated", "192.0.2.1");
    const events = await s.list<EventObject>("Event", { namespace: "apps" });
    expect(events.length).toBe(2);
    const noPool = events.find((e) => e.reason === "NoPool")!;
    expect(noPool.count).toBe(2);
    expect(noPool.type).toBe("Warning");
    expect(noPool.involvedObject).toMatchObject({ kind: "Service", name: "web", namespace: "apps", uid: svc.metadata.uid });
    expect(noPool.firstTimestamp).toBeDefined();
    expect(noPool.lastTimestamp).toBeDefined();
    // Cluster-scoped objects get their Events in "default".
    const p = await s.create(pool("p", "192.0.2.0/24"));
    await s.recordEvent(p, "Normal", "Created", "ok");
    expect((await s.list<EventObject>("Event", { namespace: "default" }))[0].involvedObject.name).toBe("p");
  });
});

describe("LocalStore informers", () => {
  test("initial list as ADDED, then MODIFIED, DELETED; cache follows; resync re-delivers", async () => {
    const s = await open();
    await s.create(pool("a", "192.0.2.0/24"));
    const inf = s.informer<KubeObject>("AddressPool", { resyncMs: 0 });
    const seen: WatchEvent[] = [];
    inf.on((e) => seen.push(e));
    await inf.start();
    expect(seen.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(["ADDED a"]);
    await s.create(pool("b", "198.51.100.0/24"));
    await s.patch("AddressPool", { name: "a" }, { spec: { autoAssign: true } });
    await s.delete("AddressPool", { name: "b" });
    await until(() => seen.length >= 4, "watch events");
    expect(seen.slice(0, 4).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      "ADDED a",
      "ADDED b",
      "MODIFIED a",
      "DELETED b",
    ]);
    expect((inf.get({ name: "a" })!.spec as { autoAssign: boolean }).autoAssign).toBe(true);
    expect(inf.get({ name: "b" })).toBeUndefined();
    // Resync: a second informer re-delivers its unchanged cache as MODIFIED.
    const again = s.informer<KubeObject>("AddressPool", { resyncMs: 100 });
    const resynced: string[] = [];
    again.on((e) => resynced.push(`${e.type} ${e.object.metadata.name}`));
    await again.start();
    await until(() => resynced.filter((x) => x === "MODIFIED a").length >= 2, "two resyncs");
    expect(resynced[0]).toBe("ADDED a");
    expect(again.get({ name: "a" })!.metadata.resourceVersion).toBe(inf.get({ name: "a" })!.metadata.resourceVersion);
    again.stop();
    inf.stop();
  });

  test("a label-selected informer sees objects enter and leave the selection", async () => {
    const s = await open();
    const inf = s.informer<KubeObject>("Node", { labelSelector: "sart.terassyi.net/asn" });
    const seen: string[] = [];
    inf.on((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
    await inf.start();
    await s.create({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    await s.patch("Node", { name: "n1" }, { metadata: { labels: { "sart.terassyi.net/asn": "65001" } } });
    await s.patch("Node", { name: "n1" }, { metadata: { labels: { "sart.terassyi.net/asn": null } } });
    await until(() => seen.length >= 2, "selection events");
    expect(seen).toEqual(["ADDED n1", "DELETED n1"]);
    expect(inf.list()).toEqual([]);
    inf.stop();
  });
});

describe("LocalStore persistence", () => {
  test("a new LocalStore on the same directory sees every object, status and resourceVersion", async () => {
    const s1 = await open();
    const a = await s1.create(pool("a", "192.0.2.0/24"));
    await s1.patchStatus("AddressPool", { name: "a" }, { allocated: { "a-0": 1 } });
    const blk = await s1.create({
      apiVersion: API,
      kind: "AddressBlock",
      metadata: { name: "", generateName: "a-" },
      spec: { cidr: "192.0.2.0/24", type: "service", poolRef: "a", autoAssign: false },
    });
    const last = (await s1.get<KubeObject>("AddressPool", { name: "a" }))!;
    await s1.close();

    const s2 = await open();
    const again = (await s2.get<KubeObject>("AddressPool", { name: "a" }))!;
    expect(again.metadata.uid).toBe(a.metadata.uid);
    expect(again.metadata.resourceVersion).toBe(last.metadata.resourceVersion);
    expect(again.status).toEqual({ allocated: { "a-0": 1 } });
    expect(await s2.get("AddressBlock", { name: blk.metadata.name })).toBeDefined();
    // resourceVersions keep increasing across restarts.
    const n = await s2.create(pool("c", "203.0.113.0/24"));
    expect(Number(n.metadata.resourceVersion)).toBeGreaterThan(Number(last.metadata.resourceVersion));
  });

  test("every write is on disk when it resolves (no close needed)", async () => {
    const s1 = await open();
    await Promise.all(Array.from({ length: 50 }, (_, i) => s1.create(pool(`p${i}`, "192.0.2.0/24"))));
    const state = JSON.parse(await readFile(join(dir, "sart-state.json"), "utf8"));
    expect(state.objects.filter((o: KubeObject) => o.kind === "AddressPool").length).toBe(50);
  });

  test("a crash mid-write leaves the previous state valid; stale temp files are removed", async () => {
    const s1 = await open();
    await s1.create(pool("a", "192.0.2.0/24"));
    await s1.close();
    // What a crash between write and rename leaves behind: a partial temp file.
    await writeFile(join(dir, "sart-state.json.tmp-99999-7"), '{"format":"sart-local-store/1","objects":[{"kind":');
    const s2 = await open();
    expect(await s2.get("AddressPool", { name: "a" })).toBeDefined();
    expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  test("a corrupt state file is refused, not silently replaced", async () => {
    await writeFile(join(dir, "sart-state.json"), '{"format":"sart-local');
    await expect(LocalStore.open({ dir })).rejects.toThrow(/sart-state\.json is not valid JSON/);
  });

  test("one store per state file: a second open is refused while the first runs; a dead owner's lock is taken over", async () => {
    const s1 = await open();
    await expect(LocalStore.open({ dir })).rejects.toThrow(/sart-state\.json is in use by another store in this process/);
    await s1.close();
    const s2 = await open();
    await s2.close();
    // A lock left behind by a crashed process (its pid no longer runs).
    const dead = Bun.spawnSync(["true"]).pid;
    await writeFile(join(dir, "sart-state.json.lock"), `${dead}\n`);
    const s3 = await open();
    expect(await readFile(join(dir, "sart-state.json.lock"), "utf8")).toBe(`${process.pid}\n`);
    await s3.close();
    expect((await readdir(dir)).includes("sart-state.json.lock")).toBe(false);
  });

  test("events are not persisted", async () => {
    const s1 = await open();
    const p = await s1.create(pool("a", "192.0.2.0/24"));
    await s1.recordEvent(p, "Normal", "X", "y");
    await s1.close();
    const s2 = await open();
    expect(await s2.list("Event")).toEqual([]);
  });
});

describe("LocalStore manifests", () => {
  const manifest = (cidr: string, autoAssign = true) => `# pools
apiVersion: ${API}
kind: AddressPool
metadata:
  name: default-lb
spec:
  cidr: ${cidr}
  type: service
  allocType: bit
  blockSize: 24
  autoAssign: ${autoAssign}
---
apiVersion: ${API}
kind: BGPPeerTemplate
metadata:
  name: tmpl
spec:
  asn: 65000
---
`;

  test("multi-document YAML is loaded; status survives re-apply of a changed document", async () => {
    const m = join(dir, "manifests");
    await Bun.write(join(m, "lb.yaml"), manifest("192.0.2.0/24"));
    await Bun.write(join(m, "sub/svc.yml"), `apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: apps}\nspec: {type: LoadBalancer}\n`);
    await Bun.write(join(m, "kustomization.yaml"), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [lb.yaml]\n`);
    const s1 = await open(m);
    expect((await s1.list("AddressPool")).length).toBe(1);
    expect(await s1.get("BGPPeerTemplate", { name: "tmpl" })).toBeDefined();
    expect(await s1.get("Service", { name: "web", namespace: "apps" })).toBeDefined();
    await s1.patchStatus("AddressPool", { name: "default-lb" }, { allocated: { a: 1 } });
    // A run-time change to a manifest object survives a restart while its document is unchanged.
    await s1.patch("BGPPeerTemplate", { name: "tmpl" }, { metadata: { finalizers: ["keep/me"] } });
    await s1.close();

    await Bun.write(join(m, "lb.yaml"), manifest("192.0.2.0/24", false).split("---")[0]); // tmpl removed, pool changed
    const s2 = await open(m);
    const p = (await s2.get<KubeObject>("AddressPool", { name: "default-lb" }))!;
    expect((p.spec as { autoAssign: boolean }).autoAssign).toBe(false);
    expect(p.metadata.generation).toBe(2);
    expect(p.status).toEqual({ allocated: { a: 1 } });
    // Its document was removed: deleted, but its finalizer holds it in deletion.
    const t = (await s2.get<KubeObject>("BGPPeerTemplate", { name: "tmpl" }))!;
    expect(t.metadata.deletionTimestamp).toBeDefined();
  });

  test("bad YAML and bad objects are reported by file, document and field", async () => {
    const m = join(dir, "bad");
    await Bun.write(join(m, "a.yaml"), `${manifest("192.0.2.0/24")}apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n`);
    await Bun.write(
      join(m, "b.yaml"),
      `apiVersion: ${API}\nkind: AddressPool\nmetadata: {name: p}\nspec: {cidr: 192.0.2.0/33}\n---\napiVersion: ${API}\nkind: AdressPool\nmetadata: {name: typo}\n---\napiVersion: v1\nkind: Node\nmetadata: {}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n`,
    );
    const err = (await LocalStore.open({ dir: m }).catch((e) => e)) as ManifestError;
    expect(err).toBeInstanceOf(ManifestError);
    const text = err.issues.join("\n");
    expect(text).toMatch(/bad\/a\.yaml document 3: YAML syntax error at line \d+/);
    expect(text).toContain('bad/b.yaml document 2: field kind: "AdressPool" is not served by the local store');
    expect(text).toContain("bad/b.yaml document 3: field metadata.name: required");
    expect(text).toContain('bad/b.yaml document 1 (AddressPool "p"): field spec.type: Required value');
    expect(text).toContain('bad/b.yaml document 1 (AddressPool "p"): field spec.cidr: Invalid value: "192.0.2.0/33"');
    expect(err.issues.length).toBe(6);
  });

  test("the same object in two documents is an error naming both", async () => {
    const m = join(dir, "dup");
    const doc = `apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n`;
    await Bun.write(join(m, "a.yaml"), doc);
    await Bun.write(join(m, "b.yaml"), `---\n${doc}`);
    await expect(LocalStore.open({ dir: m })).rejects.toThrow(/b\.yaml document 1: Node "n1" is also defined in .*a\.yaml document 1/);
  });
});
