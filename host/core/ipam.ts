// Typed wrapper over the core's bitmap allocator (assembly/ipam): the only code
// that knows its ABI and serialised layout.
//
// BlockAllocator: addresses of one block (an AddressBlock's CIDR), lowest free
// first (allocType `bit`; the network address is allocatable). BlockIndexAllocator:
// block indexes of a pool carved into blocks of `blockSize`. Addresses are held as
// four u32 words (IPv4 in the last one), so per-operation work is u32 arithmetic:
// a block has at most 2^24 addresses and is aligned, so address = base | offset.
import { nodeCore } from "./node.ts";
import type { Core } from "./wasm.ts";
import { ipv4, ipv6 } from "./codec-text.ts";

/** Largest block the core allocates from: an IPv4 /8 or an IPv6 /104. */
export const MAX_BLOCK_BITS = 24;
/** A pool's index allocator covers at most its first 2^24 blocks. */
export const MAX_POOL_INDEX_BITS = 24;

export type Family = 4 | 6;

/** A parsed CIDR: `words` is the network address as 128 bits (IPv4 in words[3]). */
export interface Cidr {
  readonly family: Family;
  readonly prefix: number; // in the family's own terms (0-32 or 0-128)
  readonly words: readonly [number, number, number, number];
  /** The canonical text, e.g. "2001:db8::/104". */
  readonly text: string;
}

// ---------------------------------------------------------------- addresses

/** Dotted quad to u32 (no leading zeros, each part 0-255); a char loop, as it runs per operation. */
function parseIPv4Words(s: string): number | undefined {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return undefined;
      v = v * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return undefined; // leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return (v * 256 + part) >>> 0;
}

function parseIPv6Words(s: string): [number, number, number, number] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let k = 0; k < items.length; k++) {
      const g = items[k]!;
      if (k === items.length - 1 && g.includes(".")) {
        const v4 = parseIPv4Words(g);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    all = head;
  }
  return [
    ((all[0]! << 16) | all[1]!) >>> 0,
    ((all[2]! << 16) | all[3]!) >>> 0,
    ((all[4]! << 16) | all[5]!) >>> 0,
    ((all[6]! << 16) | all[7]!) >>> 0,
  ];
}

/** Parses an IPv4 or IPv6 address; undefined when it is neither. */
export function parseAddress(s: string): { family: Family; words: [number, number, number, number] } | undefined {
  if (s.includes(":")) {
    const w = parseIPv6Words(s);
    return w && { family: 6, words: w };
  }
  const v4 = parseIPv4Words(s);
  return v4 === undefined ? undefined : { family: 4, words: [0, 0, 0, v4] };
}

function formatWords(family: Family, w: readonly number[]): string {
  return family === 4 ? ipv4(w[3]!) : ipv6(w, false);
}

/** The canonical text of an address (IPv6 compressed, lowercase); throws on bad input. */
export function normalizeAddress(addr: string): string {
  const a = parseAddress(addr);
  if (!a) throw new Error(`'${addr}' is not an IPv4 or IPv6 address`);
  return formatWords(a.family, a.words);
}

/** Netmask word k (0..3) of a 128-bit prefix length. */
function maskWord(prefix128: number, k: number): number {
  const bits = Math.max(0, Math.min(32, prefix128 - 32 * k));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function prefix128(c: { family: Family; prefix: number }): number {
  return c.family === 4 ? c.prefix + 96 : c.prefix;
}

/** Parses "address/prefix"; throws naming the input on syntax errors or host bits set. */
export function parseCidr(cidr: string): Cidr {
  const slash = cidr.indexOf("/");
  if (slash < 0) throw new Error(`CIDR '${cidr}': missing '/prefix'`);
  const a = parseAddress(cidr.slice(0, slash));
  if (!a) throw new Error(`CIDR '${cidr}': '${cidr.slice(0, slash)}' is not an IPv4 or IPv6 address`);
  const p = cidr.slice(slash + 1);
  const max = a.family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) {
    throw new Error(`CIDR '${cidr}': prefix length '${p}' is not 0-${max}`);
  }
  const prefix = Number(p);
  const p128 = a.family === 4 ? prefix + 96 : prefix;
  const net = a.words.map((w, k) => (w & maskWord(p128, k)) >>> 0) as [number, number, number, number];
  const canonical = `${formatWords(a.family, net)}/${prefix}`;
  if (net.some((w, k) => w !== a.words[k])) {
    throw new Error(`CIDR '${cidr}' has host bits set (the network is ${canonical})`);
  }
  return { family: a.family, prefix, words: net, text: canonical };
}

