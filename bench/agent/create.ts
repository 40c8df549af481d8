// The agent benchmark's load: N LoadBalancer Services and their EndpointSlices created at
// once (32 in flight) straight at the API server, run inside the lab's control-plane
// namespace (no forwarder in the way), then watched until every BGPAdvertisement has its
// peers in status (--until peers: the controller's part) or every peer Advertised
// (--until advertised: the agents' part). --delete removes them instead and waits until their
// advertisements are gone. Prints one JSON line: {start, created, targeted (every peer in
// status), done} (epoch ms).
//   bun bench/agent/create.ts --kubeconfig F --namespace NS --prefix P --count N --node NODE --peers K [--until peers|advertised] [--delete]
import { KubeStore } from "../../host/kube/kube-store.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import type { BGPAdvertisement } from "../../host/kube/types.ts";
import { endpointSlice, service } from "../../tests/lab/scenario.ts";

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  if (def === undefined) throw new Error(`--${name} is required`);
  return def;
};
const ns = opt("namespace");
const prefix = opt("prefix");
const count = Number(opt("count"));
const node = opt("node");
const peers = Number(opt("peers"));
const until = opt("until", "peers");
const del = args.includes("--delete");
const store = KubeStore.fromConfig({ kubeconfig: opt("kubeconfig") });
const advs = store.informer<BGPAdvertisement>("BGPAdvertisement", { namespace: ns, resyncMs: 0 });
await advs.start();
const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
const mine = () => advs.list().filter((a) => a.metadata.labels?.["kubernetes.io/service-name"]?.startsWith(`${prefix}-`));

const start = Date.now();
let next = 0;
await Promise.all(Array.from({ length: 32 }, async () => {
  while (next < names.length) {
    const name = names[next++];
    if (del) {
      await store.delete("Service", { name, namespace: ns });
      continue;
    }
    await store.create(service(name, { namespace: ns }) as KubeObject);
    await store.create(endpointSlice(name, [{ node }], { namespace: ns }) as KubeObject);
  }
}));
const created = Date.now();
let targeted = 0;
const done = (): boolean => {
  const list = mine();
  if (del) return list.length === 0;
  if (list.length < count) return false;
  const states = list.map((a) => Object.values(a.status?.peers ?? {}));
  if (!states.every((v) => v.length === peers)) return false;
  targeted ||= Date.now();
  return until === "peers" || states.every((v) => v.every((s) => s === "Advertised"));
};
while (!done()) await new Promise((r) => setTimeout(r, 20));
console.log(JSON.stringify({ start, created, targeted, done: Date.now() }));
store.close();
process.exit(0);
