// ipam ABI: bitmaps behind u32 handles; indexes are u32 offsets into a block
// (or block indexes into a pool). host/core/ipam.ts is the only caller.
// Negative results: -1 full / out of range; -2 unknown handle.
import * as bitmap from "./bitmap";
import * as serial from "./serial";
import * as bench from "./bench";

const BAD_HANDLE: i32 = -2;

export function ipamVersion(): u32 {
  return 1;
}

/** Largest bitmap the core makes: 2^24 addresses (an IPv4 /8 or an IPv6 /104). */
export function ipamMaxBits(): u32 {
  return bitmap.MAX_BITS;
}

/** A bitmap of `nbits` free addresses; its handle, or 0 when nbits is 0 or above ipamMaxBits(). */
export function ipamCreate(nbits: u32): u32 {
  return bitmap.create(nbits);
}

/** 1 when the handle was live. */
export function ipamDispose(h: u32): u32 {
  return bitmap.dispose(h) ? 1 : 0;
}

export function ipamSize(h: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : <i32>bitmap.nbitsOf(d);
}

export function ipamFree(h: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : <i32>bitmap.freeOf(d);
}

/** Bytes of bitmap plus summary levels. */
export function ipamMemoryBytes(h: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : <i32>bitmap.arenaBytes(d);
}

/** Lowest free index, now allocated; -1 when full. */
export function ipamAllocLowest(h: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : bitmap.allocLowest(d);
}

/** 1 allocated, 0 already taken, -1 out of range. */
export function ipamAllocAt(h: u32, i: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : bitmap.allocAt(d, i);
}

/** 1 released, 0 was not allocated, -1 out of range. */
export function ipamRelease(h: u32, i: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : bitmap.release(d, i);
}

/** 1 allocated, 0 free, -1 out of range. */
export function ipamIsAllocated(h: u32, i: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : bitmap.isAllocated(d, i);
}

/** Up to `max` allocated indexes >= from, ascending, as u32 at `out`; returns the count. */
export function ipamCollect(h: u32, from: u32, out: usize, max: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : <i32>bitmap.collect(d, from, out, max);
}

// Core-owned I/O region for serialised state and collected indexes. It only
// grows, and it moves when it grows: ask for it before each use.
let scratch: usize = 0;
let scratchBytes: u32 = 0;

/** A region of at least `bytes` bytes (may grow memory: host views must be re-created). */
export function ipamScratch(bytes: u32): usize {
  if (bytes > scratchBytes) {
    if (scratch != 0) heap.free(scratch);
    scratchBytes = max<u32>(bytes, 4096);
    scratch = heap.alloc(scratchBytes);
  }
  return scratch;
}

/** Serialises into the scratch region (see ipamScratchPtr); returns the length, or -2. */
export function ipamSerialize(h: u32): i32 {
  const d = bitmap.desc(h);
  if (d == 0) return BAD_HANDLE;
  const out = ipamScratch(serial.serializedSize(d));
  return <i32>serial.serialize(d, out);
}

/** Where ipamSerialize wrote its payload. */
export function ipamScratchPtr(): usize {
  return scratch;
}

/** Replaces the bitmap's state with `len` payload bytes at `src`: 0, -2, or a format error -3..-7 (serial.ts). */
export function ipamRestore(h: u32, src: usize, len: u32): i32 {
  const d = bitmap.desc(h);
  if (d == 0) return BAD_HANDLE;
  return serial.restore(d, src, len);
}

/** Benchmark set-up: `count` held addresses with `holes` free ones scattered below them (bench.ts). */
export function ipamBenchPrepare(h: u32, count: u32, holes: u32, seed: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : <i32>bench.benchPrepare(d, count, holes, seed);
}

/** `iterations` release-one, allocate-lowest pairs; mode 0 random release, 1 oldest first, 2 sampled from the bitmap. */
export function ipamBenchChurn(h: u32, iterations: u32, mode: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : <i32>bench.benchChurn(d, iterations, mode);
}

/** `iterations` allocate-lowest then release-it pairs. */
export function ipamBenchPairs(h: u32, iterations: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : <i32>bench.benchPairs(d, iterations);
}

/** `iterations` allocate-a-random-address then release-it pairs. */
export function ipamBenchRequested(h: u32, iterations: u32): i32 {
  const d = bitmap.desc(h);
  return d == 0 ? BAD_HANDLE : <i32>bench.benchRequested(d, iterations);
}

export function ipamBenchFinish(h: u32): i32 {
  const d = bitmap.desc(h);
  if (d == 0) return BAD_HANDLE;
  bench.benchFinish(d);
  return 0;
}
