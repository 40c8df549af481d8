// The addresses of one service pool, in the core's bitmap allocator. A pool larger than one
// core block (2^24 addresses: an IPv4 /8, an IPv6 /104) is carved into chunks created on
// first use, so a /64 pool costs memory only for the chunks it actually hands out from.
// With avoidBuggyIPs (MetalLB's option), IPv4 addresses ending in .0 or .255 are never handed
// out: the allocator takes them when it meets them and keeps them reserved, unused.
import { BlockAllocator, MAX_BLOCK_BITS } from "../../core/ipam.ts";
import { type Cidr, type Ip, cidrContains, cidrSize, formatCidr, formatIp, parseIp } from "./ip.ts";

/** An IPv4 address ending in .0 or .255, which some old equipment drops (MetalLB's "buggy IPs"). */
export function isBuggyIp(ip: Ip): boolean {
  if (ip.family !== 4) return false;
  const last = ip.value & 0xffn;
  return last === 0n || last === 0xffn;
}

/** How many addresses of an IPv4 CIDR end in .0 or .255. */
function buggyCount(c: Cidr): bigint {
  if (c.family !== 4) return 0n;
  if (c.prefix <= 24) return 2n << BigInt(24 - c.prefix);
  const first = { family: 4 as const, value: c.network };
  const last = { family: 4 as const, value: c.network + cidrSize(c) - 1n };
  return (isBuggyIp(first) ? 1n : 0n) + (last.value !== first.value && isBuggyIp(last) ? 1n : 0n);
}

/** Free counts are JSON numbers in pool status: larger ones are capped. */
const MAX_COUNT = BigInt(Number.MAX_SAFE_INTEGER);

export class PoolAddresses {
  private readonly chunkBits: number;
  private readonly chunkCount: bigint;
  private readonly chunks = new Map<bigint, BlockAllocator>();
  /** No chunk below this index has a free address. */
  private firstNotFull = 0n;
  private usedCount = 0;
  /** Handed-out addresses that end in .0/.255 (held from before avoidBuggyIPs, or recovered). */
  private usedBuggy = 0;
  /** .0/.255 addresses taken out of the bitmap so that they are never handed out. */
  private readonly reserved = new Set<bigint>();
  private avoidBuggy = false;

  constructor(readonly cidr: Cidr) {
    const hostBits = cidr.bits - cidr.prefix;
    this.chunkBits = Math.min(hostBits, MAX_BLOCK_BITS);
    this.chunkCount = 1n << BigInt(hostBits - this.chunkBits);
  }

  private chunkCidr(index: bigint): Cidr {
    return {
      family: this.cidr.family,
      network: this.cidr.network + (index << BigInt(this.chunkBits)),
      prefix: this.cidr.bits - this.chunkBits,
      bits: this.cidr.bits,
    };
  }

  private chunk(index: bigint): BlockAllocator {
    let c = this.chunks.get(index);
    if (!c) {
      c = BlockAllocator.create(formatCidr(this.chunkCidr(index)));
      this.chunks.set(index, c);
    }
    return c;
  }

  private indexOf(ip: Ip): bigint {
    return (ip.value - this.cidr.network) >> BigInt(this.chunkBits);
  }

  contains(ip: Ip): boolean {
    return cidrContains(this.cidr, ip);
  }

  /** Turns avoidBuggyIPs on or off; off gives the reserved .0/.255 addresses back. */
  setAvoidBuggy(on: boolean): void {
    if (on === this.avoidBuggy) return;
    this.avoidBuggy = on;
    if (on) return;
    for (const value of this.reserved) this.freeInBitmap({ family: this.cidr.family, value });
    this.reserved.clear();
  }

  /** True when avoidBuggyIPs keeps `ip` from being handed out. */
  avoids(ip: Ip): boolean {
    return this.avoidBuggy && isBuggyIp(ip);
  }

  /** The lowest free address, allocated; undefined when the pool is full. */
  allocate(): string | undefined {
    for (let i = this.firstNotFull; i < this.chunkCount; i++) {
      const chunk = this.chunk(i);
      for (let addr = chunk.allocate(); addr !== undefined; addr = chunk.allocate()) {
        if (this.avoidBuggy && /\.(0|255)$/.test(addr)) {
          this.reserved.add(parseIp(addr)!.value);
          continue;
        }
        this.firstNotFull = i;
        this.usedCount++;
        return addr;
      }
    }
    this.firstNotFull = this.chunkCount;
    return undefined;
  }

  /**
   * Allocates `ip` (which must be inside the pool); false when it is already taken. An address
   * avoidBuggyIPs reserved is taken only when asked (recovery: a Service already holds it).
   */
  allocateAddress(ip: Ip, evenIfAvoided = false): boolean {
    if (this.reserved.has(ip.value)) {
      if (!evenIfAvoided) return false;
      this.reserved.delete(ip.value);
    } else if (!this.chunk(this.indexOf(ip)).allocateAddress(formatIp(ip))) {
      return false;
    }
    this.usedCount++;
    if (isBuggyIp(ip)) this.usedBuggy++;
    return true;
  }

  release(ip: Ip): boolean {
    if (!this.freeInBitmap(ip)) return false;
    this.usedCount--;
    if (isBuggyIp(ip)) this.usedBuggy--;
    return true;
  }

  private freeInBitmap(ip: Ip): boolean {
    const index = this.indexOf(ip);
    const c = this.chunks.get(index);
    if (!c || !c.release(formatIp(ip))) return false;
    if (index < this.firstNotFull) this.firstNotFull = index;
    return true;
  }

  /** Addresses that can still be handed out (capped at 2^53 - 1). */
  free(): number {
    let n = cidrSize(this.cidr) - BigInt(this.usedCount);
    if (this.avoidBuggy) n -= buggyCount(this.cidr) - BigInt(this.usedBuggy);
    return Number(n > MAX_COUNT ? MAX_COUNT : n < 0n ? 0n : n);
  }

  /** Addresses allocated in the pool. */
  used(): number {
    return this.usedCount;
  }

  dispose(): void {
    for (const c of this.chunks.values()) c.dispose();
    this.chunks.clear();
    this.reserved.clear();
  }
}

