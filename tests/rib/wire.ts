// Test helpers for the RIB: a fresh core per test, an UPDATE builder and an
// UPDATE decoder written independently of the core (so exported bytes are
// checked by other code than the one that wrote them).
import { readFileSync } from "node:fs";
import { locateWasm } from "../../host/core/node.ts";
import { instantiateCore } from "../../host/core/wasm.ts";
import { Rib } from "../../host/core/rib.ts";

let wasm: Uint8Array | undefined;

/** A RIB in its own core instance (no state shared between tests). */
export function freshRib(global = { asn: 65000, routerId: "192.0.2.1", multipath: false }): Rib {
  wasm ??= readFileSync(locateWasm());
  const rib = new Rib(instantiateCore(wasm));
  rib.setGlobal(global);
  return rib;
}

export function freshCore() {
  wasm ??= readFileSync(locateWasm());
  return instantiateCore(wasm);
}

function ip4(s: string): number[] {
  return s.split(".").map(Number);
}

function ip6(s: string): number[] {
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t];
  const out: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    out.push(v >> 8, v & 255);
  }
  return out;
}

export function prefixWire(p: string, pathId?: number): number[] {
  const [addr, lenText] = p.split("/");
  const len = Number(lenText);
  const bytes = addr.includes(":") ? ip6(addr) : ip4(addr);
  const out: number[] = [];
  if (pathId !== undefined) out.push(pathId >>> 24, (pathId >>> 16) & 255, (pathId >>> 8) & 255, pathId & 255);
  out.push(len, ...bytes.slice(0, (len + 7) >> 3));
  return out;
}

function u16(v: number): number[] {
  return [(v >> 8) & 255, v & 255];
}

function u32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

export function attr(flags: number, type: number, value: number[]): number[] {
  if (value.length > 255) return [flags | 0x10, type, ...u16(value.length), ...value];
  return [flags & ~0x10, type, value.length, ...value];
}

export type Segment = { type: number; asns: number[] };

export interface UpdateSpec {
  withdrawn?: string[];
  withdrawnPathIds?: number[];
  nlri?: string[];
  pathIds?: number[];
  origin?: number;
  /** A plain array is one AS_SEQUENCE; default [65001] (the usual eBGP sender: an eBGP path starts with the peer's AS). */
  asPath?: number[] | Segment[];
  /** Encode AS_PATH with 2-octet ASNs. */
  as2?: boolean;
  as4Path?: Segment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  communities?: string[];
  originatorId?: string;
  clusterList?: string[];
  mpReach?: { nextHop: string; nlri: string[]; pathIds?: number[] };
  mpUnreach?: { afi?: number; nlri: string[]; pathIds?: number[] };
  /** Raw attributes appended as they are. */
  extra?: number[];
  omit?: ("origin" | "asPath" | "nextHop")[];
}

function segments(p: number[] | Segment[] | undefined): Segment[] {
  if (!p) return [];
  if (p.length && typeof p[0] === "number") return [{ type: 2, asns: p as number[] }];
  return p as Segment[];
}

function asPathValue(segs: Segment[], as2: boolean): number[] {
  const v: number[] = [];
  for (const s of segs) {
    v.push(s.type, s.asns.length);
    for (const a of s.asns) v.push(...(as2 ? u16(a > 0xffff ? 23456 : a) : u32(a)));
  }
  return v;
}

export function update(spec: UpdateSpec): Uint8Array {
  const withdrawn: number[] = [];
  (spec.withdrawn ?? []).forEach((p, i) => withdrawn.push(...prefixWire(p, spec.withdrawnPathIds?.[i])));
  const nlri: number[] = [];
  (spec.nlri ?? []).forEach((p, i) => nlri.push(...prefixWire(p, spec.pathIds?.[i])));
  const attrs: number[] = [];
  const announcing = (spec.nlri?.length ?? 0) > 0 || spec.mpReach !== undefined;
  const omit = new Set(spec.omit ?? []);
  if (announcing && !omit.has("origin")) attrs.push(...attr(0x40, 1, [spec.origin ?? 0]));
  if (announcing && !omit.has("asPath")) attrs.push(...attr(0x40, 2, asPathValue(segments(spec.asPath ?? [65001]), spec.as2 ?? false)));
  if ((spec.nlri?.length ?? 0) > 0 && !omit.has("nextHop")) attrs.push(...attr(0x40, 3, ip4(spec.nextHop ?? "192.0.2.254")));
  if (spec.med !== undefined) attrs.push(...attr(0x80, 4, u32(spec.med)));
  if (spec.localPref !== undefined) attrs.push(...attr(0x40, 5, u32(spec.localPref)));
  if (spec.communities?.length) {
    const v: number[] = [];
    for (const c of spec.communities) {
      const [a, b] = c.split(":").map(Number);
      v.push(...u16(a), ...u16(b));
    }
    attrs.push(...attr(0xc0, 8, v));
  }
  if (spec.originatorId) attrs.push(...attr(0x80, 9, ip4(spec.originatorId)));
  if (spec.clusterList) attrs.push(...attr(0x80, 10, spec.clusterList.flatMap(ip4)));
  if (spec.mpReach) {
    const v6 = spec.mpReach.nextHop.includes(":");
    const nh = v6 ? ip6(spec.mpReach.nextHop) : ip4(spec.mpReach.nextHop);
    const v: number[] = [...u16(v6 ? 2 : 1), 1, nh.length, ...nh, 0];
    spec.mpReach.nlri.forEach((p, i) => v.push(...prefixWire(p, spec.mpReach!.pathIds?.[i])));
    attrs.push(...attr(0x90, 14, v));
  }
  if (spec.mpUnreach) {
    const v: number[] = [...u16(spec.mpUnreach.afi ?? 2), 1];
    spec.mpUnreach.nlri.forEach((p, i) => v.push(...prefixWire(p, spec.mpUnreach!.pathIds?.[i])));
    attrs.push(...attr(0x90, 15, v));
  }
  if (spec.as4Path) attrs.push(...attr(0xc0, 17, asPathValue(spec.as4Path, false)));
  if (spec.extra) attrs.push(...spec.extra);
  const body = [...u16(withdrawn.length), ...withdrawn, ...u16(attrs.length), ...attrs, ...nlri];
  return message(2, body);
}

