// Interned path attribute sets: one record per distinct (family, next hop,
// canonical attribute bytes), refcounted by the paths and Adj-RIB-Out entries
// that use it, with the decision-process fields computed once per set.
//
// Canonical attribute bytes: attributes sorted by type code, AS_PATH and
// AGGREGATOR always in 4-octet form (AS4_PATH / AS4_AGGREGATOR merged in),
// NEXT_HOP / MP_REACH / MP_UNREACH left out (the next hop is a field of the set),
// extended-length flag set exactly when the value exceeds 255 bytes.

import { Vec32, hashBytes, mix32 } from "./mem";

// Record layout (one heap block per set): header, then next hop bytes, then canonical attributes.
export const A_REFS: u32 = 0;
export const A_HASH: u32 = 4;
export const A_CHAIN: u32 = 8;
export const A_LEN: u32 = 12; // u16 canonical bytes length
export const A_NHLEN: u32 = 14; // u8
export const A_ORIGIN: u32 = 15; // u8
export const A_LOCALPREF: u32 = 16;
export const A_MED: u32 = 20;
export const A_NEIGHBOR_AS: u32 = 24;
export const A_ORIGINATOR: u32 = 28;
export const A_ASPATH_LEN: u32 = 32; // u16
export const A_CLUSTER_LEN: u32 = 34; // u16
export const A_FLAGS: u32 = 36; // u8
export const A_BATCH_GEN: u32 = 40;
export const A_BATCH_HEAD: u32 = 44;
/** Export tags of a locally originated set (0: every peer), part of the set's identity. */
export const A_TAGS: u32 = 48;
export const A_HEADER: u32 = 52;

export const AF_HAS_MED: u8 = 1;
export const AF_HAS_ORIGINATOR: u8 = 2;
export const AF_NH_SELF: u8 = 4; // locally originated with next hop "self"
export const AF_LOCAL: u8 = 8; // locally originated
export const AF_V6: u8 = 16; // the set belongs to IPv6 unicast paths
export const AF_NO_EXPORT: u8 = 32; // received with NO_EXPORT or NO_EXPORT_SUBCONFED: to no eBGP peer
export const AF_NO_ADVERTISE: u8 = 64; // received with NO_ADVERTISE: to no peer
// Flags that are part of the set's identity (the rest are derived from the bytes).
const AF_IDENTITY: u8 = AF_NH_SELF | AF_LOCAL | AF_V6;

// Decision fields of the set being interned (filled by the caller, then intern()).
export let dLocalPref: u32 = 100;
export let dMed: u32 = 0;
export let dNeighborAs: u32 = 0;
export let dOriginator: u32 = 0;
export let dAsPathLen: u32 = 0;
export let dClusterLen: u32 = 0;
export let dOrigin: u32 = 0;
export let dFlags: u8 = 0;
export let dTags: u32 = 0;

/** Export tags of the set being interned (locally originated routes only; reset by setDecisionFields). */
export function setDecisionTags(tags: u32): void {
  dTags = tags;
}

/** Changes only the flags of the set being interned (same attributes, another family). */
export function setDecisionFlags(flags: u8): void {
  dFlags = flags;
}

export function setDecisionFields(lp: u32, med: u32, nas: u32, orig: u32, plen: u32, clen: u32, origin: u32, flags: u8): void {
  dLocalPref = lp;
  dMed = med;
  dNeighborAs = nas;
  dOriginator = orig;
  dAsPathLen = plen;
  dClusterLen = clen;
  dOrigin = origin;
  dFlags = flags;
  dTags = 0;
}

const ptrs = new Vec32(); // id -> record pointer (0 = free id)
const freeIds = new Vec32();
let buckets: usize = 0;
let bucketMask: u32 = 0;
export let attrCount: u32 = 0;
export let attrBytes: usize = 0;

function initBuckets(n: u32): void {
  buckets = heap.alloc(<usize>n << 2);
  memory.fill(buckets, 0, <usize>n << 2);
  bucketMask = n - 1;
}

@inline export function attrPtr(id: u32): usize {
  return <usize>load<u32>(ptrs.ptr + (<usize>id << 2));
}

function rehash(n: u32): void {
  heap.free(buckets);
  initBuckets(n);
  for (let id: u32 = 1; id < ptrs.len; id++) {
    const p = attrPtr(id);
    if (!p) continue;
    const b = buckets + (<usize>(load<u32>(p + A_HASH) & bucketMask) << 2);
    store<u32>(p + A_CHAIN, load<u32>(b));
    store<u32>(b, id);
  }
}

/** Whether two sets send the same UPDATE: they differ at most in their export tags. */
export function sameOnWire(a: u32, b: u32): bool {
  const p = attrPtr(a);
  const q = attrPtr(b);
  const n = <u32>load<u8>(p + A_NHLEN) + <u32>load<u16>(p + A_LEN);
  return (
    load<u16>(p + A_LEN) == load<u16>(q + A_LEN) &&
    load<u8>(p + A_NHLEN) == load<u8>(q + A_NHLEN) &&
    (load<u8>(p + A_FLAGS) & AF_IDENTITY) == (load<u8>(q + A_FLAGS) & AF_IDENTITY) &&
    memory.compare(p + A_HEADER, q + A_HEADER, n) == 0
  );
}

