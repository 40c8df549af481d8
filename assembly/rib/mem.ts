// Raw-memory containers for the RIB: chunked record pools (records never move,
// so indexes stay valid and no full-table copy happens on growth), growable u32
// vectors and byte buffers. Nothing here allocates a managed object per record.

export const CHUNK_BITS: u32 = 14;
const CHUNK_RECORDS: u32 = 1 << CHUNK_BITS;
const CHUNK_MASK: u32 = CHUNK_RECORDS - 1;
const MAX_CHUNKS: u32 = 16384; // 268M records per pool

/** Zeroes a small record (size a multiple of 4) without a memset call. */
@inline function zeroWords(p: usize, size: u32): void {
  for (let o: u32 = 0; o < size; o += 4) store<u32>(p + o, 0);
}

/** Fixed-size records addressed by u32 index; index 0 is the null record. The first word of a free record links the free list. */
export class Pool {
  dir: usize;
  size: u32;
  count: u32 = 1;
  freeHead: u32 = 0;
  live: u32 = 0;
  chunks: u32 = 0;

  constructor(size: u32) {
    assert(size >= 4 && (size & 3) == 0, "Pool: record size must be a multiple of 4");
    this.size = size;
    this.dir = heap.alloc(MAX_CHUNKS << 2);
  }

  @inline at(i: u32): usize {
    return (load<u32>(this.dir + ((<usize>(i >> CHUNK_BITS)) << 2)) as usize) + <usize>((i & CHUNK_MASK) * this.size);
  }

  alloc(): u32 {
    let i = this.freeHead;
    if (i) {
      this.freeHead = load<u32>(this.at(i));
    } else {
      i = this.count;
      if ((i >> CHUNK_BITS) >= this.chunks) {
        if (this.chunks >= MAX_CHUNKS) unreachable();
        store<u32>(this.dir + (<usize>this.chunks << 2), <u32>heap.alloc(<usize>CHUNK_RECORDS * this.size));
        this.chunks++;
      }
      this.count = i + 1;
    }
    zeroWords(this.at(i), this.size);
    this.live++;
    return i;
  }

  release(i: u32): void {
    zeroWords(this.at(i), this.size);
    store<u32>(this.at(i), this.freeHead);
    this.freeHead = i;
    this.live--;
  }

  bytes(): usize {
    return <usize>this.chunks * CHUNK_RECORDS * this.size + (MAX_CHUNKS << 2);
  }
}

/** A growable array of u32 on the heap (moves on growth: hold indexes, not pointers). */
export class Vec32 {
  ptr: usize = 0;
  len: u32 = 0;
  cap: u32 = 0;

  reserve(n: u32): void {
    if (n <= this.cap) return;
    let c = this.cap ? this.cap : 64;
    while (c < n) c <<= 1;
    this.ptr = this.ptr ? heap.realloc(this.ptr, <usize>c << 2) : heap.alloc(<usize>c << 2);
    this.cap = c;
  }

  @inline push(v: u32): void {
    if (this.len == this.cap) this.reserve(this.len + 1);
    store<u32>(this.ptr + (<usize>this.len << 2), v);
    this.len++;
  }

  @inline get(i: u32): u32 {
    return load<u32>(this.ptr + (<usize>i << 2));
  }

  @inline set(i: u32, v: u32): void {
    store<u32>(this.ptr + (<usize>i << 2), v);
  }
}

/** A growable byte buffer on the heap; `len` is the write position. */
export class Buf {
  ptr: usize = 0;
  len: u32 = 0;
  cap: u32 = 0;

  ensure(extra: u32): void {
    const need = this.len + extra;
    if (need <= this.cap) return;
    let c = this.cap ? this.cap : 4096;
    while (c < need) c <<= 1;
    this.ptr = this.ptr ? heap.realloc(this.ptr, c) : heap.alloc(c);
    this.cap = c;
  }

  @inline end(): usize {
    return this.ptr + this.len;
  }
}

/** A sparse u32 array indexed like a Pool (chunks allocated on first write, zero-filled). */
export class ChunkedU32 {
  dir: usize;
  chunks: u32 = 0;

  constructor() {
    this.dir = heap.alloc(MAX_CHUNKS << 2);
    memory.fill(this.dir, 0, MAX_CHUNKS << 2);
  }

  @inline get(i: u32): u32 {
    const c = load<u32>(this.dir + (<usize>(i >> CHUNK_BITS) << 2));
    return c ? load<u32>(<usize>c + (<usize>(i & CHUNK_MASK) << 2)) : 0;
  }

  set(i: u32, v: u32): void {
    const slot = this.dir + (<usize>(i >> CHUNK_BITS) << 2);
    let c = load<u32>(slot);
    if (!c) {
      if (!v) return;
      c = <u32>heap.alloc(CHUNK_RECORDS << 2);
      memory.fill(c, 0, CHUNK_RECORDS << 2);
      store<u32>(slot, c);
      this.chunks++;
    }
    store<u32>(<usize>c + (<usize>(i & CHUNK_MASK) << 2), v);
  }

  /** Frees every chunk and the directory; the object must not be used afterwards. */
  dispose(): void {
    for (let i: u32 = 0; i < MAX_CHUNKS; i++) {
      const c = load<u32>(this.dir + (<usize>i << 2));
      if (c) heap.free(c);
    }
    heap.free(this.dir);
    this.chunks = 0;
  }

  bytes(): usize {
    return <usize>this.chunks * (CHUNK_RECORDS << 2) + (MAX_CHUNKS << 2);
  }
}

@inline export function be16(p: usize): u32 {
  return <u32>bswap<u16>(load<u16>(p));
}

@inline export function be32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

@inline export function put16(p: usize, v: u32): void {
  store<u16>(p, bswap<u16>(<u16>v));
}

@inline export function put32(p: usize, v: u32): void {
  store<u32>(p, bswap<u32>(v));
}

/** Mixes a 32-bit value (murmur3 finaliser). */
@inline export function mix32(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** Hashes n bytes at p (word-at-a-time, then the tail). */
export function hashBytes(p: usize, n: u32, seed: u32): u32 {
  let h = seed ^ n;
  let i: u32 = 0;
  for (; i + 4 <= n; i += 4) {
    h = (h ^ mix32(load<u32>(p + i))) * 0x9e3779b1;
    h = rotl<u32>(h, 13);
  }
  for (; i < n; i++) h = (h ^ load<u8>(p + i)) * 0x01000193;
  return mix32(h);
}
