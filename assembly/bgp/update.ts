// UPDATE parsing (RFC 4271 4.3/6.3, RFC 4760, RFC 6793, RFC 7606, RFC 7911, RFC 8950).
//
// ---------------------------------------------------------------------------
// How the RIB (assembly/rib) calls this, inside the core:
//
//   import { parseUpdate, ParsedUpdate, UPD_OK, UPD_SESSION_RESET } from "../bgp/update";
//   import { frameMessage } from "../bgp/decode";           // header checks + length
//   const u = parseUpdate(msgPtr, msgLen, sessionFlags);    // msgPtr: first marker byte
//   if (u.status == UPD_SESSION_RESET) { send NOTIFICATION u.errCode/u.errSubcode with
//                                        u.errDataPtr/u.errDataLen; drop the session }
//   else if (u.treatAsWithdraw) { withdraw every prefix in u.nlri4 and u.mpReach (and
//                                 u.withdrawn4 / u.mpUnreach as usual) }
//   else { withdraw withdrawn4 + mpUnreach, install nlri4 (next hop u.nextHop) and
//          mpReach (next hop u.mpNextHop*) with the attributes below }
//
// sessionFlags are the SF_* bits of ./wire (SF_AS4: 4-octet AS negotiated;
// SF_ADDPATH_V4/V6: add-path receive negotiated for that family).
// The returned object is one reused singleton: copy what you keep before the
// next call. Prefix lists are entry arrays (layouts in ./nlri: 12 bytes per
// IPv4 prefix [pathId, address, length], 24 per IPv6 [pathId, length, a0..a3]).
// Pointers named *Ptr into the message (communities, cluster list, raw
// attribute section) stay valid only while the message bytes do.
// For interning, attrPtr/attrLen is the whole raw attribute section;
// mpReachAttrPtr/Len and mpUnreachAttrPtr/Len give the MP attributes' own
// spans (header included) so they can be skipped when hashing.
// u.mpReach / u.mpUnreach hold prefixes only when u.mpReachSupported /
// u.mpUnreachSupported (IPv4/IPv6 unicast; u.mpReachAfi says which); other
// families are left raw. u.mpNextHop holds u.mpNextHopLen raw bytes (4, 16,
// or 32 = global + link-local). AS_PATH (u.asPath words) is already merged
// with AS4_PATH on 2-octet sessions; u.asPathLength and u.firstAs are ready
// for the decision process. u.discardCount attributes were dropped (RFC 7606
// attribute discard, duplicates): the UPDATE stands without them.
// Left to the caller because they depend on the session, not the bytes:
// first-AS / AS-loop checks, LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from
// eBGP peers (RFC 7606 7.5/7.9/7.10: discard), families not negotiated.
// To build UPDATEs in-core, see ./encode (buildUpdateV4 / buildUpdateMp).
// Every read is bounds-checked against the message end; nothing allocates.
// ---------------------------------------------------------------------------
import {
  A_AGGREGATOR, A_AS4_AGGREGATOR, A_AS4_PATH, A_AS_PATH, A_ATOMIC_AGGREGATE, A_CLUSTER_LIST,
  A_COMMUNITIES, A_EXT_COMMUNITIES, A_LARGE_COMMUNITY, A_LOCAL_PREF, A_MED, A_MP_REACH,
  A_MP_UNREACH, A_NEXT_HOP, A_ORIGIN, A_ORIGINATOR_ID, AFI_IPV4, AFI_IPV6, AS_TRANS,
  F_EXTENDED, F_OPTIONAL, F_PARTIAL, F_TRANSITIVE, HEADER_LEN, R_AS4_PATH, R_AS_PATH,
  R_ATTRIBUTE_LENGTH, R_ATTRIBUTE_OVERRUN, R_ATTRIBUTES_LENGTH, R_DUPLICATE, R_DUPLICATE_MP,
  R_FLAGS, R_MISSING, R_MP_MALFORMED, R_MP_NEXT_HOP, R_MP_NEXT_HOP_LENGTH, R_MP_PREFIX, R_NEXT_HOP,
  R_NLRI_PREFIX, R_ORIGIN_VALUE, R_UNRECOGNIZED_WELL_KNOWN, R_WITHDRAWN_LENGTH,
  R_WITHDRAWN_PREFIX, R_AS_ZERO, R_LENGTH, SAFI_UNICAST, SEG_CONFED_SEQUENCE, SEG_CONFED_SET, SEG_SEQUENCE,
  SEG_SET, SF_ADDPATH_V4, SF_ADDPATH_V6, SF_AS4, block, rd16, rd32, rd8,
} from "./wire";
import { parseV4, parseV6, V4_ENTRY, V6_ENTRY } from "./nlri";