/** True when `addr` (text) lies inside `cidr`. */
export function cidrContains(cidr: Cidr, addr: string): boolean {
  const a = parseAddress(addr);
  if (!a || a.family !== cidr.family) return false;
  const p = prefix128(cidr);
  for (let k = 0; k < 4; k++) if (((a.words[k]! & maskWord(p, k)) >>> 0) !== cidr.words[k]) return false;
  return true;
}

// ---------------------------------------------------------------- core binding

interface IpamAbi {
  ipamCreate(nbits: number): number;
  ipamDispose(h: number): number;
  ipamFree(h: number): number;
  ipamMemoryBytes(h: number): number;
  ipamAllocLowest(h: number): number;
  ipamAllocAt(h: number, i: number): number;
  ipamRelease(h: number, i: number): number;
  ipamIsAllocated(h: number, i: number): number;
  ipamCollect(h: number, from: number, out: number, max: number): number;
  ipamScratch(bytes: number): number;
  ipamScratchPtr(): number;
  ipamSerialize(h: number): number;
  ipamRestore(h: number, src: number, len: number): number;
  ipamBenchPrepare(h: number, count: number, holes: number, seed: number): number;
  ipamBenchChurn(h: number, iterations: number, mode: number): number;
  ipamBenchPairs(h: number, iterations: number): number;
  ipamBenchRequested(h: number, iterations: number): number;
  ipamBenchFinish(h: number): number;
}

const RESTORE_ERRORS: Record<number, string> = {
  [-3]: "truncated or wrong length",
  [-4]: "unknown encoding",
  [-5]: "size does not match the block",
  [-6]: "allocated run out of order or out of range",
  [-7]: "allocated count does not match the bits",
};

// Handles of allocators dropped without dispose() are released when collected.
const finalizer = new FinalizationRegistry<{ abi: IpamAbi; h: number }>(({ abi, h }) => abi.ipamDispose(h));

/** One core bitmap behind a handle: the shared mechanics of both allocators. */
class Bitmap {
  readonly abi: IpamAbi;
  private h: number;

  constructor(
    readonly core: Core,
    readonly nbits: number,
    what: string,
  ) {
    this.abi = core.exports as unknown as IpamAbi;
    this.h = this.abi.ipamCreate(nbits);
    if (this.h === 0) throw new Error(`${what}: the core refused a bitmap of ${nbits} bits`);
    finalizer.register(this, { abi: this.abi, h: this.h }, this);
  }

  get handle(): number {
    if (this.h === 0) throw new Error("ipam allocator used after dispose()");
    return this.h;
  }

  free(): number {
    return this.abi.ipamFree(this.handle);
  }

  memoryBytes(): number {
    return this.abi.ipamMemoryBytes(this.handle);
  }

  /** Allocated indexes, ascending, fetched from the core in batches. */
  *indexes(): Generator<number> {
    const batch = 4096;
    let from = 0;
    while (from < this.nbits) {
      const out = this.abi.ipamScratch(batch * 4);
      const n = this.abi.ipamCollect(this.handle, from, out, batch);
      if (n <= 0) return;
      const got = new Uint32Array(this.core.memory.buffer, out, n).slice();
      yield* got;
      if (n < batch) return;
      from = got[n - 1]! + 1;
    }
  }

