// Ingest: one call per TCP read. Frames BGP messages (keeping each peer's
// partial tail), applies UPDATEs to the Adj-RIB-In, and hands every other
// message back to the host as an event record (its FSM handles them).
//
// Event record (16 bytes): u8 kind, u8 a, u8 b, u8 0, u32 ptr, u32 len, u32 0
//   EV_MESSAGE: a = message type; ptr/len = the whole message in linear memory
//     (valid until the next ribFeed). Processing pauses after an OPEN, a
//     NOTIFICATION or a ROUTE-REFRESH (an enhanced refresh's BoRR must mark
//     routes stale before the UPDATEs behind it in the same read are applied),
//     and at any message before the peer is marked up: the rest
//     is kept and processed by the next ribFeed (len 0 resumes).
//   EV_NOTIFY: a = code, b = subcode, ptr/len = data: send this NOTIFICATION
//     and close; the peer's input is ignored until ribPeerDown.
//   EV_EOR: a = AFI, b = SAFI: End-of-RIB received.

import { UPD_SESSION_RESET, parseUpdate } from "../bgp/update";
import { SF_ADDPATH_V4, SF_ADDPATH_V6, SF_AS4, SF_EXTENDED_MESSAGE } from "../bgp/wire";
import { AF_V6, attrFree, attrRefs, dFlags, intern, setDecisionFlags } from "./attrs";
import { canon, canonicalise, loopDetected } from "./canonical";
import { Buf, be16, be32, put32 } from "./mem";
import { announce, withdraw } from "./ops";
import { FAM_V4, FAM_V6, Peer, peerAt, setKey4, setKey6 } from "./state";

export const EV_MESSAGE: u8 = 1;
export const EV_NOTIFY: u8 = 2;
export const EV_EOR: u8 = 3;

export const input = new Buf();
export const events = new Buf();
export let eventCount: u32 = 0;
const work = new Buf(); // one message completed from a peer's tail
let resumeBuf = new Buf(); // a peer's saved bytes while they are processed
const lenData = new Buf();

function emit(kind: u8, a: u32, b: u32, ptr: usize, len: u32): void {
  events.ensure(16);
  const e = events.end();
  store<u8>(e, kind);
  store<u8>(e + 1, <u8>a);
  store<u8>(e + 2, <u8>b);
  store<u8>(e + 3, 0);
  store<u32>(e + 4, <u32>ptr);
  store<u32>(e + 8, len);
  store<u32>(e + 12, 0);
  events.len += 16;
  eventCount++;
}

// The NOTIFICATION the host must send (copied: the source may be a reused buffer).
let notifyCode: u32 = 0;
let notifySubcode: u32 = 0;
const notifyData = new Buf();

function notifyWith(code: u32, subcode: u32, data: usize, len: u32): void {
  notifyCode = code;
  notifySubcode = subcode;
  notifyData.len = 0;
  notifyData.ensure(len);
  memory.copy(notifyData.ptr, data, len);
  notifyData.len = len;
}

function notifyPlain(code: u32, subcode: u32): void {
  notifyWith(code, subcode, 0, 0);
}

function fail(peer: Peer): void {
  peer.errored = true;
  emit(EV_NOTIFY, notifyCode, notifySubcode, notifyData.ptr, notifyData.len);
}

/** Checks a message header; false (and a NOTIFICATION event) when it is bad. */
function headerOk(peer: Peer, p: usize): bool {
  for (let i: u32 = 0; i < 16; i += 4) {
    if (load<u32>(p + i) != 0xffffffff) {
      notifyPlain(1, 1);
      fail(peer);
      return false;
    }
  }
  const len = be16(p + 16);
  const type = <u32>load<u8>(p + 18);
  let bad = len < 19 || len > peer.maxMsg;
  if (type == 1) bad = bad || len < 29;
  else if (type == 2) bad = bad || len < 23;
  else if (type == 3) bad = bad || len < 21;
  else if (type == 4) bad = bad || len != 19;
  else if (type == 5) bad = bad || len < 23;
  else {
    notifyWith(1, 3, p + 18, 1);
    fail(peer);
    return false;
  }
  if (bad) {
    lenData.len = 0;
    lenData.ensure(2);
    memory.copy(lenData.ptr, p + 16, 2);
    notifyWith(1, 2, lenData.ptr, 2);
    fail(peer);
    return false;
  }
  return true;
}

function handle(peerIdx: u32, peer: Peer, p: usize, len: u32): void {
  const type = <u32>load<u8>(p + 18);
  if (type == 2 && peer.up) {
    processUpdate(peerIdx, peer, p, len);
    return;
  }
  emit(EV_MESSAGE, type, 0, p, len);
  if (type == 1 || type == 3 || type == 5 || !peer.up) peer.paused = true;
}

