// Turns the JSON lines of bench/ipam/bench.ts (Bun, then Node) into the markdown
// table of the IPAM section of bench/RESULTS.md.
import { readFileSync } from "node:fs";
import { summaryLine } from "../summary.ts";

const [bunFile, nodeFile] = process.argv.slice(2);
if (!bunFile || !nodeFile) throw new Error("usage: table.ts BUN_JSON NODE_JSON");
const bun = JSON.parse(readFileSync(bunFile, "utf8")) as Record<string, number | string>;
const node = JSON.parse(readFileSync(nodeFile, "utf8")) as Record<string, number | string>;

const meta = new Set(["runtime", "runs", "date", "loadStart", "loadEnd"]);
const rate = (v: number | string | undefined) =>
  typeof v === "string" ? v : v === undefined ? "-" : v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : `${v}`;
const lines: string[] = [];
lines.push(`Bun ${bun.date} (load ${bun.loadStart} -> ${bun.loadEnd}), Node ${node.date} (load ${node.loadStart} -> ${node.loadEnd}); medians of ${bun.runs} runs.`);
lines.push("");
lines.push("| measurement | Bun /s | Bun /CPU-s | Node /s | Node /CPU-s |");
lines.push("| --- | ---: | ---: | ---: | ---: |");
for (const key of Object.keys(bun)) {
  if (meta.has(key) || key.includes("bytes") || key.startsWith("cpu: ")) continue;
  const cpu = `cpu: ${key}`;
  lines.push(`| ${key} | ${rate(bun[key])} | ${rate(bun[cpu])} | ${rate(node[key])} | ${rate(node[cpu])} |`);
}
lines.push("");
lines.push("| memory | bytes |");
lines.push("| --- | ---: |");
for (const key of Object.keys(bun)) if (key.includes("bytes")) lines.push(`| ${key} | ${bun[key]} |`);
process.stdout.write(`${lines.join("\n")}\n`);

// Summary rows (bench/README.md): the core against the plain JS allocator on the same churn,
// and against the bar (10 M allocate+release pairs per second) where no baseline runs.
const pairs = (o: Record<string, number | string>, key: string) => (typeof o[key] === "number" ? (o[key] as number) / 1e6 : undefined);
const rowsOut: string[] = [];
for (const [rt, o] of [["Bun", bun], ["Node", node]] as const) {
  for (const size of ["/16 50%", "/8 50%"]) {
    const sart = pairs(o, `core ${size} random`);
    if (sart === undefined) continue;
    rowsOut.push(summaryLine({ benchmark: "ipam", case: `${size} random release, ${rt}`, metric: "M pairs/s", better: "higher", sart, reference: "JS Set allocator", referenceValue: pairs(o, `js Set baseline ${size} random`) }));
  }
  const fifo = pairs(o, "core /8 99.99% fifo");
  if (fifo !== undefined) rowsOut.push(summaryLine({ benchmark: "ipam", case: `/8 99.99% full, fifo release, ${rt}`, metric: "M pairs/s", better: "higher", sart: fifo, reference: "bar", referenceValue: 10 }));
}
process.stdout.write(`\n${rowsOut.join("\n")}\n`);
