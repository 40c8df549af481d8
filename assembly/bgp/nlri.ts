// NLRI prefix lists (RFC 4271 4.3, RFC 4760 5, RFC 7911 3): wire <-> compact entries.
//
// Entry layouts (little-endian u32 words, shared by the decoder records, the
// parsed-UPDATE structure and the encoder):
//   IPv4: [pathId, address, length]                 12 bytes; address as a number (198.51.100.0 = 0xc6336400)
//   IPv6: [pathId, length, a0, a1, a2, a3]          24 bytes; a0..a3 the address as four numbers, most significant first
// Host bits beyond the prefix length are cleared, so equal prefixes have equal entries.
import { mask4, rd32, rd8, wr32, wr8 } from "./wire";

export const V4_ENTRY: u32 = 12;
export const V6_ENTRY: u32 = 24;

/**
 * Parses IPv4 prefixes in [p, end) into entries at dst. Returns the entry
 * count, or -1 when a prefix is longer than 32 or runs past end.
 */
export function parseV4(p: usize, end: usize, addPath: bool, dst: usize): i32 {
  let n: i32 = 0;
  while (p < end) {
    let pathId: u32 = 0;
    if (addPath) {
      if (p + 5 > end) return -1;
      pathId = rd32(p);
      p += 4;
    }
    const plen = rd8(p);
    p++;
    if (plen > 32) return -1;
    const nb: usize = (plen + 7) >> 3;
    if (p + nb > end) return -1;
    let a: u32;
    if (p + 4 <= end) {
      a = rd32(p); // bytes past the prefix belong to this message and are masked off
    } else {
      a = 0;
      for (let i: usize = 0; i < nb; i++) a |= rd8(p + i) << (24 - 8 * <u32>i);
    }
    p += nb;
    const e = dst + <usize>n * V4_ENTRY;
    store<u32>(e, pathId);
    store<u32>(e, a & mask4(plen), 4);
    store<u32>(e, plen, 8);
    n++;
  }
  return n;
}

/** IPv6 prefixes in [p, end) into entries at dst; -1 on a length over 128 or an overrun. */
export function parseV6(p: usize, end: usize, addPath: bool, dst: usize): i32 {
  let n: i32 = 0;
  while (p < end) {
    let pathId: u32 = 0;
    if (addPath) {
      if (p + 5 > end) return -1;
      pathId = rd32(p);
      p += 4;
    }
    const plen = rd8(p);
    p++;
    if (plen > 128) return -1;
    const nb: usize = (plen + 7) >> 3;
    if (p + nb > end) return -1;
    const e = dst + <usize>n * V6_ENTRY;
    store<u32>(e, pathId);
    store<u32>(e, plen, 4);
    const whole = p + 16 <= end; // then whole words can be read (the extra bytes are masked off)
    for (let w: u32 = 0; w < 4; w++) {
      let v: u32 = 0;
      if (whole) {
        v = rd32(p + w * 4);
      } else {
        for (let b: u32 = 0; b < 4; b++) {
          const i = w * 4 + b;
          if (<usize>i < nb) v |= rd8(p + i) << (24 - 8 * b);
        }
      }
      const bitsBefore = w * 32;
      const keep: u32 = plen <= bitsBefore ? 0 : plen - bitsBefore;
      store<u32>(e + 8 + w * 4, v & mask4(keep > 32 ? 32 : keep));
    }
    p += nb;
    n++;
  }
  return n;
}

/** Wire size of one entry. */
export function wireSizeV4(e: usize, addPath: bool): u32 {
  return (addPath ? 5 : 1) + ((load<u32>(e, 8) + 7) >> 3);
}

export function wireSizeV6(e: usize, addPath: bool): u32 {
  return (addPath ? 5 : 1) + ((load<u32>(e, 4) + 7) >> 3);
}

/** Writes one IPv4 entry at p; returns the bytes written. */
export function writeV4(p: usize, e: usize, addPath: bool): u32 {
  let o: usize = 0;
  if (addPath) {
    wr32(p, load<u32>(e));
    o = 4;
  }
  let plen = load<u32>(e, 8);
  if (plen > 32) plen = 32;
  wr8(p + o, plen);
  o++;
  const a = load<u32>(e, 4);
  const nb = (plen + 7) >> 3;
  for (let i: u32 = 0; i < nb; i++) wr8(p + o + i, a >> (24 - 8 * i));
  return <u32>o + nb;
}

/** Writes one IPv6 entry at p; returns the bytes written. */
export function writeV6(p: usize, e: usize, addPath: bool): u32 {
  let o: usize = 0;
  if (addPath) {
    wr32(p, load<u32>(e));
    o = 4;
  }
  let plen = load<u32>(e, 4);
  if (plen > 128) plen = 128;
  wr8(p + o, plen);
  o++;
  const nb = (plen + 7) >> 3;
  for (let i: u32 = 0; i < nb; i++) {
    const word = load<u32>(e + 8 + (i >> 2) * 4);
    wr8(p + o + i, word >> (24 - 8 * (i & 3)));
  }
  return <u32>o + nb;
}
