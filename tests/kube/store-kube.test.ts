// KubeStore (its own HTTP transport, configured from a real @kubernetes/client-node
// KubeConfig) against the test API server (tests/kube/apiserver). Outages are made by a small HTTP proxy in front of the
// server that can refuse requests and cut open watches.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeStore, type KubeInformer } from "../../host/kube/kube-store.ts";
import { loadKubeConfig } from "../../host/kube/kubeconfig.ts";
import {
  AlreadyExistsError,
  ConflictError,
  InvalidError,
  NotFoundError,
  StoreError,
  retryOnConflict,
  type EventObject,
  type KubeObject,
  type WatchEvent,
} from "../../host/kube/store.ts";
import { kubeconfigYaml, startApiServer, type ApiServer } from "./apiserver/index.ts";
import { runLeaderScenarios } from "./leader-scenarios.ts";
import { runStoreContract } from "./store-contract.ts";

const API = "sart.terassyi.net/v1alpha2";

/**
 * Forwards to the API server; `down` answers 503 to everything and cuts open streams;
 * `emptyWatches` answers every watch 200 with an empty body (a server ending it at once).
 */
class FaultProxy {
  down = false;
  emptyWatches = false;
  readonly requests: { method: string; url: string; contentType?: string }[] = [];
  private readonly open = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<FaultProxy> {
    const t = new URL(target);
    let proxy!: FaultProxy;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => proxy.handle(req, res, t));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    proxy = new FaultProxy(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    server.on("connection", (s: Socket) => {
      proxy.sockets.add(s);
      s.on("close", () => proxy.sockets.delete(s));
    });
    return proxy;
  }

  setDown(down: boolean): void {
    this.down = down;
    if (down) for (const res of this.open) res.destroy();
  }

  private handle(req: IncomingMessage, res: ServerResponse, target: URL): void {
    this.requests.push({ method: req.method!, url: req.url!, contentType: req.headers["content-type"] });
    if (this.down) {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "proxy: API server down", reason: "ServiceUnavailable", code: 503 }));
      return;
    }
    if (this.emptyWatches && req.url!.includes("watch=true")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end();
      return;
    }
    this.open.add(res);
    res.on("close", () => this.open.delete(res));
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        if (res.destroyed) return void ur.destroy(); // cut while the server was answering
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        res.flushHeaders(); // a watch sends its headers before its first event
        ur.pipe(res);
        res.on("close", () => ur.destroy());
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const kcFor = (url: string) => {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(url, "default"));
  return kc;
};

async function until(pred: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pool = (name: string, cidr: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: API,
  kind: "AddressPool",
  metadata: { name, labels },
  spec: { cidr, type: "service", blockSize: Number(cidr.split("/")[1]) },
});

let api: ApiServer;
let proxy: FaultProxy;
let store: KubeStore; // through the proxy
let direct: KubeStore; // straight to the server
const quiet = () => {};

beforeAll(async () => {
  api = await startApiServer();
  proxy = await FaultProxy.start(api.url);
  store = new KubeStore(kcFor(proxy.url), { backoffMs: { initial: 50, max: 400 }, log: quiet });
  direct = new KubeStore(kcFor(api.url), { log: quiet });
});
afterAll(async () => {
  store.close();
  direct.close();
  await proxy.stop();
  await api.stop();
});

let n = 0;
let ns: string;
beforeEach(async () => {
  proxy.setDown(false);
  // Each test in its own namespace (and with its own cluster-scoped names) so nothing leaks between tests.
  ns = `t${process.pid}-${++n}`;
  await direct.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
});
afterEach(async () => {
  proxy.setDown(false);
  proxy.emptyWatches = false;
  for (const p of await direct.list("AddressPool")) await direct.delete("AddressPool", p.metadata);
});

describe("KubeStore contract", () => {
  runStoreContract("KubeStore", async () => ({ store, ns }));
});

