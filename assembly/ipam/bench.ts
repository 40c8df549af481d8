// Core-side benchmark loops: one host call runs many operations, so the numbers
// measure the allocator and not the JS <-> wasm call boundary.
import { allocLowest, release } from "./bitmap";

let held: usize = 0; // u32 indexes currently allocated by the churn loop
let heldCount: u32 = 0;
let rng: u32 = 1;

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

/** Allocates `count` lowest free addresses and remembers them; returns how many it got. */
export function benchPrepare(d: usize, count: u32, seed: u32): u32 {
  benchFinish(d);
  held = heap.alloc(<usize>max<u32>(count, 1) << 2);
  rng = seed == 0 ? 1 : seed;
  heldCount = 0;
  while (heldCount < count) {
    const i = allocLowest(d);
    if (i < 0) break;
    store<u32>(held + (<usize>heldCount << 2), <u32>i);
    heldCount++;
  }
  return heldCount;
}

/**
 * `iterations` allocate+release pairs at a steady fill: release a random held
 * address, then allocate the lowest free one in its place. Returns a checksum.
 */
export function benchChurn(d: usize, iterations: u32): u32 {
  if (heldCount == 0) return 0;
  let sum: u32 = 0;
  for (let k: u32 = 0; k < iterations; k++) {
    const j = <u32>((<u64>next() * <u64>heldCount) >>> 32);
    const q = held + (<usize>j << 2);
    release(d, load<u32>(q));
    const i = <u32>allocLowest(d);
    store<u32>(q, i);
    sum += i;
  }
  return sum;
}

/** `iterations` pairs of allocate-lowest then release of that address. Returns a checksum. */
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

/** Releases everything benchPrepare and benchChurn left allocated. */
export function benchFinish(d: usize): void {
  if (held == 0) return;
  for (let k: u32 = 0; k < heldCount; k++) release(d, load<u32>(held + (<usize>k << 2)));
  heap.free(held);
  held = 0;
  heldCount = 0;
}