export const UPD_OK: u32 = 0;
/** Bytes left free before each prefix list in arena mode. */
export const ARENA_GAP: usize = 16;
export const UPD_SESSION_RESET: u32 = 1;

// Sized for the largest (extended) message: every prefix takes at least one byte.
const MAX_PREFIXES: usize = 65536;
const MAX_WORDS: usize = 65536;
const MAX_ATTRS: usize = 65536 / 3 + 1;

@unmanaged export class ParsedUpdate {
  msgPtr: usize = 0;
  msgLen: u32 = 0;
  sessionFlags: u32 = 0;

  // Outcome. status UPD_SESSION_RESET: the NOTIFICATION to send.
  status: u32 = UPD_OK;
  errCode: u32 = 0;
  errSubcode: u32 = 0;
  errReason: u32 = 0;
  errAttr: u32 = 0;
  errDataPtr: usize = 0;
  errDataLen: u32 = 0;
  // RFC 7606 treat-as-withdraw (the first cause).
  treatAsWithdraw: bool = false;
  tawCode: u32 = 0;
  tawSubcode: u32 = 0;
  tawReason: u32 = 0;
  tawAttr: u32 = 0;
  // RFC 7606 attribute discard (and discarded duplicates): pairs [code, reason].
  discardCount: u32 = 0;
  discards: usize = block(MAX_ATTRS * 8);

  // Prefix lists (entry arrays, see ./nlri). The pointers are set by each
  // parse: into the fixed blocks below, or into the caller's arena (where an
  // empty list may share its address with the next one).
  withdrawn4: usize = 0;
  withdrawn4Count: u32 = 0;
  nlri4: usize = 0;
  nlri4Count: u32 = 0;
  withdrawn4Block: usize = block(MAX_PREFIXES * V4_ENTRY);
  nlri4Block: usize = block(MAX_PREFIXES * V4_ENTRY);
  mpReachBlock: usize = block(MAX_PREFIXES * V6_ENTRY);
  mpUnreachBlock: usize = block(MAX_PREFIXES * V6_ENTRY);
  // Arena mode (parseUpdateInto): each list is placed at the cursor, after
  // ARENA_GAP bytes the caller fills in (the decoder's record header).
  arena: usize = 0;

  mpReachPresent: bool = false;
  mpReachSupported: bool = false; // IPv4/IPv6 unicast; other families are kept raw
  mpReachAfi: u32 = 0;
  mpReachSafi: u32 = 0;
  mpReachAttrPtr: usize = 0;
  mpReachAttrLen: u32 = 0;
  mpNextHopLen: u32 = 0; // 4, 16 or 32 (global + link-local)
  mpNextHop: usize = block(32); // raw next hop bytes
  mpReach: usize = 0;
  mpReachCount: u32 = 0;

  mpUnreachPresent: bool = false;
  mpUnreachSupported: bool = false;
  mpUnreachAfi: u32 = 0;
  mpUnreachSafi: u32 = 0;
  mpUnreachAttrPtr: usize = 0;
  mpUnreachAttrLen: u32 = 0;
  mpUnreach: usize = 0;
  mpUnreachCount: u32 = 0;

  // The raw path attribute section.
  attrPtr: usize = 0;
  attrLen: u32 = 0;
  // Accepted attributes in wire order: [code, flags, valuePtr, valueLen] (16 bytes each).
  attrCount: u32 = 0;
  attrs: usize = block(MAX_ATTRS * 16);
  seen: usize = block(32); // one bit per attribute type code

  origin: i32 = -1; // 0 IGP, 1 EGP, 2 INCOMPLETE; -1 absent
  hasAsPath: bool = false;
  // AS_PATH after the RFC 6793 merge: segments [type, count, asn...] as u32 words.
  asPath: usize = block(MAX_WORDS * 4);
  asPathWords: u32 = 0;
  asPathLength: u32 = 0; // RFC 4271 9.1.2.2: AS_SET counts 1, confederation segments 0
  firstAs: u32 = 0; // leftmost AS of a leading AS_SEQUENCE, else 0
  // AS4_PATH as received (segments words), for display and re-encoding.
  hasAs4Path: bool = false;
  as4Path: usize = block(MAX_WORDS * 4);
  as4PathWords: u32 = 0;
  hasNextHop: bool = false;
  nextHop: u32 = 0;
  hasMed: bool = false;
  med: u32 = 0;
  hasLocalPref: bool = false;
  localPref: u32 = 0;
  atomicAggregate: bool = false;
  hasAggregator: bool = false; // after the AS4_AGGREGATOR merge
  aggregatorAs: u32 = 0;
  aggregatorAddr: u32 = 0;
  hasAs4Aggregator: bool = false;
  as4AggregatorAs: u32 = 0;
  as4AggregatorAddr: u32 = 0;
  hasOriginatorId: bool = false;
  originatorId: u32 = 0;
  clusterListPtr: usize = 0; // big-endian u32 values
  clusterListCount: u32 = 0;
  communitiesPtr: usize = 0; // big-endian u32 values
  communitiesCount: u32 = 0;
  extCommunitiesPtr: usize = 0; // 8-byte values
  extCommunitiesCount: u32 = 0;
  largeCommunitiesPtr: usize = 0; // 12-byte values
  largeCommunitiesCount: u32 = 0;