describe("KubeStore CRUD", () => {
  test("custom, group and core kinds: create, get, list by label, update, delete", async () => {
    const a = await store.create(pool("a", "192.0.2.0/24", { tier: "lb" }));
    expect(a.metadata.uid).toBeDefined();
    expect(a.metadata.resourceVersion).toBeDefined();
    await store.create(pool("b", "198.51.100.0/24", { tier: "pod" }));
    expect((await store.list("AddressPool", { labelSelector: "tier=lb" })).map((o) => o.metadata.name)).toEqual(["a"]);
    expect((await store.get<KubeObject>("AddressPool", { name: "a" }))!.metadata.uid).toBe(a.metadata.uid);
    expect(await store.get("AddressPool", { name: "zz" })).toBeUndefined();

    const adv = await store.create({
      apiVersion: API,
      kind: "BGPAdvertisement",
      metadata: { name: "", generateName: "web-", namespace: ns },
      spec: { cidr: "192.0.2.1/32", type: "service", protocol: "ipv4" },
    });
    expect(adv.metadata.name).toMatch(/^web-.{5}$/);
    expect((await store.list("BGPAdvertisement", { namespace: ns })).length).toBe(1);

    const svc = await store.create<KubeObject>({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: ns, labels: { app: "web" } },
      spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
    });
    // Core objects come back as the plain JSON the server sent: no Date objects, no undefined members.
    expect(svc.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Object.values(svc.metadata).includes(undefined as never)).toBe(false);
    expect((await store.list("Service", { labelSelector: "app=web" })).map((s) => s.metadata.namespace)).toEqual([ns]);
    const upd = await store.update<KubeObject>({ ...svc, metadata: { ...svc.metadata, annotations: { a: "1" } } });
    expect(upd.metadata.annotations).toEqual({ a: "1" });

    await store.create({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "web-1", namespace: ns, labels: { "kubernetes.io/service-name": "web" } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.0.0.1"], conditions: { ready: true }, nodeName: "n1" }],
    } as KubeObject);
    expect((await store.list("EndpointSlice", { namespace: ns, labelSelector: "kubernetes.io/service-name=web" })).length).toBe(1);

    await store.delete("Service", { name: "web", namespace: ns });
    expect(await store.get("Service", { name: "web", namespace: ns })).toBeUndefined();
    await store.delete("Service", { name: "web", namespace: ns }); // missing is not an error
  });

  test("errors carry the kind, the name and the HTTP status", async () => {
    await store.create(pool("a", "192.0.2.0/24"));
    const dup = await store.create(pool("a", "192.0.2.0/24")).catch((e) => e);
    expect(dup).toBeInstanceOf(AlreadyExistsError);
    expect(dup).toMatchObject({ status: 409, kind: "AddressPool", key: { name: "a" } });
    const invalid = await store.create(pool("bad", "192.0.2.0/33")).catch((e) => e);
    expect(invalid).toBeInstanceOf(InvalidError);
    expect(invalid.status).toBe(422);
    expect(invalid.message).toContain('AddressPool "bad"');
    expect(invalid.message).toContain("spec.cidr");
    const missing = await store.update(pool("nope", "192.0.2.0/24")).catch((e) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    const offline = new KubeStore(kcFor("http://127.0.0.1:1"), { log: quiet });
    const refused = await offline.get("Node", { name: "n1" }).catch((e) => e);
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused.status).toBe(0);
    expect(refused.message).toContain('get Node "n1"');
  });

  test("optimistic concurrency: stale update is ConflictError; retryOnConflict lands concurrent writers", async () => {
    const a = await store.create<KubeObject>(pool("a", "192.0.2.0/24"));
    await store.patch("AddressPool", { name: "a" }, { metadata: { annotations: { n: "0" } } });
    await expect(store.update({ ...a, metadata: { ...a.metadata, labels: { x: "y" } } })).rejects.toBeInstanceOf(ConflictError);
    await expect(
      store.patch("AddressPool", { name: "a" }, { metadata: { labels: { x: "y" } } }, { resourceVersion: a.metadata.resourceVersion }),
    ).rejects.toBeInstanceOf(ConflictError);
    const bump = () =>
      retryOnConflict(async () => {
        const cur = (await store.get<KubeObject>("AddressPool", { name: "a" }))!;
        await new Promise((r) => setTimeout(r, 2));
        cur.metadata.annotations = { n: String(Number(cur.metadata.annotations?.n ?? 0) + 1) };
        return store.update(cur);
      }, 30);
    await Promise.all(Array.from({ length: 4 }, bump));
    expect((await store.get<KubeObject>("AddressPool", { name: "a" }))!.metadata.annotations).toEqual({ n: "4" });
  });

  test("status subresource: merge patches sent as application/merge-patch+json, status isolated from the main resource", async () => {
    const svc = await store.create<KubeObject>({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: ns },
      spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
    });
    proxy.requests.length = 0;
    const st = await store.patchStatus<KubeObject>("Service", { name: "web", namespace: ns }, { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } });
    expect(st.status).toMatchObject({ loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } });
    const patches = proxy.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => [r.url.split("?")[0], r.contentType])).toEqual([
      [`/api/v1/namespaces/${ns}/services/web/status`, "application/merge-patch+json"],
    ]);
    // The main resource ignores status; the status subresource ignores spec.
    const upd = await store.update<KubeObject>({ ...st, status: { loadBalancer: {} }, metadata: { ...st.metadata, labels: { l: "1" } } });
    expect(upd.status).toMatchObject({ loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } });
    const patched = await store.patch<KubeObject>("Service", { name: "web", namespace: ns }, { status: { loadBalancer: { ingress: null } } });
    expect(patched.status).toMatchObject({ loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } });
    expect(svc.metadata.uid).toBe(patched.metadata.uid);

    await store.create(pool("a", "192.0.2.0/24"));
    const ps = await store.patchStatus<KubeObject>("AddressPool", { name: "a" }, { allocated: { "a-0": 3 } });
    expect(ps.status).toEqual({ allocated: { "a-0": 3 } });
    const ps2 = await store.patch<KubeObject>("AddressPool", { name: "a" }, { spec: { autoAssign: true }, status: { allocated: null } });
    expect(ps2.status).toEqual({ allocated: { "a-0": 3 } });
    expect((ps2.spec as { autoAssign: boolean }).autoAssign).toBe(true);
    await expect(store.patchStatus("Lease", { name: "x", namespace: ns }, {})).rejects.toMatchObject({ status: 404 });
  });

  test("recordEvent writes a core/v1 Event and bumps count on repeats", async () => {
    const svc = await store.create<KubeObject>({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: ns },
      spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
    });
    await store.recordEvent(svc, "Warning", "NoAddressPool", "no pool for web");
    await store.recordEvent(svc, "Warning", "NoAddressPool", "no pool for web");
    await store.recordEvent(svc, "Normal", "Allocated", "192.0.2.1");
    const events = await store.list<EventObject>("Event", { namespace: ns });
    expect(events.length).toBe(2);
    const e = events.find((x) => x.reason === "NoAddressPool")!;
    expect(e).toMatchObject({ type: "Warning", count: 2, message: "no pool for web", source: { component: "sart" } });
    expect(e.involvedObject).toMatchObject({ apiVersion: "v1", kind: "Service", name: "web", namespace: ns, uid: svc.metadata.uid });
    expect(e.firstTimestamp).toMatch(/Z$/);
    expect(e.lastTimestamp).toMatch(/Z$/);
  });
});

