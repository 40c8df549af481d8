// Message framing and the decode path for the host: one call per chunk,
// compact records out (layouts in ./records).
import {
  A_AGGREGATOR, A_AS4_AGGREGATOR, A_AS4_PATH, A_AS_PATH, A_ATOMIC_AGGREGATE, A_CLUSTER_LIST,
  A_COMMUNITIES, A_EXT_COMMUNITIES, A_LARGE_COMMUNITY, A_LOCAL_PREF, A_MED, A_MP_REACH, A_MP_UNREACH,
  A_NEXT_HOP, A_ORIGIN, A_ORIGINATOR_ID, AFI_IPV4, F_EXTENDED, HEADER_LEN, K_DISCARD, K_FRAMING,
  K_NOTIFICATION, K_TREAT_AS_WITHDRAW, MAX_EXTENDED_MESSAGE, MAX_MESSAGE, MSG_KEEPALIVE,
  MSG_NOTIFICATION, MSG_OPEN, MSG_ROUTE_REFRESH, MSG_UPDATE, R_CAPABILITY, R_LENGTH, R_MARKER,
  R_OPEN_HOLD_TIME, R_OPEN_PARAMS_LENGTH, R_OPEN_PEER_AS, R_OPEN_ROUTER_ID, R_OPEN_UNSUPPORTED_PARAM,
  R_OPEN_VERSION, R_ROUTE_REFRESH_LENGTH, R_TYPE, SF_EXTENDED_MESSAGE, rd16, rd32, rd8,
} from "./wire";
import { IN, OUT, rec, recError, T_ATTR, T_CAP, T_MSG, T_NOTIF, T_OPEN, T_PFX, T_RAW, T_RR, T_UPD } from "./records";
import { ARENA_GAP, ParsedUpdate, parseUpdateInto, UPD_SESSION_RESET } from "./update";
import { V4_ENTRY, V6_ENTRY } from "./nlri";

/** frameMessage results below zero. */
export const FRAME_BAD_MARKER: i32 = -1;
export const FRAME_BAD_LENGTH: i32 = -2;

/**
 * Checks the header at p with avail bytes buffered. Returns the message
 * length when it is complete, 0 when more bytes are needed, or
 * FRAME_BAD_MARKER / FRAME_BAD_LENGTH (RFC 4271 6.1: 1/1, 1/2; the stream cannot continue).
 */
export function frameMessage(p: usize, avail: u32, sessionFlags: u32): i32 {
  if (avail < HEADER_LEN) return 0;
  if (load<u64>(p) != 0xffffffffffffffff || load<u64>(p, 8) != 0xffffffffffffffff) return FRAME_BAD_MARKER;
  const len = rd16(p + 16);
  const max = (sessionFlags & SF_EXTENDED_MESSAGE) != 0 ? MAX_EXTENDED_MESSAGE : MAX_MESSAGE;
  if (len < HEADER_LEN || len > max) return FRAME_BAD_LENGTH;
  if (len > avail) return 0;
  return <i32>len;
}

let dataScratch: usize = 0;

/** Counters of the last decodeChunk call (for benchmarks and metrics). */
export let decodedMessages: u32 = 0;
export let decodedPrefixes: u32 = 0;

@inline function off(p: usize): u32 { return <u32>(p - IN.ptr); }

function notify(code: u32, subcode: u32, reason: u32, dataPtr: usize, dataLen: u32): void {
  recError(K_NOTIFICATION, code, subcode, reason, 0, dataPtr, dataLen);
}

/** Type-specific minimum/exact lengths (RFC 4271 6.1); false after writing a 1/2 error. */
function lengthFits(m: usize, type: u32, len: u32): bool {
  let ok = true;
  if (type == MSG_OPEN) ok = len >= 29 && len <= MAX_MESSAGE;
  else if (type == MSG_UPDATE) ok = len >= 23;
  else if (type == MSG_NOTIFICATION) ok = len >= 21;
  else if (type == MSG_KEEPALIVE) ok = len == 19;
  else if (type == MSG_ROUTE_REFRESH) ok = len >= 23;
  if (!ok) notify(1, 2, R_LENGTH, m + 16, 2);
  return ok;
}