  // Scratch for RFC 6793 merging.
  mergeTmp: usize = block(MAX_WORDS * 4);

  reset(msg: usize, len: u32, flags: u32): void {
    this.msgPtr = msg;
    this.msgLen = len;
    this.sessionFlags = flags;
    this.status = UPD_OK;
    this.errCode = 0;
    this.errSubcode = 0;
    this.errReason = 0;
    this.errAttr = 0;
    this.errDataPtr = 0;
    this.errDataLen = 0;
    this.treatAsWithdraw = false;
    this.tawCode = 0;
    this.tawSubcode = 0;
    this.tawReason = 0;
    this.tawAttr = 0;
    this.discardCount = 0;
    this.withdrawn4 = this.withdrawn4Block;
    this.withdrawn4Count = 0;
    this.nlri4 = this.nlri4Block;
    this.nlri4Count = 0;
    this.mpReach = this.mpReachBlock;
    this.mpUnreach = this.mpUnreachBlock;
    this.mpReachPresent = false;
    this.mpReachSupported = false;
    this.mpReachAfi = 0;
    this.mpReachSafi = 0;
    this.mpReachAttrPtr = 0;
    this.mpReachAttrLen = 0;
    this.mpNextHopLen = 0;
    this.mpReachCount = 0;
    this.mpUnreachPresent = false;
    this.mpUnreachSupported = false;
    this.mpUnreachAfi = 0;
    this.mpUnreachSafi = 0;
    this.mpUnreachAttrPtr = 0;
    this.mpUnreachAttrLen = 0;
    this.mpUnreachCount = 0;
    this.attrPtr = 0;
    this.attrLen = 0;
    this.attrCount = 0;
    memory.fill(this.seen, 0, 32);
    this.origin = -1;
    this.hasAsPath = false;
    this.asPathWords = 0;
    this.asPathLength = 0;
    this.firstAs = 0;
    this.hasAs4Path = false;
    this.as4PathWords = 0;
    this.hasNextHop = false;
    this.nextHop = 0;
    this.hasMed = false;
    this.med = 0;
    this.hasLocalPref = false;
    this.localPref = 0;
    this.atomicAggregate = false;
    this.hasAggregator = false;
    this.aggregatorAs = 0;
    this.aggregatorAddr = 0;
    this.hasAs4Aggregator = false;
    this.as4AggregatorAs = 0;
    this.as4AggregatorAddr = 0;
    this.hasOriginatorId = false;
    this.originatorId = 0;
    this.clusterListPtr = 0;
    this.clusterListCount = 0;
    this.communitiesPtr = 0;
    this.communitiesCount = 0;
    this.extCommunitiesPtr = 0;
    this.extCommunitiesCount = 0;
    this.largeCommunitiesPtr = 0;
    this.largeCommunitiesCount = 0;
  }

  /** Session reset with a NOTIFICATION (the first one wins). */
  fail(code: u32, subcode: u32, reason: u32, attr: u32, dataPtr: usize, dataLen: u32): void {
    if (this.status == UPD_SESSION_RESET) return;
    this.status = UPD_SESSION_RESET;
    this.errCode = code;
    this.errSubcode = subcode;
    this.errReason = reason;
    this.errAttr = attr;
    this.errDataPtr = dataPtr;
    this.errDataLen = dataLen;
  }

  withdraw(subcode: u32, reason: u32, attr: u32): void {
    if (this.treatAsWithdraw) return;
    this.treatAsWithdraw = true;
    this.tawCode = 3;
    this.tawSubcode = subcode;
    this.tawReason = reason;
    this.tawAttr = attr;
  }

  discard(code: u32, reason: u32): void {
    const e = this.discards + <usize>this.discardCount * 8;
    store<u32>(e, code);
    store<u32>(e, reason, 4);
    this.discardCount++;
  }

  @inline wasSeen(code: u32): bool {
    return (load<u32>(this.seen + ((code >> 5) << 2)) & (1 << (code & 31))) != 0;
  }

  @inline markSeen(code: u32): void {
    const w = this.seen + ((code >> 5) << 2);
    store<u32>(w, load<u32>(w) | (1 << (code & 31)));
  }

