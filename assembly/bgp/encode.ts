// Encoding: wire bytes from the record stream the host writes (./records
// layouts, the same as the decoder's output), and the in-core API the RIB
// uses to pack UPDATEs.
//
// ---------------------------------------------------------------------------
// For the RIB (in-core), building UPDATEs for an Adj-RIB-Out:
//   - Build the path attribute bytes once per attribute set with the write*Attr
//     functions below (writeOriginAttr, writeAsPathAttr with an optional
//     prepend, writeNextHopAttr, writeMedAttr, writeLocalPrefAttr,
//     writeCommunitiesAttr, writeRawAttr for anything kept raw), WITHOUT
//     MP_REACH/MP_UNREACH and without NEXT_HOP for IPv6.
//   - buildUpdateV4(out, maxLen, attrs, attrsLen, entries, count, addPath, withdraw)
//     packs as many IPv4 entries (./nlri 12-byte layout) as fit in maxLen
//     (4096, or 65535 with extended messages) into one UPDATE at out: in the
//     NLRI field (announce) or the Withdrawn Routes field (withdraw, attrs
//     ignored). Returns the entries consumed; lastMessageLength() is the
//     message size. Call again with entries + consumed * 12 until done.
//   - buildUpdateMp(out, maxLen, afi, nextHop, nextHopLen, attrs, attrsLen,
//     entries, count, addPath, withdraw) does the same with MP_REACH_NLRI
//     (announce, next hop 16 or 32 bytes for IPv6; 16/32 also allowed for
//     IPv4 per RFC 8950, or 4) or MP_UNREACH_NLRI (withdraw).
//   out must have maxLen bytes of room.
// ---------------------------------------------------------------------------
import {
  A_AGGREGATOR, A_AS4_AGGREGATOR, A_AS4_PATH, A_AS_PATH, A_ATOMIC_AGGREGATE, A_CLUSTER_LIST,
  A_COMMUNITIES, A_EXT_COMMUNITIES, A_LARGE_COMMUNITY, A_LOCAL_PREF, A_MED, A_MP_REACH,
  A_MP_UNREACH, A_NEXT_HOP, A_ORIGIN, A_ORIGINATOR_ID, AFI_IPV4, AS_TRANS, F_EXTENDED,
  HEADER_LEN, MAX_EXTENDED_MESSAGE, SEG_SEQUENCE, MAX_MESSAGE, MSG_NOTIFICATION, MSG_OPEN,
  MSG_ROUTE_REFRESH, MSG_UPDATE, SF_ADDPATH_V4, SF_ADDPATH_V6, SF_AS4, SF_EXTENDED_MESSAGE,
  wr16, wr32, wr8,
} from "./wire";
import { IN, OUT, T_ATTR, T_CAP, T_MSG, T_NOTIF, T_OPEN, T_PFX, T_RAW, T_RR } from "./records";
import { V4_ENTRY, V6_ENTRY, wireSizeV4, wireSizeV6, writeV4, writeV6 } from "./nlri";

// ---- primitives (also for the RIB) ----

/** Writes a BGP header (marker, length, type) at p. */
export function writeHeader(p: usize, len: u32, type: u32): void {
  memory.fill(p, 0xff, 16);
  wr16(p + 16, len);
  wr8(p + 18, type);
}

/**
 * Writes an attribute header at p for a value of len bytes; the extended
 * length form when len > 255 or the flags ask for it. Returns the header size.
 */
export function writeAttrHeader(p: usize, flags: u32, code: u32, len: u32): u32 {
  if (len > 255) flags |= F_EXTENDED;
  wr8(p, flags);
  wr8(p + 1, code);
  if ((flags & F_EXTENDED) != 0) {
    wr16(p + 2, len);
    return 4;
  }
  wr8(p + 2, len);
  return 3;
}

/** AS_PATH / AS4_PATH value from [type, count, asn...] words; 2-octet ASNs map to AS_TRANS when too big. */
export function writeAsPathValue(p: usize, segs: usize, words: u32, as4: bool): u32 {
  let o: usize = 0;
  let i: u32 = 0;
  while (i < words) {
    const type = load<u32>(segs + <usize>i * 4);
    const count = load<u32>(segs + <usize>i * 4 + 4);
    wr8(p + o, type);
    wr8(p + o + 1, count);
    o += 2;
    for (let k: u32 = 0; k < count; k++) {
      const asn = load<u32>(segs + <usize>(i + 2 + k) * 4);
      if (as4) { wr32(p + o, asn); o += 4; }
      else { wr16(p + o, asn > 0xffff ? AS_TRANS : asn); o += 2; }
    }
    i += 2 + count;
  }
  return <u32>o;
}