// ---- OPEN (RFC 4271 4.2/6.2, RFC 5492, RFC 9072) ----

let capCount: u32 = 0;
let paramCount: u32 = 0;

let badPeerAs = false;

/** n graceful-restart or add-path tuples at p, AFI(2) SAFI(1) octet(1) each, as three words per tuple. */
function afiSafiOctets(p: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const e = p + <usize>i * 4;
    OUT.w(rd16(e)); OUT.w(rd8(e + 2)); OUT.w(rd8(e + 3));
  }
}

/** Validates and records one capability; false when it is malformed (2/0, RFC 4271 6.2). */
function capability(code: u32, v: usize, len: u32): bool {
  const o = off(v);
  switch (code) {
    case 1: { // multiprotocol: AFI(2) reserved(1) SAFI(1)
      if (len != 4) return false;
      rec(T_CAP, 5); OUT.w(code); OUT.w(o); OUT.w(len); OUT.w(rd16(v)); OUT.w(rd8(v + 3));
      break;
    }
    case 2: case 128: case 70: case 6: { // route refresh (new, old), enhanced RR, extended message
      if (len != 0) return false;
      rec(T_CAP, 3); OUT.w(code); OUT.w(o); OUT.w(len);
      break;
    }
    case 65: {
      if (len != 4) return false;
      if (rd32(v) == 0) badPeerAs = true; // RFC 7607: AS 0 is a Bad Peer AS
      rec(T_CAP, 4); OUT.w(code); OUT.w(o); OUT.w(len); OUT.w(rd32(v));
      break;
    }
    case 64: { // graceful restart: flags(4 bits) time(12 bits), then AFI(2) SAFI(1) flags(1)
      if (len < 2 || (len - 2) % 4 != 0) return false;
      const n = (len - 2) / 4;
      rec(T_CAP, 5 + n * 3); OUT.w(code); OUT.w(o); OUT.w(len);
      const ft = rd16(v);
      OUT.w(ft >> 12); OUT.w(ft & 0xfff);
      afiSafiOctets(v + 2, n);
      break;
    }
    case 69: { // add-path: AFI(2) SAFI(1) send/receive(1)
      if (len == 0 || len % 4 != 0) return false;
      const n = len / 4;
      rec(T_CAP, 3 + n * 3); OUT.w(code); OUT.w(o); OUT.w(len);
      afiSafiOctets(v, n);
      break;
    }
    case 5: { // extended next hop: AFI(2) SAFI(2) next hop AFI(2)
      if (len == 0 || len % 6 != 0) return false;
      const n = len / 6;
      rec(T_CAP, 3 + n * 3); OUT.w(code); OUT.w(o); OUT.w(len);
      for (let i: u32 = 0; i < n; i++) {
        const e = v + <usize>i * 6;
        OUT.w(rd16(e)); OUT.w(rd16(e + 2)); OUT.w(rd16(e + 4));
      }
      break;
    }
    case 73: { // FQDN: hostname length(1) hostname, domain length(1) domain
      if (len < 2) return false;
      const hl = rd8(v);
      if (1 + hl + 1 > len) return false;
      const dl = rd8(v + 1 + hl);
      if (2 + hl + dl != len) return false;
      rec(T_CAP, 7); OUT.w(code); OUT.w(o); OUT.w(len);
      OUT.w(o + 1); OUT.w(hl); OUT.w(o + 2 + hl); OUT.w(dl);
      break;
    }
    default: {
      rec(T_CAP, 3); OUT.w(code); OUT.w(o); OUT.w(len);
    }
  }
  capCount++;
  return true;
}

/** Capabilities inside one optional parameter of type 2. */
function capabilities(p: usize, end: usize): bool {
  while (p < end) {
    if (p + 2 > end) return false;
    const code = rd8(p);
    const len = rd8(p + 1);
    if (p + 2 + len > end) return false;
    if (!capability(code, p + 2, len)) return false;
    p += 2 + len;
  }
  return true;
}

