// Reading the Loc-RIB from the host: the change queue the FIB writer drains
// (consumer 0 of the change log) and paged queries for the API.
//
// Change record: u8 family (4|6), u8 prefix length, u8 flags (1 withdrawn,
// 2 best path is locally originated), u8 next hop count, prefix address
// (4 or 16 bytes, network order), next hops (4 or 16 bytes each): the best
// path's first, then the multipath (ECMP) members'.
//
// Query record: u8 prefix length, u8 path count, u16 0, address (4|16 bytes),
// then per path: u16 peer, u8 flags (2 best, 4 multipath, 8 eligible, 16 stale), u8 next
// hop length, u32 path id, u16 attribute bytes length, u16 0, next hop bytes,
// canonical attribute bytes.

import { A_FLAGS, A_LEN, A_NHLEN, AF_LOCAL, attrBytesPtr, attrNh, attrPtr } from "./attrs";
import { consumerAdvance, log, logBase, logEnd, trim, walkNext } from "./log";
import { Vec32 } from "./mem";
import { out } from "./export";
import {
  FAM_V6, P_ADDR, P_FLAGS, P_HEAD, P_LEN, PF_LIVE, T_ATTR, T_FLAGS, T_NEXT, T_PATHID, T_PEER, TF_BEST, TF_MULTIPATH,
  keyHi, keyLen, keyLo, keyV4, pathRec, peerAt, tableOf,
} from "./state";

function writeAddr(w: usize, fam: u32, rec: usize): usize {
  if (fam == FAM_V6) {
    store<u64>(w, bswap<u64>(load<u64>(rec + P_ADDR)));
    store<u64>(w + 8, bswap<u64>(load<u64>(rec + P_ADDR + 8)));
    return w + 16;
  }
  store<u32>(w, bswap<u32>(load<u32>(rec + P_ADDR)));
  return w + 4;
}

function writeChange(fam: u32, rec: usize): void {
  out.ensure(4 + 16 + 16 * 256);
  const p = out.end();
  store<u8>(p, fam == FAM_V6 ? 6 : 4);
  store<u8>(p + 1, load<u8>(rec + P_LEN));
  let w = writeAddr(p + 4, fam, rec);
  const head = load<u32>(rec + P_HEAD);
  let flags: u8 = 1;
  let n: u32 = 0;
  if (head && load<u16>(pathRec(head) + T_FLAGS) & TF_BEST) {
    flags = 0;
    const a = attrPtr(load<u32>(pathRec(head) + T_ATTR));
    if (load<u8>(a + A_FLAGS) & AF_LOCAL) {
      flags = 2;
    } else {
      const nhBytes: u32 = fam == FAM_V6 ? 16 : 4;
      let path = head;
      while (path && n < 255) {
        const r = pathRec(path);
        if (load<u16>(r + T_FLAGS) & (TF_BEST | TF_MULTIPATH)) {
          const pa = attrPtr(load<u32>(r + T_ATTR));
          if (<u32>load<u8>(pa + A_NHLEN) >= nhBytes) {
            memory.copy(w, attrNh(pa), nhBytes);
            w += nhBytes;
            n++;
          }
        }
        path = load<u32>(r + T_NEXT);
      }
    }
  }
  store<u8>(p + 2, flags);
  store<u8>(p + 3, <u8>n);
  out.len += <u32>(w - p);
}

/** Writes up to maxRecords Loc-RIB change records into `out`; returns how many. */
export function drain(maxRecords: u32): u32 {
  out.len = 0;
  const c0 = peerAt(0);
  if (!c0.consumer) return 0;
  let n: u32 = 0;
  while (c0.syncing && n < maxRecords) {
    const pos = walkNext(c0);
    if (!pos) break;
    const rec = tableOf(c0.walkFam).pool.at(pos);
    if (!(load<u8>(rec + P_FLAGS) & PF_LIVE) || !load<u32>(rec + P_HEAD)) continue;
    writeChange(c0.walkFam, rec);
    n++;
  }
  if (!c0.syncing) {
    let c = c0.cursor;
    const e = logEnd();
    while (n < maxRecords && c < e) {
      const ref = log.get(c - logBase);
      c++;
      const fam = ref >>> 31;
      const rec = tableOf(fam).pool.at(ref & 0x7fffffff);
      if (!(load<u8>(rec + P_FLAGS) & PF_LIVE)) continue;
      writeChange(fam, rec);
      n++;
    }
    consumerAdvance(c0, c);
  }
  trim();
  return n;
}

// ---- queries ----

function writePrefix(fam: u32, rec: usize): void {
  let np: u32 = 0;
  let path = load<u32>(rec + P_HEAD);
  let size: u32 = 4 + 16;
  while (path) {
    const r = pathRec(path);
    const a = attrPtr(load<u32>(r + T_ATTR));
    size += 12 + <u32>load<u8>(a + A_NHLEN) + <u32>load<u16>(a + A_LEN);
    np++;
    path = load<u32>(r + T_NEXT);
  }
  out.ensure(size);
  const p = out.end();
  store<u8>(p, load<u8>(rec + P_LEN));
  store<u8>(p + 1, <u8>min<u32>(np, 255));
  store<u16>(p + 2, 0);
  let w = writeAddr(p + 4, fam, rec);
  path = load<u32>(rec + P_HEAD);
  let k: u32 = 0;
  while (path && k < 255) {
    const r = pathRec(path);
    const a = attrPtr(load<u32>(r + T_ATTR));
    const nhLen = <u32>load<u8>(a + A_NHLEN);
    const alen = <u32>load<u16>(a + A_LEN);
    store<u16>(w, load<u16>(r + T_PEER));
    store<u8>(w + 2, <u8>load<u16>(r + T_FLAGS));
    store<u8>(w + 3, <u8>nhLen);
    store<u32>(w + 4, load<u32>(r + T_PATHID));
    store<u16>(w + 8, <u16>alen);
    store<u16>(w + 10, 0);
    memory.copy(w + 12, attrNh(a), nhLen);
    memory.copy(w + 12 + nhLen, attrBytesPtr(a), alen);
    w += 12 + nhLen + alen;
    path = load<u32>(r + T_NEXT);
    k++;
  }
  out.len += <u32>(w - p);
}

