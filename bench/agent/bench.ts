// Agent benchmark (one run): the lab in Kubernetes mode (test API server and sart
// controller in the control plane, sart agent on three nodes, two FRR routers, the
// original's peer template and ClusterBGPs). Phase A, the controller alone (agents not
// started): N LoadBalancer Services (and EndpointSlices) created at once, time until every
// BGPAdvertisement has its 6 peers in status. Phase B, the same with the agents running:
// time until router0 holds every address from every node (N paths per node) and until
// every entry is Advertised; the agents' peak RSS and CPU, and in both phases the CPU of the API
// server and of the controller (the same two cores run everything). Then steady state: one Service
// at a time (at a pinned address), creation -> its route at router0 (FRR's update log),
// p50/p99 for the first path and for all three. The load runs in the control-plane
// namespace (bench/agent/create.ts). Prints one JSON line.
//   bun bench/agent/bench.ts [--runtime bun|node|bun+node] [--services N] [--samples N] [--profile DIR]
// bun+node: the controller under Bun, the agents under Node (build/bin/sart's Node agent).
// AGENT_CMD: the agents' command up to their arguments (split on spaces), e.g. with
// bench/agent/heap-log.ts preloaded.
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { KubeObject } from "../../host/kube/store.ts";
import { Lab } from "../../tests/lab/lab.ts";
import type { FrrRouter } from "../../tests/lab/routers.ts";
import { endpointSlice, sample, service } from "../../tests/lab/scenario.ts";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const runtimeArg = opt("runtime", "bun");
if (!/^(bun|node|bun\+node)$/.test(runtimeArg)) throw new Error(`--runtime: bun, node or bun+node, not ${runtimeArg}`);
const [runtime, agentRuntime = runtime] = runtimeArg.split("+") as ("bun" | "node")[];
const N = Number(opt("services", "10000"));
const SAMPLES = Number(opt("samples", "200"));
const NS = "bench";
const root = join(import.meta.dir, "../..");
const BUN = join(root, "node_modules/.bin/bun");
// --profile DIR: the agents run under --cpu-prof (a .cpuprofile per agent lands in DIR at exit).
const profile = opt("profile", "");
const smol = args.includes("--smol");
const agentCommand = process.env.AGENT_CMD ? process.env.AGENT_CMD.split(" ").filter(Boolean) : smol ? [BUN, "--smol", join(root, "host/cli/main.ts")] : !profile ? undefined : agentRuntime === "node"
  ? ["node", "--cpu-prof", `--cpu-prof-dir=${profile}`, join(root, "build/node/sart/main.js")]
  : [BUN, "--cpu-prof", `--cpu-prof-dir=${profile}`, join(root, "host/cli/main.ts")];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v as T;
    if (performance.now() > end) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what}`);
    await sleep(everyMs);
  }
}

function procStat(pid: number): { cpu: number; hwmMiB: number } {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, hwmMiB: hwm / 1024 };
}

const lab = await Lab.start({ mode: "kubernetes", runtime, agentRuntime, noAgents: true, agentCommand });
const r0 = lab.router("router0") as FrrRouter;
// The control plane's processes, whose CPU the burst also costs (the lab keeps the API server's handle to itself).
const apiPid = (lab as unknown as { apiServer: { pid: number } }).apiServer.pid;
const controlPlane = () => ({ api: procStat(apiPid).cpu, controller: procStat(lab.controller!.pid).cpu });
const nodes = lab.nodes.map((n) => n.plan.address);

/** bench/agent/create.ts in the control plane: {start, created, done} in epoch ms. */
async function load(prefix: string, extra: string[]): Promise<{ start: number; created: number; targeted: number; done: number }> {
  const out = await lab.cp.exec(BUN, [join(root, "bench/agent/create.ts"), "--kubeconfig", lab.cpKubeconfig!, "--namespace", NS, "--prefix", prefix,
    "--count", String(N), "--node", lab.nodes[0].name, "--peers", "6", ...extra], 900_000);
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

try {
  await lab.kubectl(["apply", "-f", "-"], [sample("peer_template.yaml"), sample("cluster_bgp_a.yaml"), sample("cluster_bgp_c.yaml")].join("\n---\n"));
  await lab.kubectl(["apply", "-f", "-"], `apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: sart.terassyi.net/v1alpha2
