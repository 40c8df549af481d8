// The summary row every benchmark runner prints (bench/README.md): bench/run.sh collects
// them from all runners and prints one table of ratios at the end. Tab-separated:
//   summary <benchmark> <case> <metric> <higher|lower> <sart value> <reference> <reference value>
// The reference value is "-" when there is none to divide by (a bar with no number, say).
export interface SummaryRow {
  benchmark: string;
  case: string;
  /** Unit and what is measured, e.g. "M prefixes/s" or "s to propagate". */
  metric: string;
  better: "higher" | "lower";
  sart: number;
  /** What sart is compared with: "GoBGP parse", "BIRD", "bar", ... */
  reference: string;
  referenceValue?: number;
}

const num = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : "-");

export function summaryLine(r: SummaryRow): string {
  for (const f of [r.benchmark, r.case, r.metric, r.reference]) {
    if (/[\t\n]/.test(f)) throw new Error(`summary: no tabs or newlines in fields (${JSON.stringify(f)})`);
  }
  const ref = r.referenceValue === undefined ? "-" : num(r.referenceValue);
  return ["summary", r.benchmark, r.case, r.metric, r.better, num(r.sart), r.reference, ref].join("\t");
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
