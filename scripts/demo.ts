// `make demo` (scripts/demo.sh runs this, as root): the whole product in network namespaces.
// The lab of tests/lab (the test API server and `sart controller` in a control plane, `sart
// agent` on three nodes, two FRR routers in AS 65000 at 9.9.9.9 and 7.7.7.7 that install
// their routes in their kernels, a client behind them) plus a stand-in for the rest of a
// cluster (tests/lab/kubelet.ts: pods made through sart-cni, EndpointSlices, kube-proxy's
// DNAT). It applies the original sart's sample manifests unchanged, then shows, step by
// step and timed, what they produce, checking each claim before it prints it. Every wait
// is bounded. It ends with "demo: OK" and removes everything it made; with KEEP=1 it leaves
// the lab running and says how to reach it (scripts/demo-down.sh stops it).
//   env: SART_DEMO_PREFIX (namespace name prefix), SART_DEMO_DIR (the run's directory), KEEP=1
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cidrContains, parseCidr } from "../host/core/ipam.ts";
import { SART_RT_PROTO } from "../host/fib/fib.ts";
import type { AddressBlock, Pod, Service } from "../host/kube/types.ts";
import { waitFor } from "../tests/helpers/net.ts";
import type { Netns } from "../tests/helpers/netns.ts";
import { type Daemon, run, startDaemon } from "../tests/helpers/proc.ts";
import { ROOT, SART_BIN } from "../tests/helpers/sart.ts";
import { Kubelets } from "../tests/lab/kubelet.ts";
import { Lab } from "../tests/lab/lab.ts";
import { type FrrRouter } from "../tests/lab/routers.ts";

const KEEP = process.env.KEEP === "1";
const PREFIX = process.env.SART_DEMO_PREFIX ?? "sartdemo";
const RUN_DIR = process.env.SART_DEMO_DIR;
const started = Date.now();

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const indent = (text: string) => text.replace(/\s+$/, "").split("\n").map((l) => `   ${l}`).join("\n");
const say = (line: string) => console.log(`   ${line}`);

let stepNo = 0;
let stepStart = started;
let stepOpen = false;
function step(title: string): void {
  endStep();
  stepStart = Date.now();
  stepOpen = true;
  console.log(`\n${bold(`== ${++stepNo}. ${title}`)}  ${dim(`[at ${seconds(stepStart - started)}]`)}`);
}
function endStep(): void {
  if (stepOpen) say(dim(`(${seconds(Date.now() - stepStart)})`));
  stepOpen = false;
}

/** Prints `where$ display` and the command's output, indented; returns the output. */
async function show(where: string, display: string, exec: () => Promise<string>): Promise<string> {
  console.log(dim(`${where}$ ${display}`));
  const out = await exec();
  if (out.trim()) console.log(indent(out));
  return out;
}

/** Runs a command, resolving with its exit code and output instead of throwing. */
function attempt(cmd: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; out: string }> {
  return run(cmd, args, timeoutMs).then((out) => ({ ok: true, out }), (e) => ({ ok: false, out: (e as Error).message }));
}

let lab: Lab | undefined;
let kubelets: Kubelets | undefined;

