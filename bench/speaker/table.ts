// Reads the bench's JSON lines (bench.ts output) and prints the markdown table for
// bench/RESULTS.md: medians per (N, prefixes per UPDATE, device), with time ratios
// to gobgpd and BIRD measured in the same session.
//
//   bun bench/speaker/table.ts bench/speaker/last-run.jsonl
import { readFileSync } from "node:fs";
import type { RunResult } from "./bench.ts";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });

const rows = readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as RunResult);
const groups = new Map<string, RunResult[]>();
for (const r of rows) {
  const k = `${r.n}|${r.perUpdate}|${r.device}`;
  (groups.get(k) ?? groups.set(k, []).get(k)!).push(r);
}
const time = (n: number, per: number, device: string): number | undefined => {
  const ok = (groups.get(`${n}|${per}|${device}`) ?? []).filter((r) => r.seconds !== null);
  return ok.length ? median(ok.map((r) => r.seconds!)) : undefined;
};

const out = [
  "| N | per UPDATE | device | runs ok/total | time (s) | prefixes/s | peak RSS (MB) | time vs gobgpd | time vs BIRD |",
  "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
const order = ["bird", "gobgpd", "sart-bun", "sart-node"];
const keys = [...groups.keys()].sort((x, y) => {
  const [nx, px, dx] = x.split("|");
  const [ny, py, dy] = y.split("|");
  return Number(nx) - Number(ny) || Number(px) - Number(py) || order.indexOf(dx) - order.indexOf(dy);
});
for (const k of keys) {
  const runs = groups.get(k)!;
  const { n, perUpdate, device } = runs[0];
  const ok = runs.filter((r) => r.seconds !== null);
  const t = time(n, perUpdate, device);
  const g = time(n, perUpdate, "gobgpd");
  const b = time(n, perUpdate, "bird");
  const rss = median(runs.map((r) => r.peakRssBytes)) / 1e6;
  const ratio = (ref?: number) => (t !== undefined && ref !== undefined ? `${Number((t / ref).toPrecision(2))}x` : "-");
  const failed = ok.length < runs.length ? ` (${runs.find((r) => r.error)?.error?.split("\n")[0]})` : "";
  out.push(
    `| ${fmt(n)} | ${perUpdate} | ${device} | ${ok.length}/${runs.length}${failed} | ${t !== undefined ? fmt(t, 2) : "-"} | ${t !== undefined ? fmt(n / t) : "-"} | ${fmt(rss)} | ${ratio(g)} | ${ratio(b)} |`,
  );
}
process.stdout.write(out.join("\n") + "\n");
