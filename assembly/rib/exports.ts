// rib ABI exports. host/core/rib.ts is the only caller and the only code that
// knows these layouts. Arguments too large for parameters go through the input
// region (ribInput returns its address, valid until the next rib call that
// allocates); results come back in the output region (ribOutPtr; the length
// or count is the call's return value) or the event region (ribEventsPtr),
// both valid until the next rib call.

import {
  AF_HAS_MED, AF_LOCAL, AF_NH_SELF, AF_V6, attrCount, attrFree, attrRefs, attrTableBytes, intern, setDecisionFields, setDecisionTags,
} from "./attrs";
import { exportFor, isAdvertised, out } from "./export";
import { events, feed, input } from "./ingest";
import { consumerRewalk, consumerStart, consumerStop, consumers, log } from "./log";
import { drain, lookup, query } from "./locrib";
import { Buf, be32, put32 } from "./mem";
import { announce, clearAdjRibOut, flushAdjRibIn, markStale, sweepStale, withdraw } from "./ops";
import {
  FAM_V6, MAX_PEERS, Peer, decisionRuns, paths, peerAt, setGlobal, setKey4, setKey6, tableOf,
} from "./state";

export function ribVersion(): u32 {
  return 1;
}

/** Ensures the input region holds `size` bytes and returns its address. */
export function ribInput(size: u32): usize {
  if (input.cap < size) {
    input.len = 0;
    input.ensure(size);
  }
  return input.ptr;
}

export function ribOutPtr(): usize {
  return out.ptr;
}

export function ribEventsPtr(): usize {
  return events.ptr;
}

/** Speaker-wide settings: own ASN, router id and cluster id (host order; cluster 0 = router id), multipath. */
export function ribSetGlobal(asn: u32, routerId: u32, clusterId: u32, multipath: u32): void {
  setGlobal(asn, routerId, clusterId, multipath != 0);
}

// ---- peers ----

/** Allocates a peer slot (1..1023); 0 when the table is full. */
export function ribPeerAdd(): u32 {
  for (let i: u32 = 1; i < MAX_PEERS; i++) {
    const p = peerAt(i);
    if (!p.used) {
      resetPeer(p);
      p.used = true;
      return i;
    }
  }
  return 0;
}

function resetPeer(p: Peer): void {
  p.asn = 0;
  p.routerId = 0;
  p.addrHi = 0;
  p.addrLo = 0;
  p.policy = 0;
  p.maxPrefix = 0;
  p.tags = 0;
  p.up = false;
  p.as4 = true;
  p.addPath4 = false;
  p.addPath6 = false;
  p.fam4 = true;
  p.fam6 = false;
  p.maxMsg = 4096;
  p.errored = false;
  p.paused = false;
  p.tail.len = 0;
  p.received = 0;
  p.accepted = 0;
  p.advertised = 0;
  p.updatesIn = 0;
  p.updatesOut = 0;
  p.withdrawnIn = 0;
}

/**
 * Peer settings (ASN and addresses before the session comes up; a policy
 * change while it is up re-evaluates the whole Adj-RIB-Out). Input region: neighbour address, 16 bytes network order
 * (IPv4 in the first 4). policy: 0 local, 1 all, 2 none. maxPrefix 0 = no limit.
 */
export function ribPeerConfig(peer: u32, asn: u32, routerId: u32, policy: u32, maxPrefix: u32): u32 {
  if (!peer || peer >= MAX_PEERS || !peerAt(peer).used) return 0;
  const p = peerAt(peer);
  p.asn = asn;
  p.routerId = routerId;
  p.addrHi = bswap<u64>(load<u64>(input.ptr));
  p.addrLo = bswap<u64>(load<u64>(input.ptr + 8));
  const policyChanged = p.policy != <u8>policy;
  p.policy = <u8>policy;
  p.maxPrefix = maxPrefix;
  if (policyChanged && p.up) consumerRewalk(p); // re-evaluate the Adj-RIB-Out under the new policy
  return 1;
}

/**
 * The peer's export tags: it gets the locally originated routes tagged with
 * one of them, and untagged ones (ribOriginTags). A change while the session
 * is up re-evaluates the Adj-RIB-Out.
 */