async function main(): Promise<void> {
  // KEEP=1: this process holds the lab after the narration; make demo-down signals it here.
  if (KEEP && RUN_DIR) writeFileSync(join(RUN_DIR, "keeper.pid"), `${process.pid}\n`);
  // ---- 1 ----
  step("The lab: a control plane, three nodes running sart, two FRR routers, a client");
  lab = await Lab.start({ mode: "kubernetes", runtime: "bun", routers: "frr", forwarding: true, netnsPrefix: PREFIX });
  onSignals(interrupted);
  kubelets = new Kubelets(lab, { netnsPrefix: PREFIX, dir: join(lab.dir, "pods") });
  kubelets.start();
  say("control plane   test API server + sart controller, 172.18.0.1:6443");
  for (const n of lab.nodes) say(`${n.name.padEnd(15)} sart agent + sart-cni, AS ${n.plan.asn}, InternalIP ${n.plan.address}`);
  say("router0         FRR, AS 65000, 9.9.9.9 (links to each node and to the client)");
  say("router1         FRR, AS 65000, 7.7.7.7");
  say("client          169.254.100.2 and 169.254.101.2, default route ECMP over both routers");
  say("cluster         a kubelet stand-in: pods are network namespaces set up by sart-cni,");
  say("                EndpointSlices, kube-proxy's DNAT for LoadBalancer addresses (nftables)");
  say(dim(`network namespaces ${PREFIX}-*, files in ${RUN_DIR ?? lab.dir}`));

  // ---- 2 ----
  step("The original sart's sample manifests, applied unchanged");
  const samples = ["lb/lb_address_pool.yaml", "lb/peer_template.yaml", "lb/cluster_bgp_a.yaml", "lb/cluster_bgp_c.yaml", "lb/lb.yaml", "cni/pool.yaml", "cni/deployment.yaml"];
  await show("", `kubectl apply ${samples.map((f) => `-f crds/samples/${f}`).join(" ")}`, () => lab!.kubectl(["apply", ...samples.flatMap((f) => ["-f", join(ROOT, "crds/samples", f)])]));

  // ---- 3 ----
  step("BGP sessions up, pools carved into blocks, Services given addresses");
  await waitFor("6 BGPPeers Established and 3 NodeBGPs Available", async () => {
    const peers = (await lab!.kubectl(["get", "bgppeer", "--no-headers"])).trim().split("\n").filter(Boolean);
    const nodes = (await lab!.kubectl(["get", "nodebgp", "--no-headers"])).trim().split("\n").filter(Boolean);
    return peers.length === 6 && peers.every((l) => /\bEstablished\b/.test(l)) && nodes.length === 3 && nodes.every((l) => /\bAvailable\b/.test(l));
  }, 40_000, 250);
  const pods = await waitFor("every pod Running with an address", async () => {
    const all = await lab!.store!.list<Pod>("Pod");
    return all.length >= 10 && all.every((p) => p.status?.phase === "Running" && p.status.podIP) && all;
  }, 40_000, 250).catch((e) => {
    throw new Error(`${(e as Error).message}${kubelets!.lastError ? ` (last error: ${kubelets!.lastError})` : ""}`);
  });
  const services = await waitFor("the three LoadBalancer Services' addresses", async () => {
    const svcs = (await lab!.store!.list<Service>("Service", { namespace: "test" })).filter((s) => s.spec?.type === "LoadBalancer");
    return svcs.length === 3 && svcs.every((s) => s.status?.loadBalancer?.ingress?.[0]?.ip) && svcs;
  }, 20_000, 250);
  await show("", "kubectl get addresspool,addressblock,nodebgp,bgppeer", () => lab!.kubectl(["get", "addresspool,addressblock,nodebgp,bgppeer"]));
  await show("", "kubectl get service -n test", () => lab!.kubectl(["get", "service", "-n", "test"]));
  const w1 = lab.nodes[0]!;
  await show(w1.name, "sart bgp neighbor list", () => run(SART_BIN, ["bgp", "--api", `unix:${w1.apiSocket}`, "neighbor", "list"]));

  // ---- 4 ----
  step("Pods on every node, each with an address from its node's block");
  await show("", "kubectl get pod -A -o wide", () => lab!.kubectl(["get", "pod", "-A", "-o", "wide"]));
  const blocks = await lab.store!.list<AddressBlock>("AddressBlock");
  for (const p of pods) {
    const block = blocks.find((b) => b.spec.nodeRef === p.spec!.nodeName && cidrContains(parseCidr(b.spec.cidr), p.status!.podIP!));
    if (!block) throw new Error(`pod ${p.metadata.name} (${p.status!.podIP}) on ${p.spec!.nodeName}: the address is in none of that node's blocks`);
  }
  for (const n of lab.nodes) {
    const mine = blocks.filter((b) => b.spec.nodeRef === n.name).map((b) => b.spec.cidr);
    say(`${n.name}: block ${mine.join(", ")} -> ${pods.filter((p) => p.spec!.nodeName === n.name).map((p) => p.status!.podIP).join(", ")}`);
  }

  // ---- 5 ----
  step("The routers: each LoadBalancer address over ECMP to the nodes that announce it");
  const addressOf = (name: string) => services.find((s) => s.metadata.name === name)!.status!.loadBalancer!.ingress![0]!.ip!;
  const nodesWith = (app: string) => [...new Set(pods.filter((p) => p.metadata.labels?.app === app).map((p) => lab!.node(p.spec!.nodeName!).plan.address))].sort();
  const all = lab.nodes.map((n) => n.plan.address).sort();
  const expected: [string, string[]][] = [
    [`${addressOf("app-svc-cluster")}/32`, all], // externalTrafficPolicy Cluster: every node
    [`${addressOf("app-svc-local")}/32`, nodesWith("app-local")], // Local: nodes with a ready endpoint
    [`${addressOf("app-svc-cluster2")}/32`, all],
  ];
  for (const r of lab.routers) {
    for (const [prefix, hops] of expected) {
      await waitFor(`${prefix} at ${r.plan.name} via ${hops.join(", ")}`, async () => (await r.nextHops(prefix)).join() === hops.join(), 20_000, 200);
    }
  }
  // The client reaches the addresses through both routers: each must forward (kernel route) before curl.
  for (const r of lab.routers as FrrRouter[]) {
    for (const [prefix, hops] of expected) {
      const want = hops.length > 1 ? "nexthop" : "via";
      await waitFor(`${prefix} in ${r.plan.name}'s kernel`, async () => (await r.ns.ip("route", "show", prefix)).includes(want), 10_000, 200);
    }
  }
  // Cluster traffic may be DNATed to a pod on another node: the pods' blocks, requested while
  // the pods started, must be forwarded by both routers and by every other node too.
  for (const b of blocks.filter((b) => b.spec.type === "pod")) {
    for (const r of lab.routers as FrrRouter[]) {
      await waitFor(`${b.spec.cidr} in ${r.plan.name}'s kernel`, async () => (await r.ns.ip("route", "show", b.spec.cidr)).includes("via"), 10_000, 200);
    }
    for (const n of lab.nodes.filter((n) => n.name !== b.spec.nodeRef)) {
      await waitFor(`${b.spec.cidr} in ${n.name}'s kernel`, async () => (await n.routes([b.spec.cidr])).length > 0, 10_000, 200);
    }
  }
  const r0 = lab.router("router0") as FrrRouter;
  await show("router0", "vtysh -c 'show ip route bgp'", () => r0.frr.vtysh("show ip route bgp"));
  await show("router1", `vtysh -c 'show bgp ipv4 unicast ${addressOf("app-svc-local")}/32'`, () => (lab!.router("router1") as FrrRouter).frr.vtysh(`show bgp ipv4 unicast ${addressOf("app-svc-local")}/32`));

  // ---- 6 ----
  step("curl from the client to each LoadBalancer address: a pod answers");
  for (const svc of services) {
    const ip = svc.status!.loadBalancer!.ingress![0]!.ip!;
    const app = svc.spec!.selector!.app!;
    const local = svc.spec!.externalTrafficPolicy === "Local";
    say(`${svc.metadata.name} (${ip}, externalTrafficPolicy ${local ? "Local: the pod sees the client's address" : "Cluster: SNAT to the node that took the connection"})`);
    for (let i = 0; i < 3; i++) {
      const out = await show("client", `curl -s http://${ip}/`, () => lab!.client.exec("curl", ["-s", "-m", "3", `http://${ip}/`]));
      const m = /^(\S+) on (\S+) \(([\d.]+):\d+\) answered (\S+)/.exec(out.trim());
      if (!m || !m[1]!.startsWith(`${app}-`)) throw new Error(`curl ${ip}: expected a pod of ${app}, got: ${out.trim()}`);
      if (local && !m[4]!.startsWith("169.254.10")) throw new Error(`curl ${ip} (Local): the pod saw ${m[4]}, not the client's address`);
    }
  }

  // ---- 7 ----
  step("Pod to pod across nodes, through the routers");
  const appPods = pods.filter((p) => p.metadata.labels?.app === "app");
  const from = appPods.find((p) => p.spec!.nodeName === "sart-worker")!;
  const to = appPods.find((p) => p.spec!.nodeName === "sart-worker3")!;
  const toBlock = blocks.find((b) => b.spec.nodeRef === "sart-worker3" && cidrContains(parseCidr(b.spec.cidr), to.status!.podIP!))!.spec.cidr;
  const fromNs = podNs(from);
  await show("sart-worker", `ip route show ${toBlock}`, () => w1.ns.ip("route", "show", toBlock));
  const kernel = (await w1.routes([toBlock]))[0];
  if (kernel?.nexthops?.length !== 2 || kernel.protocol !== String(SART_RT_PROTO)) throw new Error(`sart-worker: ${toBlock} is not an ECMP route of sart's over both routers: ${JSON.stringify(kernel)}`);
  const ping = await show(from.metadata.name, `ping -c 3 ${to.status!.podIP} (${to.metadata.name} on sart-worker3)`, () => fromNs.exec("busybox", ["ping", "-c", "3", "-W", "2", to.status!.podIP!], 15_000));
  if (!/ 0% packet loss/.test(ping)) throw new Error(`ping ${to.status!.podIP}: packets lost`);
  await show(from.metadata.name, `traceroute -n ${to.status!.podIP}`, () => fromNs.exec("busybox", ["traceroute", "-n", "-q", "1", "-w", "2", to.status!.podIP!], 20_000));

  // ---- 8 ----
  step("A Service deleted: its address is withdrawn from both routers");
  const gone = `${addressOf("app-svc-cluster2")}/32`;
  await show("", "kubectl delete service app-svc-cluster2 -n test", () => lab!.kubectl(["delete", "service", "app-svc-cluster2", "-n", "test"]));
  for (const r of lab.routers) await waitFor(`${gone} withdrawn at ${r.plan.name}`, async () => (await r.paths(gone)).length === 0, 20_000, 200);
  await show("router0", `vtysh -c 'show bgp ipv4 unicast ${gone}'`, () => r0.frr.vtysh(`show bgp ipv4 unicast ${gone}`));
  const after = await attempt("ip", ["netns", "exec", lab.client.name, "curl", "-s", "-m", "2", `http://${gone.split("/")[0]}/`], 10_000);
  if (after.ok) throw new Error(`curl ${gone} still answered after the Service was deleted`);
  say(`client$ curl -s -m 2 http://${gone.split("/")[0]}/   -> no answer (no route at the routers)`);

  // ---- 9 ----
  step("An agent killed (kill -9) and restarted: the routers keep its routes (graceful restart)");
  const w2 = lab.node("sart-worker2");
  const vip = addressOf("app-svc-cluster");
  const vipPrefix = `${vip}/32`;
  const logAt = lab.routers.map((r) => r.log().length);
  const kernelBefore = (await w2.routes(["proto", String(SART_RT_PROTO)])).length;
  const traffic = startTraffic(lab.client, vip, join(lab.dir, "traffic"));
  await waitFor("the client's requests flowing", () => traffic.log().split("\n").filter((l) => l === "200").length >= 5, 15_000, 100);
  console.log(dim(`sart-worker2$ kill -9 ${w2.agent!.pid}   # its sart agent`));
  await w2.killAgent();
  for (const r of lab.routers) {
    await waitFor(`${r.plan.name}: sart-worker2's path kept as stale`, async () => (await r.paths(vipPrefix)).some((p) => p.from === w2.plan.address && p.stale && p.selected), 20_000, 200);
  }
  await show("router0", `vtysh -c 'show bgp ipv4 unicast ${vipPrefix}'   # sart-worker2's path: stale, still used`, () => r0.frr.vtysh(`show bgp ipv4 unicast ${vipPrefix}`));
  const kernelDuring = (await w2.routes(["proto", String(SART_RT_PROTO)])).length;
  if (kernelDuring !== kernelBefore) throw new Error(`sart-worker2's kernel routes went from ${kernelBefore} to ${kernelDuring} while its agent was down`);
  say(`sart-worker2's kernel keeps its ${kernelBefore} routes from sart while the agent is down`);
  console.log(dim("sart-worker2$ sart agent ...   # restarted"));
  await w2.startAgent();
  for (const r of lab.routers) {
    await waitFor(`${r.plan.name}: sart-worker2's path fresh again`, async () => (await r.paths(vipPrefix)).some((p) => p.from === w2.plan.address && !p.stale && p.selected), 30_000, 200);
  }
  const sent = await traffic.stop();
  const answered = sent.filter((l) => l === "200").length;
  say(`the client sent ${sent.length} requests to ${vip} during the kill and restart: ${answered} answered, ${sent.length - answered} failed`);
  if (answered !== sent.length) throw new Error(`${sent.length - answered} of ${sent.length} requests failed during the agent's restart`);
  lab.routers.forEach((r, i) => {
    const u = r.updatesFrom(logAt[i]!, w2.plan.address, vipPrefix);
    say(`${r.plan.name}: withdrawals of ${vipPrefix} from sart-worker2: ${u.withdrawals.length}; re-announcements taken as duplicates: ${u.duplicates}`);
    if (u.withdrawals.length) throw new Error(`${r.plan.name} received a withdrawal of ${vipPrefix} during the restart`);
  });
  await atAllRouters(vipPrefix, all);

  endStep();
  if (KEEP) return keep(addressOf("app-svc-cluster"));
  step("Stopping everything");
  await cleanup();
  endStep();
  console.log(`\ndemo: OK (${seconds(Date.now() - started)})`);
}