  /** Where the next prefix list goes: the fixed block, or the arena cursor past the gap. */
  @inline listAt(fixed: usize): usize {
    return this.arena == 0 ? fixed : this.arena + ARENA_GAP;
  }

  /** Advances the arena cursor past a list of n entries of size bytes (an empty list takes no room). */
  @inline listDone(at: usize, n: u32, size: u32): void {
    if (this.arena != 0 && n != 0) this.arena = at + <usize>n * size;
  }

  accept(code: u32, flags: u32, value: usize, len: u32): void {
    const e = this.attrs + <usize>this.attrCount * 16;
    store<u32>(e, code);
    store<u32>(e, flags, 4);
    store<u32>(e, <u32>value, 8);
    store<u32>(e, len, 12);
    this.attrCount++;
  }
}

// Unmanaged (like Buf): a singleton outside the GC, so passing it around costs nothing.
export const UPD = new ParsedUpdate();

/** The attribute flag bits (optional, transitive) each known attribute must carry. */
function expectedFlags(code: u32): i32 {
  switch (code) {
    case A_ORIGIN: case A_AS_PATH: case A_NEXT_HOP: case A_LOCAL_PREF: case A_ATOMIC_AGGREGATE:
      return <i32>F_TRANSITIVE;
    case A_MED: case A_ORIGINATOR_ID: case A_CLUSTER_LIST: case A_MP_REACH: case A_MP_UNREACH:
      return <i32>F_OPTIONAL;
    case A_AGGREGATOR: case A_COMMUNITIES: case A_EXT_COMMUNITIES: case A_AS4_PATH:
    case A_AS4_AGGREGATOR: case A_LARGE_COMMUNITY:
      return <i32>(F_OPTIONAL | F_TRANSITIVE);
  }
  return -1;
}

/** Flags conflict (RFC 4271 6.3, RFC 7606 3.c): optional/transitive bits, and partial on non-transitive or well-known. */
function flagsConflict(flags: u32, expected: u32): bool {
  if ((flags & (F_OPTIONAL | F_TRANSITIVE)) != expected) return true;
  if ((flags & F_PARTIAL) != 0 && expected != (F_OPTIONAL | F_TRANSITIVE)) return true;
  return false;
}

/**
 * Parses AS_PATH / AS4_PATH segments into [type, count, asn...] words at dst.
 * Returns the word count, or -1 when malformed (RFC 7606 7.2: unknown segment
 * type, zero-length segment, overrun; RFC 7607: AS 0).
 */
function parseSegments(p: usize, end: usize, asSize: u32, dst: usize, maxWords: usize): i32 {
  let words: usize = 0;
  while (p < end) {
    if (p + 2 > end) return -1;
    const type = rd8(p);
    const count = rd8(p + 1);
    p += 2;
    if (type < SEG_SET || type > SEG_CONFED_SET || count == 0) return -1;
    const bytes = <usize>count * asSize;
    if (p + bytes > end) return -1;
    if (words + 2 + count > maxWords) return -1;
    store<u32>(dst + words * 4, type);
    store<u32>(dst + words * 4 + 4, count);
    words += 2;
    for (let i: u32 = 0; i < count; i++) {
      const asn = asSize == 4 ? rd32(p) : rd16(p);
      if (asn == 0) return -1; // RFC 7607: AS 0 makes the path malformed
      store<u32>(dst + words * 4, asn);
      words++;
      p += asSize;
    }
  }
  return <i32>words;
}

/** RFC 4271 9.1.2.2 path length: AS_SET counts 1, confederation segments count 0 (RFC 5065). */
function pathLength(segs: usize, words: u32): u32 {
  let n: u32 = 0;
  let i: u32 = 0;
  while (i < words) {
    const type = load<u32>(segs + <usize>i * 4);
    const count = load<u32>(segs + <usize>i * 4 + 4);
    if (type == SEG_SEQUENCE) n += count;
    else if (type == SEG_SET) n += 1;
    i += 2 + count;
  }
  return n;
}

/** Appends one segment to dst, joining it to a preceding AS_SEQUENCE when both are sequences (<= 255 ASNs). */
function appendSegment(dst: usize, words: u32, lastSeg: i32, type: u32, src: usize, count: u32): u32 {
  if (lastSeg >= 0 && type == SEG_SEQUENCE && load<u32>(dst + <usize>lastSeg * 4) == SEG_SEQUENCE) {
    const have = load<u32>(dst + <usize>lastSeg * 4 + 4);
    if (have + count <= 255) {
      memory.copy(dst + <usize>words * 4, src, <usize>count * 4);
      store<u32>(dst + <usize>lastSeg * 4 + 4, have + count);
      return words + count;
    }
  }
  store<u32>(dst + <usize>words * 4, type);
  store<u32>(dst + <usize>words * 4 + 4, count);
  memory.copy(dst + <usize>words * 4 + 8, src, <usize>count * 4);
  return words + 2 + count;
}

