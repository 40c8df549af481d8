// The monitor's prefix count: a minimal UPDATE parser (withdrawn routes,
// MP_REACH/MP_UNREACH for IPv4 unicast, NLRI) over the bench's /30 space, one
// bit per prefix, so "holding all N" means N distinct prefixes announced and
// not withdrawn. Fast enough to never be the bottleneck (no objects per prefix).
import { prefixIndex, MAX_PREFIXES } from "./updates.ts";

export class PrefixCounter {
  readonly held = new Uint8Array(MAX_PREFIXES);
  count = 0;
  updates = 0;
  /** Prefixes outside the bench space (a device's own routes, say): counted, not held. */
  foreign = 0;

  /** One whole UPDATE message, header included. */
  update(m: Uint8Array): void {
    this.updates++;
    const end = m.length;
    let p = 19;
    const wlen = (m[p] << 8) | m[p + 1];
    p += 2;
    this.prefixes(m, p, p + wlen, false);
    p += wlen;
    const alen = (m[p] << 8) | m[p + 1];
    p += 2;
    const aend = p + alen;
    while (p < aend) {
      const flags = m[p];
      const type = m[p + 1];
      const ext = flags & 0x10;
      const len = ext ? (m[p + 2] << 8) | m[p + 3] : m[p + 2];
      const v = p + (ext ? 4 : 3);
      if ((type === 14 || type === 15) && m[v] === 0 && m[v + 1] === 1 && m[v + 2] === 1) {
        if (type === 14) {
          const nhLen = m[v + 3];
          const start = v + 4 + nhLen + 1; // reserved octet
          this.prefixes(m, start, v + len, true);
        } else {
          this.prefixes(m, v + 3, v + len, false);
        }
      }
      p = v + len;
    }
    this.prefixes(m, aend, end, true);
  }

  private prefixes(m: Uint8Array, p: number, end: number, announce: boolean): void {
    while (p < end) {
      const len = m[p++];
      const bytes = (len + 7) >> 3;
      let a = 0;
      for (let i = 0; i < 4; i++) a = (a << 8) | (i < bytes ? m[p + i] : 0);
      p += bytes;
      const idx = prefixIndex(a >>> 0, len);
      if (idx < 0) {
        this.foreign++;
        continue;
      }
      if (announce) {
        if (!this.held[idx]) {
          this.held[idx] = 1;
          this.count++;
        }
      } else if (this.held[idx]) {
        this.held[idx] = 0;
        this.count--;
      }
    }
  }
}
