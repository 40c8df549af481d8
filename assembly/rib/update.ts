// UPDATE attribute parsing for the RIB: validates the path attributes the way
// RFC 4271 section 6 and RFC 7606 classify errors (notification, treat-as-
// withdraw, attribute discard), merges AS4_PATH / AS4_AGGREGATOR for 2-octet
// peers (RFC 6793), computes the decision fields, detects loops and writes the
// canonical attribute bytes that key the interned attribute sets.

import { AF_HAS_MED, AF_HAS_ORIGINATOR, setDecisionFields } from "./attrs";
import { Buf, be16, be32, put32 } from "./mem";
import { Peer, ownAsn, ownClusterId, ownRouterId } from "./state";

export const OUT_OK: i32 = 0;
export const OUT_WITHDRAW: i32 = 1; // treat-as-withdraw
export const OUT_NOTIFY: i32 = 2; // session reset with a NOTIFICATION

// Results of parseAttributes.
export let outcome: i32 = OUT_OK;
export let notifyCode: u32 = 0;
export let notifySubcode: u32 = 0;
export let notifyDataPtr: usize = 0;
export let notifyDataLen: u32 = 0;
export let loopDetected: bool = false;
export let hasNextHop: bool = false;
export let nextHopPtr: usize = 0;
export let mpReachFam: i32 = -1; // -1 none, 0 IPv4 unicast, 1 IPv6 unicast
export let mpReachNh: usize = 0;
export let mpReachNhLen: u32 = 0;
export let mpReachStart: usize = 0;
export let mpReachEnd: usize = 0;
export let mpUnreachFam: i32 = -1;
export let mpUnreachStart: usize = 0;
export let mpUnreachEnd: usize = 0;
export let onlyMpUnreach: bool = false; // the only attribute was MP_UNREACH (End-of-RIB shape)
export let mpUnknownFamily: bool = false;
export const canon = new Buf();

const asBuf = new Buf(); // AS_PATH in 4-octet form
const as4Buf = new Buf(); // AS4_PATH
const mergedBuf = new Buf();
const aggBuf = new Buf();
const notifyBuf = new Buf();

// Attribute entries kept for the canonical form: type, flags, value pointer, value length.
const ENTRY: u32 = 16;
const entries: usize = heap.alloc(256 * ENTRY);
let entryCount: u32 = 0;
const seen: usize = heap.alloc(32);

function addEntry(type: u32, flags: u32, ptr: usize, len: u32): void {
  const e = entries + <usize>(entryCount * ENTRY);
  store<u32>(e, type);
  store<u32>(e, flags, 4);
  store<u32>(e, <u32>ptr, 8);
  store<u32>(e, len, 12);
  entryCount++;
}

function setEntryValue(type: u32, ptr: usize, len: u32): void {
  for (let i: u32 = 0; i < entryCount; i++) {
    const e = entries + <usize>(i * ENTRY);
    if (load<u32>(e) == type) {
      store<u32>(e, <u32>ptr, 8);
      store<u32>(e, len, 12);
    }
  }
}

function notify(code: u32, subcode: u32, data: usize, len: u32): void {
  if (outcome == OUT_NOTIFY) return;
  outcome = OUT_NOTIFY;
  notifyCode = code;
  notifySubcode = subcode;
  notifyBuf.len = 0;
  notifyBuf.ensure(len);
  memory.copy(notifyBuf.ptr, data, len);
  notifyDataPtr = notifyBuf.ptr;
  notifyDataLen = len;
}

export function notifyPlain(code: u32, subcode: u32): void {
  outcome = OUT_OK;
  notify(code, subcode, 0, 0);
}

export function notifyWith(code: u32, subcode: u32, data: usize, len: u32): void {
  outcome = OUT_OK;
  notify(code, subcode, data, len);
}

@inline function taw(): void {
  if (outcome == OUT_OK) outcome = OUT_WITHDRAW;
}