/** RFC 6793 4.2.3: AS_PATH (with AS_TRANS) + AS4_PATH -> the 4-octet path. */
function mergeAs4Path(u: ParsedUpdate): void {
  // Confederation segments in AS4_PATH are ignored.
  let m: u32 = 0;
  let i: u32 = 0;
  while (i < u.as4PathWords) {
    const type = load<u32>(u.as4Path + <usize>i * 4);
    const count = load<u32>(u.as4Path + <usize>i * 4 + 4);
    if (type == SEG_SEQUENCE) m += count;
    else if (type == SEG_SET) m += 1;
    i += 2 + count;
  }
  const n = u.asPathLength;
  if (n < m) return; // AS4_PATH longer than AS_PATH: ignore it
  let take = n - m;
  const out = u.mergeTmp;
  let words: u32 = 0;
  let last: i32 = -1;
  i = 0;
  while (i < u.asPathWords) {
    const type = load<u32>(u.asPath + <usize>i * 4);
    const count = load<u32>(u.asPath + <usize>i * 4 + 4);
    const src = u.asPath + <usize>i * 4 + 8;
    if (type == SEG_SEQUENCE) {
      if (take == 0) break;
      const c = count < take ? count : take;
      const start = words;
      words = appendSegment(out, words, last, type, src, c);
      if (words - start != c) last = <i32>start;
      take -= c;
    } else if (type == SEG_SET) {
      if (take == 0) break;
      last = <i32>words;
      words = appendSegment(out, words, -1, type, src, count);
      take -= 1;
    } else {
      last = <i32>words;
      words = appendSegment(out, words, -1, type, src, count);
    }
    i += 2 + count;
  }
  i = 0;
  while (i < u.as4PathWords) {
    const type = load<u32>(u.as4Path + <usize>i * 4);
    const count = load<u32>(u.as4Path + <usize>i * 4 + 4);
    if (type == SEG_SEQUENCE || type == SEG_SET) {
      const start = words;
      words = appendSegment(out, words, last, type, u.as4Path + <usize>i * 4 + 8, count);
      if (words - start != count) last = <i32>start;
    }
    i += 2 + count;
  }
  memory.copy(u.asPath, out, <usize>words * 4);
  u.asPathWords = words;
}

function finishAsPath(u: ParsedUpdate): void {
  u.asPathLength = pathLength(u.asPath, u.asPathWords);
  if (u.hasAs4Path && (u.sessionFlags & SF_AS4) == 0) {
    // RFC 6793 4.2.3: AS4 information is ignored when AGGREGATOR carries a real 2-octet AS.
    const aggregatorIsTrans = !u.hasAggregator || u.aggregatorAs == AS_TRANS;
    if (aggregatorIsTrans) {
      mergeAs4Path(u);
      u.asPathLength = pathLength(u.asPath, u.asPathWords);
    }
  }
  if (u.hasAs4Aggregator && (u.sessionFlags & SF_AS4) == 0 && u.hasAggregator && u.aggregatorAs == AS_TRANS) {
    u.aggregatorAs = u.as4AggregatorAs;
    u.aggregatorAddr = u.as4AggregatorAddr;
  }
  u.firstAs = 0;
  if (u.asPathWords >= 3 && load<u32>(u.asPath) == SEG_SEQUENCE) u.firstAs = load<u32>(u.asPath, 8);
}

