// Watches on the test API server through the real @kubernetes/client-node 1.4: informers (list +
// watch, resourceVersion continuity), 410 Gone making the informer relist, bookmarks,
// sendInitialEvents, timeoutSeconds, selector-filtered watches.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as k8s from "@kubernetes/client-node";
import { startApiServer, type ApiServer } from "./apiserver/index.ts";

let server: ApiServer;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Seen {
  type: string;
  name: string;
  rv: string;
}

function record(informer: k8s.Informer<k8s.V1Service> & k8s.ObjectCache<k8s.V1Service>): Seen[] {
  const seen: Seen[] = [];
  for (const verb of [k8s.ADD, k8s.UPDATE, k8s.DELETE] as const) {
    informer.on(verb, (o) => seen.push({ type: verb, name: o.metadata!.name!, rv: o.metadata!.resourceVersion! }));
  }
  return seen;
}

const svc = (name: string, labels?: Record<string, string>) => ({ metadata: { name, labels }, spec: { ports: [{ port: 80 }] } });

beforeAll(async () => {
  server = await startApiServer({ validator: "none" });
  kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeconfig());
  core = kc.makeApiClient(k8s.CoreV1Api);
  for (const ns of ["inf", "gone", "bm", "sel"]) await core.createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  await server?.stop();
});

describe("informers", () => {
  test("list + watch deliver ADDED/MODIFIED/DELETED with resourceVersion continuity", async () => {
    await core.createNamespacedService({ namespace: "inf", body: svc("before") });
    const informer = k8s.makeInformer(kc, "/api/v1/namespaces/inf/services", () => core.listNamespacedService({ namespace: "inf" }));
    const seen = record(informer);
    await informer.start();
    try {
      expect(seen.map((s) => `${s.type} ${s.name}`)).toEqual(["add before"]);
      await waitFor("the watch", () => server.store.watcherCount() === 1);
      const created = await core.createNamespacedService({ namespace: "inf", body: svc("during") });
      const patched = await core.patchNamespacedService({ name: "during", namespace: "inf", body: { metadata: { labels: { x: "y" } } } }, merge);
      await core.deleteNamespacedService({ name: "before", namespace: "inf" });
      await waitFor("three events", () => seen.length === 4);
      expect(seen.slice(1).map((s) => `${s.type} ${s.name}`)).toEqual(["add during", "update during", "delete before"]);
      expect(seen[1].rv).toBe(created.metadata!.resourceVersion!);
      expect(seen[2].rv).toBe(patched.metadata!.resourceVersion!);
      // Every event carries a newer resourceVersion; the informer resumes from the last one.
      const rvs = seen.slice(1).map((s) => Number(s.rv));
      expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
      expect(informer.latestResourceVersion()).toBe(String(server.resourceVersion()));
      expect(informer.list("inf").map((s) => s.metadata?.name)).toEqual(["during"]);

      // A dropped connection is resumed from the last resourceVersion: no relist, no duplicate events.
      server.closeWatches();
      await waitFor("the re-watch", () => server.store.watcherCount() === 1);
      await core.createNamespacedService({ namespace: "inf", body: svc("after-reconnect") });
      await waitFor("the event after reconnecting", () => seen.length === 5);
      expect(seen[4]).toMatchObject({ type: "add", name: "after-reconnect" });
    } finally {
      await informer.stop();
    }
  });

  test("410 Gone after compaction makes the informer relist", async () => {
    let lists = 0;
    await core.createNamespacedService({ namespace: "gone", body: svc("a") });
    const informer = k8s.makeInformer(kc, "/api/v1/namespaces/gone/services", () => {
      lists++;
      return core.listNamespacedService({ namespace: "gone" });
    });
    const seen = record(informer);
    await informer.start();
    try {
      await waitFor("the watch", () => server.store.watcherCount() === 1);
      // Move the global resourceVersion on (another kind), compact, and drop the watch: the
      // informer re-watches from a version older than the history and gets 410.
      await core.createNamespacedConfigMap({ namespace: "gone", body: { metadata: { name: "bump" } } });
      server.compact();
      server.closeWatches();
      await waitFor("the relist", () => lists === 2);
      await waitFor("the new watch", () => server.store.watcherCount() === 1);
      await core.createNamespacedService({ namespace: "gone", body: svc("b") });
      await waitFor("the event after relisting", () => seen.some((s) => s.name === "b"));
      expect(seen.map((s) => `${s.type} ${s.name}`)).toEqual(["add a", "add b"]); // the relist of an unchanged "a" is not an update
      expect(informer.list("gone").map((s) => s.metadata?.name).sort()).toEqual(["a", "b"]);
    } finally {
      await informer.stop();
    }
  });
});