function podNs(p: Pod): Netns {
  const s = kubelets!.sandbox(`${p.metadata.namespace}/${p.metadata.name}`);
  if (!s) throw new Error(`pod ${p.metadata.name} has no sandbox`);
  return s.ns;
}

async function atAllRouters(prefix: string, hops: string[]): Promise<void> {
  for (const r of lab!.routers) await waitFor(`${prefix} at ${r.plan.name} via ${hops.join(", ")}`, async () => (await r.nextHops(prefix)).join() === hops.join(), 20_000, 200);
}

/** The client requesting `ip` every 50 ms (a new connection each, 1 s timeout) until stopped. */
function startTraffic(client: Netns, ip: string, file: string): { log: () => string; stop: () => Promise<string[]> } {
  const stopFile = `${file}.stop`;
  // curl prints the status code (000 when it got no answer) exactly once per request.
  const script = `while [ ! -e ${stopFile} ]; do curl -s -m 1 -o /dev/null -w '%{http_code}\\n' http://${ip}/; sleep 0.05; done`;
  const [cmd, args] = client.wrap("sh", ["-c", script]);
  const d: Daemon = startDaemon("client traffic", cmd, args, `${file}.log`);
  return {
    log: () => d.log(),
    stop: async () => {
      writeFileSync(stopFile, "");
      await Promise.race([d.exited, new Promise((r) => setTimeout(r, 5000))]);
      await d.stop("SIGKILL", 0);
      return d.log().split("\n").filter(Boolean);
    },
  };
}