/** -1, 0, 1: prefix record order (address, then length). */
function cmpRec(fam: u32, a: usize, b: usize): i32 {
  if (fam == FAM_V6) {
    const ah = load<u64>(a + P_ADDR), bh = load<u64>(b + P_ADDR);
    if (ah != bh) return ah < bh ? -1 : 1;
    const al = load<u64>(a + P_ADDR + 8), bl = load<u64>(b + P_ADDR + 8);
    if (al != bl) return al < bl ? -1 : 1;
  } else {
    const aa = load<u32>(a + P_ADDR), ba = load<u32>(b + P_ADDR);
    if (aa != ba) return aa < ba ? -1 : 1;
  }
  const al = load<u8>(a + P_LEN), bl = load<u8>(b + P_LEN);
  return al == bl ? 0 : al < bl ? -1 : 1;
}

/** -1, 0, 1: record against the key globals. */
function cmpKey(fam: u32, a: usize): i32 {
  if (fam == FAM_V6) {
    const ah = load<u64>(a + P_ADDR);
    if (ah != keyHi) return ah < keyHi ? -1 : 1;
    const al = load<u64>(a + P_ADDR + 8);
    if (al != keyLo) return al < keyLo ? -1 : 1;
  } else {
    const aa = load<u32>(a + P_ADDR);
    if (aa != keyV4) return aa < keyV4 ? -1 : 1;
  }
  const al = <u32>load<u8>(a + P_LEN);
  return al == keyLen ? 0 : al < keyLen ? -1 : 1;
}

const heapIdx = new Vec32(); // max-heap of the `limit` smallest prefixes seen

function siftDown(fam: u32, i: u32, n: u32): void {
  const pool = tableOf(fam).pool;
  while (true) {
    const l: u32 = 2 * i + 1;
    if (l >= n) return;
    let m = l;
    if (l + 1 < n && cmpRec(fam, pool.at(heapIdx.get(l + 1)), pool.at(heapIdx.get(l))) > 0) m = l + 1;
    if (cmpRec(fam, pool.at(heapIdx.get(m)), pool.at(heapIdx.get(i))) <= 0) return;
    const t = heapIdx.get(i);
    heapIdx.set(i, heapIdx.get(m));
    heapIdx.set(m, t);
    i = m;
  }
}

function siftUp(fam: u32, i: u32): void {
  const pool = tableOf(fam).pool;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (cmpRec(fam, pool.at(heapIdx.get(i)), pool.at(heapIdx.get(parent))) <= 0) return;
    const t = heapIdx.get(i);
    heapIdx.set(i, heapIdx.get(parent));
    heapIdx.set(parent, t);
    i = parent;
  }
}

/**
 * Writes up to `limit` prefixes with paths in address order, starting after the
 * key globals when `hasAfter`. Returns the number of prefix records in `out`.
 */
export function query(fam: u32, limit: u32, hasAfter: bool): u32 {
  out.len = 0;
  if (!limit) return 0;
  const pool = tableOf(fam).pool;
  heapIdx.len = 0;
  heapIdx.reserve(limit);
  for (let i: u32 = 1; i < pool.count; i++) {
    const rec = pool.at(i);
    if (!(load<u8>(rec + P_FLAGS) & PF_LIVE) || !load<u32>(rec + P_HEAD)) continue;
    if (hasAfter && cmpKey(fam, rec) <= 0) continue;
    if (heapIdx.len < limit) {
      heapIdx.push(i);
      siftUp(fam, heapIdx.len - 1);
    } else if (cmpRec(fam, rec, pool.at(heapIdx.get(0))) < 0) {
      heapIdx.set(0, i);
      siftDown(fam, 0, heapIdx.len);
    }
  }
  // heap sort into ascending order
  let n = heapIdx.len;
  while (n > 1) {
    const t = heapIdx.get(0);
    heapIdx.set(0, heapIdx.get(n - 1));
    heapIdx.set(n - 1, t);
    n--;
    siftDown(fam, 0, n);
  }
  for (let i: u32 = 0; i < heapIdx.len; i++) writePrefix(fam, pool.at(heapIdx.get(i)));
  return heapIdx.len;
}

/** Writes the one prefix in the key globals (when it has paths); returns 0 or 1. */
export function lookup(fam: u32): u32 {
  out.len = 0;
  const table = tableOf(fam);
  const idx = table.find();
  if (!idx) return 0;
  const rec = table.pool.at(idx);
  if (!load<u32>(rec + P_HEAD)) return 0;
  writePrefix(fam, rec);
  return 1;
}

