// RIB state: speaker-wide settings, the peer table, the prefix tables (one per
// family: a chunked record pool plus an open-addressing hash index) and the
// path pool. A path is one (prefix, peer, path id) entry of an Adj-RIB-In; the
// paths of a prefix form a singly linked list whose head is the best path.

import { Buf, ChunkedU32, Pool, mix32 } from "./mem";

// ---- speaker-wide settings ----
export let ownAsn: u32 = 0;
export let ownRouterId: u32 = 0;
export let ownClusterId: u32 = 0;
export let multipath: bool = false;
export let decisionRuns: f64 = 0;

export function setGlobal(asn: u32, routerId: u32, clusterId: u32, mp: bool): void {
  ownAsn = asn;
  ownRouterId = routerId;
  ownClusterId = clusterId ? clusterId : routerId;
  multipath = mp;
}

@inline export function countDecision(): void {
  decisionRuns += 1;
}

// ---- families ----
export const FAM_V4: u32 = 0;
export const FAM_V6: u32 = 1;
/** Prefix references stored in paths and logs: family in bit 31, pool index below. */
export const FAM_BIT: u32 = 0x80000000;

// ---- peers ----
export const MAX_PEERS: u32 = 1024;
export const POLICY_LOCAL: u8 = 0;
export const POLICY_ALL: u8 = 1;
export const POLICY_NONE: u8 = 2;

export class Peer {
  used: bool = false;
  asn: u32 = 0;
  routerId: u32 = 0;
  addrHi: u64 = 0; // neighbour address, IPv4 in the top 32 bits of addrHi
  addrLo: u64 = 0;
  policy: u8 = POLICY_LOCAL;
  maxPrefix: u32 = 0; // 0 = no limit
  tags: u32 = 0; // export tags: gets the locally originated routes tagged with one of these (untagged ones always)
  // negotiated at session establishment
  up: bool = false;
  as4: bool = true;
  addPath4: bool = false;
  addPath6: bool = false;
  fam4: bool = true;
  fam6: bool = false;
  maxMsg: u32 = 4096;
  nh4: u32 = 0; // next hop "self" towards this peer
  nh6Hi: u64 = 0;
  nh6Lo: u64 = 0;
  // ingest state
  errored: bool = false; // a NOTIFICATION was asked for: input is ignored until reset
  paused: bool = false; // stopped after an OPEN/NOTIFICATION until the host resumes
  tail: Buf = new Buf();
  // counters
  received: u32 = 0; // paths in its Adj-RIB-In
  accepted: u32 = 0; // of which eligible for the decision
  advertised: u32 = 0; // prefixes in its Adj-RIB-Out
  updatesIn: f64 = 0;
  updatesOut: f64 = 0;
  withdrawnIn: f64 = 0;
  // Adj-RIB-Out: prefix index -> attribute set id advertised (0 = none)
  out4: ChunkedU32 | null = null;
  out6: ChunkedU32 | null = null;
  // change-log consumer (export)
  consumer: bool = false;
  cursor: u32 = 0;
  syncing: bool = false;
  walkFam: u32 = 0;
  walkPos: u32 = 0;
  eorPending: bool = false;
  walkEor: bool = false; // End-of-RIB follows this walk (the session's first; not a policy re-evaluation)

  @inline isIbgp(): bool {
    return this.asn == ownAsn;
  }
}

export const peers = new Array<Peer>(MAX_PEERS);
for (let i: i32 = 0; i < <i32>MAX_PEERS; i++) peers[i] = new Peer();
peers[0].used = true; // index 0: locally originated routes (and the Loc-RIB/FIB consumer)

@inline export function peerAt(i: u32): Peer {
  return unchecked(peers[i]);
}

// ---- prefixes ----
// Record: 0 head path u32, 4 lastSeq u32, 8 len u8, 9 flags u8, 10 outCount u16,
// 12 address (IPv4: u32 host order; IPv6: hi u64, lo u64 host order).
export const P_HEAD: u32 = 0;
export const P_SEQ: u32 = 4;
export const P_LEN: u32 = 8;
export const P_FLAGS: u32 = 9;
export const P_OUT: u32 = 10;
export const P_ADDR: u32 = 12;
export const PF_LIVE: u8 = 1;

export class PrefixTable {
  pool: Pool;
  slots: usize = 0; // open addressing, linear probing: u64 per slot, hash << 32 | pool index (0 = empty)
  mask: u32 = 0;
  v6: bool;
  routed: u32 = 0; // prefixes with at least one path

  constructor(v6: bool) {
    this.v6 = v6;
    this.pool = new Pool(v6 ? 28 : 16);
    this.resize(1 << 12);
  }

  resize(n: u32): void {
    const old = this.slots;
    const oldN = old ? this.mask + 1 : 0;
    this.slots = heap.alloc(<usize>n << 3);
    memory.fill(this.slots, 0, <usize>n << 3);
    this.mask = n - 1;
    for (let i: u32 = 0; i < oldN; i++) {
      const slot = load<u64>(old + (<usize>i << 3));
      if (!slot) continue;
      // the stored hash places the entry without touching its record
      let s = <u32>(slot >> 32) & this.mask;
      while (load<u64>(this.slots + (<usize>s << 3))) s = (s + 1) & this.mask;
      store<u64>(this.slots + (<usize>s << 3), slot);
    }
    if (old) heap.free(old);
  }

  @inline hashOf(rec: usize): u32 {
    const len = <u32>load<u8>(rec + P_LEN);
    if (!this.v6) return mix32(load<u32>(rec + P_ADDR) ^ (len * 0x9e3779b1));
    const hi = load<u64>(rec + P_ADDR);
    const lo = load<u64>(rec + P_ADDR + 8);
    return keyHash6(hi, lo, len);
  }