  payload(): Uint8Array {
    const len = this.abi.ipamSerialize(this.handle);
    const ptr = this.abi.ipamScratchPtr();
    return this.core.u8().slice(ptr, ptr + len);
  }

  load(payload: Uint8Array, what: string): void {
    const ptr = this.abi.ipamScratch(payload.length);
    this.core.u8().set(payload, ptr);
    const r = this.abi.ipamRestore(this.handle, ptr, payload.length);
    if (r !== 0) throw new Error(`${what}: saved state rejected (${RESTORE_ERRORS[r] ?? `code ${r}`})`);
  }

  dispose(): void {
    if (this.h === 0) return;
    finalizer.unregister(this);
    this.abi.ipamDispose(this.h);
    this.h = 0;
  }
}

// Saved state: "SIPB" (block) or "SIPP" (pool), version, family, prefix, block size
// (pools; 0 for blocks), 16 bytes network address, then the core's payload.
const HEADER_BYTES = 24;
const VERSION = 1;

function frame(magic: string, c: Cidr, blockSize: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const dv = new DataView(out.buffer);
  for (let k = 0; k < 4; k++) out[k] = magic.charCodeAt(k);
  out[4] = VERSION;
  out[5] = c.family;
  out[6] = c.prefix;
  out[7] = blockSize;
  for (let k = 0; k < 4; k++) dv.setUint32(8 + 4 * k, c.words[k]!);
  out.set(payload, HEADER_BYTES);
  return out;
}