/** Converts an AS_PATH (2- or 4-octet ASNs) to 4-octet segments in `out`; false when malformed. */
function parseAsPath(v: usize, len: u32, asSize: u32, out: Buf): bool {
  out.len = 0;
  out.ensure(len * 2 + 8);
  const end = v + len;
  let q = v;
  let w = out.ptr;
  while (q < end) {
    if (q + 2 > end) return false;
    const type = <u32>load<u8>(q);
    const n = <u32>load<u8>(q + 1);
    if (type < 1 || type > 4 || n == 0) return false;
    if (q + 2 + <usize>(n * asSize) > end) return false;
    store<u8>(w, <u8>type);
    store<u8>(w + 1, <u8>n);
    w += 2;
    q += 2;
    for (let i: u32 = 0; i < n; i++) {
      put32(w, asSize == 4 ? be32(q) : be16(q));
      w += 4;
      q += asSize;
    }
  }
  out.len = <u32>(w - out.ptr);
  return true;
}

/** Counts ASNs the RFC 6793 way (a set counts 1, confederation segments 0). */
function countAsPath(p: usize, len: u32): u32 {
  let n: u32 = 0;
  let q = p;
  const end = p + len;
  while (q < end) {
    const type = <u32>load<u8>(q);
    const cnt = <u32>load<u8>(q + 1);
    if (type == 2) n += cnt;
    else if (type == 1) n += 1;
    q += 2 + <usize>(cnt * 4);
  }
  return n;
}

/** RFC 6793 4.2.3: the leading ASNs of AS_PATH not covered by AS4_PATH, then AS4_PATH. */
function mergeAs4Path(): void {
  const n = countAsPath(asBuf.ptr, asBuf.len);
  const n4 = countAsPath(as4Buf.ptr, as4Buf.len);
  if (n4 > n) return; // AS4_PATH ignored
  let keep = n - n4;
  mergedBuf.len = 0;
  mergedBuf.ensure(asBuf.len + as4Buf.len + 8);
  let w = mergedBuf.ptr;
  let q = asBuf.ptr;
  const end = asBuf.ptr + asBuf.len;
  let lastSeg: usize = 0;
  while (q < end && keep) {
    const type = <u32>load<u8>(q);
    const cnt = <u32>load<u8>(q + 1);
    lastSeg = w;
    if (type == 2) {
      const take = min<u32>(cnt, keep);
      store<u8>(w, 2);
      store<u8>(w + 1, <u8>take);
      memory.copy(w + 2, q + 2, take * 4);
      w += 2 + take * 4;
      keep -= take;
    } else if (type == 1) {
      memory.copy(w, q, 2 + cnt * 4);
      w += 2 + cnt * 4;
      keep -= 1;
    } else {
      memory.copy(w, q, 2 + cnt * 4);
      w += 2 + cnt * 4;
    }
    q += 2 + cnt * 4;
  }
  let a4 = as4Buf.ptr;
  let a4len = as4Buf.len;
  // AS_PATH's AS_SEQUENCE continues into AS4_PATH's: one segment, as the sender had it
  if (lastSeg && a4len && load<u8>(lastSeg) == 2 && load<u8>(a4) == 2) {
    const n1 = <u32>load<u8>(lastSeg + 1);
    const n2 = <u32>load<u8>(a4 + 1);
    if (n1 + n2 <= 255) {
      store<u8>(lastSeg + 1, <u8>(n1 + n2));
      memory.copy(w, a4 + 2, n2 * 4);
      w += n2 * 4;
      a4 += 2 + n2 * 4;
      a4len -= 2 + n2 * 4;
    }
  }
  memory.copy(w, a4, a4len);
  w += a4len;
  mergedBuf.len = <u32>(w - mergedBuf.ptr);
}

let pathLen: u32 = 0;
let neighborAs: u32 = 0;