  /** The index of the prefix (key in the globals below), 0 when absent. */
  find(): u32 {
    const h = this.keyHash();
    let s = h & this.mask;
    while (true) {
      const slot = load<u64>(this.slots + (<usize>s << 3));
      if (!slot) return 0;
      const idx = <u32>slot;
      if (<u32>(slot >> 32) == h && this.matches(this.pool.at(idx))) return idx;
      s = (s + 1) & this.mask;
    }
    return 0;
  }

  /** The index of the prefix, created (empty) when absent. */
  findOrAdd(): u32 {
    const h = this.keyHash();
    let s = h & this.mask;
    while (true) {
      const slot = load<u64>(this.slots + (<usize>s << 3));
      if (!slot) break;
      const idx = <u32>slot;
      if (<u32>(slot >> 32) == h && this.matches(this.pool.at(idx))) return idx;
      s = (s + 1) & this.mask;
    }
    const idx = this.pool.alloc();
    const rec = this.pool.at(idx);
    store<u8>(rec + P_LEN, <u8>keyLen);
    store<u8>(rec + P_FLAGS, PF_LIVE);
    if (this.v6) {
      store<u64>(rec + P_ADDR, keyHi);
      store<u64>(rec + P_ADDR + 8, keyLo);
    } else {
      store<u32>(rec + P_ADDR, keyV4);
    }
    store<u64>(this.slots + (<usize>s << 3), (<u64>h << 32) | <u64>idx);
    if (this.pool.live * 4 > (this.mask + 1) * 3) this.resize((this.mask + 1) << 1);
    return idx;
  }

  /** Removes the prefix from the index and frees its record (backward-shift deletion). */
  remove(idx: u32): void {
    let s = this.hashOf(this.pool.at(idx)) & this.mask;
    while (true) {
      const cur = load<u64>(this.slots + (<usize>s << 3));
      if (<u32>cur == idx) break;
      if (!cur) unreachable(); // not indexed: a broken invariant must trap, not spin
      s = (s + 1) & this.mask;
    }
    let hole = s;
    let j = (s + 1) & this.mask;
    while (true) {
      const other = load<u64>(this.slots + (<usize>j << 3));
      if (!other) break;
      const home = <u32>(other >> 32) & this.mask;
      // move `other` into the hole when its home is not cyclically in (hole, j]
      const dist = (j - home) & this.mask;
      const holeDist = (j - hole) & this.mask;
      if (dist >= holeDist) {
        store<u64>(this.slots + (<usize>hole << 3), other);
        hole = j;
      }
      j = (j + 1) & this.mask;
    }
    store<u64>(this.slots + (<usize>hole << 3), 0);
    this.pool.release(idx);
  }

  @inline private keyHash(): u32 {
    if (!this.v6) return mix32(keyV4 ^ (keyLen * 0x9e3779b1));
    return keyHash6(keyHi, keyLo, keyLen);
  }

  @inline private matches(rec: usize): bool {
    if (<u32>load<u8>(rec + P_LEN) != keyLen) return false;
    if (!this.v6) return load<u32>(rec + P_ADDR) == keyV4;
    return load<u64>(rec + P_ADDR) == keyHi && load<u64>(rec + P_ADDR + 8) == keyLo;
  }

  bytes(): usize {
    return this.pool.bytes() + (<usize>(this.mask + 1) << 3);
  }
}

@inline function keyHash6(hi: u64, lo: u64, len: u32): u32 {
  const x = hi ^ (lo * 0x9e3779b97f4a7c15) ^ (<u64>len << 56);
  return mix32(<u32>x ^ mix32(<u32>(x >> 32)));
}

// The prefix being looked up (set by the NLRI parser or the ABI).
export let keyV4: u32 = 0;
export let keyHi: u64 = 0;
export let keyLo: u64 = 0;
export let keyLen: u32 = 0;

export function setKey4(addr: u32, len: u32): void {
  keyV4 = len ? addr & (0xffffffff << (32 - len)) : 0;
  keyLen = len;
}

export function setKey6(hi: u64, lo: u64, len: u32): void {
  if (len <= 64) {
    keyHi = len ? hi & (0xffffffffffffffff << (64 - <u64>len)) : 0;
    keyLo = 0;
  } else {
    keyHi = hi;
    keyLo = len == 128 ? lo : lo & (0xffffffffffffffff << (128 - <u64>len));
  }
  keyLen = len;
}

export const tables = new StaticArray<PrefixTable>(2);
tables[0] = new PrefixTable(false);
tables[1] = new PrefixTable(true);

@inline export function tableOf(fam: u32): PrefixTable {
  return unchecked(tables[fam]);
}

/** The record pointer of a prefix reference (family bit + index). */
@inline export function prefixRec(ref: u32): usize {
  return tableOf(ref >>> 31).pool.at(ref & ~FAM_BIT);
}

// ---- paths ----
// Record (20 bytes): 0 next u32, 4 attr u32, 8 path id u32, 12 prefix ref u32, 16 peer u16, 18 flags u16.
export const T_NEXT: u32 = 0;
export const T_ATTR: u32 = 4;
export const T_PATHID: u32 = 8;
export const T_PREFIX: u32 = 12;
export const T_PEER: u32 = 16;
export const T_FLAGS: u32 = 18;
export const TF_LIVE: u16 = 1;
export const TF_BEST: u16 = 2;
export const TF_MULTIPATH: u16 = 4;
export const TF_ELIGIBLE: u16 = 8;
export const TF_STALE: u16 = 16; // kept through a graceful restart until the peer re-sends it

export const paths = new Pool(20);

@inline export function pathRec(i: u32): usize {
  return paths.at(i);
}
