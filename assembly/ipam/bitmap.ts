// A free-bit bitmap with summary levels, in raw linear memory.
//
// Level 0 holds one bit per address (1 = free). Level l+1 holds one bit per
// word of level l (1 = that word has a free bit). The top level is a single
// word, so "lowest free" is one ctz per level (at most 5 for 2^24 bits) and
// never scans the bitmap. Bits past `nbits` (padding) are 0: never free.
//
// Bitmaps live behind handles: a descriptor table in linear memory indexed by
// handle (1-based; 0 is never valid), so only small integers cross the ABI.

export const MAX_BITS: u32 = 1 << 24;
// Up to 5 levels fit the descriptor; 2^24 bits need 4 (2^18, 2^12, 2^6 and 1 words).

// Descriptor layout (64 bytes per handle).
const D_ARENA = 0; // usize: the one heap block holding every level
const D_NBITS = 4; // u32
const D_LEVELS = 8; // u32
const D_FREE = 12; // u32 free addresses; on a released slot: the next free slot
const D_LEVEL_PTR = 16; // usize x MAX_LEVELS: first word of each level
const D_LEVEL_WORDS = 36; // u32 x MAX_LEVELS
const D_SHIFT = 6;

let table: usize = 0;
let tableSlots: u32 = 0; // slot 0 is reserved so that handle 0 means "none"
let freeSlots: u32 = 0; // head of the released-slot list (0: empty)

function wordsFor(bits: u32): u32 {
  return (bits + 63) >>> 6;
}

function levelPtr(d: usize, l: u32): usize {
  return load<usize>(d + D_LEVEL_PTR + (<usize>l << 2));
}

function levelWords(d: usize, l: u32): u32 {
  return load<u32>(d + D_LEVEL_WORDS + (<usize>l << 2));
}

/** `w` with the bits at positions >= bitsInLastWord cleared (0 means a full word). */
function maskTail(w: u64, bitsInLastWord: u32): u64 {
  return bitsInLastWord == 0 ? w : w & ((<u64>1 << <u64>bitsInLastWord) - 1);
}

// Slots are handed out in order; released slots are reused first.
let nextUnused: u32 = 1;

function newSlot(): u32 {
  if (freeSlots != 0) {
    const h = freeSlots;
    freeSlots = load<u32>(table + (<usize>h << D_SHIFT) + D_FREE);
    return h;
  }
  if (nextUnused >= tableSlots) {
    const old = tableSlots;
    const grown: u32 = old == 0 ? 16 : old << 1;
    table = table == 0 ? heap.alloc(<usize>grown << D_SHIFT) : heap.realloc(table, <usize>grown << D_SHIFT);
    memory.fill(table + (<usize>old << D_SHIFT), 0, <usize>(grown - old) << D_SHIFT);
    tableSlots = grown;
  }
  return nextUnused++;
}

/** The descriptor of a live handle, or 0. */
export function desc(h: u32): usize {
  if (h == 0 || h >= nextUnused) return 0;
  const d = table + (<usize>h << D_SHIFT);
  return load<usize>(d + D_ARENA) != 0 ? d : 0;
}

/** A bitmap of `nbits` free bits; returns its handle, or 0 when nbits is 0 or above MAX_BITS. */
export function create(nbits: u32): u32 {
  if (nbits == 0 || nbits > MAX_BITS) return 0;
  // Level sizes, bottom up, until one word.
  let total: u32 = 0;
  let words = wordsFor(nbits);
  while (true) {
    total += words;
    if (words == 1) break;
    words = wordsFor(words);
  }
  const h = newSlot();
  const d = table + (<usize>h << D_SHIFT);
  const arena = heap.alloc(<usize>total << 3);
  store<usize>(d + D_ARENA, arena);
  store<u32>(d + D_NBITS, nbits);
  let p = arena;
  let levels: u32 = 0;
  words = wordsFor(nbits);
  while (true) {
    store<usize>(d + D_LEVEL_PTR + (<usize>levels << 2), p);
    store<u32>(d + D_LEVEL_WORDS + (<usize>levels << 2), words);
    p += <usize>words << 3;
    levels++;
    if (words == 1) break;
    words = wordsFor(words);
  }
  store<u32>(d + D_LEVELS, levels);
  fillAllFree(d);
  return h;
}

/** Sets every address free, padding bits cleared, summaries rebuilt. */
export function fillAllFree(d: usize): void {
  const nbits = load<u32>(d + D_NBITS);
  const p0 = levelPtr(d, 0);
  const words = levelWords(d, 0);
  memory.fill(p0, 0xff, <usize>words << 3);
  const tail = nbits & 63;
  if (tail != 0) store<u64>(p0 + (<usize>(words - 1) << 3), (<u64>1 << <u64>tail) - 1);
  store<u32>(d + D_FREE, nbits);
  rebuildSummaries(d);
}

/** Sets every address allocated (used before applying a serialised state). */
export function fillAllAllocated(d: usize): void {
  const levels = load<u32>(d + D_LEVELS);
  for (let l: u32 = 0; l < levels; l++) memory.fill(levelPtr(d, l), 0, <usize>levelWords(d, l) << 3);
  store<u32>(d + D_FREE, 0);
}

/** Recomputes levels 1.. from level 0. O(words). */
export function rebuildSummaries(d: usize): void {
  const levels = load<u32>(d + D_LEVELS);
  for (let l: u32 = 1; l < levels; l++) {
    const below = levelPtr(d, l - 1);
    const belowWords = levelWords(d, l - 1);
    const p = levelPtr(d, l);
    const words = levelWords(d, l);
    memory.fill(p, 0, <usize>words << 3);
    for (let i: u32 = 0; i < belowWords; i++) {
      if (load<u64>(below + (<usize>i << 3)) != 0) {
        const q = p + (<usize>(i >>> 6) << 3);
        store<u64>(q, load<u64>(q) | (<u64>1 << <u64>(i & 63)));
      }
    }
  }
}

