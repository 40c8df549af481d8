// Small byte and randomness helpers shared by the codec, decode and RIB tests.

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)) so failures reproduce. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sets the header length to the message's actual length (at most 65535), cutting it there. */
export function setLength(m: Uint8Array): Uint8Array {
  const len = Math.min(m.length, 65535);
  m[16] = len >> 8;
  m[17] = len & 255;
  return m.subarray(0, len);
}

/**
 * One seeded mutation of a whole BGP message: truncation, length fields, attribute
 * flags, random bytes, inserted or deleted bytes, the marker or the type.
 */
export function mutateMessage(seed: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  let m = seed.slice();
  const kind = pick(6);
  if (kind === 0) {
    // Truncate, with or without fixing the header length.
    m = m.slice(0, pick(m.length + 1));
    if (r() < 0.7 && m.length >= 19) m = setLength(m);
  } else if (kind === 1) {
    // A length field: header, withdrawn/attribute totals, or any 1-2 bytes in the body.
    const at = r() < 0.3 ? 16 : 19 + pick(Math.max(1, m.length - 19));
    if (at < m.length) m[at] = pick(256);
    if (at + 1 < m.length && r() < 0.5) m[at + 1] = pick(256);
  } else if (kind === 2) {
    // Attribute flags: set or clear optional/transitive/partial/extended bits somewhere.
    const at = 19 + pick(Math.max(1, m.length - 19));
    if (at < m.length) m[at] ^= [0x80, 0x40, 0x20, 0x10][pick(4)];
  } else if (kind === 3) {
    for (let i = 0, n = 1 + pick(4); i < n; i++) {
      const at = 19 + pick(Math.max(1, m.length - 19));
      if (at < m.length) m[at] = pick(256);
    }
  } else if (kind === 4) {
    // Insert or delete bytes in the body and keep the header consistent.
    const at = 19 + pick(Math.max(1, m.length - 19));
    const extra = Uint8Array.from({ length: pick(8) }, () => pick(256));
    m = r() < 0.5 ? concat(m.subarray(0, at), extra, m.subarray(at)) : concat(m.subarray(0, at), m.subarray(Math.min(m.length, at + 1 + pick(6))));
    if (m.length >= 19) m = setLength(m);
  } else {
    // The marker or the type.
    if (r() < 0.5) m[pick(16)] = pick(256);
    else if (m.length > 18) m[18] = pick(8);
  }
  return m;
}