export function ribPeerTags(peer: u32, tags: u32): u32 {
  if (!peer || peer >= MAX_PEERS || !peerAt(peer).used) return 0;
  const p = peerAt(peer);
  if (p.tags == tags) return 1;
  p.tags = tags;
  if (p.up) consumerRewalk(p);
  return 1;
}

/** Whether the prefix in the input region is in the peer's Adj-RIB-Out (its UPDATE went out); 1 or 0. */
export function ribPeerAdvertised(peer: u32, fam: u32, plen: u32): u32 {
  if (!peer || peer >= MAX_PEERS || fam > 1 || !readKey(fam, plen)) return 0;
  const idx = tableOf(fam).find();
  return idx && isAdvertised(peerAt(peer), fam, idx) ? 1 : 0;
}

/** Sets the router id learned from the peer's OPEN (used by the decision). */
export function ribPeerRouterId(peer: u32, routerId: u32): void {
  if (peer && peer < MAX_PEERS) peerAt(peer).routerId = routerId;
}

/**
 * Session established with negotiated capabilities. flags: 1 4-octet AS,
 * 2 add-path receive IPv4, 4 add-path receive IPv6, 8 IPv4 unicast, 16 IPv6
 * unicast. maxMsg: 4096 or 65535. Input region: next hop self IPv4 (4 bytes)
 * then IPv6 (16 bytes), network order. Starts the full-table export.
 */
export function ribPeerUp(peer: u32, flags: u32, maxMsg: u32): u32 {
  if (!peer || peer >= MAX_PEERS || !peerAt(peer).used) return 0;
  const p = peerAt(peer);
  p.as4 = (flags & 1) != 0;
  p.addPath4 = (flags & 2) != 0;
  p.addPath6 = (flags & 4) != 0;
  p.fam4 = (flags & 8) != 0;
  p.fam6 = (flags & 16) != 0;
  p.maxMsg = maxMsg > 4096 ? 65535 : 4096;
  p.nh4 = be32(input.ptr);
  p.nh6Hi = bswap<u64>(load<u64>(input.ptr + 4));
  p.nh6Lo = bswap<u64>(load<u64>(input.ptr + 12));
  p.up = true;
  p.errored = false;
  consumerStart(p);
  return 1;
}

/**
 * Session down: its routes leave the Adj-RIB-In (decision re-run), its
 * Adj-RIB-Out is forgotten, unread input dropped. keepStale (graceful restart
 * helper): its routes stay in use marked stale until ribPeerSweepStale.
 */
export function ribPeerDown(peer: u32, keepStale: u32): void {
  if (!peer || peer >= MAX_PEERS || !peerAt(peer).used) return;
  const p = peerAt(peer);
  if (keepStale) markStale(peer, 3);
  else flushAdjRibIn(peer);
  clearAdjRibOut(p);
  p.up = false;
  p.errored = false;
  p.paused = false;
  p.tail.len = 0;
}

/** Enhanced route refresh (RFC 7313), BoRR from the peer: its paths of famMask (1 IPv4, 2 IPv6) turn stale; EoRR sweeps them. */
export function ribPeerMarkStale(peer: u32, famMask: u32): void {
  if (!peer || peer >= MAX_PEERS || !peerAt(peer).used) return;
  markStale(peer, famMask);
}

/** Removes the peer's stale paths (famMask 1 IPv4, 2 IPv6, 3 both); returns how many. */
export function ribPeerSweepStale(peer: u32, famMask: u32): u32 {
  if (!peer || peer >= MAX_PEERS || !peerAt(peer).used) return 0;
  return sweepStale(peer, famMask);
}

/** Route refresh from the peer: everything is advertised again (then End-of-RIB). */
export function ribPeerRefresh(peer: u32): u32 {
  if (!peer || peer >= MAX_PEERS || !peerAt(peer).used || !peerAt(peer).up) return 0;
  const p = peerAt(peer);
  clearAdjRibOut(p);
  consumerStart(p);
  return 1;
}

export function ribPeerRemove(peer: u32): void {
  if (!peer || peer >= MAX_PEERS || !peerAt(peer).used) return;
  ribPeerDown(peer, 0);
  const p = peerAt(peer);
  resetPeer(p);
  p.used = false;
}

