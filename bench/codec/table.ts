// Reads the result lines of one codec session (decode.ts and gobgp lines, several rounds)
// and prints the markdown table for bench/RESULTS.md, then the summary rows (bench/README.md).
// Each rate is the median over the rounds of each round's median; ratios pair sart's
// count-only decode with GoBGP's parse, and sart's objects with GoBGP's objects.
//   bun bench/codec/table.ts LOG
import { readFileSync } from "node:fs";
import { median, summaryLine } from "../summary.ts";

interface Line {
  label: string;
  file: string;
  mbps: number;
  messages: number;
  prefixes: number;
}

const lines: Line[] = [];
for (const l of readFileSync(process.argv[2], "utf8").split("\n")) {
  const m = /^(sart-\w+-\w+|gobgp-\w+) (\S+) MB\/s=([\d.]+) messages\/s=(\d+) prefixes\/s=(\d+) /.exec(l);
  if (m) lines.push({ label: m[1], file: m[2].replace(/\.bin$/, ""), mbps: +m[3], messages: +m[4], prefixes: +m[5] });
}
if (!lines.length) throw new Error(`codec table: no result lines in ${process.argv[2]}`);

const groups = new Map<string, Line[]>();
for (const l of lines) {
  const k = `${l.file}|${l.label}`;
  (groups.get(k) ?? groups.set(k, []).get(k)!).push(l);
}
const med = (file: string, label: string) => {
  const g = groups.get(`${file}|${label}`);
  return g && { mbps: median(g.map((x) => x.mbps)), messages: median(g.map((x) => x.messages)), prefixes: median(g.map((x) => x.prefixes)), rounds: g.length };
};
const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const ratio = (a: number, b: number) => `${Number((a / b).toPrecision(2))}x`;

// mode -> [sart's label suffix, GoBGP's label, what GoBGP does]
const PAIRS = [
  { mode: "count", gobgp: "gobgp-parse", what: "count-only", ref: "GoBGP parse" },
  { mode: "objects", gobgp: "gobgp-objects", what: "objects", ref: "GoBGP objects" },
];
const files = [...new Set(lines.map((l) => l.file))];
const out = [
  "| input | work | decoder | rounds | MB/s | messages/s | prefixes/s | vs GoBGP |",
  "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
];
const summary: string[] = [];
for (const file of files) {
  for (const p of PAIRS) {
    const g = med(file, p.gobgp);
    for (const rt of ["node", "bun"]) {
      const s = med(file, `sart-${rt}-${p.mode}`);
      if (!s) continue;
      out.push(`| ${file} | ${p.what} | sart, ${rt === "node" ? "Node" : "Bun"} | ${s.rounds} | ${fmt(s.mbps, 1)} | ${fmt(s.messages)} | ${fmt(s.prefixes)} | ${g ? ratio(s.prefixes, g.prefixes) : "-"} |`);
      summary.push(summaryLine({
        benchmark: "codec", case: `${file}, ${p.what}, ${rt === "node" ? "Node" : "Bun"}`, metric: "M prefixes/s", better: "higher",
        sart: s.prefixes / 1e6, reference: p.ref, referenceValue: g ? g.prefixes / 1e6 : undefined,
      }));
    }
    if (g) out.push(`| ${file} | ${p.what} | GoBGP | ${g.rounds} | ${fmt(g.mbps, 1)} | ${fmt(g.messages)} | ${fmt(g.prefixes)} | 1x |`);
  }
}
process.stdout.write(`${out.join("\n")}\n\n${summary.join("\n")}\n`);
