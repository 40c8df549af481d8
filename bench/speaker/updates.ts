// The testers' UPDATE streams, encoded by the core's encoder before the clock starts.
// Prefixes: IPv4 /30s from 100.64.0.0/10 (shared address space, never routed on the
// Internet; 2^20 /30s fit, so at most 1,048,576 in all), tester t sending its own range.
// Two mixes of attributes:
// - worst: every UPDATE its own AS path (tester AS, then a private 4-octet ASN), so no
//   device can share attributes or pack prefixes of different UPDATEs together.
// - table: a full table's attribute sharing. The prefixes are spread over one attribute set
//   per 200 prefixes (5,000 sets for 1,000,000), set sizes Zipf-distributed (a few large
//   sets, a long tail of small ones) and members picked at random across the range, as
//   in a real feed; each set has an AS path of 2-8 private ASNs after the tester's, an ORIGIN,
//   MED on half of the sets and 1-4 communities on a third. Each set's prefixes go out
//   together, packed into as few UPDATEs as 4,096 bytes allow, as a router sends a table.
import { encodeMessage, encodeUpdates, type UpdateAttributes } from "../../host/core/codec.ts";
import { concat, mulberry32 } from "../../tests/codec/bytes.ts";

export const PREFIX_BASE = 0x64400000; // 100.64.0.0
export const PREFIX_LEN = 30;
export const MAX_PREFIXES = 1 << 20;
/** Prefixes per attribute set in the table mix. */
export const PREFIXES_PER_SET = 200;

export type Mix = "worst" | "table";

export function prefixText(i: number): string {
  const a = PREFIX_BASE + i * 4;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${PREFIX_LEN}`;
}

/** Index of a /30 in the bench space, or -1 for anything else. */
export function prefixIndex(addr: number, len: number): number {
  if (len !== PREFIX_LEN) return -1;
  const i = (addr - PREFIX_BASE) >>> 2;
  return (addr >>> 0) >= PREFIX_BASE && i < MAX_PREFIXES ? i : -1;
}

/** Whole messages gathered into chunks of about `chunkBytes` (one socket write each). */
class Chunker {
  readonly chunks: Uint8Array[] = [];
  private pending: Uint8Array[] = [];
  private size = 0;
  constructor(private readonly chunkBytes = 1 << 16) {}
  add(msg: Uint8Array): void {
    this.pending.push(msg);
    this.size += msg.length;
    if (this.size >= this.chunkBytes) this.flush();
  }
  flush(): Uint8Array[] {
    if (!this.size) return this.chunks;
    this.chunks.push(concat(...this.pending));
    this.pending = [];
    this.size = 0;
    return this.chunks;
  }
}

export interface StreamSpec {
  /** First prefix index of this tester's range, and how many. */
  first: number;
  n: number;
  mix: Mix;
  /** Prefixes per UPDATE in the worst mix. */
  perUpdate: number;
  nextHop: string;
  testerAs: number;
}

export function encodeStream(s: StreamSpec): Uint8Array[] {
  if (s.first + s.n > MAX_PREFIXES) throw new Error(`bench: at most ${MAX_PREFIXES} prefixes fit in 100.64.0.0/10 as /30s, not ${s.first + s.n}`);
  return s.mix === "worst" ? worst(s) : table(s);
}

function worst(s: StreamSpec): Uint8Array[] {
  const out = new Chunker();
  for (let i = 0, u = 0; i < s.n; i += s.perUpdate, u++) {
    const nlri: string[] = [];
    for (let k = i; k < Math.min(s.n, i + s.perUpdate); k++) nlri.push(prefixText(s.first + k));
    const attributes: UpdateAttributes = { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [s.testerAs, 4200000000 + s.first + u] }], nextHop: s.nextHop };
    out.add(encodeMessage({ type: "UPDATE", withdrawn: [], nlri, attributes }));
  }
  return out.flush();
}

/** The table mix's attribute sets for a tester: `count` of them, seeded by its range. */
function attributeSets(count: number, s: StreamSpec, r: () => number): UpdateAttributes[] {
  const sets: UpdateAttributes[] = [];
  for (let k = 0; k < count; k++) {
    const asns = [s.testerAs];
    const len = 2 + Math.floor(r() * 7);
    // Private ASNs below the bench's own (device 65000, testers 64600+, monitors 65100+): no path loops back.
    for (let i = 0; i < len; i++) asns.push(r() < 0.5 ? 64512 + Math.floor(r() * 88) : 4200000000 + Math.floor(r() * 100000));
    const a: UpdateAttributes = { origin: (["IGP", "EGP", "INCOMPLETE"] as const)[Math.floor(r() * 3)], asPath: [{ type: "AS_SEQUENCE", asns }], nextHop: s.nextHop };
    if (r() < 0.5) a.med = Math.floor(r() * 1000);
    if (r() < 1 / 3) a.communities = Array.from({ length: 1 + Math.floor(r() * 4) }, () => `${65000 + Math.floor(r() * 500)}:${Math.floor(r() * 1000)}`);
    sets.push(a);
  }
  return sets;
}

function table(s: StreamSpec): Uint8Array[] {
  const r = mulberry32(0x5eed + s.first);
  const count = Math.max(1, Math.round(s.n / PREFIXES_PER_SET));
  const sets = attributeSets(count, s, r);
  // Zipf (exponent 1) set sizes: the cumulative weights, then each prefix drawn into a set.
  const cum = new Float64Array(count);
  let total = 0;
  for (let k = 0; k < count; k++) cum[k] = total += 1 / (k + 1);
  const members: string[][] = sets.map(() => []);
  for (let i = 0; i < s.n; i++) {
    const x = r() * total;
    let lo = 0, hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    members[lo].push(prefixText(s.first + i));
  }
  const out = new Chunker();
  members.forEach((prefixes, k) => {
    for (const m of encodeUpdates(prefixes, sets[k])) out.add(m);
  });
  return out.flush();
}

/** Distinct attribute sets and UPDATEs of a stream, for the results' description. */
export function describeStream(chunks: Uint8Array[]): { updates: number; bytes: number } {
  let updates = 0, bytes = 0;
  for (const c of chunks) {
    for (let o = 0; o < c.length; o += (c[o + 16] << 8) | c[o + 17]) updates++;
    bytes += c.length;
  }
  return { updates, bytes };
}
