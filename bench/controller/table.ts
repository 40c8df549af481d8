// Reads the controller bench's JSON lines (bench.ts, one per run) and prints the medians per
// runtime as a markdown table, then the summary rows (bench/README.md) against the bars:
// 10,000 Services addressed in under 20 s (2 ms per Service), steady-state p99 under 100 ms.
//   bun bench/controller/table.ts RESULTS.jsonl
import { readFileSync } from "node:fs";
import { median, summaryLine } from "../summary.ts";

const lines = readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number | string>);
const keys = ["allAddressedMs", "allAdvertisedMs", "peakRssMiB", "burstControllerCpuS", "burstServerCpuS", "steadyP50Ms", "steadyP99Ms", "duplicates"];
const out = [`| controller runtime | runs | services | ${keys.join(" | ")} |`, `|---|---|---|${keys.map(() => "---").join("|")}|`];
const summary: string[] = [];
for (const rt of [...new Set(lines.map((l) => l.runtime as string))]) {
  const rs = lines.filter((l) => l.runtime === rt);
  const med = (k: string) => median(rs.map((r) => r[k] as number));
  out.push(`| ${rt} | ${rs.length} | ${rs[0].services} | ${keys.map(med).join(" | ")} |`);
  const name = rt === "bun" ? "Bun" : "Node";
  summary.push(summaryLine({ benchmark: "controller", case: `${rs[0].services} Services at once, ${name}`, metric: "ms per Service until all addressed", better: "lower", sart: med("allAddressedMs") / (rs[0].services as number), reference: "bar", referenceValue: 2 }));
  summary.push(summaryLine({ benchmark: "controller", case: `steady creation -> status p99, ${name}`, metric: "ms", better: "lower", sart: med("steadyP99Ms"), reference: "bar", referenceValue: 100 }));
  if (rs.some((r) => r.duplicates !== 0)) throw new Error(`controller bench: an address was given twice under ${rt}`);
}
process.stdout.write(`${out.join("\n")}\n\n${summary.join("\n")}\n`);
