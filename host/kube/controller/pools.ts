// The AddressPools the controller allocates from, with their in-memory allocators.
// Pools are admitted oldest first; a pool overlapping an admitted pool is rejected (two pools
// must never both hand out one address), as is a pool whose CIDR or blockSize is unusable.
// Per address family and pool type, the oldest autoAssign pool is the auto-assign pool; other
// autoAssign pools of that type and family get a condition and are not used for auto-assignment.
import { BlockIndexAllocator } from "../../core/ipam.ts";
import type { AddressPool } from "../types.ts";
import { poolBlockSize } from "../types.ts";
import { type Cidr, type Family, type Ip, cidrContains, cidrSize, parseCidr } from "./ip.ts";
import { PoolAddresses } from "./pool-addresses.ts";

export interface PoolEntry {
  name: string;
  type: "service" | "pod";
  cidr: Cidr;
  cidrText: string;
  blockSize: number;
  autoAssign: boolean;
  createdAt: string;
  /** Has a deletionTimestamp: keeps its allocations, hands out nothing new. */
  deleting: boolean;
  /** Service pools: the address bitmap. */
  addresses?: PoolAddresses;
  /** Pod pools: the block index bitmap. */
  blocks?: BlockIndexAllocator;
}

/** Why a pool is not admitted. */
export interface Rejection {
  name: string;
  message: string;
}

/** Oldest pool first (creationTimestamp, then name): the order of admission and of auto-assign choice. */
export function olderFirst(a: AddressPool, b: AddressPool): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

export class PoolRegistry {
  private readonly pools = new Map<string, PoolEntry>();
  private rejections = new Map<string, string>();

  /**
   * Brings the registry in line with the current AddressPool objects. Admitted pools stay
   * admitted (with their allocators) while they exist with the same CIDR and block size; new
   * pools are admitted oldest first. Returns the pools that were added or removed.
   */
  sync(objects: AddressPool[]): { added: string[]; removed: string[] } {
    const byName = new Map(objects.map((o) => [o.metadata.name, o]));
    const removed: string[] = [];
    for (const [name, entry] of this.pools) {
      const o = byName.get(name);
      const same = o && o.spec.type === entry.type && parseCidr(o.spec.cidr)?.network === entry.cidr.network &&
        parseCidr(o.spec.cidr)?.prefix === entry.cidr.prefix && safeBlockSize(o) === entry.blockSize;
      if (!same && this.inUse(entry) === 0) {
        entry.addresses?.dispose();
        entry.blocks?.dispose();
        this.pools.delete(name);
        removed.push(name);
      } else if (o) {
        // Mutable fields (autoAssign) follow the object; an immutable change on a pool in use is refused.
        entry.autoAssign = o.spec.autoAssign === true;
        entry.deleting = !!o.metadata.deletionTimestamp;
        entry.createdAt = o.metadata.creationTimestamp ?? "";
      } else {
        entry.deleting = true; // gone from the API but still holding allocations: nothing new from it
      }
    }
    const rejections = new Map<string, string>();
    const added: string[] = [];
    for (const o of [...objects].sort(olderFirst)) {
      const name = o.metadata.name;
      const existing = this.pools.get(name);
      if (existing) {
        const c = parseCidr(o.spec.cidr);
        if (!c || c.network !== existing.cidr.network || c.prefix !== existing.cidr.prefix || safeBlockSize(o) !== existing.blockSize)
          rejections.set(name, `spec changed while ${this.inUse(existing)} allocations are held from ${existing.cidrText}; the old spec stays in force`);
        continue;
      }
      const problem = this.admit(o);
      if (problem) rejections.set(name, problem);
      else added.push(name);
    }
    this.rejections = rejections;
    return { added, removed };
  }

  private admit(o: AddressPool): string | undefined {
    const name = o.metadata.name;
    const cidr = parseCidr(o.spec.cidr);
    if (!cidr) return `spec.cidr ${JSON.stringify(o.spec.cidr)} is not a network address with a prefix length`;
    if (o.spec.type !== "service" && o.spec.type !== "pod") return `spec.type ${JSON.stringify(o.spec.type)} is neither service nor pod`;
    const blockSize = safeBlockSize(o);
    if (blockSize === undefined || blockSize < cidr.prefix || blockSize > cidr.bits)
      return `spec.blockSize ${o.spec.blockSize} must lie between the prefix length ${cidr.prefix} and ${cidr.bits}`;
    if (o.spec.type === "service" && blockSize !== cidr.prefix)
      return `a service pool's blockSize must equal its prefix length ${cidr.prefix} (got ${blockSize})`;
    for (const other of this.pools.values()) {
      if (overlaps(cidr, other.cidr)) return `spec.cidr ${o.spec.cidr} overlaps pool ${other.name} (${other.cidrText})`;
    }
    const entry: PoolEntry = {
      name,
      type: o.spec.type,
      cidr,
      cidrText: o.spec.cidr,
      blockSize,
      autoAssign: o.spec.autoAssign === true,
      createdAt: o.metadata.creationTimestamp ?? "",
      deleting: !!o.metadata.deletionTimestamp,
    };
    try {
      if (o.spec.type === "service") entry.addresses = new PoolAddresses(cidr);
      else entry.blocks = BlockIndexAllocator.create(o.spec.cidr, blockSize);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    this.pools.set(name, entry);
    return undefined;
  }

  get(name: string): PoolEntry | undefined {
    return this.pools.get(name);
  }

  all(): PoolEntry[] {
    return [...this.pools.values()];
  }

  rejection(name: string): string | undefined {
    return this.rejections.get(name);
  }

  /** The admitted service pool holding `ip`, if any. */
  serviceContaining(ip: Ip): PoolEntry | undefined {
    for (const p of this.pools.values()) if (p.type === "service" && cidrContains(p.cidr, ip)) return p;
    return undefined;
  }

  /** The auto-assign pool of a type and family: the oldest admitted autoAssign pool not being deleted. */
  autoAssign(type: "service" | "pod", family: Family): PoolEntry | undefined {
    let best: PoolEntry | undefined;
    for (const p of this.pools.values()) {
      if (p.type !== type || !p.autoAssign || p.deleting || p.cidr.family !== family) continue;
      if (!best || p.createdAt < best.createdAt || (p.createdAt === best.createdAt && p.name < best.name)) best = p;
    }
    return best;
  }

  /** Allocations held from a pool: addresses (service) or blocks (pod). */
  inUse(p: PoolEntry): number {
    if (p.addresses) return p.addresses.used();
    if (p.blocks) return p.blocks.size - p.blocks.free();
    return 0;
  }

  /** Frees every allocator (on losing leadership). */
  clear(): void {
    for (const p of this.pools.values()) {
      p.addresses?.dispose();
      p.blocks?.dispose();
    }
    this.pools.clear();
    this.rejections.clear();
  }
}

function safeBlockSize(o: AddressPool): number | undefined {
  try {
    return poolBlockSize(o.spec);
  } catch {
    return undefined;
  }
}
