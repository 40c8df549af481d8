// BFD failover: how long after the link between a node and its router is cut
// the router's kernel loses the node's route (and the node's kernel the
// router's), with sart on the node (Bun or Node) or, as the reference, FRR
// with the same BFD profile; and without BFD (the hold timer). The lab is
// tests/bfd/lab.ts: two namespaces, FRR (zebra + bfdd + bgpd) on the router,
// the link cut by dropping every frame on both ends, deletions timed with
// `ip monitor route`.
//   bun bench/bfd/failover.ts [--quick]
import { BfdLab, NODE, ROUTER, RouteMonitor } from "../../tests/bfd/lab.ts";
import type { Runtime } from "../../tests/helpers/sart.ts";

const quick = process.argv.includes("--quick");
const HOLD = 9;

interface Case {
  name: string;
  node: "sart" | "frr";
  runtime?: Runtime;
  bfd?: { receiveInterval: number; transmitInterval: number; detectMultiplier: number };
  rounds: number;
}

const bfd = (ms: number) => ({ receiveInterval: ms, transmitInterval: ms, detectMultiplier: 3 });
const rounds = quick ? 2 : 7;
const cases: Case[] = [
  { name: "sart (bun), BFD 100 ms x3", node: "sart", runtime: "bun", bfd: bfd(100), rounds },
  { name: "FRR, BFD 100 ms x3", node: "frr", bfd: bfd(100), rounds },
  ...(quick ? [] : [
    { name: "sart (node), BFD 100 ms x3", node: "sart", runtime: "node", bfd: bfd(100), rounds },
    { name: "sart (bun), BFD 300 ms x3", node: "sart", runtime: "bun", bfd: bfd(300), rounds },
    { name: "FRR, BFD 300 ms x3", node: "frr", bfd: bfd(300), rounds },
  ] as Case[]),
  { name: `sart (bun), no BFD, hold ${HOLD} s`, node: "sart", runtime: "bun", rounds: quick ? 1 : 3 },
];

interface Round {
  case: string;
  round: number;
  /** ms from the cut until the router's kernel dropped the node's route */
  router: number;
  /** ms from the cut until the node's kernel dropped the router's route */
  node: number;
}

async function measure(lab: BfdLab, c: Case, round: number): Promise<Round> {
  const atRouter = new RouteMonitor(lab.router);
  const atNode = new RouteMonitor(lab.node);
  try {
    await Promise.all([atRouter.ready, atNode.ready]);
    const gone = Promise.all([atRouter.deleted(NODE.route), atNode.deleted(ROUTER.route)]);
    const cutAt = Date.now();
    await lab.cut();
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${c.name}: routes still there ${3 * HOLD} s after the cut`)), 3 * HOLD * 1000));
    const [router, node] = await Promise.race([gone, timeout]);
    return { case: c.name, round, router: router - cutAt, node: node - cutAt };
  } finally {
    atRouter.stop();
    atNode.stop();
    await lab.restore();
  }
}

const results: Round[] = [];
for (const c of cases) {
  const lab = await BfdLab.start({ runtime: c.runtime, nodeSpeaker: c.node, bfd: c.bfd, holdTime: HOLD, prefix: "bbfd" });
  try {
    for (let i = 1; i <= c.rounds; i++) {
      const r = await measure(lab, c, i);
      results.push(r);
      console.log(JSON.stringify({ ...r, load: (await Bun.file("/proc/loadavg").text()).split(" ")[0] }));
      await lab.waitConverged(c.bfd !== undefined, 60000);
    }
  } finally {
    await lab.stop();
  }
}

const of = (name: string, side: "router" | "node") => results.filter((r) => r.case === name).map((r) => r[side]);
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
console.log("\n| case | rounds | router drops the node's route: median (max) ms | node drops the router's route: median (max) ms |");
console.log("| --- | ---: | ---: | ---: |");
for (const c of cases) {
  const [r, n] = [of(c.name, "router"), of(c.name, "node")];
  console.log(`| ${c.name} | ${r.length} | ${median(r)} (${Math.max(...r)}) | ${median(n)} (${Math.max(...n)}) |`);
}

// Summary rows (bench/run.sh): summary, benchmark, case, metric, better, sart, reference, reference value.
const row = (name: string, side: "router" | "node", reference: string, refCase: string) => {
  const metric = side === "router" ? "ms until the router drops the node's route" : "ms until the node drops the router's route";
  console.log(["summary", "bfd", name, metric, "lower", median(of(name, side)), reference, median(of(refCase, side))].join("\t"));
};
console.log();
for (const c of cases.filter((x) => x.node === "sart" && x.bfd)) {
  const frr = `FRR, BFD ${c.bfd!.transmitInterval} ms x3`;
  row(c.name, "router", "FRR node, same profile", frr);
  row(c.name, "node", "FRR node, same profile", frr);
}
row("sart (bun), BFD 100 ms x3", "router", `no BFD, hold ${HOLD} s`, `sart (bun), no BFD, hold ${HOLD} s`);