/** MP_REACH_NLRI (RFC 4760 3, RFC 8950). Malformed -> session reset 3/9 (RFC 7606 7.11). */
function parseMpReach(u: ParsedUpdate, hdr: usize, v: usize, len: u32, hdrLen: u32): void {
  u.mpReachPresent = true;
  u.mpReachAttrPtr = hdr;
  u.mpReachAttrLen = hdrLen + len;
  const end = v + len;
  if (len < 5) { u.fail(3, 9, R_MP_MALFORMED, A_MP_REACH, hdr, hdrLen + len); return; }
  const afi = rd16(v);
  const safi = rd8(v + 2);
  const nhLen = rd8(v + 3);
  u.mpReachAfi = afi;
  u.mpReachSafi = safi;
  if (v + 4 + nhLen + 1 > end) { u.fail(3, 9, R_MP_MALFORMED, A_MP_REACH, hdr, hdrLen + len); return; }
  if (safi != SAFI_UNICAST || (afi != AFI_IPV4 && afi != AFI_IPV6)) return; // kept raw
  u.mpReachSupported = true;
  const okLen = afi == AFI_IPV4 ? (nhLen == 4 || nhLen == 16 || nhLen == 32) : (nhLen == 16 || nhLen == 32);
  if (!okLen) { u.fail(3, 9, R_MP_NEXT_HOP_LENGTH, A_MP_REACH, hdr, hdrLen + len); return; }
  u.mpNextHopLen = nhLen;
  memory.copy(u.mpNextHop, v + 4, nhLen);
  const nlri = v + 5 + nhLen; // one reserved octet after the next hop
  const at = u.listAt(u.mpReachBlock);
  u.mpReach = at;
  const n = afi == AFI_IPV4
    ? parseV4(nlri, end, (u.sessionFlags & SF_ADDPATH_V4) != 0, at)
    : parseV6(nlri, end, (u.sessionFlags & SF_ADDPATH_V6) != 0, at);
  if (n < 0) { u.fail(3, 9, R_MP_PREFIX, A_MP_REACH, hdr, hdrLen + len); return; }
  u.mpReachCount = <u32>n;
  u.listDone(at, <u32>n, afi == AFI_IPV4 ? V4_ENTRY : V6_ENTRY);
  // Same checks as NEXT_HOP, for every family and encoding (RFC 7606: treat-as-withdraw).
  const usable = nhLen == 4 ? validNextHop(rd32(u.mpNextHop)) : validNextHop6(u.mpNextHop);
  if (!usable) u.withdraw(8, R_MP_NEXT_HOP, A_MP_REACH);
}

function parseMpUnreach(u: ParsedUpdate, hdr: usize, v: usize, len: u32, hdrLen: u32): void {
  u.mpUnreachPresent = true;
  u.mpUnreachAttrPtr = hdr;
  u.mpUnreachAttrLen = hdrLen + len;
  if (len < 3) { u.fail(3, 9, R_MP_MALFORMED, A_MP_UNREACH, hdr, hdrLen + len); return; }
  const afi = rd16(v);
  const safi = rd8(v + 2);
  u.mpUnreachAfi = afi;
  u.mpUnreachSafi = safi;
  if (safi != SAFI_UNICAST || (afi != AFI_IPV4 && afi != AFI_IPV6)) return;
  u.mpUnreachSupported = true;
  const at = u.listAt(u.mpUnreachBlock);
  u.mpUnreach = at;
  const n = afi == AFI_IPV4
    ? parseV4(v + 3, v + len, (u.sessionFlags & SF_ADDPATH_V4) != 0, at)
    : parseV6(v + 3, v + len, (u.sessionFlags & SF_ADDPATH_V6) != 0, at);
  if (n < 0) { u.fail(3, 9, R_MP_PREFIX, A_MP_UNREACH, hdr, hdrLen + len); return; }
  u.mpUnreachCount = <u32>n;
  u.listDone(at, <u32>n, afi == AFI_IPV4 ? V4_ENTRY : V6_ENTRY);
}

/**
 * A valid unicast host address for NEXT_HOP (RFC 4271 6.3): not in 0.0.0.0/8, not
 * multicast or reserved (224.0.0.0/3, broadcast included). 127/8 stays usable, as
 * FRR allows for testing: sessions on loopback addresses are common in labs.
 */
function validNextHop(a: u32): bool {
  return (a >> 24) != 0 && (a >> 29) != 7;
}

/**
 * The global part of an IPv6 next hop (RFC 2545: always present; a link-local one
 * may follow): not ::, not ::1, not multicast, not link-local (no usable global address).
 */
function validNextHop6(p: usize): bool {
  const hi = bswap<u64>(load<u64>(p));
  const lo = bswap<u64>(load<u64>(p + 8));
  if (hi == 0 && (lo == 0 || lo == 1)) return false;
  if ((hi >> 56) == 0xff) return false;
  return (hi >> 54) != (0xfe80 >> 6);
}

