// LoadBalancer addresses held by each Service, over the pools' bitmaps. Allocation is all or
// nothing: a Service gets everything it asks for or nothing, and a failure says why.
// JavaScript runs one reconcile step at a time, and allocate() never awaits, so two Services
// can never be handed the same address.
import { type Family, type Ip, familyName, formatIp, parseIp } from "./ip.ts";
import type { LbRequest } from "./lb-request.ts";
import { Reason } from "./names.ts";
import type { PoolEntry, PoolRegistry } from "./pools.ts";

export interface Held {
  /** Canonical text. */
  ip: string;
  family: Family;
  pool: string;
  /** The parsed address (kept so hot paths never parse it again). */
  addr: Ip;
}

export type AllocResult = { ok: true; held: Held[] } | { ok: false; reason: Reason; message: string };
export type ClaimResult = { ok: true } | { ok: false; holder?: string; message: string };

export class LbAllocations {
  private readonly bySvc = new Map<string, Held[]>();
  private readonly owners = new Map<string, string>();

  constructor(private readonly pools: PoolRegistry) {}

  held(key: string): Held[] | undefined {
    return this.bySvc.get(key);
  }

  owner(ip: string): string | undefined {
    return this.owners.get(ip);
  }

  keys(): IterableIterator<string> {
    return this.bySvc.keys();
  }

  /** Addresses held by Services, per pool name. */
  countByPool(): Map<string, number> {
    const out = new Map<string, number>();
    for (const list of this.bySvc.values()) for (const h of list) out.set(h.pool, (out.get(h.pool) ?? 0) + 1);
    return out;
  }

