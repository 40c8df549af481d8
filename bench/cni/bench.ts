// CNI benchmark: ADD and DEL latency per pod (p50/p90/max over sequential pods) and the wall
// time of concurrent ADDs, for sart-cni (against `sart agent --standalone` in the node's
// namespace) beside the reference plugins ptp+host-local and bridge+host-local, in the same
// run on the same node netns (every plugin runs in it, as a runtime runs plugins in its own
// namespace). Then the thin client's start-up alone
// (VERSION, answered without the agent) under Bun and Node, beside the runtimes' bare start.
// sart-cni runs as the compiled executable a node installs (build/cni/sart-cni) and through
// build/bin/sart-cni under Bun and Node. Prints a markdown table, then the summary rows
// (bench/README.md).
//   bun bench/cni/bench.ts [--quick]
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { CniNode, Pods, SART_CNI, SART_CNI_COMPILED } from "../../tests/cni/harness.ts";
import type { Netns } from "../../tests/helpers/netns.ts";
import { ROOT } from "../../tests/helpers/sart.ts";

const quick = process.argv.includes("--quick");
const SEQ = quick ? 10 : 50;
const CONC = quick ? 5 : 20;
const STARTS = quick ? 5 : 30;

interface Plugin {
  label: string;
  bin: string;
  config: Record<string, unknown>;
  env?: Record<string, string>;
}

interface Timed {
  ms: number;
  code: number;
  stdout: string;
}

/** Spawns `bin` (in `netns` when given) with the CNI env and config; wall time from spawn to exit. */
function timed(bin: string, env: Record<string, string>, stdin: string, netns?: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const [cmd, args] = netns ? ["nsenter", [`--net=${netns}`, bin]] : [bin, []];
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH!, CNI_PATH: "/usr/lib/cni", ...env }, stdio: ["pipe", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: performance.now() - t0, code: code ?? -1, stdout }));
    child.stdin.on("error", () => {});
    child.stdin.end(stdin);
  });
}

function stats(xs: number[]): { p50: number; p90: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: at(0.5), p90: at(0.9), max: s[s.length - 1]! };
}

const call = (p: Plugin, command: string, id: string, netns: string, node: Netns) =>
  timed(p.bin, { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: "eth0", ...p.env }, JSON.stringify(p.config), node.path);

/**
 * Sequential pods, the plugins interleaved (pod i of every plugin, in an order that rotates
 * with i) so that the machine's load swings hit every plugin alike: ADDs, then DELs.
 */
async function sequential(plugins: Plugin[], node: Netns, pods: Map<Plugin, Netns[]>): Promise<Map<Plugin, { add: number[]; del: number[] }>> {
  const out = new Map(plugins.map((p) => [p, { add: [] as number[], del: [] as number[] }]));
  const n = pods.get(plugins[0]!)!.length;
  for (const command of ["ADD", "DEL"] as const) {
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < plugins.length; k++) {
        const p = plugins[(i + k) % plugins.length]!;
        const r = await call(p, command, `seq${plugins.indexOf(p)}-${i}`, pods.get(p)![i]!.path, node);
        if (r.code !== 0) throw new Error(`${p.label} ${command} ${i}: ${r.stdout}`);
        out.get(p)![command === "ADD" ? "add" : "del"].push(r.ms);
      }
    }
  }
  return out;
}

/** `count` ADDs at once, then DELs one by one; wall time of the ADDs and how many addresses were distinct. */
async function concurrent(p: Plugin, node: Netns, pods: Netns[], tag: string): Promise<{ wallMs: number; distinct: number }> {
  const t0 = performance.now();
  const results = await Promise.all(pods.map((pod, i) => call(p, "ADD", `${tag}-${i}`, pod.path, node)));
  const wallMs = performance.now() - t0;
  const addresses = results.map((r, i) => {
    if (r.code !== 0) throw new Error(`${p.label} concurrent ADD ${i}: ${r.stdout}`);
    return (JSON.parse(r.stdout).ips as { address: string }[])[0]!.address;
  });
  for (let i = 0; i < pods.length; i++) await call(p, "DEL", `${tag}-${i}`, pods[i]!.path, node);
  return { wallMs, distinct: new Set(addresses).size };
}

