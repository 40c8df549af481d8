// Ingest: one call per TCP read. Frames BGP messages (keeping each peer's
// partial tail), applies UPDATEs to the Adj-RIB-In, and hands every other
// message back to the host as an event record (its FSM handles them).
//
// Event record (16 bytes): u8 kind, u8 a, u8 b, u8 0, u32 ptr, u32 len, u32 0
//   EV_MESSAGE: a = message type; ptr/len = the whole message in linear memory
//     (valid until the next ribFeed). Processing pauses after an OPEN or a
//     NOTIFICATION, and at any message before the peer is marked up: the rest
//     is kept and processed by the next ribFeed (len 0 resumes).
//   EV_NOTIFY: a = code, b = subcode, ptr/len = data: send this NOTIFICATION
//     and close; the peer's input is ignored until ribPeerDown.
//   EV_EOR: a = AFI, b = SAFI: End-of-RIB received.

import { AF_V6, attrFree, attrRefs, dFlags, intern, setDecisionFlags } from "./attrs";
import { Buf, be16, be32 } from "./mem";
import { announce, withdraw } from "./ops";
import { FAM_V4, FAM_V6, Peer, peerAt, setKey4, setKey6 } from "./state";
import {
  OUT_NOTIFY, OUT_WITHDRAW, canon, loopDetected, mpReachEnd, mpReachFam, mpReachNh, mpReachNhLen, mpReachStart,
  mpUnreachEnd, mpUnreachFam, mpUnreachStart, nextHopPtr, nlriValid, notifyCode, notifyDataLen, notifyDataPtr, notifySubcode,
  notifyPlain, notifyWith, onlyMpUnreach, outcome, parseAttributes,
} from "./update";

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

function fail(peer: Peer): void {
  peer.errored = true;
  emit(EV_NOTIFY, notifyCode, notifySubcode, notifyDataPtr, notifyDataLen);
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
  else if (type == 5) bad = bad || len != 23;
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
  if (type == 1 || type == 3 || !peer.up) peer.paused = true;
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

function processUpdate(peerIdx: u32, peer: Peer, p: usize, len: u32): void {
  curPeer = peer;
  curPeerIdx = peerIdx;
  stopped = false;
  const end = p + len;
  const wlen = be16(p + 19);
  if (<u32>23 + wlen > len) { notifyPlain(3, 1); fail(peer); return; }
  const wStart = p + 21;
  const wEnd = wStart + wlen;
  const alen = be16(wEnd);
  const aStart = wEnd + 2;
  const aEnd = aStart + alen;
  if (aEnd > end) { notifyPlain(3, 1); fail(peer); return; }
  if (!nlriValid(wStart, wEnd, false, peer.addPath4) || !nlriValid(aEnd, end, false, peer.addPath4)) {
    notifyPlain(3, 10);
    fail(peer);
    return;
  }
  peer.updatesIn += 1;
  if (wlen == 0 && alen == 0 && aEnd == end) {
    emit(EV_EOR, 1, 1, 0, 0);
    return;
  }
  const hasNlri = end > aEnd;
  parseAttributes(peer, aStart, aEnd, hasNlri);
  if (outcome == OUT_NOTIFY) { fail(peer); return; }
  if (onlyMpUnreach && wlen == 0 && !hasNlri && mpUnreachEnd == mpUnreachStart) {
    emit(EV_EOR, mpUnreachFam == 1 ? 2 : 1, 1, 0, 0);
    return;
  }
  walk(wStart, wEnd, FAM_V4, peer.addPath4, 0);
  if (mpUnreachFam >= 0) walk(mpUnreachStart, mpUnreachEnd, <u32>mpUnreachFam, mpUnreachFam == 1 ? peer.addPath6 : peer.addPath4, 0);
  const mpAnn = mpReachFam >= 0 && mpReachEnd > mpReachStart;
  if (!hasNlri && !mpAnn) return;
  if (outcome == OUT_WITHDRAW) {
    walk(aEnd, end, FAM_V4, peer.addPath4, 0);
    if (mpAnn) walk(mpReachStart, mpReachEnd, <u32>mpReachFam, mpReachFam == 1 ? peer.addPath6 : peer.addPath4, 0);
    return;
  }
  const baseFlags = dFlags;
  if (hasNlri && !stopped) {
    const attr = intern(nextHopPtr, 4, canon.ptr, canon.len);
    walk(aEnd, end, FAM_V4, peer.addPath4, attr);
    if (!attrRefs(attr)) attrFree(attr);
  }
  if (mpAnn && !stopped) {
    setDecisionFlags(baseFlags | (mpReachFam == 1 ? AF_V6 : 0));
    const attr = intern(mpReachNh, mpReachNhLen, canon.ptr, canon.len);
    walk(mpReachStart, mpReachEnd, <u32>mpReachFam, mpReachFam == 1 ? peer.addPath6 : peer.addPath4, attr);
    if (!attrRefs(attr)) attrFree(attr);
  }
}

const v6tmp: usize = heap.alloc(16);

/** Applies the NLRI in [p, end) for the current peer: withdraw when attr is 0, else announce with attr. */
function walk(p: usize, end: usize, fam: u32, addPath: bool, attr: u32): void {
  const peer = curPeer;
  const eligible = !loopDetected;
  let q = p;
  while (q < end && !stopped) {
    let pathId: u32 = 0;
    if (addPath) {
      pathId = be32(q);
      q += 4;
    }
    const plen = <u32>load<u8>(q);
    const nb = (plen + 7) >> 3;
    q++;
    if (fam == FAM_V6) {
      memory.fill(v6tmp, 0, 16);
      memory.copy(v6tmp, q, nb);
      setKey6(bswap<u64>(load<u64>(v6tmp)), bswap<u64>(load<u64>(v6tmp + 8)), plen);
    } else {
      let a: u32 = 0;
      for (let i: u32 = 0; i < nb; i++) a |= (<u32>load<u8>(q + i)) << (24 - (i << 3));
      setKey4(a, plen);
    }
    q += nb;
    if (!attr) {
      peer.withdrawnIn += 1;
      withdraw(curPeerIdx, fam, pathId);
    } else {
      announce(curPeerIdx, fam, pathId, attr, eligible);
      if (peer.maxPrefix && peer.received > peer.maxPrefix) maxPrefixExceeded(peer, fam);
    }
  }
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

