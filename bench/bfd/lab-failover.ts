// BFD failover in the agent lab: the whole Kubernetes-mode path (BFDProfile and BGPPeer
// objects, the controller, `sart agent` on three nodes) against "edge", an FRR with zebra
// and bfdd in sart-worker's AS on a direct link (tests/lab/edge-router.ts). Each round cuts
// that link (nftables drop on both ends; the interfaces stay up), times edge's kernel
// deleting the route only sart-worker announces (its pod block) with `ip monitor route`,
// then restores the link and waits for BGP, BFD and the route. Cases: BFD 100 ms x 3 and
// 300 ms x 3 (the same profile on both sides), and no BFD (the 9 s hold timer).
//   bun bench/bfd/lab-failover.ts [--quick]
import { RouteMonitor, kernelRoute } from "../../tests/bfd/lab.ts";
import { waitFor } from "../../tests/helpers/net.ts";
import { EDGE, EdgeRouter, WORKER_POD_BLOCK, bfdProfileYaml, workerEdgePeer } from "../../tests/lab/edge-router.ts";
import { Lab } from "../../tests/lab/lab.ts";
import { sample } from "../../tests/lab/scenario.ts";
import type { AddressBlock } from "../../host/kube/types.ts";
import { median, summaryLine } from "../summary.ts";

const quick = process.argv.includes("--quick");
const HOLD = 9;

interface Case {
  name: string;
  bfd?: { receiveInterval: number; transmitInterval: number; detectMultiplier: number };
  rounds: number;
}

const bfd = (ms: number) => ({ receiveInterval: ms, transmitInterval: ms, detectMultiplier: 3 });
const cases: Case[] = [
  { name: "lab, sart agent (bun), BFDProfile 100 ms x 3", bfd: bfd(100), rounds: quick ? 2 : 7 },
  ...(quick ? [] : [{ name: "lab, sart agent (bun), BFDProfile 300 ms x 3", bfd: bfd(300), rounds: 7 }]),
  { name: `lab, sart agent (bun), no BFD, hold ${HOLD} s`, rounds: quick ? 1 : 3 },
];

interface Setup {
  lab: Lab;
  edge: EdgeRouter;
  block: string;
}

async function setUp(c: Case): Promise<Setup> {
  const lab = await Lab.start({ mode: "kubernetes", runtime: "bun" });
  try {
    const edge = await EdgeRouter.start(lab, { bfd: c.bfd, holdTime: HOLD });
    await lab.kubectl(["apply", "-f", "-"], [sample("peer_template.yaml"), sample("cluster_bgp_a.yaml"), WORKER_POD_BLOCK].join("\n---\n"));
    await lab.kubectl(["apply", "-f", "-"], [...(c.bfd ? [bfdProfileYaml("lab-bfd", c.bfd)] : []), workerEdgePeer({ holdTime: HOLD, bfdProfile: c.bfd && "lab-bfd" })].join("---\n"));
    const block = await waitFor("sart-worker's pod block", async () => (await lab.store!.list<AddressBlock>("AddressBlock", {})).find((b) => b.spec.nodeRef === "sart-worker")?.spec.cidr, 30_000);
    const s = { lab, edge, block };
    await converged(s, c, 60_000);
    return s;
  } catch (e) {
    await lab.stop();
    throw e;
  }
}

/** BGP Established at edge (BFD up first, when used), the block in edge's kernel. */
async function converged(s: Setup, c: Case, timeoutMs: number): Promise<void> {
  if (c.bfd) {
    await waitFor("BFD up at edge", async () => (await s.edge.frr.bfdPeers()).some((p) => p.peer === EDGE.worker.node && p.local === EDGE.worker.edge && p.status === "up"), timeoutMs);
  }
  await waitFor("Established at edge", async () => (await s.edge.frr.neighborState(EDGE.worker.node)) === "Established", timeoutMs);
  await waitFor("the block in edge's kernel", async () => (await kernelRoute(s.edge.ns, s.block)) !== undefined, timeoutMs);
}

/** ms from the cut until edge's kernel dropped the block. */
async function round(s: Setup, c: Case): Promise<number> {
  const monitor = new RouteMonitor(s.edge.ns);
  try {
    await monitor.ready;
    const gone = monitor.deleted(s.block);
    const cutAt = Date.now();
    await s.edge.cutWorkerLink();
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${c.name}: the route still at edge ${3 * HOLD} s after the cut`)), 3 * HOLD * 1000));
    return (await Promise.race([gone, timeout])) - cutAt;
  } finally {
    monitor.stop();
    await s.edge.restoreWorkerLink();
  }
}

const results = new Map<string, number[]>();
for (const c of cases) {
  const s = await setUp(c);
  try {
    const times: number[] = [];
    for (let i = 1; i <= c.rounds; i++) {
      const ms = await round(s, c);
      times.push(ms);
      console.log(JSON.stringify({ case: c.name, round: i, edgeDropsTheNodesRoute: ms, load: (await Bun.file("/proc/loadavg").text()).split(" ")[0] }));
      await converged(s, c, 60_000);
    }
    results.set(c.name, times);
  } finally {
    await s.edge.stop();
    await s.lab.stop();
  }
}

console.log("\n| case | rounds | edge drops sart-worker's route: median (max) ms |");
console.log("| --- | ---: | ---: |");
for (const [name, t] of results) console.log(`| ${name} | ${t.length} | ${median(t)} (${Math.max(...t)}) |`);

// Summary rows (bench/run.sh, bench/README.md): each BFD profile against the hold timer.
const hold = results.get(`lab, sart agent (bun), no BFD, hold ${HOLD} s`)!;
console.log();
for (const c of cases.filter((x) => x.bfd)) {
  console.log(summaryLine({ benchmark: "bfd", case: c.name, metric: "ms until the router drops the node's route", better: "lower", sart: median(results.get(c.name)!), reference: `no BFD, hold ${HOLD} s`, referenceValue: median(hold) }));
}