function analyseAsPath(p: usize, len: u32): void {
  pathLen = 0;
  neighborAs = 0;
  let first = true;
  let q = p;
  const end = p + len;
  while (q < end) {
    const type = <u32>load<u8>(q);
    const cnt = <u32>load<u8>(q + 1);
    if (type == 1 || type == 2) {
      if (first) {
        neighborAs = be32(q + 2);
        first = false;
      }
      pathLen += type == 2 ? cnt : 1;
      for (let i: u32 = 0; i < cnt; i++) if (be32(q + 2 + i * 4) == ownAsn) loopDetected = true;
    }
    q += 2 + <usize>(cnt * 4);
  }
}

@inline function setSeen(type: u32): bool {
  const b = seen + (type >> 3);
  const m = <u8>(<u32>1 << (type & 7));
  const was = (load<u8>(b) & m) != 0;
  store<u8>(b, load<u8>(b) | m);
  return was;
}

/** True when the NLRI bytes parse (prefix lengths within the family, no overrun). */
export function nlriValid(p: usize, end: usize, v6: bool, addPath: bool): bool {
  const maxLen: u32 = v6 ? 128 : 32;
  let q = p;
  while (q < end) {
    if (addPath) {
      if (q + 4 > end) return false;
      q += 4;
    }
    if (q >= end) return false;
    const plen = <u32>load<u8>(q);
    if (plen > maxLen) return false;
    q += 1 + ((plen + 7) >> 3);
    if (q > end) return false;
  }
  return true;
}