/** The id of the set (family flag + next hop + canonical bytes), created with 0 references when new. */
export function intern(nh: usize, nhLen: u32, bytes: usize, len: u32): u32 {
  if (!buckets) {
    initBuckets(1024);
    ptrs.push(0); // id 0 is null
  }
  const ident = dFlags & AF_IDENTITY;
  const h = mix32(hashBytes(bytes, len, hashBytes(nh, nhLen, 0x5a17 + <u32>ident)) ^ dTags);
  let id = load<u32>(buckets + (<usize>(h & bucketMask) << 2));
  while (id) {
    const p = attrPtr(id);
    if (
      load<u32>(p + A_HASH) == h &&
      <u32>load<u16>(p + A_LEN) == len &&
      <u32>load<u8>(p + A_NHLEN) == nhLen &&
      (load<u8>(p + A_FLAGS) & AF_IDENTITY) == ident &&
      load<u32>(p + A_TAGS) == dTags &&
      memory.compare(p + A_HEADER, nh, nhLen) == 0 &&
      memory.compare(p + A_HEADER + nhLen, bytes, len) == 0
    ) return id;
    id = load<u32>(p + A_CHAIN);
  }
  const size = <usize>(A_HEADER + nhLen + len);
  const p = heap.alloc(size);
  memory.fill(p, 0, A_HEADER);
  store<u32>(p + A_HASH, h);
  store<u16>(p + A_LEN, <u16>len);
  store<u8>(p + A_NHLEN, <u8>nhLen);
  store<u8>(p + A_ORIGIN, <u8>dOrigin);
  store<u32>(p + A_LOCALPREF, dLocalPref);
  store<u32>(p + A_MED, dMed);
  store<u32>(p + A_NEIGHBOR_AS, dNeighborAs);
  store<u32>(p + A_ORIGINATOR, dOriginator);
  store<u16>(p + A_ASPATH_LEN, <u16>min<u32>(dAsPathLen, 0xffff));
  store<u16>(p + A_CLUSTER_LEN, <u16>min<u32>(dClusterLen, 0xffff));
  store<u8>(p + A_FLAGS, dFlags);
  store<u32>(p + A_TAGS, dTags);
  memory.copy(p + A_HEADER, nh, nhLen);
  memory.copy(p + A_HEADER + nhLen, bytes, len);
  if (freeIds.len) {
    freeIds.len--;
    id = freeIds.get(freeIds.len);
    ptrs.set(id, <u32>p);
  } else {
    id = ptrs.len;
    ptrs.push(<u32>p);
  }
  const b = buckets + (<usize>(h & bucketMask) << 2);
  store<u32>(p + A_CHAIN, load<u32>(b));
  store<u32>(b, id);
  attrCount++;
  attrBytes += size;
  if (attrCount > bucketMask + 1) rehash((bucketMask + 1) << 1);
  return id;
}

@inline export function attrRef(id: u32): void {
  const p = attrPtr(id);
  store<u32>(p + A_REFS, load<u32>(p + A_REFS) + 1);
}

/** Drops one reference; the set is freed when none is left. */
export function attrUnref(id: u32): void {
  const p = attrPtr(id);
  const r = load<u32>(p + A_REFS);
  if (r > 1) {
    store<u32>(p + A_REFS, r - 1);
    return;
  }
  attrFree(id);
}

/** Frees a set nobody references (also used for a set interned but never used). */
export function attrFree(id: u32): void {
  const p = attrPtr(id);
  const b = buckets + (<usize>(load<u32>(p + A_HASH) & bucketMask) << 2);
  let cur = load<u32>(b);
  if (cur == id) {
    store<u32>(b, load<u32>(p + A_CHAIN));
  } else {
    while (cur) {
      const cp = attrPtr(cur);
      const nx = load<u32>(cp + A_CHAIN);
      if (nx == id) {
        store<u32>(cp + A_CHAIN, load<u32>(p + A_CHAIN));
        break;
      }
      cur = nx;
    }
  }
  attrBytes -= <usize>(A_HEADER + <u32>load<u8>(p + A_NHLEN) + <u32>load<u16>(p + A_LEN));
  heap.free(p);
  ptrs.set(id, 0);
  freeIds.push(id);
  attrCount--;
}

@inline export function attrRefs(id: u32): u32 {
  return load<u32>(attrPtr(id) + A_REFS);
}

@inline export function attrNh(p: usize): usize {
  return p + A_HEADER;
}

@inline export function attrBytesPtr(p: usize): usize {
  return p + A_HEADER + <usize>load<u8>(p + A_NHLEN);
}

export function attrTableBytes(): usize {
  return attrBytes + (<usize>ptrs.cap << 2) + (<usize>(bucketMask + 1) << 2) + (<usize>freeIds.cap << 2);
}