// Whole-attribute writers for building attribute sets in-core (the RIB's
// Adj-RIB-Out). Each writes flags, type, length and value at p and returns
// the bytes written. Flags are the standard ones for the type.

export function writeOriginAttr(p: usize, origin: u32): u32 {
  wr8(p + 3, origin);
  return writeAttrHeader(p, 0x40, A_ORIGIN, 1) + 1;
}

/** AS_PATH from [type, count, asn...] words, with `prepend` put in front `times` (0..255) times. */
export function writeAsPathAttr(p: usize, segs: usize, words: u32, as4: bool, prepend: u32, times: u32): u32 {
  const asSize: u32 = as4 ? 4 : 2;
  if (times > 255) times = 255;
  // Value size first: the header form depends on it.
  let len: u32 = 0;
  let i: u32 = 0;
  while (i < words) {
    const count = load<u32>(segs + <usize>i * 4 + 4);
    len += 2 + count * asSize;
    i += 2 + count;
  }
  const joins = times > 0 && words >= 2 && load<u32>(segs) == SEG_SEQUENCE && load<u32>(segs + 4) + times <= 255;
  if (times > 0) len += joins ? times * asSize : 2 + times * asSize;
  const h = writeAttrHeader(p, 0x40, A_AS_PATH, len);
  let o = p + h;
  if (times > 0) {
    const first = joins ? load<u32>(segs + 4) : 0;
    wr8(o, SEG_SEQUENCE);
    wr8(o + 1, times + first);
    o += 2;
    for (let k: u32 = 0; k < times; k++) {
      if (as4) wr32(o, prepend); else wr16(o, prepend > 0xffff ? AS_TRANS : prepend);
      o += asSize;
    }
    if (joins) {
      // The rest of the first sequence, then the remaining segments.
      for (let k: u32 = 0; k < first; k++) {
        const asn = load<u32>(segs + 8 + <usize>k * 4);
        if (as4) wr32(o, asn); else wr16(o, asn > 0xffff ? AS_TRANS : asn);
        o += asSize;
      }
      o += writeAsPathValue(o, segs + 8 + <usize>first * 4, words - 2 - first, as4);
      return <u32>(o - p);
    }
  }
  o += writeAsPathValue(o, segs, words, as4);
  return <u32>(o - p);
}

export function writeNextHopAttr(p: usize, addr: u32): u32 {
  wr32(p + 3, addr);
  return writeAttrHeader(p, 0x40, A_NEXT_HOP, 4) + 4;
}

export function writeMedAttr(p: usize, med: u32): u32 {
  wr32(p + 3, med);
  return writeAttrHeader(p, 0x80, A_MED, 4) + 4;
}

export function writeLocalPrefAttr(p: usize, pref: u32): u32 {
  wr32(p + 3, pref);
  return writeAttrHeader(p, 0x40, A_LOCAL_PREF, 4) + 4;
}

/** COMMUNITIES from count values given as numbers (65000:1 = 0xfde80001). */
export function writeCommunitiesAttr(p: usize, values: usize, count: u32): u32 {
  const h = writeAttrHeader(p, 0xc0, A_COMMUNITIES, count * 4);
  for (let i: u32 = 0; i < count; i++) wr32(p + h + i * 4, load<u32>(values + <usize>i * 4));
  return h + count * 4;
}

/** Any attribute from its raw value bytes (e.g. one kept from a received UPDATE). */
export function writeRawAttr(p: usize, flags: u32, code: u32, value: usize, len: u32): u32 {
  const h = writeAttrHeaderProbe(flags & ~F_EXTENDED, len);
  memory.copy(p + h, value, len);
  writeAttrHeader(p, flags & ~F_EXTENDED, code, len);
  return h + len;
}

/** Writes an attribute whose value is built by fill at p + 4, then closes the gap for the short header form. */
function attribute(p: usize, flags: u32, code: u32, valueLen: u32): u32 {
  // The value was written at p + 4; move it when the 3-byte header suffices.
  const h = writeAttrHeaderProbe(flags, valueLen);
  if (h == 3) memory.copy(p + 3, p + 4, valueLen);
  writeAttrHeader(p, flags, code, valueLen);
  return h + valueLen;
}

