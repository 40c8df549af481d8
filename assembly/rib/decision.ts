// The decision process (RFC 4271 9.1.2): candidate paths are eliminated step by
// step, each step keeping only the paths best at that step, so the order is
// strictly lexicographic and the MED step (compared within a neighbouring AS
// only) follows the RFC's elimination rather than a non-transitive pairwise
// comparison. Multipath: the paths left after the MED step that share the best
// path's neighbouring AS, one per neighbour.

import {
  A_ASPATH_LEN, A_CLUSTER_LEN, A_FLAGS, A_LOCALPREF, A_MED, A_NEIGHBOR_AS, A_ORIGIN, A_ORIGINATOR, AF_HAS_ORIGINATOR, attrPtr,
} from "./attrs";
import { Vec32 } from "./mem";
import {
  P_HEAD, T_ATTR, T_FLAGS, T_NEXT, T_PATHID, T_PEER, TF_BEST, TF_ELIGIBLE, TF_MULTIPATH, countDecision, multipath, ownRouterId,
  pathRec, peerAt, prefixRec,
} from "./state";

const cand = new Vec32();
const afterMed = new Vec32();
const mpSet = new Vec32();

const STEP_LOCALPREF: i32 = 0;
const STEP_LOCAL: i32 = 1;
const STEP_ASPATH: i32 = 2;
const STEP_ORIGIN: i32 = 3;
const STEP_EBGP: i32 = 4;
const STEP_ROUTERID: i32 = 5;
const STEP_CLUSTER: i32 = 6;
const STEP_ADDR_HI: i32 = 7;
const STEP_ADDR_LO: i32 = 8;
const STEP_PATHID: i32 = 9;
const STEP_PEER: i32 = 10;

@inline function pathAttr(p: u32): usize {
  return attrPtr(load<u32>(pathRec(p) + T_ATTR));
}

@inline function pathPeer(p: u32): u32 {
  return <u32>load<u16>(pathRec(p) + T_PEER);
}

/** The value a step minimises for path p. */
function metric(p: u32, step: i32): u64 {
  const a = pathAttr(p);
  const peerIdx = pathPeer(p);
  switch (step) {
    case STEP_LOCALPREF: return <u64>(0xffffffff - load<u32>(a + A_LOCALPREF));
    case STEP_LOCAL: return peerIdx ? 1 : 0;
    case STEP_ASPATH: return <u64>load<u16>(a + A_ASPATH_LEN);
    case STEP_ORIGIN: return <u64>load<u8>(a + A_ORIGIN);
    case STEP_EBGP: return peerIdx && peerAt(peerIdx).isIbgp() ? 1 : 0;
    case STEP_ROUTERID: {
      if (load<u8>(a + A_FLAGS) & AF_HAS_ORIGINATOR) return <u64>load<u32>(a + A_ORIGINATOR);
      return <u64>(peerIdx ? peerAt(peerIdx).routerId : ownRouterId);
    }
    case STEP_CLUSTER: return <u64>load<u16>(a + A_CLUSTER_LEN);
    case STEP_ADDR_HI: return peerIdx ? peerAt(peerIdx).addrHi : 0;
    case STEP_ADDR_LO: return peerIdx ? peerAt(peerIdx).addrLo : 0;
    case STEP_PATHID: return <u64>load<u32>(pathRec(p) + T_PATHID);
    default: return <u64>peerIdx;
  }
}

/** Keeps the candidates with the lowest metric for the step. */
function keepMin(step: i32): void {
  let best: u64 = <u64>-1;
  for (let i: u32 = 0; i < cand.len; i++) {
    const m = metric(cand.get(i), step);
    if (m < best) best = m;
  }
  let n: u32 = 0;
  for (let i: u32 = 0; i < cand.len; i++) {
    const p = cand.get(i);
    if (metric(p, step) == best) cand.set(n++, p);
  }
  cand.len = n;
}

/** Removes paths whose MED is higher than another candidate's from the same neighbouring AS. */
function keepLowestMedPerNeighborAs(): void {
  let n: u32 = 0;
  const len = cand.len;
  // decide on the original set, compact into the front afterwards
  for (let i: u32 = 0; i < len; i++) {
    const ai = pathAttr(cand.get(i));
    const nas = load<u32>(ai + A_NEIGHBOR_AS);
    const med = load<u32>(ai + A_MED);
    let beaten = false;
    for (let j: u32 = 0; j < len && !beaten; j++) {
      const aj = pathAttr(cand.get(j));
      if (load<u32>(aj + A_NEIGHBOR_AS) == nas && load<u32>(aj + A_MED) < med) beaten = true;
    }
    afterMed.set(i, beaten ? 0 : 1);
  }
  for (let i: u32 = 0; i < len; i++) if (afterMed.get(i)) cand.set(n++, cand.get(i));
  cand.len = n;
}