export function message(type: number, body: number[]): Uint8Array {
  const len = 19 + body.length;
  return new Uint8Array([...new Array(16).fill(0xff), ...u16(len), type, ...body]);
}

export const KEEPALIVE = message(4, []);

export { concat } from "../codec/bytes.ts";

// ---- decoding exported UPDATEs ----

export interface Decoded {
  length: number;
  withdrawn: string[];
  nlri: string[];
  attrTypes: number[];
  origin?: number;
  asPath?: Segment[];
  as4Path?: Segment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  communities?: string[];
  originatorId?: string;
  clusterList?: string[];
  mpReach?: { afi: number; nextHop: string; nlri: string[] };
  mpUnreach?: { afi: number; nlri: string[] };
}

function fmt4(b: Uint8Array, at: number, n = 4): string {
  const x = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) x[i] = b[at + i];
  return x.join(".");
}

function fmt6(b: Uint8Array, at: number, n = 16): string {
  const x = new Uint8Array(16);
  x.set(b.subarray(at, at + n));
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((x[i] << 8) | x[i + 1]).toString(16));
  // compress the longest zero run
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== "0") { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === "0") j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return g.join(":");
  return `${g.slice(0, best).join(":")}::${g.slice(best + bestLen).join(":")}`;
}

function prefixes(b: Uint8Array, from: number, to: number, v6: boolean): string[] {
  const out: string[] = [];
  let q = from;
  while (q < to) {
    const len = b[q];
    const nb = (len + 7) >> 3;
    out.push(`${v6 ? fmt6(b, q + 1, nb) : fmt4(b, q + 1, nb)}/${len}`);
    q += 1 + nb;
  }
  if (q !== to) throw new Error("prefix overrun");
  return out;
}

function readSegments(b: Uint8Array, dv: DataView, v: number, len: number, size: number): Segment[] {
  const segs: Segment[] = [];
  for (let s = v; s < v + len; ) {
    const n = b[s + 1];
    const asns: number[] = [];
    for (let i = 0; i < n; i++) asns.push(size === 4 ? dv.getUint32(s + 2 + 4 * i) : dv.getUint16(s + 2 + 2 * i));
    segs.push({ type: b[s], asns });
    s += 2 + n * size;
  }
  return segs;
}

/** Decodes a stream of UPDATE messages (as4: 4-octet AS_PATH). */
export function decodeUpdates(bytes: Uint8Array, as4 = true): Decoded[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Decoded[] = [];
  let p = 0;
  while (p < bytes.length) {
    for (let i = 0; i < 16; i++) if (bytes[p + i] !== 0xff) throw new Error(`bad marker at ${p}`);
    const len = dv.getUint16(p + 16);
    if (bytes[p + 18] !== 2) throw new Error(`not an UPDATE at ${p}`);
    const end = p + len;
    const wlen = dv.getUint16(p + 19);
    const withdrawn = prefixes(bytes, p + 21, p + 21 + wlen, false);
    const alen = dv.getUint16(p + 21 + wlen);
    const aStart = p + 23 + wlen;
    const d: Decoded = { length: len, withdrawn, nlri: prefixes(bytes, aStart + alen, end, false), attrTypes: [] };
    for (let q = aStart; q < aStart + alen; ) {
      const flags = bytes[q];
      const type = bytes[q + 1];
      const ext = (flags & 0x10) !== 0;
      const vlen = ext ? dv.getUint16(q + 2) : bytes[q + 2];
      const v = q + (ext ? 4 : 3);
      q = v + vlen;
      d.attrTypes.push(type);
      switch (type) {
        case 1: d.origin = bytes[v]; break;
        case 2: d.asPath = readSegments(bytes, dv, v, vlen, as4 ? 4 : 2); break;
        case 3: d.nextHop = fmt4(bytes, v); break;
        case 4: d.med = dv.getUint32(v); break;
        case 5: d.localPref = dv.getUint32(v); break;
        case 8: {
          d.communities = [];
          for (let i = v; i < v + vlen; i += 4) d.communities.push(`${dv.getUint16(i)}:${dv.getUint16(i + 2)}`);
          break;
        }
        case 9: d.originatorId = fmt4(bytes, v); break;
        case 10: d.clusterList = []; break;
        case 14: {
          const afi = dv.getUint16(v);
          const nhl = bytes[v + 3];
          const nextHop = afi === 2 ? fmt6(bytes, v + 4) : fmt4(bytes, v + 4);
          d.mpReach = { afi, nextHop, nlri: prefixes(bytes, v + 5 + nhl, v + vlen, afi === 2) };
          break;
        }
        case 15: {
          const afi = dv.getUint16(v);
          d.mpUnreach = { afi, nlri: prefixes(bytes, v + 3, v + vlen, afi === 2) };
          break;
        }
        case 17: d.as4Path = readSegments(bytes, dv, v, vlen, 4); break;
      }
    }
    out.push(d);
    p = end;
  }
  return out;
}

/** Every message of every exported chunk for the peer. */
export function exportAll(rib: Rib, peer: number, as4 = true): Decoded[] {
  return rib.exportFor(peer).flatMap((c) => decodeUpdates(c, as4));
}