@inline function writeAttrHeaderProbe(flags: u32, len: u32): u32 {
  return len > 255 || (flags & F_EXTENDED) != 0 ? 4 : 3;
}

function writePrefixes(p: usize, afi: u32, entries: usize, count: u32, addPath: bool): u32 {
  let o: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    o += afi == AFI_IPV4 ? writeV4(p + o, entries + <usize>i * V4_ENTRY, addPath) : writeV6(p + o, entries + <usize>i * V6_ENTRY, addPath);
  }
  return o;
}

// ---- RIB API ----

let lastLength: u32 = 0;

/** The size of the message the last buildUpdate* call wrote. */
export function lastMessageLength(): u32 { return lastLength; }

export function buildUpdateV4(out: usize, maxLen: u32, attrs: usize, attrsLen: u32, entries: usize, count: u32, addPath: bool, withdraw: bool): u32 {
  const fixed = HEADER_LEN + 4 + (withdraw ? 0 : attrsLen);
  if (fixed > maxLen) { lastLength = 0; return 0; }
  let room: i32 = <i32>maxLen - <i32>fixed;
  let p = out + HEADER_LEN + 2;
  let taken: u32 = 0;
  let bytes: u32 = 0;
  const nlriAt = withdraw ? p : p + 2 + attrsLen;
  while (taken < count) {
    const e = entries + <usize>taken * V4_ENTRY;
    const sz = wireSizeV4(e, addPath);
    if (<i32>sz > room) break;
    writeV4(nlriAt + bytes, e, addPath);
    bytes += sz;
    room -= sz;
    taken++;
  }
  if (withdraw) {
    wr16(out + HEADER_LEN, bytes);
    wr16(out + HEADER_LEN + 2 + bytes, 0);
    lastLength = HEADER_LEN + 4 + bytes;
  } else {
    wr16(out + HEADER_LEN, 0);
    wr16(out + HEADER_LEN + 2, attrsLen);
    memory.copy(out + HEADER_LEN + 4, attrs, attrsLen);
    lastLength = HEADER_LEN + 4 + attrsLen + bytes;
  }
  writeHeader(out, lastLength, MSG_UPDATE);
  return taken;
}

export function buildUpdateMp(out: usize, maxLen: u32, afi: u32, nextHop: usize, nextHopLen: u32, attrs: usize, attrsLen: u32, entries: usize, count: u32, addPath: bool, withdraw: bool): u32 {
  const size = afi == AFI_IPV4 ? V4_ENTRY : V6_ENTRY;
  const mpFixed: u32 = withdraw ? 3 : 5 + nextHopLen;
  if (withdraw) attrsLen = 0; // an MP_UNREACH_NLRI needs no other attribute
  const fixed = HEADER_LEN + 4 + attrsLen + 4 + mpFixed;
  if (fixed > maxLen) { lastLength = 0; return 0; }
  let room: i32 = <i32>maxLen - <i32>fixed;
  let taken: u32 = 0;
  let bytes: u32 = 0;
  while (taken < count) {
    const sz = afi == AFI_IPV4 ? wireSizeV4(entries + <usize>taken * size, addPath) : wireSizeV6(entries + <usize>taken * size, addPath);
    if (<i32>sz > room) break;
    bytes += sz;
    room -= sz;
    taken++;
  }
  let p = out + HEADER_LEN;
  wr16(p, 0); // no withdrawn routes field
  const attrLenAt = p + 2;
  p += 4;
  // The MP attribute first (RFC 7606 5.1), then the others.
  const valueLen = mpFixed + bytes;
  const h = writeAttrHeader(p, 0x80, withdraw ? A_MP_UNREACH : A_MP_REACH, valueLen);
  let v = p + h;
  wr16(v, afi);
  wr8(v + 2, 1);
  v += 3;
  if (!withdraw) {
    wr8(v, nextHopLen);
    memory.copy(v + 1, nextHop, nextHopLen);
    wr8(v + 1 + nextHopLen, 0);
    v += 2 + nextHopLen;
  }
  writePrefixes(v, afi, entries, taken, addPath);
  p += h + valueLen;
  memory.copy(p, attrs, attrsLen);
  p += attrsLen;
  wr16(attrLenAt, <u32>(p - attrLenAt - 2));
  lastLength = <u32>(p - out);
  writeHeader(out, lastLength, MSG_UPDATE);
  return taken;
}

