// Throughput of the test API server through the real client-node: N Services created with
// bounded concurrency while an informer watches, then N status patches.
// `bun tests/kube/apiserver/bench.ts [N] [concurrency]` prints one JSON line. With KUBECONFIG set,
// it drives that server (e.g. `bun run test-apiserver` in another process) instead of its own.
import * as k8s from "@kubernetes/client-node";
import { startApiServer } from "./index.ts";

const n = Number(process.argv[2] ?? 10000);
const concurrency = Number(process.argv[3] ?? 64);
const server = process.env.KUBECONFIG ? undefined : await startApiServer({ validator: "none" });
const kc = new k8s.KubeConfig();
if (server) kc.loadFromString(server.kubeconfig());
else kc.loadFromFile(process.env.KUBECONFIG!);
const core = kc.makeApiClient(k8s.CoreV1Api);
const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

let added = 0;
let updated = 0;
const informer = k8s.makeInformer(kc, "/api/v1/services", () => core.listServiceForAllNamespaces());
informer.on(k8s.ADD, () => added++);
informer.on(k8s.UPDATE, () => updated++);
await informer.start();

async function pool(count: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await fn(next++);
  }));
}

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("bench: informer did not catch up in 120 s");
    await new Promise((r) => setTimeout(r, 2));
  }
}

const t0 = performance.now();
await pool(n, (i) => core.createNamespacedService({ namespace: "default", body: { metadata: { name: `svc-${i}` }, spec: { type: "LoadBalancer", allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] } } }));
await until(() => added === n);
const t1 = performance.now();
await pool(n, (i) => core.patchNamespacedServiceStatus({ name: `svc-${i}`, namespace: "default", body: { status: { loadBalancer: { ingress: [{ ip: `198.51.100.${i % 250}` }] } } } }, merge));
await until(() => updated === n);
const t2 = performance.now();
const listStart = performance.now();
const list = await core.listServiceForAllNamespaces();
const t3 = performance.now();
console.log(JSON.stringify({
  services: n,
  concurrency,
  createPerSec: Math.round(n / ((t1 - t0) / 1000)),
  statusPatchPerSec: Math.round(n / ((t2 - t1) / 1000)),
  listMs: Math.round(t3 - listStart),
  listed: list.items.length,
  rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  runtime: typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`,
}));
await informer.stop();
await server?.stop();
process.exit(0);