function decodeOpen(m: usize, len: u32): void {
  const end = m + len;
  const version = rd8(m + 19);
  if (version != 4) {
    store<u16>(dataScratch, bswap<u16>(4)); // data: the largest supported version
    notify(2, 1, R_OPEN_VERSION, dataScratch, 2);
    return;
  }
  const myAs = rd16(m + 20);
  const hold = rd16(m + 22);
  const id = rd32(m + 24);
  let optLen = rd8(m + 28);
  let p = m + 29;
  let extended = false;
  // RFC 9072: non-extended length 255 with a first parameter type of 255.
  if (optLen > 0 && p < end && rd8(p) == 255) {
    if (p + 3 > end) { notify(2, 0, R_OPEN_PARAMS_LENGTH, 0, 0); return; }
    extended = true;
    optLen = rd16(p + 1);
    p += 3;
  }
  if (p + optLen != end) { notify(2, 0, R_OPEN_PARAMS_LENGTH, 0, 0); return; }
  if (myAs == 0) { notify(2, 2, R_OPEN_PEER_AS, 0, 0); return; }
  if (hold == 1 || hold == 2) { notify(2, 6, R_OPEN_HOLD_TIME, 0, 0); return; }
  if (id == 0) { notify(2, 3, R_OPEN_ROUTER_ID, 0, 0); return; }
  const openAt = OUT.len;
  rec(T_OPEN, 6);
  OUT.w(4); OUT.w(myAs); OUT.w(hold); OUT.w(id); OUT.w(extended ? 1 : 0); OUT.w(0);
  capCount = 0;
  paramCount = 0;
  badPeerAs = false;
  const hl: u32 = extended ? 3 : 2;
  while (p < end) {
    if (p + hl > end) { OUT.len = openAt; notify(2, 0, R_OPEN_PARAMS_LENGTH, 0, 0); return; }
    const ptype = rd8(p);
    const plen = extended ? rd16(p + 1) : rd8(p + 1);
    const v = p + hl;
    if (v + plen > end) { OUT.len = openAt; notify(2, 0, R_OPEN_PARAMS_LENGTH, 0, 0); return; }
    if (ptype != 2) { OUT.len = openAt; notify(2, 4, R_OPEN_UNSUPPORTED_PARAM, p, hl + plen); return; }
    if (!capabilities(v, v + plen)) { OUT.len = openAt; notify(2, 0, R_CAPABILITY, p, hl + plen); return; }
    paramCount++;
    p = v + plen;
  }
  if (badPeerAs) { OUT.len = openAt; notify(2, 2, R_OPEN_PEER_AS, 0, 0); return; }
  if (paramCount == 1 && capCount > 1) store<u32>(OUT.ptr + openAt + 24, 1);
}

// ---- UPDATE ----

/** Writes the T_PFX header in the ARENA_GAP before a list the parser placed in OUT. */
function prefixHeader(section: u32, afi: u32, list: usize, count: u32): void {
  const words = <u32>((<usize>count * (afi == AFI_IPV4 ? V4_ENTRY : V6_ENTRY)) >> 2);
  const h = list - ARENA_GAP;
  store<u32>(h, (T_PFX << 24) | (3 + words));
  store<u32>(h, section, 4);
  store<u32>(h, afi, 8);
  store<u32>(h, count, 12);
}

function segmentsRecord(code: u32, flags: u32, segs: usize, words: u32): void {
  rec(T_ATTR, 2 + words);
  OUT.w(code); OUT.w(flags);
  memory.copy(OUT.ptr + OUT.len, segs, <usize>words * 4);
  OUT.len += <usize>words * 4;
}

function valuesRecord(code: u32, flags: u32, p: usize, count: u32): void {
  rec(T_ATTR, 2 + count);
  OUT.w(code); OUT.w(flags);
  for (let i: u32 = 0; i < count; i++) OUT.w(rd32(p + <usize>i * 4));
}