/** Per-peer counters: 0 received (paths in Adj-RIB-In), 1 accepted, 2 advertised, 3 UPDATEs in, 4 UPDATEs out, 5 withdrawals in. */
export function ribPeerStat(peer: u32, which: u32): f64 {
  if (peer >= MAX_PEERS) return 0;
  const p = peerAt(peer);
  switch (which) {
    case 0: return <f64>p.received;
    case 1: return <f64>p.accepted;
    case 2: return <f64>p.advertised;
    case 3: return p.updatesIn;
    case 4: return p.updatesOut;
    case 5: return p.withdrawnIn;
  }
  return 0;
}

// ---- ingest / export ----

/** Processes `len` bytes the host wrote to the input region (0: resume after a pause). Returns the event count. */
export function ribFeed(peer: u32, len: u32): u32 {
  if (peer >= MAX_PEERS) return 0;
  return feed(peer, len);
}

/** UPDATE messages for the peer in the output region; returns their total length (0: nothing pending). */
export function ribExport(peer: u32): u32 {
  if (peer >= MAX_PEERS) return 0;
  return exportFor(peer);
}

/** Starts (1) or stops (0) the Loc-RIB change queue; starting queues the whole Loc-RIB once. */
export function ribChangesEnable(on: u32): void {
  if (on) consumerStart(peerAt(0));
  else consumerStop(peerAt(0));
}

/** Up to maxRecords Loc-RIB change records in the output region; returns how many. */
export function ribDrain(maxRecords: u32): u32 {
  return drain(maxRecords);
}

// ---- locally originated routes ----

const canonLocal = new Buf();
let originTags: u32 = 0;

/** Export tags for the next ribOriginate only: it goes to the peers sharing one (0, the default: every peer). */
export function ribOriginTags(tags: u32): void {
  originTags = tags;
}

function readKey(fam: u32, plen: u32): bool {
  if (fam == FAM_V6) {
    if (plen > 128) return false;
    setKey6(bswap<u64>(load<u64>(input.ptr)), bswap<u64>(load<u64>(input.ptr + 8)), plen);
  } else {
    if (plen > 32) return false;
    setKey4(be32(input.ptr), plen);
  }
  return true;
}

/** Appends one attribute (flags, type, length, value) at w; returns the end. */
function putAttr(w: usize, flags: u8, type: u8, src: usize, len: u32): usize {
  if (len > 255) {
    store<u8>(w, flags | 0x10);
    store<u8>(w + 1, type);
    store<u16>(w + 2, bswap<u16>(<u16>len));
    w += 4;
  } else {
    store<u8>(w, flags);
    store<u8>(w + 1, type);
    store<u8>(w + 2, <u8>len);
    w += 3;
  }
  memory.copy(w, src, len);
  return w + len;
}

const ORIGINATE_MED: u32 = 1;
const ORIGINATE_LOCAL_PREF: u32 = 2;
const word: usize = heap.alloc(4);

/**
 * Originates a route; replaces an earlier origination of the same prefix (peers get
 * the new attributes as an implicit withdraw). fam 0 IPv4, 1 IPv6. has: 1 MED, 2
 * LOCAL_PREF (sent to iBGP peers only; the decision uses it either way). Input
 * region: prefix address (16 bytes, network order), next hop (16 bytes; nhLen 0 =
 * self, else 4 or 16), nComm COMMUNITIES values (u32 host order), nLarge
 * LARGE_COMMUNITY values (3 x u32 host order each), nExt EXTENDED_COMMUNITIES
 * values (8 bytes each, wire order). Returns 0 when the arguments are invalid.
 */
