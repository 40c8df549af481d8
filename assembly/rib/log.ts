// The Loc-RIB change log: prefix references appended when a prefix's best path
// or multipath set changes. Each consumer (peer 0 = the host's FIB/Loc-RIB
// drain, peer N = export towards peer N) reads from its own cursor and looks at
// the prefix's current state, so a prefix needs at most one pending entry.
// A consumer that starts late first walks the whole table ("sync").

import { FAM_BIT, FAM_V4, FAM_V6, MAX_PEERS, P_FLAGS, P_HEAD, P_OUT, P_SEQ, PF_LIVE, Peer, peerAt, prefixRec, tableOf } from "./state";
import { Vec32 } from "./mem";

export const log = new Vec32();
export let logBase: u32 = 1; // sequence number of log[0]
export let consumers: u32 = 0;
let maxCursor: u32 = 0;
let minCursorCache: u32 = 0;

@inline export function logEnd(): u32 {
  return logBase + log.len;
}

/** Records that the prefix changed, unless an entry every consumer will read is already pending. */
export function logAppend(ref: u32, rec: usize): void {
  if (!consumers) return;
  const last = load<u32>(rec + P_SEQ);
  if (last && last >= maxCursor) return;
  store<u32>(rec + P_SEQ, logEnd());
  log.push(ref);
}

export function consumerStart(peer: Peer): void {
  if (peer.consumer) return;
  peer.consumer = true;
  peer.cursor = logEnd();
  peer.syncing = true;
  peer.walkFam = 0;
  peer.walkPos = 1;
  peer.walkEor = true;
  if (peer.cursor > maxCursor) maxCursor = peer.cursor;
  consumers++;
}

/** Walks the whole table again (export policy changed): differences with the Adj-RIB-Out are sent. */
export function consumerRewalk(peer: Peer): void {
  if (!peer.consumer) return;
  peer.syncing = true;
  peer.walkFam = 0;
  peer.walkPos = 1;
}

export function consumerStop(peer: Peer): void {
  if (!peer.consumer) return;
  peer.consumer = false;
  peer.syncing = false;
  peer.eorPending = false;
  peer.walkEor = false;
  consumers--;
  trim();
}

/**
 * The next table position of a consumer's sync walk (the IPv4 table, then the
 * IPv6 one; peer.walkFam is its family), or 0 once the walk is over: syncing is
 * cleared, and eorPending set when an End-of-RIB follows this walk.
 */
export function walkNext(peer: Peer): u32 {
  for (;;) {
    if (peer.walkPos < tableOf(peer.walkFam).pool.count) return peer.walkPos++;
    if (peer.walkFam == FAM_V4) {
      peer.walkFam = FAM_V6;
      peer.walkPos = 1;
      continue;
    }
    peer.syncing = false;
    peer.eorPending = peer.walkEor;
    peer.walkEor = false;
    return 0;
  }
}

export function consumerAdvance(peer: Peer, cursor: u32): void {
  peer.cursor = cursor;
  if (cursor > maxCursor) maxCursor = cursor;
}

function minCursor(): u32 {
  let m: u32 = logEnd();
  for (let i: u32 = 0; i < MAX_PEERS; i++) {
    const p = peerAt(i);
    if (p.consumer && p.cursor < m) m = p.cursor;
  }
  return m;
}

/** Frees an empty prefix nobody still needs: no path, not advertised, no pending log entry. */
export function maybeFree(ref: u32): void {
  const rec = prefixRec(ref);
  if (!(load<u8>(rec + P_FLAGS) & PF_LIVE)) return;
  if (load<u32>(rec + P_HEAD) || load<u16>(rec + P_OUT)) return;
  if (consumers && load<u32>(rec + P_SEQ) >= minCursorCache) return;
  tableOf(ref >>> 31).remove(ref & ~FAM_BIT);
}

/** Drops entries every consumer has read (in bulk, to keep the copy amortised). */
export function trim(): void {
  const m = consumers ? minCursor() : logEnd();
  const drop = m - logBase;
  if (!drop) return;
  if (consumers && drop < 4096 && drop < log.len) return;
  minCursorCache = m;
  for (let i: u32 = 0; i < drop; i++) maybeFree(log.get(i));
  const rest = log.len - drop;
  if (rest) memory.copy(log.ptr, log.ptr + (<usize>drop << 2), <usize>rest << 2);
  log.len = rest;
  logBase = m;
}

/** Updates the cached minimum cursor used by maybeFree outside of trim. */
export function refreshMinCursor(): void {
  minCursorCache = consumers ? minCursor() : logEnd();
}