// ---- host encode path: records -> wire ----

const E_TOO_LONG: i32 = -1;
const E_RECORDS: i32 = -2;

let recBase: usize = 0;
@inline function word(p: usize): u32 { return load<u32>(p); }

/**
 * Graceful restart and add-path families: the (AFI, SAFI, octet) word triples of
 * a T_CAP record from word `from` on, as AFI(2) SAFI(1) octet(1) at v. Returns the bytes written.
 */
function writeAfiSafiOctets(v: usize, parsed: usize, from: u32, n: u32): u32 {
  let len: u32 = 0;
  for (let i = from; i + 2 < n - 3; i += 3) {
    const e = parsed + <usize>i * 4;
    wr16(v + len, word(e)); wr8(v + len + 2, word(e + 4)); wr8(v + len + 3, word(e + 8));
    len += 4;
  }
  return len;
}

/** Wire bytes of one capability from its T_CAP record at r (payload start, n words). */
function writeCapability(p: usize, r: usize, n: u32): u32 {
  const code = word(r);
  wr8(p, code);
  let v = p + 2;
  let len: u32 = 0;
  const parsed = r + 12;
  // A record without parsed words carries the value bytes (unknown codes, or raw bytes the host kept).
  if (n <= 3) {
    len = word(r + 8);
    if (len > 255) len = 255;
    memory.copy(v, recBase + word(r + 4), len);
    wr8(p + 1, len);
    return 2 + len;
  }
  switch (code) {
    case 1: wr16(v, word(parsed)); wr8(v + 2, 0); wr8(v + 3, word(parsed + 4)); len = 4; break;
    case 2: case 6: case 70: case 128: len = 0; break;
    case 65: wr32(v, word(parsed)); len = 4; break;
    case 64:
      wr16(v, ((word(parsed) & 0xf) << 12) | (word(parsed + 4) & 0xfff));
      len = writeAfiSafiOctets(v + 2, parsed, 2, n) + 2;
      break;
    case 69: len = writeAfiSafiOctets(v, parsed, 0, n); break;
    case 5: {
      for (let i: u32 = 0; i + 2 < n - 3; i += 3) {
        const e = parsed + <usize>i * 4;
        wr16(v + len, word(e)); wr16(v + len + 2, word(e + 4)); wr16(v + len + 4, word(e + 8));
        len += 6;
      }
      break;
    }
    case 73: {
      const hl = word(parsed + 4);
      const dl = word(parsed + 12);
      wr8(v, hl);
      memory.copy(v + 1, recBase + word(parsed), hl);
      wr8(v + 1 + hl, dl);
      memory.copy(v + 2 + hl, recBase + word(parsed + 8), dl);
      len = 2 + hl + dl;
      break;
    }
    default: {
      len = word(r + 8);
      memory.copy(v, recBase + word(r + 4), len);
    }
  }
  wr8(p + 1, len);
  return 2 + len;
}

function encodeOpen(r: usize, end: usize): i32 {
  // r: T_OPEN payload; T_CAP records follow until end.
  const out = OUT.ptr;
  wr8(out + 19, word(r));
  wr16(out + 20, word(r + 4));
  wr16(out + 22, word(r + 8));
  wr32(out + 24, word(r + 12));
  const extended = word(r + 16) != 0;
  const single = word(r + 20) != 0;
  // Capabilities into a scratch area after the message, then framed as parameters.
  const caps = out + 8192;
  let capsLen: u32 = 0;
  let capCount: u32 = 0;
  let q = r + 24;
  const capEnds = out + 16384; // offsets of each capability's end (u32s)
  while (q < end) {
    const h = word(q);
    const n = h & 0xffffff;
    if ((h >>> 24) == T_CAP) {
      capsLen += writeCapability(caps + capsLen, q + 4, n);
      store<u32>(capEnds + <usize>capCount * 4, capsLen);
      capCount++;
      if (capsLen > 4000) return E_TOO_LONG;
    }
    q += 4 + <usize>n * 4;
  }
  const paramHdr: u32 = extended ? 3 : 2;
  const params: u32 = single ? (capCount > 0 ? 1 : 0) : capCount;
  const paramsLen = capsLen + params * paramHdr;
  let p = out + 29;
  if (extended) {
    wr8(out + 28, 255);
    wr8(p, 255);
    wr16(p + 1, paramsLen);
    p += 3;
  } else {
    if (paramsLen > 255) return E_TOO_LONG;
    wr8(out + 28, paramsLen);
  }
  let from: u32 = 0;
  for (let i: u32 = 0; i < params; i++) {
    const to = single ? capsLen : load<u32>(capEnds + <usize>i * 4);
    wr8(p, 2);
    if (extended) wr16(p + 1, to - from); else wr8(p + 1, to - from);
    memory.copy(p + paramHdr, caps + from, to - from);
    p += paramHdr + to - from;
    from = to;
  }
  const len = <u32>(p - out);
  if (len > MAX_MESSAGE) return E_TOO_LONG;
  writeHeader(out, len, MSG_OPEN);
  return <i32>len;
}

