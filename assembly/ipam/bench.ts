// Core-side benchmark loops: one host call runs many operations, so the numbers
// measure the allocator and not the JS <-> wasm call boundary.
import { allocAt, allocLowest, allocatedWord, fillAllFree, freeOf, nbitsOf, release } from "./bitmap";

let held: usize = 0; // u32 addresses the churn loop holds allocated
let heldCount: u32 = 0;
let cursor: u32 = 0; // next held slot to release in FIFO mode
let rng: u32 = 1;

export const CHURN_RANDOM: u32 = 0;
export const CHURN_FIFO: u32 = 1;
export const CHURN_SAMPLED: u32 = 2;

// xorshift32: deterministic per seed, no allocation.
// @ts-ignore: decorator
@inline function next(): u32 {
  let x = rng;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  rng = x;
  return x;
}

// @ts-ignore: decorator
@inline function below(n: u32): u32 {
  return <u32>((<u64>next() * <u64>n) >>> 32);
}

// @ts-ignore: decorator
@inline function slot(k: u32): usize {
  return held + (<usize>k << 2);
}

/**
 * Sets up a steady state for benchChurn: allocates the `count + holes` lowest free
 * addresses, releases `holes` of them at random (scattered free addresses below the
 * top), and keeps the other `count` in a shuffled list. Returns the count held.
 * One list at a time: a new prepare drops the previous list (that bitmap keeps its state).
 */
export function benchPrepare(d: usize, count: u32, holes: u32, seed: u32): u32 {
  benchFinish(d);
  rng = seed == 0 ? 1 : seed;
  const total = count + holes;
  held = heap.alloc(<usize>max<u32>(total, 1) << 2);
  heldCount = 0;
  while (heldCount < total) {
    const i = allocLowest(d);
    if (i < 0) break;
    store<u32>(slot(heldCount++), <u32>i);
  }
  for (let k: u32 = 0; k < holes && heldCount > 0; k++) {
    const j = below(heldCount);
    release(d, load<u32>(slot(j)));
    store<u32>(slot(j), load<u32>(slot(--heldCount)));
  }
  for (let k = heldCount; k > 1; k--) {
    const j = below(k);
    const t = load<u32>(slot(k - 1));
    store<u32>(slot(k - 1), load<u32>(slot(j)));
    store<u32>(slot(j), t);
  }
  cursor = 0;
  return heldCount;
}

/**
 * `iterations` allocate+release pairs: release one held address, then allocate the
 * lowest free address in its place. CHURN_RANDOM picks the released address uniformly
 * (a random read of the held list per pair, which is part of the measured time);
 * CHURN_FIFO releases the oldest (the shuffled list, then allocation order);
 * CHURN_SAMPLED releases the allocated address at or after a random offset in the
 * same bitmap word (no list: only the allocator's own memory is touched).
 * Returns a checksum of the allocated addresses.
 */
export function benchChurn(d: usize, iterations: u32, mode: u32): u32 {
  if (heldCount == 0) return 0;
  let sum: u32 = 0;
  if (mode == CHURN_RANDOM) {
    for (let k: u32 = 0; k < iterations; k++) {
      const q = slot(below(heldCount));
      release(d, load<u32>(q));
      const i = <u32>allocLowest(d);
      store<u32>(q, i);
      sum += i;
    }
  } else if (mode == CHURN_SAMPLED) {
    const n = nbitsOf(d);
    if (freeOf(d) == n) return 0;
    for (let k: u32 = 0; k < iterations; k++) {
      let r = below(n);
      let a = allocatedWord(d, r >>> 6);
      while (a == 0) {
        r = below(n);
        a = allocatedWord(d, r >>> 6);
      }
      const after = a & (~(<u64>0) << <u64>(r & 63));
      release(d, (r & ~63) | <u32>ctz(after != 0 ? after : a));
      sum += <u32>allocLowest(d);
    }
  } else {
    let c = cursor;
    for (let k: u32 = 0; k < iterations; k++) {
      const q = slot(c);
      release(d, load<u32>(q));
      const i = <u32>allocLowest(d);
      store<u32>(q, i);
      sum += i;
      if (++c == heldCount) c = 0;
    }
    cursor = c;
  }
  return sum;
}

/** `iterations` pairs of allocate-lowest then release of that same address. Returns a checksum. */
export function benchPairs(d: usize, iterations: u32): u32 {
  let sum: u32 = 0;
  for (let k: u32 = 0; k < iterations; k++) {
    const i = allocLowest(d);
    if (i < 0) break;
    release(d, <u32>i);
    sum += <u32>i;
  }
  return sum;
}

/** `iterations` pairs of allocating a random address (when free) and releasing it. */
export function benchRequested(d: usize, iterations: u32): u32 {
  let sum: u32 = 0;
  const n = nbitsOf(d);
  for (let k: u32 = 0; k < iterations; k++) {
    const i = below(n);
    if (allocAt(d, i) == 1) {
      release(d, i);
      sum += i;
    }
  }
  return sum;
}

/** Frees every address of the bitmap (benchmark bitmaps are dedicated) and the held list. */
export function benchFinish(d: usize): void {
  fillAllFree(d);
  if (held == 0) return;
  heap.free(held);
  held = 0;
  heldCount = 0;
}