export function ribOriginate(fam: u32, plen: u32, nhLen: u32, nComm: u32, nLarge: u32, nExt: u32, med: u32, localPref: u32, has: u32): u32 {
  const tags = originTags;
  originTags = 0;
  if (fam > 1 || !readKey(fam, plen)) return 0;
  if (nhLen && nhLen != (fam == FAM_V6 ? 16 : 4)) return 0;
  if (nComm > 16383 || nLarge > 5461 || nExt > 8191) return 0; // each attribute fits its 16-bit length
  const comms = input.ptr + 32;
  const large = comms + (<usize>nComm << 2);
  const ext = large + <usize>nLarge * 12;
  canonLocal.len = 0;
  canonLocal.ensure(7 + 7 + 7 + (4 + nComm * 4) + (4 + nExt * 8) + (4 + nLarge * 12));
  let w = canonLocal.ptr;
  // Canonical order (by type code): ORIGIN IGP, empty AS_PATH, MED, LOCAL_PREF,
  // COMMUNITIES, EXTENDED_COMMUNITIES, LARGE_COMMUNITY.
  store<u8>(word, 0);
  w = putAttr(w, 0x40, 1, word, 1);
  w = putAttr(w, 0x40, 2, word, 0);
  if (has & ORIGINATE_MED) {
    put32(word, med);
    w = putAttr(w, 0x80, 4, word, 4);
  }
  if (has & ORIGINATE_LOCAL_PREF) {
    put32(word, localPref);
    w = putAttr(w, 0x40, 5, word, 4);
  }
  if (nComm) {
    // host order in, network order in the attribute
    for (let i: u32 = 0; i < nComm; i++) put32(comms + i * 4, load<u32>(comms + i * 4));
    w = putAttr(w, 0xc0, 8, comms, nComm * 4);
  }
  if (nExt) w = putAttr(w, 0xc0, 16, ext, nExt * 8);
  if (nLarge) {
    for (let i: u32 = 0; i < nLarge * 3; i++) put32(large + i * 4, load<u32>(large + i * 4));
    w = putAttr(w, 0xc0, 32, large, nLarge * 12);
  }
  canonLocal.len = <u32>(w - canonLocal.ptr);
  let flags: u8 = AF_LOCAL | (nhLen ? 0 : AF_NH_SELF) | (fam == FAM_V6 ? AF_V6 : 0) | (has & ORIGINATE_MED ? AF_HAS_MED : 0);
  setDecisionFields(has & ORIGINATE_LOCAL_PREF ? localPref : 100, has & ORIGINATE_MED ? med : 0, 0, 0, 0, 0, 0, flags);
  setDecisionTags(tags);
  const attr = intern(input.ptr + 16, nhLen, canonLocal.ptr, canonLocal.len);
  announce(0, fam, 0, attr, true);
  if (!attrRefs(attr)) attrFree(attr);
  return 1;
}

/** Withdraws a locally originated route (address in the input region); 1 when it existed. */
export function ribWithdrawLocal(fam: u32, plen: u32): u32 {
  if (fam > 1 || !readKey(fam, plen)) return 0;
  return withdraw(0, fam, 0) ? 1 : 0;
}

// ---- queries ----

/** Up to `limit` prefixes in address order after the one in the input region (when hasAfter); returns the count. */
export function ribQuery(fam: u32, limit: u32, hasAfter: u32, afterLen: u32): u32 {
  if (fam > 1) return 0;
  if (hasAfter && !readKey(fam, afterLen)) return 0;
  return query(fam, limit, hasAfter != 0);
}

/** The one prefix in the input region; returns 0 or 1. */
export function ribLookup(fam: u32, plen: u32): u32 {
  if (fam > 1 || !readKey(fam, plen)) return 0;
  return lookup(fam);
}

/**
 * Global counters: 0 IPv4 prefixes, 1 IPv6 prefixes, 2 paths, 3 attribute sets,
 * 4 decision runs, 5 pending change-log entries, 6 bytes held by RIB structures,
 * 7 change-log consumers, 8 prefix records allocated (with or without paths).
 */
export function ribStat(which: u32): f64 {
  switch (which) {
    case 0: return <f64>tableOf(0).routed;
    case 1: return <f64>tableOf(1).routed;
    case 2: return <f64>paths.live;
    case 3: return <f64>attrCount;
    case 4: return decisionRuns;
    case 5: return <f64>log.len;
    case 6: {
      let b: usize = tableOf(0).bytes() + tableOf(1).bytes() + paths.bytes() + attrTableBytes() + (<usize>log.cap << 2);
      for (let i: u32 = 0; i < MAX_PEERS; i++) {
        const p = peerAt(i);
        if (p.out4) b += p.out4!.bytes();
        if (p.out6) b += p.out6!.bytes();
      }
      return <f64>b;
    }
    case 7: return <f64>consumers;
    case 8: return <f64>(tableOf(0).pool.live + tableOf(1).pool.live);
  }
  return 0;
}