/** Returns once the informer's watch delivers events (a probe object comes and goes). */
async function watchIsLive(inf: KubeInformer<KubeObject>, seen: string[]): Promise<void> {
  const name = `probe-${n}`;
  await direct.create(pool(name, "192.0.2.0/24"));
  await until(() => seen.includes(`ADDED ${name}`), "the probe through the watch");
  await direct.delete("AddressPool", { name });
  await until(() => seen.includes(`DELETED ${name}`), "the probe deletion through the watch");
  seen.splice(0, seen.length, ...seen.filter((e) => !e.endsWith(` ${name}`)));
  expect(inf.errors).toBe(0);
}

describe("KubeStore informers", () => {
  test("initial list as ADDED, then MODIFIED and DELETED from the watch; resync re-delivers", async () => {
    await store.create(pool("a", "192.0.2.0/24"));
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 });
    const seen: WatchEvent[] = [];
    inf.on((e) => seen.push(e));
    await inf.start();
    expect(seen.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(["ADDED a"]);
    await direct.create(pool("b", "198.51.100.0/24"));
    await direct.patch("AddressPool", { name: "a" }, { spec: { autoAssign: true } });
    await direct.delete("AddressPool", { name: "b" });
    await until(() => seen.some((e) => e.type === "DELETED"), "DELETED b");
    const order = seen.map((e) => `${e.type} ${e.object.metadata.name}`).filter((x, i, all) => all.indexOf(x) === i);
    expect(order.slice(0, 4)).toEqual(["ADDED a", "ADDED b", "MODIFIED a", "DELETED b"]);
    expect((inf.get({ name: "a" })!.spec as { autoAssign: boolean }).autoAssign).toBe(true);
    expect(inf.get({ name: "b" })).toBeUndefined();
    expect(inf.list().map((o) => o.metadata.name)).toEqual(["a"]);
    inf.stop();
    // Resync: a second informer re-delivers its unchanged cache as MODIFIED.
    const again = store.informer<KubeObject>("AddressPool", { resyncMs: 150 });
    const resynced: string[] = [];
    again.on((e) => resynced.push(`${e.type} ${e.object.metadata.name}`));
    await again.start();
    await until(() => resynced.filter((x) => x === "MODIFIED a").length >= 2, "two resyncs");
    expect(resynced[0]).toBe("ADDED a");
    expect(again.get({ name: "a" })!.metadata.resourceVersion).toBe(inf.get({ name: "a" })!.metadata.resourceVersion);
    again.stop();
  });

  test("transform: the cache keeps, and handlers get, what it makes of each listed and watched object", async () => {
    await store.create(pool("a", "192.0.2.0/24", { tier: "lb" }));
    const slim = (o: KubeObject): KubeObject => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, resourceVersion: o.metadata.resourceVersion } });
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0, transform: slim });
    const seen: KubeObject[] = [];
    inf.on((e) => seen.push(e.object));
    await inf.start();
    await direct.create(pool("b", "198.51.100.0/24", { tier: "pod" }));
    await until(() => seen.length >= 2, "ADDED b");
    for (const o of [...seen, inf.get({ name: "a" })!, inf.get({ name: "b" })!]) {
      expect(o.spec).toBeUndefined();
      expect(o.metadata.labels).toBeUndefined();
      expect(o.metadata.resourceVersion).toBeDefined();
    }
    inf.stop();
  });

  test("updateInPlace: a new version is written into the cached object; events carry the version before", async () => {
    await store.create(pool("a", "192.0.2.0/24", { tier: "lb" }));
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0, updateInPlace: true });
    const seen: WatchEvent<KubeObject>[] = [];
    // What a handler sees at delivery: the object is written to later.
    const snapshots: string[] = [];
    inf.on((e) => {
      seen.push(e);
      snapshots.push(JSON.stringify({ object: e.object, old: e.old }));
    });
    await inf.start();
    const cached = inf.get({ name: "a" })!;
    const spec = cached.spec;
    const rv1 = cached.metadata.resourceVersion;
    await direct.patchStatus("AddressPool", { name: "a" }, { allocated: { "a-0": 1 } });
    await until(() => seen.length >= 2, "MODIFIED a (status)");
    // The same object, now at the new version; its unchanged members are the ones it had.
    expect(inf.get({ name: "a" })).toBe(cached);
    expect(seen[1].object).toBe(cached);
    expect(cached.metadata.resourceVersion).not.toBe(rv1);
    expect(cached.spec).toBe(spec);
    expect(cached.status).toEqual({ allocated: { "a-0": 1 } });
    // The version before, as it was: the old resourceVersion, no status.
    expect(seen[1].old?.metadata.resourceVersion).toBe(rv1);
    expect(seen[1].old?.status).toBeUndefined();
    expect(seen[1].old?.spec).toBe(spec);
    expect(seen[0].old).toBeUndefined(); // ADDED
    // A change deep inside a member, and a member that goes.
    await direct.patch("AddressPool", { name: "a" }, { metadata: { labels: { tier: "pod" } } });
    await until(() => seen.length >= 3, "MODIFIED a (labels)");
    expect(cached.metadata.labels).toEqual({ tier: "pod" });
    expect(seen[2].old?.metadata.labels).toEqual({ tier: "lb" });
    expect(JSON.parse(snapshots[2]).object.metadata.labels).toEqual({ tier: "pod" });
    await direct.patchStatus("AddressPool", { name: "a" }, { allocated: null });
    await until(() => seen.length >= 4, "MODIFIED a (status emptied)");
    expect(cached.status?.allocated).toBeUndefined();
    expect(seen[3].old?.status).toEqual({ allocated: { "a-0": 1 } });
    inf.stop();
  });

  test("a label-selected, namespaced informer sees only its objects", async () => {
    const inf = store.informer<KubeObject>("Service", { namespace: ns, labelSelector: "app=web" });
    const seen: string[] = [];
    inf.on((e) => seen.push(`${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`));
    await inf.start();
    const svc = (name: string, namespace: string, app: string): KubeObject => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace, labels: { app } },
      spec: { type: "ClusterIP", ports: [{ port: 80 }] },
    });
    await direct.create(svc("other", ns, "db"));
    await direct.create(svc("web", "default", "web"));
    await direct.create(svc("web", ns, "web"));
    // The selected Service was created last: one watch delivers events in order, so anything
    // wrongly let through would arrive before it.
    await until(() => seen.includes(`ADDED ${ns}/web`), "the selected Service");
    expect(seen).toEqual([`ADDED ${ns}/web`]);
    expect(inf.get({ name: "web", namespace: ns })).toBeDefined();
    inf.stop();
    await direct.delete("Service", { name: "web", namespace: "default" });
  });

  test("dropped watches are resumed from the last resourceVersion without a relist", async () => {
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 }) as KubeInformer<KubeObject>;
    const seen: string[] = [];
    inf.on((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
    await inf.start();
    await watchIsLive(inf, seen);
    proxy.requests.length = 0;
    api.closeWatches();
    await until(() => proxy.requests.some((r) => r.url.includes("watch=true")), "a new watch");
    await direct.create(pool("after", "192.0.2.0/24"));
    await until(() => seen.includes("ADDED after"), "event after the drop");
    const lists = proxy.requests.filter((r) => r.method === "GET" && !r.url.includes("watch=true"));
    expect(lists).toEqual([]);
    expect(inf.errors).toBe(0);
    inf.stop();
  });

  test("bookmarks keep an idle informer's resourceVersion fresh: resuming after compaction needs no relist", async () => {
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 }) as KubeInformer<KubeObject>;
    const seen: string[] = [];
    inf.on((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
    await inf.start();
    await watchIsLive(inf, seen);
    // Other kinds move the resourceVersion on; this informer sees none of it but the bookmark.
    for (let i = 0; i < 5; i++) await direct.create({ apiVersion: "v1", kind: "Node", metadata: { name: `${ns}-n${i}` } });
    api.sendBookmarks(); // only watches that asked for bookmarks get one
    await new Promise((r) => setTimeout(r, 100));
    api.compact();
    proxy.requests.length = 0;
    api.closeWatches();
    await until(() => proxy.requests.some((r) => r.url.includes("watch=true")), "the resumed watch");
    await direct.create(pool("late", "192.0.2.0/24"));
    await until(() => seen.includes("ADDED late"), "events on the resumed watch");
    expect(proxy.requests.filter((r) => r.method === "GET" && !r.url.includes("watch=true"))).toEqual([]);
    for (let i = 0; i < 5; i++) await direct.delete("Node", { name: `${ns}-n${i}` });
    inf.stop();
  });

  test("after an outage the informer restarts with backoff; history compacted meanwhile -> 410 -> relist", async () => {
    await direct.create(pool("a", "192.0.2.0/24"));
    await direct.create(pool("b", "198.51.100.0/24"));
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 }) as KubeInformer<KubeObject>;
    const seen: string[] = [];
    inf.on((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
    await inf.start();
    expect(seen.sort()).toEqual(["ADDED a", "ADDED b"]);
    await watchIsLive(inf, seen);

    proxy.setDown(true); // open watch cut, every request answered 503
    await until(() => inf.errors >= 3, "repeated failed restarts");
    // Changes the informer cannot see, then the history it would resume from is compacted away.
    await direct.create(pool("c", "203.0.113.0/24"));
    await direct.delete("AddressPool", { name: "a" });
    await direct.patch("AddressPool", { name: "b" }, { spec: { autoAssign: true } });
    api.compact();
    proxy.requests.length = 0;
    proxy.setDown(false);

    await until(() => seen.includes("ADDED c") && seen.includes("DELETED a") && seen.includes("MODIFIED b"), "catch-up after relist");
    expect(inf.list().map((o) => o.metadata.name).sort()).toEqual(["b", "c"]);
    expect((inf.get({ name: "b" })!.spec as { autoAssign: boolean }).autoAssign).toBe(true);
    // It tried to resume (watch from its old resourceVersion), got 410 Gone, and listed again.
    const gets = proxy.requests.filter((r) => r.method === "GET").map((r) => (r.url.includes("watch=true") ? "watch" : "list"));
    expect(gets.slice(0, 2), JSON.stringify(proxy.requests)).toEqual(["watch", "list"]);
    // Keeps working after recovery.
    await direct.create(pool("d", "192.0.2.0/24"));
    await until(() => seen.includes("ADDED d"), "events after recovery");
    inf.stop();
  });

  test("a watch the server ends at once with no event is retried with backoff, not in a loop", async () => {
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 }) as KubeInformer<KubeObject>;
    const seen: string[] = [];
    inf.on((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
    try {
      await inf.start();
      await watchIsLive(inf, seen);
      proxy.emptyWatches = true;
      proxy.requests.length = 0;
      api.closeWatches();
      await until(() => inf.errors >= 3, "empty watches counted as failures");
      // One watch per failure (and perhaps the next one under way), not one per event-loop turn.
      expect(proxy.requests.filter((r) => r.url.includes("watch=true")).length).toBeLessThanOrEqual(inf.errors + 1);
      proxy.emptyWatches = false;
      await direct.create(pool("after", "192.0.2.0/24"));
      await until(() => seen.includes("ADDED after"), "events once watches work again");
    } finally {
      inf.stop();
    }
  });

  test("a watch that delivers events resets the backoff: the next cut is resumed at the first delay", async () => {
    const slow = new KubeStore(kcFor(proxy.url), { backoffMs: { initial: 50, max: 10_000 }, log: quiet });
    const inf = slow.informer<KubeObject>("AddressPool", { resyncMs: 0 }) as KubeInformer<KubeObject>;
    try {
      const seen: string[] = [];
      inf.on((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
      await inf.start();
      await watchIsLive(inf, seen);
      // An outage long enough for the backoff to grow to 3.2 s (50 ms doubled six times).
      proxy.setDown(true);
      await until(() => inf.errors >= 6, "failed restarts during the outage");
      proxy.setDown(false);
      // The watch resumes from its resourceVersion (no relist) and delivers events.
      await direct.create(pool("back", "192.0.2.0/24"));
      await until(() => seen.includes("ADDED back"), "events after the outage", 10_000);
      // One cut: the restart waits the first delay (50 ms), not the outage's 3.2 s.
      proxy.requests.length = 0;
      const errors = inf.errors;
      proxy.setDown(true);
      proxy.setDown(false);
      await until(() => inf.errors > errors, "the cut watch counted");
      await until(() => proxy.requests.some((r) => r.url.includes("watch=true")), "the watch resumed at the first delay", 1500);
    } finally {
      inf.stop();
      slow.close();
    }
  });

  test("start() waits for the first successful list while the server is unreachable", async () => {
    await direct.create(pool("a", "192.0.2.0/24"));
    proxy.setDown(true);
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 }) as KubeInformer<KubeObject>;
    let synced = false;
    const started = inf.start().then(() => (synced = true));
    await until(() => inf.errors >= 2, "failed lists");
    expect(synced).toBe(false);
    proxy.setDown(false);
    await started;
    expect(inf.get({ name: "a" })).toBeDefined();
    inf.stop();
    // Stopped before its first list: start() rejects instead of hanging.
    proxy.setDown(true);
    const never = store.informer<KubeObject>("AddressPool", { resyncMs: 0 });
    const pending = never.start();
    never.stop();
    await expect(pending).rejects.toThrow("informer AddressPool stopped before its first list");
  });
});

