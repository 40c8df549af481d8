// The tester's UPDATE stream, encoded by the core's encoder before the clock
// starts: N IPv4 /30s from 100.64.0.0/10 (shared address space, never routed
// on the Internet; 2^20 /30s fit, so N <= 1,048,576), `perUpdate` prefixes per
// UPDATE, each UPDATE with its own AS path (65001 then a private 4-octet ASN)
// so a device cannot merge them.
import { encodeMessage } from "../../host/core/codec.ts";

export const PREFIX_BASE = 0x64400000; // 100.64.0.0
export const PREFIX_LEN = 30;
export const MAX_PREFIXES = 1 << 20;

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

/** All UPDATEs, concatenated into chunks of about `chunkBytes` (whole messages each). */
export function encodeStream(n: number, perUpdate: number, nextHop: string, testerAs: number, chunkBytes = 1 << 16): Uint8Array[] {
  if (n > MAX_PREFIXES) throw new Error(`bench: at most ${MAX_PREFIXES} prefixes fit in 100.64.0.0/10 as /30s, not ${n}`);
  const chunks: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    const c = new Uint8Array(size);
    let o = 0;
    for (const m of pending) {
      c.set(m, o);
      o += m.length;
    }
    chunks.push(c);
    pending = [];
    size = 0;
  };
  for (let first = 0, u = 0; first < n; first += perUpdate, u++) {
    const nlri: string[] = [];
    for (let i = first; i < Math.min(n, first + perUpdate); i++) nlri.push(prefixText(i));
    const msg = encodeMessage({
      type: "UPDATE",
      withdrawn: [],
      nlri,
      attributes: { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [testerAs, 4200000000 + u] }], nextHop },
    });
    pending.push(msg);
    size += msg.length;
    if (size >= chunkBytes) flush();
  }
  if (size) flush();
  return chunks;
}
