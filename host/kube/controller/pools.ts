// The AddressPools the controller allocates from, with their in-memory allocators.
// Pools are admitted oldest first; a pool overlapping an admitted pool is rejected (two pools
// must never both hand out one address), as is a pool whose CIDR or blockSize is unusable.
// Per address family and pool type, the oldest autoAssign pool without serviceAllocation is the
// default auto-assign pool; other such pools get a condition and are not used for
// auto-assignment. Pools with serviceAllocation (scoped or prioritised, as MetalLB's) are tried
// before the default one, lowest priority first, for the Services they admit.
import { BlockIndexAllocator } from "../../core/ipam.ts";
import { poolAttrs } from "../route-attrs.ts";
import type { AddressPool, ServiceAllocation } from "../types.ts";
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
  /** Which Services the pool serves and its auto-assign priority (service pools). */
  allocation?: ServiceAllocation;
  /** BGPAdvertisement attrs for its addresses (route-attrs.ts). */
  attrs: string[];
  /** Prefix length Cluster-policy addresses are announced as (aggregationLength of the pool's family). */
  aggregation?: number;
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
  /** Admitted pools whose changed mutable fields (bgp) cannot be used: the old values stay. */
  private readonly mutableProblems = new Map<string, string>();

  /**
   * Brings the registry in line with the current AddressPool objects. Admitted pools stay
   * admitted (with their allocators) while they exist with the same CIDR and block size; new
   * pools are admitted oldest first. Returns the pools that were added or removed, and those
   * whose routes changed (attrs, aggregation length): their advertisements must follow.
   */
  sync(objects: AddressPool[]): { added: string[]; removed: string[]; routesChanged: string[] } {
    const byName = new Map(objects.map((o) => [o.metadata.name, o]));
    const removed: string[] = [];
    const routesChanged: string[] = [];
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
        // Mutable fields follow the object; an immutable change on a pool in use is refused.
        entry.autoAssign = o.spec.autoAssign === true;
        entry.deleting = !!o.metadata.deletionTimestamp;
        entry.createdAt = o.metadata.creationTimestamp ?? "";
        const routes = routeFields(entry);
        const problem = applyMutable(entry, o);
        if (problem) this.mutableProblems.set(name, problem);
        else this.mutableProblems.delete(name);
        if (routeFields(entry) !== routes) routesChanged.push(name);
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
        else if (this.mutableProblems.has(name)) rejections.set(name, `${this.mutableProblems.get(name)}; the previous value stays in force`);
        continue;
      }
      const problem = this.admit(o);
      if (problem) rejections.set(name, problem);
      else added.push(name);
    }
    this.rejections = rejections;
    return { added, removed, routesChanged };
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
      attrs: [],
    };
    try {
      if (o.spec.type === "service") entry.addresses = new PoolAddresses(cidr);
      else entry.blocks = BlockIndexAllocator.create(o.spec.cidr, blockSize);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    const problem = applyMutable(entry, o);
    if (problem) {
      entry.addresses?.dispose();
      entry.blocks?.dispose();
      return problem;
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

  /**
   * The default auto-assign pool of a type and family: the oldest admitted autoAssign pool
   * without serviceAllocation, not being deleted.
   */
  autoAssign(type: "service" | "pod", family: Family): PoolEntry | undefined {
    let best: PoolEntry | undefined;
    for (const p of this.pools.values()) {
      if (p.type !== type || !p.autoAssign || p.deleting || p.cidr.family !== family || p.allocation) continue;
      if (!best || p.createdAt < best.createdAt || (p.createdAt === best.createdAt && p.name < best.name)) best = p;
    }
    return best;
  }

  /**
   * The service pools auto-assignment tries for one family, in order: autoAssign pools with
   * serviceAllocation that `admits` (lower priority first, absent or 0 last, then oldest),
   * then the default auto-assign pool.
   */
  autoAssignOrder(family: Family, admits: (p: PoolEntry) => boolean): PoolEntry[] {
    const rank = (p: PoolEntry) => (p.allocation?.priority ? p.allocation.priority : Number.POSITIVE_INFINITY);
    const scoped = [...this.pools.values()]
      .filter((p) => p.type === "service" && p.autoAssign && !p.deleting && p.cidr.family === family && p.allocation && admits(p))
      .sort((a, b) => rank(a) - rank(b) || (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.name < b.name ? -1 : 1));
    const fallback = this.autoAssign("service", family);
    return fallback ? [...scoped, fallback] : scoped;
  }

  /** Allocations held from a pool: addresses (service) or blocks (pod). */
  inUse(p: PoolEntry): number {
    if (p.addresses) return p.addresses.used();
    if (p.blocks) return p.blocks.size - p.blocks.free();
    return 0;
  }

  /** What a pool can still hand out: addresses (service) or blocks (pod). */
  free(p: PoolEntry): number {
    if (p.addresses) return p.addresses.free();
    if (p.blocks) return p.blocks.free();
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
    this.mutableProblems.clear();
  }
}

function routeFields(p: PoolEntry): string {
  return JSON.stringify([p.attrs, p.aggregation]);
}

/** Copies the fields a pool may change while in use (service pools); returns what is wrong, if anything. */
function applyMutable(entry: PoolEntry, o: AddressPool): string | undefined {
  if (entry.type !== "service") return undefined;
  let attrs: string[];
  try {
    attrs = poolAttrs(o.spec.bgp ?? undefined);
  } catch (e) {
    return (e as Error).message;
  }
  const bgp = o.spec.bgp;
  const aggregation = entry.cidr.family === 4 ? bgp?.aggregationLength : bgp?.aggregationLengthV6;
  if (aggregation !== undefined && aggregation !== null && (aggregation < entry.cidr.prefix || aggregation > entry.cidr.bits)) {
    return `spec.bgp.${entry.cidr.family === 4 ? "aggregationLength" : "aggregationLengthV6"} ${aggregation} must lie between the prefix length ${entry.cidr.prefix} and ${entry.cidr.bits}`;
  }
  entry.attrs = attrs;
  entry.aggregation = aggregation ?? undefined;
  entry.allocation = o.spec.serviceAllocation ?? undefined;
  entry.addresses?.setAvoidBuggy(o.spec.avoidBuggyIPs === true);
  return undefined;
}

function safeBlockSize(o: AddressPool): number | undefined {
  try {
    return poolBlockSize(o.spec);
  } catch {
    return undefined;
  }
}