describe("KubeStore leader election", () => {
  runLeaderScenarios(() => store);
});

describe("kubeconfig", () => {
  test("--kubeconfig FILE, $KUBECONFIG, context namespace; missing files and contexts are named", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sart-kubeconfig-"));
    try {
      const file = join(dir, "config");
      await writeFile(file, kubeconfigYaml(api.url, "kube-system"));
      const fromFlag = loadKubeConfig({ kubeconfig: file, env: {} });
      expect(fromFlag.source).toBe(file);
      expect(fromFlag.namespace).toBe("kube-system");
      expect(fromFlag.kc.getCurrentCluster()?.server).toBe(api.url);
      expect(loadKubeConfig({ env: { KUBECONFIG: `${file}:/nonexistent` } }).source).toBe(file);
      expect(() => loadKubeConfig({ kubeconfig: join(dir, "nope"), env: {} })).toThrow(`kubeconfig ${join(dir, "nope")} does not exist`);
      expect(() => loadKubeConfig({ kubeconfig: file, context: "other", env: {} })).toThrow('no context "other"');
      // A store from the file talks to the server.
      const s = KubeStore.fromConfig({ kubeconfig: file }, { log: quiet });
      expect((await s.get<KubeObject>("Namespace", { name: "kube-system" }))?.metadata.name).toBe("kube-system");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