async function cleanup(): Promise<void> {
  await kubelets?.stop();
  await lab?.stop();
}

/** KEEP=1: prints how to reach the lab, then stays in the background holding it. */
async function keep(vip: string): Promise<void> {
  const l = lab!;
  const node = (i: number) => l.nodes[i]!;
  const frr = (name: "router0" | "router1") => (l.router(name) as FrrRouter).frr.dir;
  console.log(`\n${bold("The lab keeps running.")} Try:`);
  console.log(`   export KUBECONFIG=${l.kubeconfig}`);
  console.log("   kubectl get pod -A -o wide; kubectl get svc -n test; kubectl get bgpadvertisement -A");
  console.log("   kubectl scale deployment app-cluster -n test --replicas 4   # the stand-in makes the pods");
  console.log(`   build/bin/sart bgp --api unix:${node(0).apiSocket} neighbor list     # ${node(0).name}'s agent`);
  console.log(`   build/bin/sart bgp --api unix:${node(0).apiSocket} rib get`);
  console.log(`   vtysh --vty_socket ${frr("router0")} -c 'show ip route bgp'     # router0`);
  console.log(`   vtysh --vty_socket ${frr("router1")} -c 'show bgp ipv4 unicast' # router1`);
  console.log(`   ip netns exec ${l.client.name} curl -s http://${vip}/   # from the client`);
  console.log(`   ip netns exec ${node(1).ns.name} ip route               # ${node(1).name}'s kernel`);
  console.log(`   logs: ${l.dir}`);
  console.log("Stop it with: make demo-down");
  console.log(`\ndemo: OK (${seconds(Date.now() - started)}), lab kept`);
  // Held until SIGTERM (make demo-down), which stops everything cleanly.
  await new Promise<void>((resolve) => onSignals(() => resolve()));
  await cleanup();
}