/** Parses one attribute's value; records the outcome on u. Returns false when it was not accepted. */
function parseAttribute(u: ParsedUpdate, code: u32, flags: u32, hdr: usize, v: usize, len: u32, hdrLen: u32): bool {
  const as4 = (u.sessionFlags & SF_AS4) != 0;
  const whole = hdrLen + len;
  switch (code) {
    case A_ORIGIN: {
      if (len != 1) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      const o = rd8(v);
      if (o > 2) { u.withdraw(6, R_ORIGIN_VALUE, code); return false; }
      u.origin = <i32>o;
      return true;
    }
    case A_AS_PATH: {
      const w = parseSegments(v, v + len, as4 ? 4 : 2, u.asPath, MAX_WORDS);
      if (w < 0) { u.withdraw(11, R_AS_PATH, code); return false; }
      u.hasAsPath = true;
      u.asPathWords = <u32>w;
      return true;
    }
    case A_NEXT_HOP: {
      if (len != 4) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      u.hasNextHop = true;
      u.nextHop = rd32(v);
      return true;
    }
    case A_MED: {
      if (len != 4) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      u.hasMed = true;
      u.med = rd32(v);
      return true;
    }
    case A_LOCAL_PREF: {
      if (len != 4) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      u.hasLocalPref = true;
      u.localPref = rd32(v);
      return true;
    }
    case A_ATOMIC_AGGREGATE: {
      if (len != 0) { u.discard(code, R_ATTRIBUTE_LENGTH); return false; }
      u.atomicAggregate = true;
      return true;
    }
    case A_AGGREGATOR: {
      if (len != (as4 ? 8 : 6)) { u.discard(code, R_ATTRIBUTE_LENGTH); return false; }
      if ((as4 ? rd32(v) : rd16(v)) == 0) { u.discard(code, R_AS_ZERO); return false; } // RFC 7607
      u.hasAggregator = true;
      u.aggregatorAs = as4 ? rd32(v) : rd16(v);
      u.aggregatorAddr = rd32(v + (as4 ? 4 : 2));
      return true;
    }
    case A_COMMUNITIES: {
      if (len == 0 || (len & 3) != 0) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      u.communitiesPtr = v;
      u.communitiesCount = len >> 2;
      return true;
    }
    case A_ORIGINATOR_ID: {
      if (len != 4) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      u.hasOriginatorId = true;
      u.originatorId = rd32(v);
      return true;
    }
    case A_CLUSTER_LIST: {
      if (len == 0 || (len & 3) != 0) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      u.clusterListPtr = v;
      u.clusterListCount = len >> 2;
      return true;
    }
    case A_MP_REACH: {
      parseMpReach(u, hdr, v, len, hdrLen);
      return u.status == UPD_OK;
    }
    case A_MP_UNREACH: {
      parseMpUnreach(u, hdr, v, len, hdrLen);
      return u.status == UPD_OK;
    }
    case A_EXT_COMMUNITIES: {
      if (len == 0 || (len & 7) != 0) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      u.extCommunitiesPtr = v;
      u.extCommunitiesCount = len >> 3;
      return true;
    }
    case A_AS4_PATH: {
      // RFC 6793 / RFC 7606 7.x: a malformed AS4_PATH is discarded.
      const w = parseSegments(v, v + len, 4, u.as4Path, MAX_WORDS);
      if (w < 0) { u.discard(code, R_AS4_PATH); return false; }
      u.hasAs4Path = true;
      u.as4PathWords = <u32>w;
      return true;
    }
    case A_AS4_AGGREGATOR: {
      if (len != 8) { u.discard(code, R_ATTRIBUTE_LENGTH); return false; }
      if (rd32(v) == 0) { u.discard(code, R_AS_ZERO); return false; } // RFC 7607
      u.hasAs4Aggregator = true;
      u.as4AggregatorAs = rd32(v);
      u.as4AggregatorAddr = rd32(v + 4);
      return true;
    }
    case A_LARGE_COMMUNITY: {
      if (len == 0 || len % 12 != 0) { u.withdraw(5, R_ATTRIBUTE_LENGTH, code); return false; }
      u.largeCommunitiesPtr = v;
      u.largeCommunitiesCount = len / 12;
      return true;
    }
  }
  // Unrecognized: well-known -> 3/2 with the attribute as data; optional -> passed through.
  if ((flags & F_OPTIONAL) == 0) {
    u.fail(3, 2, R_UNRECOGNIZED_WELL_KNOWN, code, hdr, whole);
    return false;
  }
  return true;
}

/**
 * Parses the UPDATE message at msg (header included, len = header Length,
 * already checked by the framing). See the comment block at the top.
 */
export function parseUpdate(msg: usize, len: u32, flags: u32): ParsedUpdate {
  return parseUpdateInto(msg, len, flags, 0);
}

/**
 * parseUpdate, placing the prefix lists in an arena instead of the fixed
 * blocks: each list starts ARENA_GAP bytes after the end of the previous one
 * (withdrawn, then MP lists in attribute order, then NLRI); u.arena ends past
 * the last. The arena needs room for len * 24 + 4 * ARENA_GAP bytes. The
 * decoder uses this to write prefixes straight into its output records.
 */