/** Processes `len` bytes the host wrote at `input.ptr` (0: resume saved bytes). Returns the number of events. */
export function feed(peerIdx: u32, len: u32): u32 {
  events.len = 0;
  eventCount = 0;
  const peer = peerAt(peerIdx);
  if (!peer.used || peer.errored) return 0;
  let src = input.ptr;
  let end = src + len;
  const tail = peer.tail;
  if (peer.paused || len == 0) {
    // resume: process saved bytes (plus this chunk) from a buffer the tail does not share
    peer.paused = false;
    if (len) {
      tail.ensure(len);
      memory.copy(tail.end(), src, len);
      tail.len += len;
    }
    const saved = resumeBuf;
    resumeBuf = peer.tail;
    peer.tail = saved;
    peer.tail.len = 0;
    src = resumeBuf.ptr;
    end = src + resumeBuf.len;
  } else if (tail.len) {
    // complete the partial message first
    if (tail.len < 19) {
      const take = min<u32>(19 - tail.len, <u32>(end - src));
      tail.ensure(take);
      memory.copy(tail.end(), src, take);
      tail.len += take;
      src += take;
      if (tail.len < 19) return eventCount;
    }
    if (!headerOk(peer, tail.ptr)) return eventCount;
    const mlen = be16(tail.ptr + 16);
    const take = min<u32>(mlen - tail.len, <u32>(end - src));
    tail.ensure(take);
    memory.copy(tail.end(), src, take);
    tail.len += take;
    src += take;
    if (tail.len < mlen) return eventCount;
    work.len = 0;
    work.ensure(mlen);
    memory.copy(work.ptr, tail.ptr, mlen);
    tail.len = 0;
    handle(peerIdx, peer, work.ptr, mlen);
    if (peer.errored) return eventCount;
  }
  while (!peer.paused && end - src >= 19) {
    if (!headerOk(peer, src)) return eventCount;
    const mlen = be16(src + 16);
    if (<u32>(end - src) < mlen) break;
    handle(peerIdx, peer, src, mlen);
    if (peer.errored) return eventCount;
    src += mlen;
  }
  if (src < end) {
    const rest = <u32>(end - src);
    peer.tail.ensure(rest);
    memory.copy(peer.tail.end(), src, rest);
    peer.tail.len += rest;
  }
  return eventCount;
}

// ---- UPDATE ----

let curPeer: Peer = peerAt(0);
let curPeerIdx: u32 = 0;
let stopped = false;
const nh4: usize = heap.alloc(4);

function processUpdate(peerIdx: u32, peer: Peer, p: usize, len: u32): void {
  curPeer = peer;
  curPeerIdx = peerIdx;
  stopped = false;
  const flags = (peer.as4 ? SF_AS4 : 0) | (peer.addPath4 ? SF_ADDPATH_V4 : 0) | (peer.addPath6 ? SF_ADDPATH_V6 : 0) |
    (peer.maxMsg > 4096 ? SF_EXTENDED_MESSAGE : 0);
  const u = parseUpdate(p, len, flags);
  if (u.status == UPD_SESSION_RESET) {
    notifyWith(u.errCode, u.errSubcode, u.errDataPtr, u.errDataLen);
    fail(peer);
    return;
  }
  peer.updatesIn += 1;
  // Families the session did not negotiate are ignored (RFC 4760 6), as FRR and BIRD do.
  const mpReachFam: i32 = u.mpReachSupported ? negotiated(peer, u.mpReachAfi) : -1;
  const mpUnreachFam: i32 = u.mpUnreachSupported ? negotiated(peer, u.mpUnreachAfi) : -1;
  // End-of-RIB (RFC 4724 2): an empty UPDATE, or one holding only an empty MP_UNREACH_NLRI
  if (u.withdrawn4Count == 0 && u.nlri4Count == 0) {
    if (u.attrLen == 0) {
      emit(EV_EOR, 1, 1, 0, 0);
      return;
    }
    if (u.attrCount == 1 && u.mpUnreachPresent && u.mpUnreachCount == 0 && u.attrLen == u.mpUnreachAttrLen) {
      emit(EV_EOR, u.mpUnreachAfi, u.mpUnreachSafi, 0, 0);
      return;
    }
  }
  const nlri4Count = peer.fam4 ? u.nlri4Count : 0;
  if (peer.fam4) walkV4(u.withdrawn4, u.withdrawn4Count, 0);
  if (mpUnreachFam == FAM_V4) walkV4(u.mpUnreach, u.mpUnreachCount, 0);
  else if (mpUnreachFam == FAM_V6) walkV6(u.mpUnreach, u.mpUnreachCount, 0);
  const mpAnn = mpReachFam >= 0 && u.mpReachCount > 0;
  if (!nlri4Count && !mpAnn) return;
  // IPv4 NLRI with an IPv6 next hop (RFC 8950) is not supported by this RIB: treated as withdrawn
  const mpNhOk = mpReachFam != FAM_V4 || u.mpNextHopLen == 4;
  if (u.treatAsWithdraw || !canonicalise(peer, u)) {
    walkV4(u.nlri4, nlri4Count, 0);
    if (mpReachFam == FAM_V4) walkV4(u.mpReach, u.mpReachCount, 0);
    else if (mpAnn) walkV6(u.mpReach, u.mpReachCount, 0);
    return;
  }
  const baseFlags = dFlags;
  if (nlri4Count) {
    put32(nh4, u.nextHop);
    const attr = intern(nh4, 4, canon.ptr, canon.len);
    nextHopIsOurs = u.nextHop == peer.nh4;
    walkV4(u.nlri4, nlri4Count, attr);
    if (!attrRefs(attr)) attrFree(attr);
  }
  if (mpAnn && !stopped) {
    if (mpReachFam == FAM_V4 && !mpNhOk) {
      walkV4(u.mpReach, u.mpReachCount, 0);
      return;
    }
    setDecisionFlags(baseFlags | (mpReachFam == FAM_V6 ? AF_V6 : 0));
    const attr = intern(u.mpNextHop, u.mpNextHopLen, canon.ptr, canon.len);
    nextHopIsOurs = mpReachFam == FAM_V6
      ? bswap<u64>(load<u64>(u.mpNextHop)) == peer.nh6Hi && bswap<u64>(load<u64>(u.mpNextHop + 8)) == peer.nh6Lo
      : be32(u.mpNextHop) == peer.nh4;
    if (mpReachFam == FAM_V6) walkV6(u.mpReach, u.mpReachCount, attr);
    else walkV4(u.mpReach, u.mpReachCount, attr);
    if (!attrRefs(attr)) attrFree(attr);
  }
}