function selectBest(): u32 {
  keepMin(STEP_LOCALPREF);
  if (cand.len > 1) keepMin(STEP_LOCAL);
  if (cand.len > 1) keepMin(STEP_ASPATH);
  if (cand.len > 1) keepMin(STEP_ORIGIN);
  if (cand.len > 1) {
    afterMed.reserve(cand.len);
    keepLowestMedPerNeighborAs();
  }
  // the multipath candidates: equal up to the MED step
  afterMed.len = 0;
  for (let i: u32 = 0; i < cand.len; i++) afterMed.push(cand.get(i));
  if (cand.len > 1) keepMin(STEP_EBGP);
  if (cand.len > 1) keepMin(STEP_ROUTERID);
  if (cand.len > 1) keepMin(STEP_CLUSTER);
  if (cand.len > 1) keepMin(STEP_ADDR_HI);
  if (cand.len > 1) keepMin(STEP_ADDR_LO);
  if (cand.len > 1) keepMin(STEP_PATHID);
  if (cand.len > 1) keepMin(STEP_PEER);
  const best = cand.get(0);
  mpSet.len = 0;
  const bestPeer = pathPeer(best);
  if (multipath && bestPeer) {
    const nas = load<u32>(pathAttr(best) + A_NEIGHBOR_AS);
    for (let i: u32 = 0; i < afterMed.len; i++) {
      const p = afterMed.get(i);
      const pp = pathPeer(p);
      if (p == best || !pp || pp == bestPeer) continue;
      if (load<u32>(pathAttr(p) + A_NEIGHBOR_AS) != nas) continue;
      let dup = false;
      for (let j: u32 = 0; j < mpSet.len; j++) if (pathPeer(mpSet.get(j)) == pp) dup = true;
      if (!dup) mpSet.push(p);
    }
  }
  return best;
}

@inline function inMpSet(p: u32): bool {
  for (let j: u32 = 0; j < mpSet.len; j++) if (mpSet.get(j) == p) return true;
  return false;
}

/**
 * Re-runs the decision for a prefix after its path list changed, sets the
 * best/multipath flags and moves the best path to the head of the list.
 * `touched` is the path that was added or replaced (0 for a removal);
 * `touchedWasSelected` says whether the changed/removed path was best or multipath.
 * Returns true when the Loc-RIB entry (best path or multipath set) changed.
 */
export function decide(ref: u32, touched: u32, touchedWasSelected: bool): bool {
  countDecision();
  const rec = prefixRec(ref);
  cand.len = 0;
  mpSet.len = 0;
  let p = load<u32>(rec + P_HEAD);
  while (p) {
    const r = pathRec(p);
    if (load<u16>(r + T_FLAGS) & TF_ELIGIBLE) cand.push(p);
    p = load<u32>(r + T_NEXT);
  }
  let best: u32 = 0;
  if (cand.len == 1) best = cand.get(0);
  else if (cand.len > 1) best = selectBest();

  let changed = touchedWasSelected;
  let prev: u32 = 0;
  let bestPrev: u32 = 0;
  p = load<u32>(rec + P_HEAD);
  while (p) {
    const r = pathRec(p);
    const f = load<u16>(r + T_FLAGS);
    const old = f & (TF_BEST | TF_MULTIPATH);
    const now: u16 = p == best ? TF_BEST : mpSet.len && inMpSet(p) ? TF_MULTIPATH : 0;
    if (old != now || (p == touched && now)) changed = true;
    store<u16>(r + T_FLAGS, (f & ~(TF_BEST | TF_MULTIPATH)) | now);
    if (p == best) bestPrev = prev;
    prev = p;
    p = load<u32>(r + T_NEXT);
  }
  if (best && bestPrev) {
    const br = pathRec(best);
    store<u32>(pathRec(bestPrev) + T_NEXT, load<u32>(br + T_NEXT));
    store<u32>(br + T_NEXT, load<u32>(rec + P_HEAD));
    store<u32>(rec + P_HEAD, best);
  }
  return changed;
}
