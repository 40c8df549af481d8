// An unreachable API server is one log line naming its URL (then at most one per repeat
// period while it lasts, and one when it answers again), however many informers, work queues
// and leader-election retries fail meanwhile: the controller and its KubeStore reach the test
// API server through a TCP relay that the test cuts (connections refused) and restores.
import { afterAll, describe, expect, test } from "bun:test";
import { type Server, type Socket, connect, createServer } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { Controller } from "../../host/kube/controller/controller.ts";
import { KubeStore, type KubeInformer } from "../../host/kube/kube-store.ts";
import { LeaderElector } from "../../host/kube/leader.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import { type ApiServer, startApiServer } from "./apiserver/index.ts";
import { addressesOf, eventually, lbService, pool } from "./controller-harness.ts";

/** A TCP relay on a fixed port: `cut()` closes it and every connection; `restore()` listens again. */
async function relay(target: number): Promise<{ port: number; cut: () => Promise<void>; restore: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const up = connect(target, "127.0.0.1");
        for (const s of [client, up]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {});
        }
        client.pipe(up).pipe(client);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  return {
    port,
    cut: async () => {
      await new Promise<void>((r) => {
        server!.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
    restore: listen,
  };
}

describe("controller while the API server is unreachable", () => {
  let api: ApiServer;
  afterAll(async () => {
    await api?.stop();
  });

  test("one line naming the URL, at most one per period while it lasts, one when it is back; every informer retries meanwhile", async () => {
    api = await startApiServer({ namespaces: ["default", "kube-system", "test"] });
    const link = await relay(api.port);
    const url = `http://127.0.0.1:${link.port}`;
    const lines: string[] = [];
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig().replace(api.url, url));
    const store = new KubeStore(kc, { log: (m) => lines.push(m), outageRepeatMs: 1000, backoffMs: { initial: 50, max: 400 } });
    const ctl = new Controller({ store, log: (_level, m) => lines.push(m) });
    const elector = new LeaderElector({
      store,
      lease: { name: "outage", namespace: "kube-system" },
      identity: "outage-test",
      leaseDurationSeconds: 3,
      retryPeriodMs: 100,
      onStartedLeading: () => void ctl.startLeading(),
      onStoppedLeading: () => ctl.stopLeading(),
      log: (m) => lines.push(m),
    });
    try {
      await store.create(pool("lb", "198.51.100.0/24", { autoAssign: true }));
      await ctl.start();
      elector.start();
      await store.create(lbService("web"));
      await addressesOf(store, "web");
      await eventually(() => ctl.isLeading, "leading");
      await ctl.idle(); // the cut comes after the last write, not in the middle of one

      const informers = Object.values(ctl.ctx.inf) as unknown as KubeInformer<KubeObject>[];
      const errorsBefore = informers.reduce((n, i) => n + i.errors, 0);
      const from = lines.length;
      await link.cut();
      // Three repeat periods: by then every informer has failed and restarted several times.
      await eventually(() => lines.slice(from).filter((l) => l.includes("still unreachable")).length >= 3, "three repeat lines", 20_000);
      const during = lines.slice(from);
      const retries = informers.reduce((n, i) => n + i.errors, 0) - errorsBefore;
      expect(retries).toBeGreaterThanOrEqual(informers.length * 3);
      const outage = during.filter((l) => l.startsWith(`API server ${url} unreachable: `));
      expect(outage).toHaveLength(1);
      const repeats = during.filter((l) => l.startsWith(`API server ${url} still unreachable after `));
      // Leadership ends with the renew deadline: one line from the elector, one from the controller.
      const other = during.filter((l) => !outage.includes(l) && !repeats.includes(l));
      expect(other.filter((l) => !/stopped leading/.test(l))).toEqual([]);
      expect(other.length).toBeLessThanOrEqual(2);
      expect(repeats.length).toBeLessThanOrEqual(4);

      await link.restore();
      await eventually(() => lines.some((l) => l.startsWith(`API server ${url} reachable again after `)), "reachable again", 20_000);
      // Back: the elector leads again, the caches catch up, and the controller works.
      await store.create(pool("lb2", "203.0.113.0/24"));
      await eventually(() => ctl.isLeading, "leading again", 20_000);
      await store.create(lbService("after", { annotations: { "sart.terassyi.net/addresspool": "lb2" } }));
      expect(await addressesOf(store, "after")).toEqual(["203.0.113.0"]);
    } finally {
      await elector.stop();
      await ctl.stop();
      store.close();
    }
  }, 60_000);
});
