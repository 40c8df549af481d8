// Writes the codec benchmark inputs (raw BGP message streams, 4-octet AS):
//   DIR/fulltable.bin  1,000,000 IPv4 /24s, 4 per UPDATE, varied AS paths and attributes
//   DIR/dense500.bin   UPDATEs of 500 /24s each (20,000 messages, 10 million prefixes)
// With --quick, a tenth of each (100,000 and 1,000,000 prefixes). Deterministic (seeded),
// so every run and GoBGP's benchmark (bench/codec/gobgp) read the same bytes.
//   bun bench/codec/gen.ts DIR [--quick]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../../tests/codec/bytes.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: gen.ts DIR [--quick]");
const scale = process.argv.includes("--quick") ? 0.1 : 1;

class Out {
  buf = new Uint8Array(1 << 20);
  len = 0;
  ensure(n: number) {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number) { this.buf[this.len++] = v & 255; }
  u16(v: number) { this.u8(v >> 8); this.u8(v); }
  u32(v: number) { this.u16(v >>> 16); this.u16(v & 0xffff); }
}

/** The i-th /24 of 1.0.0.0 - 223.255.255.0 skipping nothing special: only the bytes matter here. */
function slash24(i: number): number {
  return ((1 << 24) + i * 256) >>> 0;
}

/** One UPDATE announcing the given /24s with attributes varied by r. */
function writeUpdate(o: Out, r: () => number, first: number, count: number, dense: boolean): void {
  o.ensure(4096);
  const start = o.len;
  for (let i = 0; i < 16; i++) o.u8(0xff);
  o.u16(0); // length, patched below
  o.u8(2);
  o.u16(0); // no withdrawn routes
  const attrLenAt = o.len;
  o.u16(0);
  const attrStart = o.len;
  // ORIGIN
  o.u8(0x40); o.u8(1); o.u8(1); o.u8(Math.floor(r() * 3));
  // AS_PATH: one AS_SEQUENCE of 1..8 4-octet ASNs (private 16-bit and 4200000000+)
  const n = 1 + Math.floor(r() * 8);
  o.u8(0x40); o.u8(2); o.u8(2 + 4 * n); o.u8(2); o.u8(n);
  for (let i = 0; i < n; i++) o.u32(r() < 0.5 ? 64512 + Math.floor(r() * 1000) : 4200000000 + Math.floor(r() * 100000));
  // NEXT_HOP
  o.u8(0x40); o.u8(3); o.u8(4); o.u32(0xc0000200 + 1 + Math.floor(r() * 250));
  if (dense || r() < 0.5) { o.u8(0x80); o.u8(4); o.u8(4); o.u32(Math.floor(r() * 1000)); } // MED
  if (dense || r() < 0.3) {
    const c = 1 + Math.floor(r() * 4);
    o.u8(0xc0); o.u8(8); o.u8(4 * c);
    for (let i = 0; i < c; i++) o.u32(((65000 + Math.floor(r() * 500)) << 16 | Math.floor(r() * 1000)) >>> 0);
  }
  o.buf[attrLenAt] = (o.len - attrStart) >> 8;
  o.buf[attrLenAt + 1] = (o.len - attrStart) & 255;
  for (let i = 0; i < count; i++) {
    const a = slash24(first + i);
    o.u8(24); o.u8(a >>> 24); o.u8(a >>> 16); o.u8(a >>> 8);
  }
  const len = o.len - start;
  o.buf[start + 16] = len >> 8;
  o.buf[start + 17] = len & 255;
}

function generate(name: string, prefixes: number, perUpdate: number, seed: number): void {
  const r = mulberry32(seed);
  const o = new Out();
  for (let i = 0; i < prefixes; i += perUpdate) writeUpdate(o, r, i % 14_000_000, Math.min(perUpdate, prefixes - i), perUpdate > 4);
  const path = join(dir, name);
  writeFileSync(path, o.buf.subarray(0, o.len));
  console.log(`wrote ${path}: ${Math.ceil(prefixes / perUpdate)} UPDATEs, ${prefixes} prefixes, ${o.len} bytes`);
}

mkdirSync(dir, { recursive: true });
generate("fulltable.bin", 1_000_000 * scale, 4, 1);
generate("dense500.bin", 10_000_000 * scale, 500, 2);
