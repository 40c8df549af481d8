// A node for the CNI tests until `sart agent` can host the CNI server: run inside a node
// netns, it opens the local store of standalone mode over a manifest directory (or, with
// --kubeconfig, an API server: Kubernetes mode), runs the controller's reconcilers
// in-process, and serves a CniServer. Its metrics are served over HTTP on METRICS_SOCKET so
// tests can read the allocations.
//   bun tests/cni/node-agent.ts (--config DIR | --kubeconfig FILE) --state-dir DIR --socket PATH
//     --node NAME [--ipv4 A] [--ipv6 A] [--release-delay-ms N] [--metrics-socket PATH]
//     [--no-controller]  (nobody answers BlockRequests)
import { createServer } from "node:http";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { CniServer } from "../../host/cni/server.ts";
import { Controller } from "../../host/kube/controller/controller.ts";
import { KubeStore } from "../../host/kube/kube-store.ts";
import { LocalStore } from "../../host/kube/local-store.ts";
import type { Store } from "../../host/kube/store.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const flag = process.argv[i]!.replace(/^--/, "");
  if (flag === "no-controller") args.set(flag, "");
  else args.set(flag, process.argv[++i]!);
}
const need = (k: string) => {
  const v = args.get(k);
  if (!v) throw new Error(`node-agent: --${k} is required`);
  return v;
};

const log = (level: string, msg: string) => process.stderr.write(`${new Date().toISOString()} ${level} ${msg}\n`);
const stateDir = need("state-dir");
const kubeconfig = args.get("kubeconfig");
const store: Store & { close(): Promise<void> } = kubeconfig
  ? KubeStore.fromConfig({ kubeconfig })
  : await LocalStore.open({ dir: need("config"), stateFile: join(stateDir, "store.json"), component: "sart-agent" });
const controller = args.has("no-controller") ? undefined : new Controller({ store, log: (l, m) => log(l, `controller: ${m}`) });
await controller?.start();
await controller?.startLeading();
const cni = new CniServer({
  store,
  node: need("node"),
  socketPath: need("socket"),
  stateDir,
  mode: kubeconfig ? "kubernetes" : "standalone",
  hostAddresses: { ipv4: args.get("ipv4"), ipv6: args.get("ipv6") },
  log: (l, m) => log(l, `cni: ${m}`),
  blockReleaseDelayMs: Number(args.get("release-delay-ms") ?? 60_000),
});
await cni.start();
const metricsSocket = args.get("metrics-socket");
if (metricsSocket) {
  rmSync(metricsSocket, { force: true });
  createServer((_, res) => res.end(cni.metricsText())).listen(metricsSocket);
}
process.stdout.write("ready\n");
const shutdown = async () => {
  await cni.stop();
  await controller?.stop();
  await store.close();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