function attributeRecord(u: ParsedUpdate, code: u32, flags: u32, v: usize, len: u32): void {
  switch (code) {
    case A_ORIGIN: rec(T_ATTR, 3); OUT.w(code); OUT.w(flags); OUT.w(<u32>u.origin); return;
    case A_AS_PATH: segmentsRecord(code, flags, u.asPath, u.asPathWords); return;
    case A_NEXT_HOP: rec(T_ATTR, 3); OUT.w(code); OUT.w(flags); OUT.w(u.nextHop); return;
    case A_MED: rec(T_ATTR, 3); OUT.w(code); OUT.w(flags); OUT.w(u.med); return;
    case A_LOCAL_PREF: rec(T_ATTR, 3); OUT.w(code); OUT.w(flags); OUT.w(u.localPref); return;
    case A_ATOMIC_AGGREGATE: rec(T_ATTR, 2); OUT.w(code); OUT.w(flags); return;
    case A_AGGREGATOR: rec(T_ATTR, 4); OUT.w(code); OUT.w(flags); OUT.w(u.aggregatorAs); OUT.w(u.aggregatorAddr); return;
    case A_AS4_AGGREGATOR: rec(T_ATTR, 4); OUT.w(code); OUT.w(flags); OUT.w(u.as4AggregatorAs); OUT.w(u.as4AggregatorAddr); return;
    case A_ORIGINATOR_ID: rec(T_ATTR, 3); OUT.w(code); OUT.w(flags); OUT.w(u.originatorId); return;
    case A_COMMUNITIES: valuesRecord(code, flags, u.communitiesPtr, u.communitiesCount); return;
    case A_CLUSTER_LIST: valuesRecord(code, flags, u.clusterListPtr, u.clusterListCount); return;
    case A_LARGE_COMMUNITY: valuesRecord(code, flags, u.largeCommunitiesPtr, u.largeCommunitiesCount * 3); return;
    case A_AS4_PATH: segmentsRecord(code, flags, u.as4Path, u.as4PathWords); return;
    case A_EXT_COMMUNITIES: rec(T_ATTR, 4); OUT.w(code); OUT.w(flags); OUT.w(off(v)); OUT.w(len); return;
    case A_MP_REACH: {
      if (!u.mpReachSupported) break;
      const nh = u.mpNextHopLen;
      rec(T_ATTR, 5 + nh / 4);
      OUT.w(code); OUT.w(flags); OUT.w(u.mpReachAfi); OUT.w(u.mpReachSafi); OUT.w(nh);
      for (let i: u32 = 0; i < nh; i += 4) OUT.w(rd32(u.mpNextHop + i));
      return;
    }
    case A_MP_UNREACH: {
      if (!u.mpUnreachSupported) break;
      rec(T_ATTR, 4); OUT.w(code); OUT.w(flags); OUT.w(u.mpUnreachAfi); OUT.w(u.mpUnreachSafi);
      return;
    }
  }
  rec(T_RAW, 4); OUT.w(code); OUT.w(flags); OUT.w(off(v)); OUT.w(len);
}

function decodeUpdate(m: usize, len: u32, flags: u32): void {
  // The prefix lists go straight into OUT (no copy): T_UPD first, then the
  // lists with their T_PFX headers in the gaps the parser leaves.
  const start = OUT.len;
  OUT.ensure(<usize>len * V6_ENTRY + 8 * ARENA_GAP + 64);
  rec(T_UPD, 3);
  const updAt = OUT.ptr + OUT.len;
  OUT.len += 12;
  const u = parseUpdateInto(m, len, flags, OUT.ptr + OUT.len);
  decodedPrefixes += u.withdrawn4Count + u.nlri4Count + u.mpReachCount + u.mpUnreachCount;
  if (u.status == UPD_SESSION_RESET) {
    OUT.len = start;
    recError(K_NOTIFICATION, u.errCode, u.errSubcode, u.errReason, u.errAttr, u.errDataPtr, u.errDataLen);
    return;
  }
  store<u32>(updAt, rd16(m + 19));
  store<u32>(updAt, u.attrLen, 4);
  store<u32>(updAt, off(u.attrPtr), 8);
  // Each non-empty list gets its header in the gap before it (empty lists took no room).
  if (u.withdrawn4Count > 0) prefixHeader(0, AFI_IPV4, u.withdrawn4, u.withdrawn4Count);
  if (u.nlri4Count > 0) prefixHeader(1, AFI_IPV4, u.nlri4, u.nlri4Count);
  if (u.mpUnreachCount > 0) prefixHeader(2, u.mpUnreachAfi, u.mpUnreach, u.mpUnreachCount);
  if (u.mpReachCount > 0) prefixHeader(3, u.mpReachAfi, u.mpReach, u.mpReachCount);
  OUT.len = u.arena - OUT.ptr;
  for (let i: u32 = 0; i < u.attrCount; i++) {
    const e = u.attrs + <usize>i * 16;
    const len = load<u32>(e, 12);
    // The extended-length bit is reported only where it was a choice (value under 256 bytes).
    const fl = len > 255 ? load<u32>(e, 4) & ~F_EXTENDED : load<u32>(e, 4);
    attributeRecord(u, load<u32>(e), fl, <usize>load<u32>(e, 8), len);
  }
  if (u.treatAsWithdraw) recError(K_TREAT_AS_WITHDRAW, u.tawCode, u.tawSubcode, u.tawReason, u.tawAttr, 0, 0);
  for (let i: u32 = 0; i < u.discardCount; i++) {
    const e = u.discards + <usize>i * 8;
    recError(K_DISCARD, 3, 0, load<u32>(e, 4), load<u32>(e), 0, 0);
  }
}

