// Adj-RIB-In operations: announce (with implicit withdraw of the same peer +
// path id), withdraw, and flushing a peer; each runs the decision for the
// prefix and logs Loc-RIB changes.

import { attrRef, attrUnref } from "./attrs";
import { decide } from "./decision";
import { consumerStop, consumers, logAppend, maybeFree, refreshMinCursor } from "./log";
import {
  P_HEAD, P_OUT, Peer, T_ATTR, T_FLAGS, T_NEXT, T_PATHID, T_PEER, T_PREFIX, TF_BEST, TF_ELIGIBLE, TF_LIVE, TF_MULTIPATH, TF_STALE,
  pathRec, paths, peerAt, prefixRec, tableOf,
} from "./state";

/** Adds or replaces the path (peer, path id) of the prefix in the key globals. */
export function announce(peerIdx: u32, fam: u32, pathId: u32, attr: u32, eligible: bool): void {
  const table = tableOf(fam);
  const idx = table.findOrAdd();
  const rec = table.pool.at(idx);
  const ref = idx | (fam << 31);
  const peer = peerAt(peerIdx);
  let p = load<u32>(rec + P_HEAD);
  while (p) {
    const r = pathRec(p);
    if (<u32>load<u16>(r + T_PEER) == peerIdx && load<u32>(r + T_PATHID) == pathId) break;
    p = load<u32>(r + T_NEXT);
  }
  let changed: bool;
  if (p) {
    const r = pathRec(p);
    const oldAttr = load<u32>(r + T_ATTR);
    const f = load<u16>(r + T_FLAGS);
    const wasEligible = (f & TF_ELIGIBLE) != 0;
    if (f & TF_STALE) store<u16>(r + T_FLAGS, f & ~TF_STALE);
    if (oldAttr == attr && wasEligible == eligible) return;
    attrRef(attr);
    attrUnref(oldAttr);
    store<u32>(r + T_ATTR, attr);
    if (wasEligible && !eligible) peer.accepted--;
    if (!wasEligible && eligible) peer.accepted++;
    const g = f & ~TF_STALE;
    store<u16>(r + T_FLAGS, eligible ? g | TF_ELIGIBLE : g & ~TF_ELIGIBLE);
    changed = decide(ref, p, (f & (TF_BEST | TF_MULTIPATH)) != 0);
  } else {
    p = paths.alloc();
    const r = pathRec(p);
    store<u32>(r + T_ATTR, attr);
    store<u32>(r + T_PATHID, pathId);
    store<u32>(r + T_PREFIX, ref);
    store<u16>(r + T_PEER, <u16>peerIdx);
    store<u16>(r + T_FLAGS, TF_LIVE | (eligible ? TF_ELIGIBLE : 0));
    const head = load<u32>(rec + P_HEAD);
    if (!head) {
      store<u32>(rec + P_HEAD, p);
      table.routed++;
    } else {
      // behind the head, which is the current best
      const hr = pathRec(head);
      store<u32>(r + T_NEXT, load<u32>(hr + T_NEXT));
      store<u32>(hr + T_NEXT, p);
    }
    attrRef(attr);
    peer.received++;
    if (eligible) peer.accepted++;
    changed = decide(ref, p, false);
  }
  if (changed) logAppend(ref, rec);
}

/** Unlinks and frees path p of prefix ref, then re-runs the decision. */
function removePath(ref: u32, p: u32): void {
  const rec = prefixRec(ref);
  const r = pathRec(p);
  let cur = load<u32>(rec + P_HEAD);
  if (cur == p) {
    store<u32>(rec + P_HEAD, load<u32>(r + T_NEXT));
  } else {
    while (cur) {
      const cr = pathRec(cur);
      if (load<u32>(cr + T_NEXT) == p) {
        store<u32>(cr + T_NEXT, load<u32>(r + T_NEXT));
        break;
      }
      cur = load<u32>(cr + T_NEXT);
    }
  }
  const f = load<u16>(r + T_FLAGS);
  const peer = peerAt(<u32>load<u16>(r + T_PEER));
  peer.received--;
  if (f & TF_ELIGIBLE) peer.accepted--;
  attrUnref(load<u32>(r + T_ATTR));
  paths.release(p);
  const changed = decide(ref, 0, (f & (TF_BEST | TF_MULTIPATH)) != 0);
  const empty = !load<u32>(rec + P_HEAD);
  // an emptied prefix is always logged: its record is freed once every consumer has read it
  if (changed || empty) logAppend(ref, rec);
  if (empty) {
    tableOf(ref >>> 31).routed--;
    if (!consumers) maybeFree(ref);
  }
}