/** The RIB family of an AFI the session negotiated (IPv4/IPv6 unicast), else -1. */
function negotiated(peer: Peer, afi: u32): i32 {
  if (afi == 1) return peer.fam4 ? <i32>FAM_V4 : -1;
  return peer.fam6 ? <i32>FAM_V6 : -1;
}

/** Applies IPv4 entries ([pathId, address, length]): withdraw when attr is 0, else announce with attr. */
function walkV4(list: usize, count: u32, attr: u32): void {
  for (let i: u32 = 0; i < count && !stopped; i++) {
    const e = list + <usize>i * 12;
    setKey4(load<u32>(e, 4), load<u32>(e, 8));
    apply(FAM_V4, load<u32>(e), attr);
  }
}

/** Applies IPv6 entries ([pathId, length, a0..a3]). */
function walkV6(list: usize, count: u32, attr: u32): void {
  for (let i: u32 = 0; i < count && !stopped; i++) {
    const e = list + <usize>i * 24;
    const hi = (<u64>load<u32>(e, 8) << 32) | <u64>load<u32>(e, 12);
    const lo = (<u64>load<u32>(e, 16) << 32) | <u64>load<u32>(e, 20);
    setKey6(hi, lo, load<u32>(e, 4));
    apply(FAM_V6, load<u32>(e), attr);
  }
}

/**
 * The next hop of the list being applied is our own address on this session: the
 * route is semantically incorrect (RFC 4271 5.1.3, 6.3), kept in the Adj-RIB-In but
 * not eligible, like a looped one.
 */
let nextHopIsOurs = false;

function apply(fam: u32, pathId: u32, attr: u32): void {
  const peer = curPeer;
  if (!attr) {
    peer.withdrawnIn += 1;
    withdraw(curPeerIdx, fam, pathId);
    return;
  }
  announce(curPeerIdx, fam, pathId, attr, !loopDetected && !nextHopIsOurs);
  if (peer.maxPrefix && peer.received > peer.maxPrefix) maxPrefixExceeded(peer, fam);
}

const maxPrefixData: usize = heap.alloc(8);

/** RFC 4486: Cease / Maximum Number of Prefixes Reached, data AFI, SAFI, limit. */
function maxPrefixExceeded(peer: Peer, fam: u32): void {
  stopped = true;
  store<u16>(maxPrefixData, bswap<u16>(fam == FAM_V6 ? 2 : 1));
  store<u8>(maxPrefixData + 2, 1);
  store<u32>(maxPrefixData + 3, bswap<u32>(peer.maxPrefix));
  notifyWith(6, 1, maxPrefixData, 7);
  fail(peer);
}