// ---- NOTIFICATION, ROUTE-REFRESH ----

function decodeNotification(m: usize, len: u32): void {
  rec(T_NOTIF, 4);
  OUT.w(rd8(m + 19)); OUT.w(rd8(m + 20)); OUT.w(off(m + 21)); OUT.w(len - 21);
}

function decodeRouteRefresh(m: usize, len: u32): void {
  const subtype = rd8(m + 21);
  // RFC 7313: BoRR/EoRR must be exactly 23 octets; subtype 0 may carry ORFs (RFC 5291).
  if ((subtype == 1 || subtype == 2) && len != 23) { notify(7, 1, R_ROUTE_REFRESH_LENGTH, m, len); return; }
  rec(T_RR, 5);
  OUT.w(rd16(m + 19)); OUT.w(rd8(m + 22)); OUT.w(subtype); OUT.w(off(m + 23)); OUT.w(len - 23);
}

/**
 * Decodes every whole message in the input region [0, len). Returns the bytes
 * consumed; records are in OUT. A framing error writes a K_FRAMING record and
 * stops (the bad message is not consumed).
 */
export function decodeChunk(len: u32, flags: u32): u32 {
  if (dataScratch == 0) dataScratch = heap.alloc(8);
  OUT.len = 0;
  decodedMessages = 0;
  decodedPrefixes = 0;
  const b = IN.ptr;
  let p: u32 = 0;
  while (p < len) {
    const m = b + p;
    const avail = len - p;
    const f = frameMessage(m, avail, flags);
    if (f == 0) break;
    if (f < 0) {
      rec(T_MSG, 3);
      OUT.w(avail > 18 ? rd8(m + 18) : 0); OUT.w(avail > 17 ? rd16(m + 16) : 0); OUT.w(p);
      if (f == FRAME_BAD_MARKER) recError(K_FRAMING, 1, 1, R_MARKER, 0, 0, 0);
      else recError(K_FRAMING, 1, 2, R_LENGTH, 0, m + 16, 2);
      break;
    }
    const mlen = <u32>f;
    const type = rd8(m + 18);
    decodedMessages++;
    rec(T_MSG, 3);
    OUT.w(type); OUT.w(mlen); OUT.w(p);
    if (type < MSG_OPEN || type > MSG_ROUTE_REFRESH) {
      notify(1, 3, R_TYPE, m + 18, 1);
    } else if (lengthFits(m, type, mlen)) {
      if (type == MSG_UPDATE) decodeUpdate(m, mlen, flags);
      else if (type == MSG_OPEN) decodeOpen(m, mlen);
      else if (type == MSG_NOTIFICATION) decodeNotification(m, mlen);
      else if (type == MSG_ROUTE_REFRESH) decodeRouteRefresh(m, mlen);
    }
    p += mlen;
  }
  return p;
}
