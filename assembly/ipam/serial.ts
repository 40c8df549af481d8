// Serialised state of one bitmap, so allocations survive a restart.
//
// Payload (little-endian), chosen per bitmap, whichever is smaller:
//   u8 encoding (0 raw, 1 runs), 3 reserved bytes, u32 nbits, u32 allocated count, then
//   raw:  ceil(nbits/64) u64 words, bit i set = address i allocated (padding bits 0)
//   runs: u32 run count, then (u32 start, u32 length) per run of allocated addresses, ascending
// Runs keep a block filled lowest-first (the usual state) to a few bytes; raw bounds the
// worst case (alternating bits) to the bitmap's own size.
import {
  allocatedWord,
  fillAllAllocated,
  fillAllFree,
  freeOf,
  level0,
  nbitsOf,
  rebuildSummaries,
  setFree,
  words0,
} from "./bitmap";

export const ENC_RAW: u8 = 0;
export const ENC_RUNS: u8 = 1;
const HEADER: u32 = 12;

export const RESTORE_OK: i32 = 0;
// -1 and -2 are the ABI's "out of range" and "unknown handle".
export const RESTORE_TRUNCATED: i32 = -3;
export const RESTORE_BAD_ENCODING: i32 = -4;
export const RESTORE_SIZE_MISMATCH: i32 = -5;
export const RESTORE_BAD_RUN: i32 = -6;
export const RESTORE_COUNT_MISMATCH: i32 = -7;

function runCount(d: usize): u32 {
  const words = words0(d);
  let runs: u32 = 0;
  let carry: u64 = 0; // bit 63 of the previous word, moved to bit 0
  for (let wi: u32 = 0; wi < words; wi++) {
    const a = allocatedWord(d, wi);
    runs += <u32>popcnt(a & ~((a << 1) | carry));
    carry = a >>> 63;
  }
  return runs;
}

/** First index >= from whose allocated state equals `allocated`, or nbits. O(words scanned). */
function nextWithState(d: usize, from: u32, allocated: bool): u32 {
  const nbits = nbitsOf(d);
  if (from >= nbits) return nbits;
  const words = words0(d);
  let wi = from >>> 6;
  let w = allocatedWord(d, wi);
  if (!allocated) w = ~w;
  w &= ~(<u64>0) << <u64>(from & 63);
  while (w == 0) {
    if (++wi >= words) return nbits;
    w = allocatedWord(d, wi);
    if (!allocated) w = ~w;
  }
  const i = (wi << 6) | <u32>ctz(w);
  return i < nbits ? i : nbits;
}

/** Bytes serialise() will write. */
export function serializedSize(d: usize): u32 {
  const raw = HEADER + (words0(d) << 3);
  const runs = HEADER + 4 + (runCount(d) << 3);
  return runs < raw ? runs : raw;
}

/** Writes the payload at `out` (serializedSize(d) bytes); returns its length. */
export function serialize(d: usize, out: usize): u32 {
  const nbits = nbitsOf(d);
  const words = words0(d);
  const runs = runCount(d);
  const useRuns = HEADER + 4 + (runs << 3) < HEADER + (words << 3);
  store<u32>(out, useRuns ? ENC_RUNS : ENC_RAW);
  store<u32>(out + 4, nbits);
  store<u32>(out + 8, nbits - freeOf(d));
  if (!useRuns) {
    for (let wi: u32 = 0; wi < words; wi++) store<u64>(out + HEADER + (<usize>wi << 3), allocatedWord(d, wi));
    return HEADER + (words << 3);
  }
  store<u32>(out + HEADER, runs);
  let p = out + HEADER + 4;
  let i = nextWithState(d, 0, true);
  while (i < nbits) {
    const end = nextWithState(d, i, false);
    store<u32>(p, i);
    store<u32>(p + 4, end - i);
    p += 8;
    i = nextWithState(d, end, true);
  }
  return <u32>(p - out);
}

/** Clears level-0 bits [start, start+len): those addresses become allocated. */
function takeRange(d: usize, start: u32, len: u32): void {
  const p0 = level0(d);
  let i = start;
  const end = start + len;
  while (i < end) {
    const bit = i & 63;
    const n = min<u32>(64 - bit, end - i);
    const mask = n == 64 ? ~(<u64>0) : ((<u64>1 << <u64>n) - 1) << <u64>bit;
    const q = p0 + (<usize>(i >>> 6) << 3);
    store<u64>(q, load<u64>(q) & ~mask);
    i += n;
  }
}

/**
 * Replaces the bitmap's state with the payload at src. Validates everything before
 * changing anything; returns RESTORE_OK or a negative RESTORE_* code.
 */
export function restore(d: usize, src: usize, len: u32): i32 {
  if (len < HEADER) return RESTORE_TRUNCATED;
  const enc = load<u32>(src);
  const nbits = load<u32>(src + 4);
  const count = load<u32>(src + 8);
  if (nbits != nbitsOf(d)) return RESTORE_SIZE_MISMATCH;
  if (count > nbits) return RESTORE_COUNT_MISMATCH;
  const words = words0(d);
  if (enc == ENC_RAW) {
    if (len != HEADER + (words << 3)) return RESTORE_TRUNCATED;
    const tail = nbits & 63;
    let seen: u32 = 0;
    for (let wi: u32 = 0; wi < words; wi++) {
      const a = load<u64>(src + HEADER + (<usize>wi << 3));
      if (wi == words - 1 && tail != 0 && (a >>> <u64>tail) != 0) return RESTORE_BAD_RUN;
      seen += <u32>popcnt(a);
    }
    if (seen != count) return RESTORE_COUNT_MISMATCH;
    fillAllAllocated(d);
    const p0 = level0(d);
    for (let wi: u32 = 0; wi < words; wi++) {
      let free = ~load<u64>(src + HEADER + (<usize>wi << 3));
      if (wi == words - 1 && tail != 0) free &= (<u64>1 << <u64>tail) - 1;
      store<u64>(p0 + (<usize>wi << 3), free);
    }
  } else if (enc == ENC_RUNS) {
    if (len < HEADER + 4) return RESTORE_TRUNCATED;
    const runs = load<u32>(src + HEADER);
    if (<u64>len != <u64>HEADER + 4 + (<u64>runs << 3)) return RESTORE_TRUNCATED;
    let prevEnd: u64 = 0;
    let seen: u64 = 0;
    for (let r: u32 = 0; r < runs; r++) {
      const start = <u64>load<u32>(src + HEADER + 4 + (<usize>r << 3));
      const n = <u64>load<u32>(src + HEADER + 8 + (<usize>r << 3));
      if (n == 0 || start < prevEnd || start + n > <u64>nbits) return RESTORE_BAD_RUN;
      prevEnd = start + n;
      seen += n;
    }
    if (seen != <u64>count) return RESTORE_COUNT_MISMATCH;
    fillAllFree(d);
    for (let r: u32 = 0; r < runs; r++) {
      takeRange(d, load<u32>(src + HEADER + 4 + (<usize>r << 3)), load<u32>(src + HEADER + 8 + (<usize>r << 3)));
    }
  } else {
    return RESTORE_BAD_ENCODING;
  }
  setFree(d, nbits - count);
  rebuildSummaries(d);
  return RESTORE_OK;
}