  /** Holders of addresses in a pool (for messages), at most `limit`. */
  holdersOf(pool: string, limit: number): string[] {
    const out: string[] = [];
    for (const [key, list] of this.bySvc) {
      if (list.some((h) => h.pool === pool)) out.push(key);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Recovery: takes an address a Service's status already shows. */
  claim(key: string, text: string): ClaimResult {
    const ip = parseIp(text);
    if (!ip) return { ok: false, message: `status shows ${JSON.stringify(text)}, which is not an IP address` };
    const ipText = formatIp(ip);
    const holder = this.owners.get(ipText);
    if (holder === key) return { ok: true };
    if (holder) return { ok: false, holder, message: `${ipText} is also claimed by ${holder}, which is older` };
    const pool = this.pools.serviceContaining(ip);
    if (!pool?.addresses) return { ok: false, message: `${ipText} is outside every service pool` };
    if (!pool.addresses.allocateAddress(ip)) return { ok: false, message: `${ipText} is already allocated in pool ${pool.name}` };
    this.record(key, { ip: ipText, family: ip.family, pool: pool.name, addr: ip });
    return { ok: true };
  }

  private record(key: string, h: Held): void {
    const list = this.bySvc.get(key);
    if (list) list.push(h);
    else this.bySvc.set(key, [h]);
    this.owners.set(h.ip, key);
  }

  /** Releases every address the Service holds; returns them. */
  release(key: string): Held[] {
    const list = this.bySvc.get(key);
    if (!list) return [];
    this.bySvc.delete(key);
    for (const h of list) this.releaseOne(h);
    return list;
  }

  private releaseOne(h: Held): void {
    if (this.owners.get(h.ip) !== undefined) this.owners.delete(h.ip);
    this.pools.get(h.pool)?.addresses?.release(h.addr);
  }

  /** True when what the Service holds is what its request asks for (so nothing moves). */
  satisfies(key: string, req: LbRequest): boolean {
    const held = this.bySvc.get(key);
    if (!held || held.length === 0) return false;
    if (held.some((h) => !this.pools.get(h.pool))) return false;
    if (req.addresses) {
      if (held.length !== req.addresses.length) return false;
      const want = new Set(req.addresses.map(formatIp));
      return held.every((h) => want.has(h.ip)) && (!req.pools || held.every((h) => req.pools!.includes(h.pool)));
    }
    if (req.pools) {
      const want = req.pools.filter((name) => {
        const p = this.pools.get(name);
        return !p || req.families.length === 0 || req.families.includes(p.cidr.family);
      });
      if (want.length !== held.length) return false;
      const a = [...want].sort();
      const b = held.map((h) => h.pool).sort();
      return a.every((x, i) => x === b[i]);
    }
    const fams = held.map((h) => h.family);
    if (new Set(fams).size !== fams.length) return false;
    if (req.single) return held.length === 1 && (req.families.length === 0 || held[0].family === req.families[0]);
    if (!fams.every((f) => req.families.includes(f))) return false;
    return !req.requireAll || req.families.every((f) => fams.includes(f));
  }

  /** Allocates what the request asks for. The Service must hold nothing (release first). */
  allocate(key: string, req: LbRequest): AllocResult {
    const got: { h: Held; ip: Ip; pool: PoolEntry }[] = [];
    const fail = (reason: Reason, message: string): AllocResult => {
      for (const g of got) g.pool.addresses!.release(g.ip);
      return { ok: false, reason, message };
    };
    const take = (pool: PoolEntry, ip: Ip) => got.push({ h: { ip: formatIp(ip), family: ip.family, pool: pool.name, addr: ip }, ip, pool });

    const resolve = (name: string): PoolEntry | string => {
      const p = this.pools.get(name);
      const why = this.pools.rejection(name);
      if (!p) return why ? `pool ${name} is not usable: ${why}` : `pool ${name} does not exist`;
      if (p.type !== "service") return `pool ${name} is a pod pool, not a service pool`;
      if (p.deleting) return `pool ${name} is being deleted`;
      return p;
    };

    if (req.addresses) {
      let candidates: PoolEntry[];
      if (req.pools) {
        candidates = [];
        for (const name of req.pools) {
          const p = resolve(name);
          if (typeof p === "string") return fail(Reason.NoPool, p);
          candidates.push(p);
        }
      } else {
        candidates = this.pools.all().filter((p) => p.type === "service");
      }
      for (const ip of req.addresses) {
        const text = formatIp(ip);
        const pool = candidates.find((p) => p.addresses!.contains(ip));
        if (!pool) {
          const where = req.pools ? `pool${req.pools.length > 1 ? "s" : ""} ${req.pools.join(", ")}` : "every service pool";
          return fail(Reason.AddressOutsidePools, `requested address ${text} is outside ${where}`);
        }
        if (pool.deleting) return fail(Reason.NoPool, `pool ${pool.name} is being deleted`);
        const holder = this.owners.get(text);
        if (holder !== undefined && holder !== key) return fail(Reason.AddressInUse, `requested address ${text} is already allocated to ${holder}`);
        if (!pool.addresses!.allocateAddress(ip)) return fail(Reason.AddressInUse, `requested address ${text} is already allocated in pool ${pool.name}`);
        take(pool, ip);
      }
    } else if (req.pools) {
      let skipped = 0;
      for (const name of req.pools) {
        const p = resolve(name);
        if (typeof p === "string") return fail(Reason.NoPool, p);
        if (req.families.length > 0 && !req.families.includes(p.cidr.family)) {
          skipped++;
          continue;
        }
        const text = p.addresses!.allocate();
        if (text === undefined) return fail(Reason.PoolExhausted, `pool ${p.name} (${p.cidrText}) has no free address`);
        take(p, parseIp(text)!);
      }
      if (got.length === 0 && skipped > 0) {
        return fail(Reason.NoPool, `none of the pools ${req.pools.join(", ")} serves the Service's ip families (${req.families.map(familyName).join(", ")})`);
      }
    } else {
      let families = req.families;
      if (families.length === 0) {
        const first = ([4, 6] as Family[]).find((f) => this.pools.autoAssign("service", f));
        if (first === undefined) {
          return fail(Reason.NoPool, "no auto-assign service pool exists (set autoAssign: true on one, or name pools in the sart.terassyi.net/addresspool annotation)");
        }
        families = [first];
      }
      if (req.single) families = families.slice(0, 1);
      const mustAll = req.requireAll || req.single;
      let lastReason: Reason = Reason.NoPool;
      let lastMessage = "";
      for (const f of families) {
        const p = this.pools.autoAssign("service", f);
        if (!p) {
          lastReason = Reason.NoPool;
          lastMessage = `no auto-assign ${familyName(f)} service pool exists`;
          if (mustAll) return fail(lastReason, lastMessage);
          continue;
        }
        const text = p.addresses!.allocate();
        if (text === undefined) {
          lastReason = Reason.PoolExhausted;
          lastMessage = `pool ${p.name} (${p.cidrText}) has no free address`;
          if (mustAll) return fail(lastReason, lastMessage);
          continue;
        }
        take(p, parseIp(text)!);
      }
      if (got.length === 0) return fail(lastReason, lastMessage);
    }
    for (const g of got) this.record(key, g.h);
    return { ok: true, held: got.map((g) => g.h) };
  }

  clear(): void {
    this.bySvc.clear();
    this.owners.clear();
  }
}