/** A raw watch through client-node's Watch: every event with its type. */
async function rawWatch(path: string, params: Record<string, unknown>): Promise<{ events: Array<{ type: string; obj: any }>; done: Promise<unknown>; abort: () => void }> {
  const events: Array<{ type: string; obj: any }> = [];
  let finish!: (err: unknown) => void;
  const done = new Promise((r) => (finish = r));
  const ctl = await new k8s.Watch(kc).watch(path, params, (type, obj) => events.push({ type, obj }), (err) => finish(err ?? null));
  return { events, done, abort: () => ctl.abort() };
}

describe("watch protocol", () => {
  test("watch from a compacted resourceVersion gets an ERROR event with a 410 Expired Status", async () => {
    const first = await core.createNamespacedConfigMap({ namespace: "gone", body: { metadata: { name: "old" } } });
    await core.createNamespacedConfigMap({ namespace: "gone", body: { metadata: { name: "newer" } } });
    server.compact();
    const w = await rawWatch("/api/v1/namespaces/gone/configmaps", { resourceVersion: first.metadata!.resourceVersion });
    await w.done;
    expect(w.events).toHaveLength(1);
    expect(w.events[0].type).toBe("ERROR");
    expect(w.events[0].obj).toMatchObject({ kind: "Status", status: "Failure", reason: "Expired", code: 410 });
  });

  test("bookmarks carry the current resourceVersion; resuming from one loses nothing", async () => {
    const start = await core.listNamespacedConfigMap({ namespace: "bm" });
    const w = await rawWatch("/api/v1/namespaces/bm/configmaps", { resourceVersion: start.metadata!.resourceVersion, allowWatchBookmarks: true });
    try {
      await waitFor("the watch", () => server.store.watcherCount() === 1);
      await core.createNamespacedService({ namespace: "bm", body: svc("other-kind") }); // moves the resourceVersion
      server.sendBookmarks();
      await waitFor("a bookmark", () => w.events.some((e) => e.type === "BOOKMARK"));
      const bm = w.events.find((e) => e.type === "BOOKMARK")!;
      expect(bm.obj).toEqual({ kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: String(server.resourceVersion()) } });
      await core.createNamespacedConfigMap({ namespace: "bm", body: { metadata: { name: "after-bookmark" } } });
      const resumed = await rawWatch("/api/v1/namespaces/bm/configmaps", { resourceVersion: bm.obj.metadata.resourceVersion });
      await waitFor("the resumed event", () => resumed.events.length === 1);
      expect(resumed.events[0]).toMatchObject({ type: "ADDED", obj: { metadata: { name: "after-bookmark" } } });
      resumed.abort();
    } finally {
      w.abort();
    }
  });

  test("no resourceVersion: synthetic ADDED for existing objects; sendInitialEvents ends with the initial-events-end bookmark", async () => {
    await core.createNamespacedConfigMap({ namespace: "bm", body: { metadata: { name: "existing" } } });
    const plain = await rawWatch("/api/v1/namespaces/bm/configmaps", {});
    await waitFor("initial events", () => plain.events.length === 2);
    expect(plain.events.map((e) => e.type)).toEqual(["ADDED", "ADDED"]);
    plain.abort();
    const streaming = await rawWatch("/api/v1/namespaces/bm/configmaps", { sendInitialEvents: true, resourceVersionMatch: "NotOlderThan", allowWatchBookmarks: true });
    await waitFor("initial events and bookmark", () => streaming.events.length === 3);
    expect(streaming.events[2].type).toBe("BOOKMARK");
    expect(streaming.events[2].obj.metadata.annotations).toEqual({ "k8s.io/initial-events-end": "true" });
    streaming.abort();
  });

  test("timeoutSeconds ends the watch", async () => {
    const w = await rawWatch("/api/v1/namespaces/bm/configmaps", { resourceVersion: String(server.resourceVersion()), timeoutSeconds: 1 });
    expect(await w.done).toBeNull();
  });

  test("a label-selected watch sees objects enter (ADDED) and leave (DELETED) the selection", async () => {
    const w = await rawWatch("/api/v1/namespaces/sel/services", { resourceVersion: String(server.resourceVersion()), labelSelector: "tier=front" });
    try {
      await waitFor("the watch", () => server.store.watcherCount() === 1);
      await core.createNamespacedService({ namespace: "sel", body: svc("s", { tier: "back" }) });
      await core.patchNamespacedService({ name: "s", namespace: "sel", body: { metadata: { labels: { tier: "front" } } } }, merge);
      await core.patchNamespacedService({ name: "s", namespace: "sel", body: { metadata: { annotations: { a: "b" } } } }, merge);
      await core.patchNamespacedService({ name: "s", namespace: "sel", body: { metadata: { labels: { tier: "back" } } } }, merge);
      await waitFor("three events", () => w.events.length === 3);
      expect(w.events.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    } finally {
      w.abort();
    }
  });
});