export function parseUpdateInto(msg: usize, len: u32, flags: u32, arena: usize): ParsedUpdate {
  const u = UPD;
  u.reset(msg, len, flags);
  u.arena = arena;
  const body = msg + HEADER_LEN;
  const end = msg + len;
  if (len < HEADER_LEN + 4) { u.fail(1, 2, R_LENGTH, 0, msg + 16, 2); return u; }
  const wdLen = rd16(body);
  const wdStart = body + 2;
  if (wdStart + wdLen + 2 > end) { u.fail(3, 1, R_WITHDRAWN_LENGTH, 0, 0, 0); return u; }
  const attrLenPos = wdStart + wdLen;
  const attrLen = rd16(attrLenPos);
  const attrStart = attrLenPos + 2;
  const attrEnd = attrStart + attrLen;
  if (attrEnd > end) { u.fail(3, 1, R_ATTRIBUTES_LENGTH, 0, 0, 0); return u; }
  u.attrPtr = attrStart;
  u.attrLen = attrLen;

  const wat = u.listAt(u.withdrawn4Block);
  u.withdrawn4 = wat;
  const nw = parseV4(wdStart, attrLenPos, (flags & SF_ADDPATH_V4) != 0, wat);
  if (nw < 0) { u.fail(3, 10, R_WITHDRAWN_PREFIX, 0, 0, 0); return u; }
  u.withdrawn4Count = <u32>nw;
  u.listDone(wat, <u32>nw, V4_ENTRY);

  // Path attributes. The Total Attribute Length locates the NLRI even when
  // an attribute inside overruns (RFC 7606 4: treat-as-withdraw).
  let p = attrStart;
  let complete = true;
  while (p < attrEnd) {
    if (p + 3 > attrEnd) { u.withdraw(1, R_ATTRIBUTE_OVERRUN, 0); complete = false; break; }
    const aflags = rd8(p);
    const code = rd8(p + 1);
    const ext = (aflags & F_EXTENDED) != 0;
    const hdrLen: u32 = ext ? 4 : 3;
    if (p + hdrLen > attrEnd) { u.withdraw(1, R_ATTRIBUTE_OVERRUN, code); complete = false; break; }
    const alen = ext ? rd16(p + 2) : rd8(p + 2);
    const v = p + hdrLen;
    if (v + alen > attrEnd) { u.withdraw(1, R_ATTRIBUTE_OVERRUN, code); complete = false; break; }
    const hdr = p;
    p = v + alen;
    if (u.wasSeen(code)) {
      if (code == A_MP_REACH || code == A_MP_UNREACH) { u.fail(3, 1, R_DUPLICATE_MP, code, 0, 0); return u; }
      u.discard(code, R_DUPLICATE); // RFC 7606 3.g: keep the first
      continue;
    }
    u.markSeen(code);
    const expected = expectedFlags(code);
    if (expected >= 0 && flagsConflict(aflags, <u32>expected)) {
      // RFC 7606 3.c: treat-as-withdraw; AS4_* (RFC 6793) are discarded instead.
      if (code == A_AS4_PATH || code == A_AS4_AGGREGATOR) { u.discard(code, R_FLAGS); continue; }
      u.withdraw(4, R_FLAGS, code);
      // MP attributes are still parsed so their prefixes can be withdrawn.
      if (code == A_MP_REACH) parseMpReach(u, hdr, v, alen, hdrLen);
      else if (code == A_MP_UNREACH) parseMpUnreach(u, hdr, v, alen, hdrLen);
      if (u.status != UPD_OK) return u;
      continue;
    }
    if (parseAttribute(u, code, aflags, hdr, v, alen, hdrLen)) u.accept(code, aflags, v, alen);
    if (u.status != UPD_OK) return u;
  }

  const nat = u.listAt(u.nlri4Block);
  u.nlri4 = nat;
  const nn = parseV4(attrEnd, end, (flags & SF_ADDPATH_V4) != 0, nat);
  if (nn < 0) { u.fail(3, 10, R_NLRI_PREFIX, 0, 0, 0); return u; }
  u.nlri4Count = <u32>nn;
  u.listDone(nat, <u32>nn, V4_ENTRY);

  finishAsPath(u);

  // Mandatory attributes (RFC 4271 6.3, RFC 7606 3.d) when the UPDATE carries reachability.
  if (complete && (u.nlri4Count > 0 || u.mpReachCount > 0)) {
    if (u.origin < 0 && !u.wasSeen(A_ORIGIN)) { u.withdraw(3, R_MISSING, A_ORIGIN); }
    else if (!u.hasAsPath && !u.wasSeen(A_AS_PATH)) { u.withdraw(3, R_MISSING, A_AS_PATH); }
    else if (u.nlri4Count > 0 && !u.hasNextHop && !u.wasSeen(A_NEXT_HOP)) { u.withdraw(3, R_MISSING, A_NEXT_HOP); }
  }
  if (u.nlri4Count > 0 && u.hasNextHop && !validNextHop(u.nextHop)) u.withdraw(8, R_NEXT_HOP, A_NEXT_HOP);
  return u;
}