function unframe(magic: string, c: Cidr, blockSize: number, bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length < HEADER_BYTES) throw new Error(`${what}: saved state is ${bytes.length} bytes, too short`);
  const got = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (got !== magic) throw new Error(`${what}: saved state is not a ${magic === "SIPB" ? "block" : "pool"} state`);
  if (bytes[4] !== VERSION) throw new Error(`${what}: saved state has unknown version ${bytes[4]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = [0, 1, 2, 3].map((k) => dv.getUint32(8 + 4 * k));
  const family = bytes[5] as Family;
  const sameCidr = family === c.family && bytes[6] === c.prefix && words.every((w, k) => w === c.words[k]);
  if (!sameCidr || bytes[7] !== blockSize) {
    const savedCidr = family === 4 || family === 6 ? `${formatWords(family, words)}/${bytes[6]}` : "?";
    const savedBlock = magic === "SIPP" ? ` blockSize ${bytes[7]}` : "";
    const wantBlock = magic === "SIPP" ? ` blockSize ${blockSize}` : "";
    throw new Error(`${what}: saved state is for ${savedCidr}${savedBlock}, not ${c.text}${wantBlock}`);
  }
  return bytes.subarray(HEADER_BYTES);
}

// ---------------------------------------------------------------- blocks

/** Addresses of one block, lowest free first. Call dispose() when done (or let GC do it). */
export class BlockAllocator {
  /** Canonical CIDR text of the block. */
  readonly cidr: string;
  readonly family: Family;
  /** Number of addresses in the block. */
  readonly size: number;
  private readonly net: Cidr;
  private readonly bitmap: Bitmap;
  private readonly hostMask: number; // offset bits within words[3]

  private constructor(net: Cidr, core: Core) {
    const hostBits = (net.family === 4 ? 32 : 128) - net.prefix;
    if (hostBits > MAX_BLOCK_BITS) {
      const min = (net.family === 4 ? 32 : 128) - MAX_BLOCK_BITS;
      throw new Error(
        `block '${net.text}' has 2^${hostBits} addresses, above the 2^${MAX_BLOCK_BITS} allowed per block ` +
          `(use /${min} or longer, and carve larger pools into blocks)`,
      );
    }
    this.net = net;
    this.cidr = net.text;
    this.family = net.family;
    this.size = 2 ** hostBits;
    this.hostMask = this.size - 1;
    this.bitmap = new Bitmap(core, this.size, `block '${net.text}'`);
  }

  /** An empty block; throws on a bad CIDR, host bits set, or a block above 2^24 addresses. */
  static create(cidr: string, core: Core = nodeCore()): BlockAllocator {
    return new BlockAllocator(parseCidr(cidr), core);
  }

  /** A block in the state serialize() saved; throws when the bytes are not this block's state. */
  static restore(cidr: string, bytes: Uint8Array, core: Core = nodeCore()): BlockAllocator {
    const b = new BlockAllocator(parseCidr(cidr), core);
    try {
      b.bitmap.load(unframe("SIPB", b.net, 0, bytes, `block '${b.cidr}'`), `block '${b.cidr}'`);
    } catch (e) {
      b.dispose();
      throw e;
    }
    return b;
  }

  /** The address at `offset` from the network address. */
  addressAt(offset: number): string {
    const w = this.net.words;
    return this.family === 4
      ? ipv4((w[3] | offset) >>> 0)
      : ipv6([w[0], w[1], w[2], (w[3] | offset) >>> 0], false);
  }

  /** The offset of `addr` in this block; throws naming both when it is outside. */
  offsetOf(addr: string): number {
    const a = parseAddress(addr);
    if (!a) throw new Error(`'${addr}' is not an IPv4 or IPv6 address`);
    const w = this.net.words;
    if (
      a.family !== this.family ||
      a.words[0] !== w[0] ||
      a.words[1] !== w[1] ||
      a.words[2] !== w[2] ||
      ((a.words[3] & ~this.hostMask) >>> 0) !== w[3]
    ) {
      throw new Error(`address ${addr} is outside block ${this.cidr}`);
    }
    return a.words[3] & this.hostMask;
  }

  /** Allocates the lowest free address; undefined when the block is full. */
  allocate(): string | undefined {
    const i = this.bitmap.abi.ipamAllocLowest(this.bitmap.handle);
    return i < 0 ? undefined : this.addressAt(i);
  }

  /** Allocates the lowest free offset; -1 when full. */
  allocateOffset(): number {
    return this.bitmap.abi.ipamAllocLowest(this.bitmap.handle);
  }

  /** Allocates `addr`; false when it is already taken; throws when it is outside the block. */
  allocateAddress(addr: string): boolean {
    return this.bitmap.abi.ipamAllocAt(this.bitmap.handle, this.offsetOf(addr)) === 1;
  }

  /** Releases `addr`; false when it was not allocated; throws when it is outside the block. */
  release(addr: string): boolean {
    return this.bitmap.abi.ipamRelease(this.bitmap.handle, this.offsetOf(addr)) === 1;
  }

  /** Releases the address at `offset`; false when it was not allocated or is out of range. */
  releaseOffset(offset: number): boolean {
    return this.bitmap.abi.ipamRelease(this.bitmap.handle, offset) === 1;
  }

  /** Whether `addr` is allocated; throws when it is outside the block. */
  isAllocated(addr: string): boolean {
    return this.bitmap.abi.ipamIsAllocated(this.bitmap.handle, this.offsetOf(addr)) === 1;
  }

  /** True when `addr` is an address of this block (never throws). */
  contains(addr: string): boolean {
    return cidrContains(this.net, addr);
  }

  /** Free addresses. */
  free(): number {
    return this.bitmap.free();
  }

  /** Allocated addresses. */
  used(): number {
    return this.size - this.bitmap.free();
  }

  /** Allocated addresses, ascending. */
  allocated(): string[] {
    const out: string[] = [];
    for (const i of this.bitmap.indexes()) out.push(this.addressAt(i));
    return out;
  }

  /** Allocated offsets, ascending. */
  allocatedOffsets(): number[] {
    return [...this.bitmap.indexes()];
  }

  /** Bytes of core memory held by the bitmap and its summary levels. */
  memoryBytes(): number {
    return this.bitmap.memoryBytes();
  }

  /** The allocation state as bytes (a few bytes for a block filled lowest-first). */
  serialize(): Uint8Array {
    return frame("SIPB", this.net, 0, this.bitmap.payload());
  }

  /** Frees the core memory; the allocator must not be used afterwards. */
  dispose(): void {
    this.bitmap.dispose();
  }

  /** The core handle, for benchmarks that drive the core loops directly. */
  get coreHandle(): number {
    return this.bitmap.handle;
  }
}

// ---------------------------------------------------------------- pools

/** Block indexes of a pool carved into blocks of prefix length `blockSize`, lowest free first. */
export class BlockIndexAllocator {
  /** Canonical CIDR text of the pool. */
  readonly cidr: string;
  readonly family: Family;
  /** Prefix length of each block. */
  readonly blockSize: number;
  /** Number of block indexes this allocator hands out: min(blocks in the pool, 2^24). */
  readonly size: number;
  /** Number of blocks in the pool (may exceed size; then only the first 2^24 are used). */
  readonly totalBlocks: number;
  private readonly net: Cidr;
  private readonly bitmap: Bitmap;
  private readonly blockHostBits: number;

  private constructor(net: Cidr, blockSize: number, core: Core) {
    const bits = net.family === 4 ? 32 : 128;
    if (!Number.isInteger(blockSize) || blockSize < net.prefix || blockSize > bits) {
      throw new Error(`pool '${net.text}': blockSize ${blockSize} must be an integer between ${net.prefix} and ${bits}`);
    }
    if (bits - blockSize > MAX_BLOCK_BITS) {
      throw new Error(
        `pool '${net.text}': blockSize ${blockSize} makes blocks of 2^${bits - blockSize} addresses, ` +
          `above the 2^${MAX_BLOCK_BITS} allowed per block (use /${bits - MAX_BLOCK_BITS} or longer)`,
      );
    }
    this.net = net;
    this.cidr = net.text;
    this.family = net.family;
    this.blockSize = blockSize;
    this.blockHostBits = bits - blockSize;
    this.totalBlocks = 2 ** (blockSize - net.prefix);
    this.size = Math.min(this.totalBlocks, 2 ** MAX_POOL_INDEX_BITS);
    this.bitmap = new Bitmap(core, this.size, `pool '${net.text}'`);
  }

  /** An empty pool; throws on a bad CIDR or a blockSize outside the CIDR or above 2^24 addresses. */
  static create(poolCidr: string, blockSize: number, core: Core = nodeCore()): BlockIndexAllocator {
    return new BlockIndexAllocator(parseCidr(poolCidr), blockSize, core);
  }

  /** A pool in the state serialize() saved; throws when the bytes are not this pool's state. */
  static restore(poolCidr: string, blockSize: number, bytes: Uint8Array, core: Core = nodeCore()): BlockIndexAllocator {
    const p = new BlockIndexAllocator(parseCidr(poolCidr), blockSize, core);
    try {
      p.bitmap.load(unframe("SIPP", p.net, blockSize, bytes, `pool '${p.cidr}'`), `pool '${p.cidr}'`);
    } catch (e) {
      p.dispose();
      throw e;
    }
    return p;
  }

  private checkIndex(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new Error(`pool '${this.cidr}': block index ${i} is outside 0..${this.size - 1}`);
    }
    return i;
  }

  /** Allocates the lowest free block index; undefined when the pool is full. */
  allocate(): number | undefined {
    const i = this.bitmap.abi.ipamAllocLowest(this.bitmap.handle);
    return i < 0 ? undefined : i;
  }

  /** Allocates index `i`; false when taken; throws when outside the pool. */
  allocateIndex(i: number): boolean {
    return this.bitmap.abi.ipamAllocAt(this.bitmap.handle, this.checkIndex(i)) === 1;
  }

  /** Releases index `i`; false when it was not allocated; throws when outside the pool. */
  release(i: number): boolean {
    return this.bitmap.abi.ipamRelease(this.bitmap.handle, this.checkIndex(i)) === 1;
  }

  isAllocated(i: number): boolean {
    return this.bitmap.abi.ipamIsAllocated(this.bitmap.handle, this.checkIndex(i)) === 1;
  }

  /** The CIDR of block `i`, e.g. index 3 of 10.1.0.0/24 with blockSize 29 is 10.1.0.24/29. */
  blockCidr(i: number): string {
    this.checkIndex(i);
    // i < 2^24 and the block has < 2^25 addresses, so i * 2^hostBits < 2^53: exact in a double.
    const offset = i * 2 ** this.blockHostBits;
    const lo = offset % 2 ** 32;
    const hi = Math.floor(offset / 2 ** 32);
    const w = this.net.words;
    const words = [w[0], w[1], (w[2] | hi) >>> 0, (w[3] | lo) >>> 0];
    return `${formatWords(this.family, words)}/${this.blockSize}`;
  }

  /** The index of `blockCidr`; throws naming it when it is not a block of this pool. */
  indexOf(blockCidr: string): number {
    const b = parseCidr(blockCidr);
    if (b.family !== this.family || b.prefix !== this.blockSize) {
      throw new Error(`'${blockCidr}' is not a /${this.blockSize} block of pool ${this.cidr}`);
    }
    const p = prefix128(this.net);
    const host = b.words.map((w, k) => (w & ~maskWord(p, k)) >>> 0);
    if (b.words.some((w, k) => ((w & maskWord(p, k)) >>> 0) !== this.net.words[k])) {
      throw new Error(`block ${blockCidr} is outside pool ${this.cidr}`);
    }
    const beyond = () => new Error(`block ${blockCidr} is beyond the first 2^${MAX_POOL_INDEX_BITS} blocks of pool ${this.cidr}`);
    if (host[0] !== 0 || host[1] !== 0 || host[2]! >= 2 ** 21) throw beyond();
    const index = (host[2]! * 2 ** 32 + host[3]!) / 2 ** this.blockHostBits;
    if (index >= this.size) throw beyond();
    return index;
  }

  free(): number {
    return this.bitmap.free();
  }

  /** Allocated block indexes, ascending. */
  allocated(): number[] {
    return [...this.bitmap.indexes()];
  }

  memoryBytes(): number {
    return this.bitmap.memoryBytes();
  }

  serialize(): Uint8Array {
    return frame("SIPP", this.net, this.blockSize, this.bitmap.payload());
  }

  dispose(): void {
    this.bitmap.dispose();
  }

  get coreHandle(): number {
    return this.bitmap.handle;
  }
}

export type ChurnOrder = "random" | "fifo" | "sampled";
const CHURN_MODES: Record<ChurnOrder, number> = { random: 0, fifo: 1, sampled: 2 };

/** The core's benchmark loops (bench/ipam, `sart ipam bench`): many operations per call. */
export function coreBench(core: Core = nodeCore()) {
  const abi = core.exports as unknown as IpamAbi;
  return {
    /** Holds `count` addresses with `holes` free ones scattered below them; returns the count held. */
    prepare: (h: number, count: number, holes: number, seed: number) => abi.ipamBenchPrepare(h, count, holes, seed),
    /**
     * Release one allocated address, allocate the lowest free. Which one is released:
     * "random" a uniform pick from the held list, "fifo" the oldest held, "sampled" the
     * allocated address at or after a random offset (found in the bitmap, no list).
     */
    churn: (h: number, iterations: number, order: ChurnOrder) => abi.ipamBenchChurn(h, iterations, CHURN_MODES[order]),
    /** Allocate the lowest free address and release it again. */
    pairs: (h: number, iterations: number) => abi.ipamBenchPairs(h, iterations),
    /** Allocate a random address (when free) and release it again. */
    requested: (h: number, iterations: number) => abi.ipamBenchRequested(h, iterations),
    /** Frees every address of the bitmap (use a dedicated one) and the held list. */
    finish: (h: number) => abi.ipamBenchFinish(h),
  };
}