kind: AddressPool
metadata: { name: bench-pool }
spec: { cidr: 10.100.0.0/16, type: service, allocType: bit, autoAssign: true }
`);

  // Phase A: the controller alone.
  const cpA0 = controlPlane();
  const a = await load("a", ["--until", "peers"]);
  const cpA1 = controlPlane();
  await load("a", ["--delete"]);

  // Phase B: the agents.
  await Promise.all(lab.nodes.map((n) => n.startAgent()));
  for (const r of lab.routers) await until("sessions", async () => (await Promise.all(nodes.map((x) => r.established(x)))).every(Boolean), 60_000, 200);
  await r0.frr.vtysh("no debug bgp updates in"); // 30,000 log lines would slow FRR down
  const before = lab.nodes.map((n) => procStat(n.agent!.pid));
  const cpB0 = controlPlane();
  let routerAt = 0;
  const watchRouter = until("phase B: every address at router0 from every node", async () => {
    const s = await r0.frr.json<{ ipv4Unicast?: { peers?: Record<string, { pfxRcd?: number }> } }>("show bgp summary");
    if (nodes.every((x) => (s.ipv4Unicast?.peers?.[x]?.pfxRcd ?? 0) >= N)) routerAt = Date.now();
    return routerAt;
  }, 900_000, 100);
  const b = await load("b", ["--until", "advertised"]);
  await watchRouter;
  const after = lab.nodes.map((n) => procStat(n.agent!.pid));
  const cpB1 = controlPlane();

  // Steady state: one Service at a time at a pinned address; its first path (and all three) at router0.
  await r0.frr.vtysh("debug bgp updates in");
  const logFile = join(r0.frr.dir, "bgpd-daemon.log");
  let offset = statSync(logFile).size;
  const firstSeen = new Map<string, number>();
  const paths = new Map<string, number>();
  const fd = openSync(logFile, "r");
  const buf = Buffer.alloc(1 << 20);
  let carry = "";
  const tail = () => {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) return;
      offset += n;
      const lines = (carry + buf.toString("utf8", 0, n)).split("\n");
      carry = lines.pop()!;
      const now = performance.now();
      for (const l of lines) {
        const m = / rcvd (10\.100\.\d+\.\d+\/32) IPv4 unicast/.exec(l);
        if (!m || l.includes("withdrawn")) continue;
        if (!firstSeen.has(m[1])) firstSeen.set(m[1], now);
        paths.set(m[1], (paths.get(m[1]) ?? 0) + 1);
      }
    }
  };
  const first: number[] = [];
  const all: number[] = [];
  const ipOf = (i: number) => `10.100.${250 + (i >> 8)}.${i & 255}`;
  for (let i = 0; i < SAMPLES; i++) {
    const prefix = `${ipOf(i)}/32`;
    const t = performance.now();
    await lab.store!.create(service(`s-${i}`, { namespace: NS, ips: ipOf(i) }) as KubeObject);
    await lab.store!.create(endpointSlice(`s-${i}`, [{ node: lab.nodes[0].name }], { namespace: NS }) as KubeObject);
    const allAt = await until(`sample ${i} at router0 from every node`, () => {
      tail();
      return (paths.get(prefix) ?? 0) >= 3 && performance.now();
    }, 30_000, 1);
    first.push(firstSeen.get(prefix)! - t);
    all.push(allAt - t);
    await sleep(20);
  }
  closeSync(fd);
  const pct = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  const final = lab.nodes.map((n) => procStat(n.agent!.pid));
  const controllerMs = a.done - a.start;
  const routerMs = routerAt - b.start;
  console.log(JSON.stringify({
    runtime: runtimeArg,
    services: N,
    controllerCreateMs: a.created - a.start,
    controllerMs,
    agentCreateMs: b.created - b.start,
    agentControllerMs: b.targeted - b.start,
    routerMs,
    advertisedMs: b.done - b.start,
    routerOverController: +(routerMs / controllerMs).toFixed(2),
    agentPeakRssMiB: Math.round(Math.max(...final.map((s) => s.hwmMiB))),
    agentBurstCpuS: +Math.max(...after.map((s, i) => s.cpu - before[i].cpu)).toFixed(1),
    // CPU seconds of the control plane: phase A (controller alone, until every peer is in status) and phase B (until every address is at the router).
    apiCpuAS: +(cpA1.api - cpA0.api).toFixed(1),
    controllerCpuAS: +(cpA1.controller - cpA0.controller).toFixed(1),
    apiCpuBS: +(cpB1.api - cpB0.api).toFixed(1),
    controllerCpuBS: +(cpB1.controller - cpB0.controller).toFixed(1),
    steadyFirstP50Ms: +pct(first, 50).toFixed(1),
    steadyFirstP99Ms: +pct(first, 99).toFixed(1),
    steadyAllP50Ms: +pct(all, 50).toFixed(1),
    steadyAllP99Ms: +pct(all, 99).toFixed(1),
    samples: first.length,
    // The burst's window in epoch ms (to cut agent CPU profiles to it).
    burstEpochMs: [b.start, routerAt],
    loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
  }));
} finally {
  await lab.stop();
}