/** Withdraws (peer, path id) for the prefix in the key globals; false when it was not there. */
export function withdraw(peerIdx: u32, fam: u32, pathId: u32): bool {
  const table = tableOf(fam);
  const idx = table.find();
  if (!idx) return false;
  const rec = table.pool.at(idx);
  let p = load<u32>(rec + P_HEAD);
  while (p) {
    const r = pathRec(p);
    if (<u32>load<u16>(r + T_PEER) == peerIdx && load<u32>(r + T_PATHID) == pathId) break;
    p = load<u32>(r + T_NEXT);
  }
  if (!p) return false;
  removePath(idx | (fam << 31), p);
  return true;
}

/** Removes every path the peer sent (session down or peer removed). */
export function flushAdjRibIn(peerIdx: u32): void {
  if (!peerAt(peerIdx).received) return;
  const n = paths.count;
  for (let p: u32 = 1; p < n; p++) {
    const r = pathRec(p);
    if (!(load<u16>(r + T_FLAGS) & TF_LIVE) || <u32>load<u16>(r + T_PEER) != peerIdx) continue;
    removePath(load<u32>(r + T_PREFIX), p);
  }
}

/**
 * The peer's paths of the families in famMask (1 IPv4, 2 IPv6) stay in use, marked
 * stale until re-announced or swept: graceful restart (RFC 4724 helper) and
 * enhanced route refresh (RFC 7313 BoRR).
 */
export function markStale(peerIdx: u32, famMask: u32): void {
  if (!peerAt(peerIdx).received) return;
  const n = paths.count;
  for (let p: u32 = 1; p < n; p++) {
    const r = pathRec(p);
    const f = load<u16>(r + T_FLAGS);
    if (!(f & TF_LIVE) || <u32>load<u16>(r + T_PEER) != peerIdx) continue;
    if (!((1 << (load<u32>(r + T_PREFIX) >>> 31)) & famMask)) continue;
    store<u16>(r + T_FLAGS, f | TF_STALE);
  }
}

/** Removes the peer's paths still stale (End-of-RIB received or restart timer expired); famMask 1 IPv4, 2 IPv6. */
export function sweepStale(peerIdx: u32, famMask: u32): u32 {
  let removed: u32 = 0;
  const n = paths.count;
  for (let p: u32 = 1; p < n; p++) {
    const r = pathRec(p);
    const f = load<u16>(r + T_FLAGS);
    if (!(f & TF_LIVE) || !(f & TF_STALE) || <u32>load<u16>(r + T_PEER) != peerIdx) continue;
    const ref = load<u32>(r + T_PREFIX);
    if (!((1 << (ref >>> 31)) & famMask)) continue;
    removePath(ref, p);
    removed++;
  }
  return removed;
}

/** Forgets what was advertised to the peer and stops its export (session down). */
export function clearAdjRibOut(peer: Peer): void {
  consumerStop(peer);
  refreshMinCursor();
  for (let fam: u32 = 0; fam < 2; fam++) {
    const out = fam ? peer.out6 : peer.out4;
    if (!out) continue;
    const pool = tableOf(fam).pool;
    for (let i: u32 = 1; i < pool.count && peer.advertised; i++) {
      const a = out.get(i);
      if (!a) continue;
      attrUnref(a);
      const rec = pool.at(i);
      store<u16>(rec + P_OUT, load<u16>(rec + P_OUT) - 1);
      peer.advertised--;
      maybeFree(i | (fam << 31));
    }
    out.dispose();
    if (fam) peer.out6 = null;
    else peer.out4 = null;
  }
  peer.advertised = 0;
}