/** Parses the path attributes of an UPDATE from `peer`; `hasNlri`: the classic NLRI field is not empty. */
export function parseAttributes(peer: Peer, start: usize, end: usize, hasNlri: bool): void {
  outcome = OUT_OK;
  loopDetected = false;
  hasNextHop = false;
  mpReachFam = -1;
  mpUnreachFam = -1;
  mpUnknownFamily = false;
  entryCount = 0;
  memory.fill(seen, 0, 32);
  const ibgp = peer.isIbgp();
  const asSize: u32 = peer.as4 ? 4 : 2;
  let origin: u32 = 0;
  let med: u32 = 0;
  let localPref: u32 = 100;
  let originator: u32 = 0;
  let clusterLen: u32 = 0;
  let flagsOut: u8 = 0;
  let haveAsPath = false;
  let haveAs4Path = false;
  let haveAgg = false;
  let as4Agg: usize = 0;
  let attrs: u32 = 0;
  let q = start;
  while (q < end) {
    if (end - q < 3) { taw(); break; }
    const flags = <u32>load<u8>(q);
    const type = <u32>load<u8>(q + 1);
    let v: usize;
    let vlen: u32;
    if (flags & 0x10) {
      if (end - q < 4) { taw(); break; }
      vlen = be16(q + 2);
      v = q + 4;
    } else {
      vlen = <u32>load<u8>(q + 2);
      v = q + 3;
    }
    if (v + vlen > end) { taw(); break; }
    q = v + vlen;
    attrs++;
    if (setSeen(type)) {
      if (type == 14 || type == 15) notify(3, 1, 0, 0);
      continue; // RFC 7606 3.g: later duplicates are discarded
    }
    const cat = flags & 0xc0;
    switch (type) {
      case 1: // ORIGIN
        if (cat != 0x40 || vlen != 1 || load<u8>(v) > 2) { taw(); break; }
        origin = <u32>load<u8>(v);
        addEntry(type, flags, v, vlen);
        break;
      case 2: // AS_PATH
        if (cat != 0x40 || !parseAsPath(v, vlen, asSize, asBuf)) { taw(); break; }
        haveAsPath = true;
        addEntry(type, flags, asBuf.ptr, asBuf.len);
        break;
      case 3: // NEXT_HOP
        if (cat != 0x40 || vlen != 4) { taw(); break; }
        hasNextHop = true;
        nextHopPtr = v;
        break;
      case 4: // MULTI_EXIT_DISC
        if (cat != 0x80 || vlen != 4) { taw(); break; }
        med = be32(v);
        flagsOut |= AF_HAS_MED;
        addEntry(type, flags, v, vlen);
        break;
      case 5: // LOCAL_PREF: ignored from external peers (RFC 4271 5.1.5)
        if (cat != 0x40 || vlen != 4) { taw(); break; }
        if (!ibgp) break;
        localPref = be32(v);
        addEntry(type, flags, v, vlen);
        break;
      case 6: // ATOMIC_AGGREGATE: attribute discard when malformed
        if (cat != 0x40 || vlen != 0) break;
        addEntry(type, flags, v, vlen);
        break;
      case 7: // AGGREGATOR: attribute discard when malformed
        if (cat != 0xc0 || vlen != (asSize == 4 ? 8 : 6)) break;
        aggBuf.len = 0;
        aggBuf.ensure(8);
        put32(aggBuf.ptr, asSize == 4 ? be32(v) : be16(v));
        memory.copy(aggBuf.ptr + 4, v + asSize, 4);
        haveAgg = true;
        addEntry(type, flags, aggBuf.ptr, 8);
        break;
      case 8: // COMMUNITIES
      case 16: // EXTENDED COMMUNITIES
      case 32: { // LARGE_COMMUNITY
        const unit: u32 = type == 8 ? 4 : type == 16 ? 8 : 12;
        if (cat != 0xc0 || vlen == 0 || vlen % unit) { taw(); break; }
        addEntry(type, flags, v, vlen);
        break;
      }
      case 9: // ORIGINATOR_ID (iBGP only)
        if (cat != 0x80 || vlen != 4) { taw(); break; }
        if (!ibgp) break;
        originator = be32(v);
        flagsOut |= AF_HAS_ORIGINATOR;
        if (originator == ownRouterId) loopDetected = true;
        addEntry(type, flags, v, vlen);
        break;
      case 10: // CLUSTER_LIST (iBGP only)
        if (cat != 0x80 || vlen == 0 || vlen % 4) { taw(); break; }
        if (!ibgp) break;
        clusterLen = vlen / 4;
        for (let i: u32 = 0; i < vlen; i += 4) if (be32(v + i) == ownClusterId) loopDetected = true;
        addEntry(type, flags, v, vlen);
        break;
      case 14: { // MP_REACH_NLRI
        if (cat != 0x80 || vlen < 5) { notify(3, 9, 0, 0); break; }
        const afi = be16(v);
        const safi = <u32>load<u8>(v + 2);
        const nhLen = <u32>load<u8>(v + 3);
        if (<u32>5 + nhLen > vlen) { notify(3, 9, 0, 0); break; }
        const fam: i32 = afi == 1 && safi == 1 ? 0 : afi == 2 && safi == 1 ? 1 : -1;
        if (fam < 0) { mpUnknownFamily = true; break; }
        if ((fam == 0 && nhLen != 4) || (fam == 1 && nhLen != 16 && nhLen != 32)) { notify(3, 9, 0, 0); break; }
        const ns = v + 5 + nhLen;
        const ne = v + vlen;
        if (!nlriValid(ns, ne, fam == 1, fam == 1 ? peer.addPath6 : peer.addPath4)) { notify(3, 9, 0, 0); break; }
        mpReachFam = fam;
        mpReachNh = v + 4;
        mpReachNhLen = nhLen;
        mpReachStart = ns;
        mpReachEnd = ne;
        break;
      }
      case 15: { // MP_UNREACH_NLRI
        if (cat != 0x80 || vlen < 3) { notify(3, 9, 0, 0); break; }
        const afi = be16(v);
        const safi = <u32>load<u8>(v + 2);
        const fam: i32 = afi == 1 && safi == 1 ? 0 : afi == 2 && safi == 1 ? 1 : -1;
        if (fam < 0) { mpUnknownFamily = true; break; }
        if (!nlriValid(v + 3, v + vlen, fam == 1, fam == 1 ? peer.addPath6 : peer.addPath4)) { notify(3, 9, 0, 0); break; }
        mpUnreachFam = fam;
        mpUnreachStart = v + 3;
        mpUnreachEnd = v + vlen;
        break;
      }
      case 17: // AS4_PATH: only meaningful from a 2-octet peer; discarded when malformed
        if (peer.as4 || cat != 0xc0 || !parseAsPath(v, vlen, 4, as4Buf)) break;
        haveAs4Path = true;
        break;
      case 18: // AS4_AGGREGATOR
        if (peer.as4 || cat != 0xc0 || vlen != 8) break;
        as4Agg = v;
        break;
      default:
        if (!(flags & 0x80)) {
          // unrecognised well-known attribute: its type, length and value go in the data
          notify(3, 2, q - vlen - ((flags & 0x10) ? 4 : 3), vlen + ((flags & 0x10) ? 4 : 3));
          break;
        }
        if (flags & 0x40) addEntry(type, flags | 0x20, v, vlen); // passed on with the Partial bit
        break;
    }
    if (outcome == OUT_NOTIFY) return;
  }
  onlyMpUnreach = attrs == 1 && mpUnreachFam >= 0;

  let asPtr = asBuf.ptr;
  let asLen = haveAsPath ? asBuf.len : 0;
  if (haveAsPath && haveAs4Path) {
    mergeAs4Path();
    if (mergedBuf.len) {
      asPtr = mergedBuf.ptr;
      asLen = mergedBuf.len;
      setEntryValue(2, asPtr, asLen);
    }
  }
  if (haveAgg && as4Agg && be32(aggBuf.ptr) == 23456) memory.copy(aggBuf.ptr, as4Agg, 8);
  analyseAsPath(asPtr, asLen);

  const announces = hasNlri || (mpReachFam >= 0 && mpReachEnd > mpReachStart);
  if (announces) {
    // RFC 7606 3.d: a missing well-known mandatory attribute is treat-as-withdraw
    if (!seen0(1) || !haveAsPath || (hasNlri && !hasNextHop) || (ibgp && !seen0(5))) taw();
  }
  setDecisionFields(localPref, med, neighborAs, originator, pathLen, clusterLen, origin, flagsOut);
  writeCanonical();
  if (canon.len > 0xffff) taw();
}