async function startup(label: string, cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ label: string; p50: number; p90: number }> {
  const xs: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const c = spawn(cmd, args, { env: { PATH: process.env.PATH!, CNI_COMMAND: "VERSION", ...env }, stdio: ["pipe", "ignore", "inherit"] });
      c.on("error", reject);
      c.on("close", () => resolve());
      c.stdin.on("error", () => {}); // a bare runtime exits without reading stdin
      c.stdin.end('{"cniVersion":"1.0.0"}');
    });
    xs.push(performance.now() - t0);
  }
  const s = stats(xs);
  return { label, p50: s.p50, p90: s.p90 };
}

const fmt = (ms: number) => ms.toFixed(1);

async function main(): Promise<void> {
  const node = await CniNode.create({ name: "cnib", ipv4: "192.0.2.1", pools: [{ name: "bench4", cidr: "198.51.100.0/24", blockSize: 26, autoAssign: true }] });
  const pods = new Pods();
  try {
    const dataDir = join(node.dir, "host-local");
    mkdirSync(dataDir);
    const sart: Plugin = { label: "sart-cni (compiled)", bin: SART_CNI_COMPILED, config: { cniVersion: "1.0.0", name: "bench-sart", type: "sart-cni", socket: node.socket } };
    const plugins: Plugin[] = [
      sart,
      { label: "sart-cni (Bun, build/bin)", bin: SART_CNI, config: sart.config },
      { label: "sart-cni (Node, build/bin)", bin: SART_CNI, config: sart.config, env: { SART_RUNTIME: "node" } },
      {
        label: "ptp+host-local",
        bin: "/usr/lib/cni/ptp",
        config: { cniVersion: "1.0.0", name: "bench-ptp", type: "ptp", ipMasq: false, ipam: { type: "host-local", subnet: "203.0.113.0/25", dataDir } },
      },
      {
        label: "bridge+host-local",
        bin: "/usr/lib/cni/bridge",
        config: { cniVersion: "1.0.0", name: "bench-bridge", type: "bridge", bridge: `br${node.ns.name.slice(-5)}`, isGateway: true, ipam: { type: "host-local", subnet: "203.0.113.128/25", dataDir } },
      },
    ];
    const podsOf = new Map<Plugin, Netns[]>();
    for (const p of plugins) {
      const list: Netns[] = [];
      for (let i = 0; i < SEQ; i++) list.push(await pods.create("cnibp"));
      podsOf.set(p, list);
    }
    // Warm-up: one ADD/DEL each (page cache, the first block request, the bridge itself).
    await sequential(plugins, node.ns, new Map(plugins.map((p) => [p, podsOf.get(p)!.slice(0, 1)])));
    const seq = await sequential(plugins, node.ns, podsOf);
    process.stderr.write(`cni bench: sequential pods done (load ${loadavg()[0]!.toFixed(1)})\n`);
    // Concurrent ADDs: three rounds per plugin, the plugins interleaved; the median round.
    const walls = new Map(plugins.map((p) => [p, [] as number[]]));
    const distinct = new Map(plugins.map((p) => [p, CONC]));
    for (let round = 0; round < 3; round++) {
      for (const [k, p] of plugins.entries()) {
        const c = await concurrent(p, node.ns, podsOf.get(p)!.slice(0, CONC), `conc${k}r${round}`);
        walls.get(p)!.push(c.wallMs);
        distinct.set(p, Math.min(distinct.get(p)!, c.distinct));
      }
    }
    process.stderr.write(`cni bench: concurrent ADDs done (load ${loadavg()[0]!.toFixed(1)})\n`);
    const rows = plugins.map((p) => ({
      label: p.label,
      add: stats(seq.get(p)!.add),
      del: stats(seq.get(p)!.del),
      conc: { wallMs: stats(walls.get(p)!).p50, distinct: distinct.get(p)! },
    }));
    const metrics = await node.metrics();
    const serverMs = (command: string) =>
      ((metrics.get(`sart_cni_request_seconds_total{command="${command}",code="0"}`) ?? 0) / (metrics.get(`sart_cni_requests_total{command="${command}",code="0"}`) ?? 1)) * 1000;

    const starts = [
      await startup("bun -e 'console.log(1)' (the runtime alone)", join(ROOT, "node_modules/.bin/bun"), ["-e", "console.log(1)"]),
      await startup("node -e 'console.log(1)' (the runtime alone)", "node", ["-e", "console.log(1)"]),
      await startup("sart-cni compiled (build/cni/sart-cni)", SART_CNI_COMPILED, []),
      await startup("sart-cni, Bun (build/bin wrapper)", SART_CNI, []),
      await startup("sart-cni, Node (build/bin wrapper)", SART_CNI, [], { SART_RUNTIME: "node" }),
      await startup("bun build/bun/sart-cni/main.js (no wrapper)", join(ROOT, "node_modules/.bin/bun"), [join(ROOT, "build/bun/sart-cni/main.js")]),
      await startup("node build/node/sart-cni/main.js (no wrapper)", "node", [join(ROOT, "build/node/sart-cni/main.js")]),
      await startup("ptp VERSION (a Go plugin)", "/usr/lib/cni/ptp", []),
    ];

    console.log(`\n### CNI plugins, ${SEQ} sequential pods (plugins interleaved) and ${CONC} concurrent ADDs (median of 3 rounds); ms, plugin process wall time in the node netns\n`);
    console.log("| plugin | ADD p50 | ADD p90 | ADD max | DEL p50 | DEL p90 | DEL max | concurrent ADDs wall | distinct |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const r of rows) {
      console.log(`| ${r.label} | ${fmt(r.add.p50)} | ${fmt(r.add.p90)} | ${fmt(r.add.max)} | ${fmt(r.del.p50)} | ${fmt(r.del.p90)} | ${fmt(r.del.max)} | ${fmt(r.conc.wallMs)} | ${r.conc.distinct}/${CONC} |`);
    }
    console.log(`\nsart agent's own time per call (mean over every call above, from its metrics): ADD ${fmt(serverMs("ADD"))} ms, DEL ${fmt(serverMs("DEL"))} ms`);
    console.log(`\n### Thin client start-up (VERSION, no agent call), ${STARTS} runs (ms)\n`);
    console.log("| what | p50 | p90 |");
    console.log("| --- | ---: | ---: |");
    for (const s of starts) console.log(`| ${s.label} | ${fmt(s.p50)} | ${fmt(s.p90)} |`);
    console.log("");

    const by = (label: string) => rows.find((r) => r.label === label)!;
    const ours = by(sart.label);
    const summary = (c: string, metric: string, v: number, ref: string, refV?: number) =>
      console.log(["summary", "cni", c, metric, "lower", Number(v.toPrecision(4)), ref, refV === undefined ? "-" : Number(refV.toPrecision(4))].join("\t"));
    summary("ADD p50, sequential pods", "ms", ours.add.p50, "ptp+host-local", by("ptp+host-local").add.p50);
    summary("ADD p50, sequential pods", "ms", ours.add.p50, "bridge+host-local", by("bridge+host-local").add.p50);
    summary("DEL p50, sequential pods", "ms", ours.del.p50, "ptp+host-local", by("ptp+host-local").del.p50);
    summary(`${CONC} concurrent ADDs`, "ms wall", ours.conc.wallMs, "ptp+host-local", by("ptp+host-local").conc.wallMs);
    summary("client start-up, compiled", "ms p50", starts[2]!.p50, "ptp VERSION", starts[7]!.p50);
    summary("client start-up, Bun", "ms p50", starts[3]!.p50, "bun -e", starts[0]!.p50);
    summary("client start-up, Node", "ms p50", starts[4]!.p50, "node -e", starts[1]!.p50);
  } finally {
    await pods.destroy();
    await node.destroy();
  }
}

await main();
process.exit(0);