function writeSegmentsAttr(p: usize, code: u32, flags: u32, r: usize, words: u32, as4: bool): u32 {
  return attribute(p, flags, code, writeAsPathValue(p + 4, r, words, as4));
}

function writeValues(p: usize, flags: u32, code: u32, r: usize, count: u32): u32 {
  for (let i: u32 = 0; i < count; i++) wr32(p + 4 + <usize>i * 4, word(r + <usize>i * 4));
  return attribute(p, flags, code, count * 4);
}

/** One attribute from its T_ATTR payload at r (n words). */
function writeAttributeRecord(p: usize, r: usize, n: u32, sflags: u32, pfx: StaticArray<usize>): u32 {
  const code = word(r);
  const flags = word(r + 4);
  const v = r + 8;
  const vals = n - 2;
  const as4 = (sflags & SF_AS4) != 0;
  switch (code) {
    case A_ORIGIN: wr8(p + 4, word(v)); return attribute(p, flags, code, 1);
    case A_AS_PATH: return writeSegmentsAttr(p, code, flags, v, vals, as4);
    case A_AS4_PATH: return writeSegmentsAttr(p, code, flags, v, vals, true);
    case A_NEXT_HOP: case A_MED: case A_LOCAL_PREF: case A_ORIGINATOR_ID:
    case A_COMMUNITIES: case A_CLUSTER_LIST: case A_LARGE_COMMUNITY:
      return writeValues(p, flags, code, v, vals);
    case A_ATOMIC_AGGREGATE: return attribute(p, flags, code, 0);
    case A_AGGREGATOR: {
      const asn = word(v);
      if (as4) { wr32(p + 4, asn); wr32(p + 8, word(v + 4)); return attribute(p, flags, code, 8); }
      wr16(p + 4, asn > 0xffff ? AS_TRANS : asn);
      wr32(p + 6, word(v + 4));
      return attribute(p, flags, code, 6);
    }
    case A_AS4_AGGREGATOR: wr32(p + 4, word(v)); wr32(p + 8, word(v + 4)); return attribute(p, flags, code, 8);
    case A_EXT_COMMUNITIES: {
      const len = word(v + 4);
      memory.copy(p + 4, recBase + word(v), len);
      return attribute(p, flags, code, len);
    }
    case A_MP_REACH: {
      const afi = word(v);
      const nh = word(v + 8);
      wr16(p + 4, afi);
      wr8(p + 6, word(v + 4));
      wr8(p + 7, nh);
      for (let i: u32 = 0; i < nh; i += 4) wr32(p + 8 + i, word(v + 12 + i));
      wr8(p + 8 + nh, 0);
      let len = 5 + nh;
      const e = unchecked(pfx[3]);
      if (e != 0) {
        const addPath = (sflags & (afi == AFI_IPV4 ? SF_ADDPATH_V4 : SF_ADDPATH_V6)) != 0;
        len += writePrefixes(p + 4 + len, word(e + 4), e + 12, word(e + 8), addPath);
      }
      return attribute(p, flags, code, len);
    }
    case A_MP_UNREACH: {
      const afi = word(v);
      wr16(p + 4, afi);
      wr8(p + 6, word(v + 4));
      let len: u32 = 3;
      const e = unchecked(pfx[2]);
      if (e != 0) {
        const addPath = (sflags & (afi == AFI_IPV4 ? SF_ADDPATH_V4 : SF_ADDPATH_V6)) != 0;
        len += writePrefixes(p + 4 + len, word(e + 4), e + 12, word(e + 8), addPath);
      }
      return attribute(p, flags, code, len);
    }
  }
  return 0;
}