export function dispose(h: u32): bool {
  const d = desc(h);
  if (d == 0) return false;
  heap.free(load<usize>(d + D_ARENA));
  memory.fill(d, 0, 1 << D_SHIFT);
  store<u32>(d + D_FREE, freeSlots);
  freeSlots = h;
  return true;
}

export function nbitsOf(d: usize): u32 {
  return load<u32>(d + D_NBITS);
}

export function freeOf(d: usize): u32 {
  return load<u32>(d + D_FREE);
}

/** Bytes of bitmap and summaries (the arena), excluding the 64-byte descriptor. */
export function setFree(d: usize, n: u32): void {
  store<u32>(d + D_FREE, n);
}

export function arenaBytes(d: usize): u32 {
  const levels = load<u32>(d + D_LEVELS);
  let words: u32 = 0;
  for (let l: u32 = 0; l < levels; l++) words += levelWords(d, l);
  return words << 3;
}

export function level0(d: usize): usize {
  return levelPtr(d, 0);
}

export function words0(d: usize): u32 {
  return levelWords(d, 0);
}

/** Marks bit i allocated (it must be free): clears it and every summary bit that became stale. */
// @ts-ignore: decorator
@inline function take(d: usize, i: u32): void {
  const levels = load<u32>(d + D_LEVELS);
  let l: u32 = 0;
  let idx = i;
  while (true) {
    const q = levelPtr(d, l) + (<usize>(idx >>> 6) << 3);
    const w = load<u64>(q) & ~(<u64>1 << <u64>(idx & 63));
    store<u64>(q, w);
    if (w != 0 || ++l == levels) break;
    idx >>>= 6;
  }
  store<u32>(d + D_FREE, load<u32>(d + D_FREE) - 1);
}

/** Marks bit i free (it must be allocated), setting the summary bits of words that were full. */
// @ts-ignore: decorator
@inline function give(d: usize, i: u32): void {
  const levels = load<u32>(d + D_LEVELS);
  let l: u32 = 0;
  let idx = i;
  while (true) {
    const q = levelPtr(d, l) + (<usize>(idx >>> 6) << 3);
    const w = load<u64>(q);
    store<u64>(q, w | (<u64>1 << <u64>(idx & 63)));
    if (w != 0 || ++l == levels) break;
    idx >>>= 6;
  }
  store<u32>(d + D_FREE, load<u32>(d + D_FREE) + 1);
}

/** Allocates the lowest free bit: one ctz per level. Returns it, or -1 when full. */
export function allocLowest(d: usize): i32 {
  const levels = load<u32>(d + D_LEVELS);
  let l = levels - 1;
  let w = load<u64>(levelPtr(d, l));
  if (w == 0) return -1;
  let idx = <u32>ctz(w);
  while (l > 0) {
    l--;
    w = load<u64>(levelPtr(d, l) + (<usize>idx << 3));
    idx = (idx << 6) | <u32>ctz(w);
  }
  take(d, idx);
  return <i32>idx;
}

/** 1 allocated, 0 already allocated, -1 out of range. */
export function allocAt(d: usize, i: u32): i32 {
  if (i >= load<u32>(d + D_NBITS)) return -1;
  const w = load<u64>(levelPtr(d, 0) + (<usize>(i >>> 6) << 3));
  if ((w & (<u64>1 << <u64>(i & 63))) == 0) return 0;
  take(d, i);
  return 1;
}

/** 1 released, 0 was not allocated, -1 out of range. */
export function release(d: usize, i: u32): i32 {
  if (i >= load<u32>(d + D_NBITS)) return -1;
  const w = load<u64>(levelPtr(d, 0) + (<usize>(i >>> 6) << 3));
  if ((w & (<u64>1 << <u64>(i & 63))) != 0) return 0;
  give(d, i);
  return 1;
}

/** 1 allocated, 0 free, -1 out of range. */
export function isAllocated(d: usize, i: u32): i32 {
  if (i >= load<u32>(d + D_NBITS)) return -1;
  const w = load<u64>(levelPtr(d, 0) + (<usize>(i >>> 6) << 3));
  return (w & (<u64>1 << <u64>(i & 63))) == 0 ? 1 : 0;
}

/** Allocated bits of level-0 word `wi` (1 = allocated), padding excluded. */
// @ts-ignore: decorator
@inline export function allocatedWord(d: usize, wi: u32): u64 {
  const nbits = load<u32>(d + D_NBITS);
  const w = ~load<u64>(levelPtr(d, 0) + (<usize>wi << 3));
  return wi == ((nbits - 1) >>> 6) ? maskTail(w, nbits & 63) : w;
}

/**
 * Writes up to `max` allocated indexes >= `from`, ascending, as u32 at `out`.
 * Returns how many were written; O(words scanned + written).
 */
export function collect(d: usize, from: u32, out: usize, max: u32): u32 {
  const nbits = load<u32>(d + D_NBITS);
  if (from >= nbits || max == 0) return 0;
  const words = levelWords(d, 0);
  let n: u32 = 0;
  let wi = from >>> 6;
  let a = allocatedWord(d, wi) & (~(<u64>0) << <u64>(from & 63));
  while (true) {
    while (a != 0) {
      store<u32>(out + (<usize>n << 2), (wi << 6) | <u32>ctz(a));
      if (++n == max) return n;
      a &= a - 1;
    }
    if (++wi >= words) return n;
    a = allocatedWord(d, wi);
  }
}