let stopping = false;
async function fail(e: unknown): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.error(`\ndemo: FAILED at step ${stepNo}: ${(e as Error)?.message ?? String(e)}`);
  for (const n of lab?.nodes ?? []) if (n.agent && !n.agent.running) console.error(`   ${n.name}'s agent exited:\n${indent(n.agent.tail(15))}`);
  if (lab?.controller && !lab.controller.running) console.error(`   the controller exited:\n${indent(lab.controller.tail(15))}`);
  await cleanup().catch((err) => console.error(`   cleaning up: ${(err as Error).message}`));
  process.exitCode = 1;
}

/**
 * Our handler for SIGINT, SIGTERM and SIGHUP, in place of the test helpers' (which kill every
 * process at once): a clean stop first. The helpers' exit hooks still kill and delete
 * whatever is left when the process exits.
 */
function onSignals(handler: (sig: NodeJS.Signals) => void): void {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.removeAllListeners(sig);
    process.once(sig, () => handler(sig));
  }
}

function interrupted(sig: NodeJS.Signals): void {
  console.error(`\ndemo: interrupted (${sig}), cleaning up`);
  stopping = true;
  const deadline = setTimeout(() => process.exit(130), 20_000);
  void cleanup().finally(() => {
    clearTimeout(deadline);
    process.exit(130);
  });
}

// Until the lab has started, a signal ends the process at once (the exit hooks clean up).
onSignals(() => process.exit(130));

await main().catch(fail);