const sections = new StaticArray<usize>(4);

function encodeUpdate(r: usize, end: usize, sflags: u32): i32 {
  const out = OUT.ptr;
  const addPath4 = (sflags & SF_ADDPATH_V4) != 0;
  for (let i = 0; i < 4; i++) unchecked(sections[i] = 0);
  let q = r;
  while (q < end) {
    const h = word(q);
    if ((h >>> 24) == T_PFX) {
      const s = word(q + 4);
      if (s < 4) unchecked(sections[s] = q + 4);
    }
    q += 4 + <usize>(h & 0xffffff) * 4;
  }
  let p = out + HEADER_LEN + 2;
  const w = unchecked(sections[0]);
  let wlen: u32 = 0;
  if (w != 0) wlen = writePrefixes(p, AFI_IPV4, w + 12, word(w + 8), addPath4);
  wr16(out + HEADER_LEN, wlen);
  p += wlen;
  const attrLenAt = p;
  p += 2;
  q = r;
  while (q < end) {
    const h = word(q);
    const n = h & 0xffffff;
    const tag = h >>> 24;
    if (tag == T_ATTR) {
      p += writeAttributeRecord(p, q + 4, n, sflags, sections);
    } else if (tag == T_RAW) {
      const len = word(q + 16);
      memory.copy(p + 4, recBase + word(q + 12), len);
      p += attribute(p, word(q + 8), word(q + 4), len);
    }
    q += 4 + <usize>n * 4;
    if (p - out > MAX_EXTENDED_MESSAGE) return E_TOO_LONG;
  }
  wr16(attrLenAt, <u32>(p - attrLenAt - 2));
  const nl = unchecked(sections[1]);
  if (nl != 0) p += writePrefixes(p, AFI_IPV4, nl + 12, word(nl + 8), addPath4);
  const len = <u32>(p - out);
  const max = (sflags & SF_EXTENDED_MESSAGE) != 0 ? MAX_EXTENDED_MESSAGE : MAX_MESSAGE;
  if (len > max) return E_TOO_LONG;
  writeHeader(out, len, MSG_UPDATE);
  return <i32>len;
}

/**
 * Encodes the one message described by the records at input[recOffset,
 * recOffset + recLen) into OUT. Returns the wire length, or a negative error
 * (-1 too long for the message size, -2 malformed records).
 */
export function encodeRecords(recOffset: u32, recLen: u32, sflags: u32): i32 {
  recBase = IN.ptr;
  const r = IN.ptr + recOffset;
  const end = r + recLen;
  if (recLen < 16 || (word(r) >>> 24) != T_MSG) return E_RECORDS;
  const type = word(r + 4);
  OUT.len = 0;
  OUT.ensure(MAX_EXTENDED_MESSAGE + 70000);
  // Records are trusted (our own host wrote them), but an UPDATE is bounded by
  // the buffer: the checks above stop at MAX_EXTENDED_MESSAGE.
  const body = r + 16;
  if (type == MSG_UPDATE) return encodeUpdate(body, end, sflags);
  const out = OUT.ptr;
  if (type == MSG_OPEN) {
    if (body >= end || (word(body) >>> 24) != T_OPEN) return E_RECORDS;
    return encodeOpen(body + 4, end);
  }
  if (type == MSG_NOTIFICATION) {
    if (body >= end || (word(body) >>> 24) != T_NOTIF) return E_RECORDS;
    const dl = word(body + 16);
    if (<u32>21 + dl > MAX_EXTENDED_MESSAGE) return E_TOO_LONG;
    wr8(out + 19, word(body + 4));
    wr8(out + 20, word(body + 8));
    memory.copy(out + 21, recBase + word(body + 12), dl);
    writeHeader(out, 21 + dl, type);
    return <i32>(21 + dl);
  }
  if (type == MSG_ROUTE_REFRESH) {
    if (body >= end || (word(body) >>> 24) != T_RR) return E_RECORDS;
    const ol = word(body + 20);
    wr16(out + 19, word(body + 4));
    wr8(out + 21, word(body + 12));
    wr8(out + 22, word(body + 8));
    memory.copy(out + 23, recBase + word(body + 16), ol);
    writeHeader(out, 23 + ol, type);
    return <i32>(23 + ol);
  }
  // KEEPALIVE, or any other type: a bare header.
  writeHeader(out, HEADER_LEN, type);
  return <i32>HEADER_LEN;
}