@inline function seen0(type: u32): bool {
  return (load<u8>(seen + (type >> 3)) & <u8>(<u32>1 << (type & 7))) != 0 && entryHas(type);
}

function entryHas(type: u32): bool {
  for (let i: u32 = 0; i < entryCount; i++) if (load<u32>(entries + <usize>(i * ENTRY)) == type) return true;
  return false;
}

/** Entries sorted by type code, flags normalised, extended length exactly when needed. */
function writeCanonical(): void {
  // insertion sort: attribute lists are short and usually already in order
  for (let i: u32 = 1; i < entryCount; i++) {
    let j = i;
    while (j > 0 && load<u32>(entries + <usize>((j - 1) * ENTRY)) > load<u32>(entries + <usize>(j * ENTRY))) {
      const a = entries + <usize>((j - 1) * ENTRY);
      const b = entries + <usize>(j * ENTRY);
      const t0 = load<u64>(a);
      const t1 = load<u64>(a, 8);
      store<u64>(a, load<u64>(b));
      store<u64>(a, load<u64>(b, 8), 8);
      store<u64>(b, t0);
      store<u64>(b, t1, 8);
      j--;
    }
  }
  let total: u32 = 0;
  for (let i: u32 = 0; i < entryCount; i++) total += load<u32>(entries + <usize>(i * ENTRY), 12) + 4;
  canon.len = 0;
  canon.ensure(total);
  let w = canon.ptr;
  for (let i: u32 = 0; i < entryCount; i++) {
    const e = entries + <usize>(i * ENTRY);
    const len = load<u32>(e, 12);
    const ext = len > 255;
    store<u8>(w, <u8>((load<u32>(e, 4) & 0xe0) | (ext ? 0x10 : 0)));
    store<u8>(w + 1, <u8>load<u32>(e));
    if (ext) {
      store<u16>(w + 2, bswap<u16>(<u16>len));
      w += 4;
    } else {
      store<u8>(w + 2, <u8>len);
      w += 3;
    }
    memory.copy(w, <usize>load<u32>(e, 8), len);
    w += len;
  }
  canon.len = <u32>(w - canon.ptr);
}
