// Reads the bench's JSON lines (bench.ts output, one session) and prints the markdown table
// for bench/RESULTS.md: medians per scenario and device (with the range of the runs), time
// ratios to gobgpd and BIRD measured in the same session, the memory per extra peer; then
// the summary rows (bench/README.md).
//   bun bench/speaker/table.ts bench/speaker/last-run.jsonl
import { readFileSync } from "node:fs";
import { median, summaryLine } from "../summary.ts";
import type { RunResult } from "./bench.ts";

const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const rows = readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as RunResult);

/** The scenario's name in tables: what was sent, how, and to how many. */
function scenarioName(r: RunResult): string {
  const n = fmt(r.n / r.testers);
  if (r.scenario === "peers") return `${r.testers} testers x ${n}, table mix -> 1 monitor`;
  if (r.scenario === "fanout") return `1 tester, ${n}, table mix -> ${r.monitors} monitors`;
  return r.mix === "worst" ? `${n}, worst case (own AS path per UPDATE of ${r.perUpdate})` : `${n}, table mix`;
}

const groups = new Map<string, RunResult[]>();
for (const r of rows) {
  const k = `${scenarioName(r)}|${r.device}`;
  (groups.get(k) ?? groups.set(k, []).get(k)!).push(r);
}
const ok = (k: string) => (groups.get(k) ?? []).filter((r) => r.seconds !== null);
const time = (sc: string, device: string) => {
  const runs = ok(`${sc}|${device}`);
  return runs.length ? median(runs.map((r) => r.seconds!)) : undefined;
};
const perPeer = (runs: RunResult[]) => {
  const xs = runs.filter((r) => r.bytesPerPeer !== null).map((r) => r.bytesPerPeer!);
  return xs.length ? median(xs) : undefined;
};

const order = ["bird", "gobgpd", "sart-bun", "sart-node"];
const scenarios = [...new Set(rows.map(scenarioName))];
const out = [
  "| scenario | device | runs ok/total | time (s), median [range] | prefixes/s | peak RSS (MB) | memory per extra peer (KB) | time vs gobgpd | time vs BIRD |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
];
const summary: string[] = [];
for (const sc of scenarios) {
  for (const device of order) {
    const runs = groups.get(`${sc}|${device}`);
    if (!runs) continue;
    const good = ok(`${sc}|${device}`);
    const t = time(sc, device);
    const ratio = (ref?: number) => (t !== undefined && ref !== undefined ? `${Number((t / ref).toPrecision(2))}x` : "-");
    const failed = good.length < runs.length ? ` (${runs.find((r) => r.error)?.error?.split("\n")[0]})` : "";
    const range = good.length > 1 ? ` [${fmt(Math.min(...good.map((r) => r.seconds!)), 2)}-${fmt(Math.max(...good.map((r) => r.seconds!)), 2)}]` : "";
    const mem = perPeer(runs);
    out.push(
      `| ${sc} | ${device} | ${good.length}/${runs.length}${failed} | ${t !== undefined ? fmt(t, 2) + range : "-"} | ${t !== undefined ? fmt(runs[0].n / t) : "-"} | ` +
        `${fmt(median(runs.map((r) => r.peakRssBytes)) / 1e6)} | ${mem !== undefined ? fmt(mem / 1024, 1) : "-"} | ${ratio(time(sc, "gobgpd"))} | ${ratio(time(sc, "bird"))} |`,
    );
    if (!device.startsWith("sart") || t === undefined) continue;
    const rt = device === "sart-bun" ? "Bun" : "Node";
    summary.push(summaryLine({ benchmark: "speaker", case: `${sc}, ${rt}`, metric: "s until the monitors hold all", better: "lower", sart: t, reference: "BIRD", referenceValue: time(sc, "bird") }));
    if (device === "sart-bun") {
      summary.push(summaryLine({ benchmark: "speaker", case: `${sc}, ${rt}`, metric: "s until the monitors hold all", better: "lower", sart: t, reference: "gobgpd", referenceValue: time(sc, "gobgpd") }));
    }
    const birdMem = perPeer(groups.get(`${sc}|bird`) ?? []);
    if (mem !== undefined && birdMem !== undefined) {
      summary.push(summaryLine({ benchmark: "speaker", case: `${sc}, ${rt}`, metric: "KB per extra peer", better: "lower", sart: mem / 1024, reference: "BIRD", referenceValue: birdMem / 1024 }));
    }
  }
}
const when = rows.map((r) => r.load);
process.stdout.write(`${out.join("\n")}\n\nLoad average (1/5/15 min) at the end of each run: ${when[0]} ... ${when[when.length - 1]}\n\n${summary.join("\n")}\n`);
