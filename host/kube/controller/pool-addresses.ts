// The addresses of one service pool, in the core's bitmap allocator. A pool larger than one
// core block (2^24 addresses: an IPv4 /8, an IPv6 /104) is carved into chunks created on
// first use, so a /64 pool costs memory only for the chunks it actually hands out from.
import { BlockAllocator, MAX_BLOCK_BITS } from "../../core/ipam.ts";
import { type Cidr, type Ip, cidrContains, formatCidr, formatIp } from "./ip.ts";

export class PoolAddresses {
  private readonly chunkBits: number;
  private readonly chunkCount: bigint;
  private readonly chunks = new Map<bigint, BlockAllocator>();
  /** No chunk below this index has a free address. */
  private firstNotFull = 0n;
  private usedCount = 0;

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

  /** The lowest free address, allocated; undefined when the pool is full. */
  allocate(): string | undefined {
    for (let i = this.firstNotFull; i < this.chunkCount; i++) {
      const addr = this.chunk(i).allocate();
      if (addr !== undefined) {
        this.firstNotFull = i;
        this.usedCount++;
        return addr;
      }
    }
    this.firstNotFull = this.chunkCount;
    return undefined;
  }

  /** Allocates `ip` (which must be inside the pool); false when it is already taken. */
  allocateAddress(ip: Ip): boolean {
    const ok = this.chunk(this.indexOf(ip)).allocateAddress(formatIp(ip));
    if (ok) this.usedCount++;
    return ok;
  }

  release(ip: Ip): boolean {
    const index = this.indexOf(ip);
    const c = this.chunks.get(index);
    if (!c || !c.release(formatIp(ip))) return false;
    this.usedCount--;
    if (index < this.firstNotFull) this.firstNotFull = index;
    return true;
  }

  isAllocated(ip: Ip): boolean {
    const c = this.chunks.get(this.indexOf(ip));
    return c ? c.isAllocated(formatIp(ip)) : false;
  }

  /** Addresses allocated in the pool. */
  used(): number {
    return this.usedCount;
  }

  dispose(): void {
    for (const c of this.chunks.values()) c.dispose();
    this.chunks.clear();
  }
}
