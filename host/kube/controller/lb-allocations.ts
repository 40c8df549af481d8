// LoadBalancer addresses held by each Service, over the pools' bitmaps. Allocation is all or
// nothing: a Service gets everything it asks for or nothing, and a failure says why.
// JavaScript runs one reconcile step at a time, and allocate() never awaits, so two Services
// can never be handed the same address unless they may share it.
//
// Sharing (MetalLB's rules, within one namespace): an address is a Share with its users. A
// Service with the allow-shared-ip annotation joins an address held under the same key when
// the backends match (Cluster with Cluster, Local with Local of the same pod selector) and no
// port/protocol is used twice; the address goes back to its pool when its last user leaves.
import { type Family, type Ip, familyName, formatIp, parseIp } from "./ip.ts";
import type { LbRequest, Sharing } from "./lb-request.ts";
import { Reason, SHARED_IP_ANNOTATION } from "./names.ts";
import type { PoolEntry, PoolRegistry } from "./pools.ts";

export interface Held {
  /** Canonical text. */
  ip: string;
  family: Family;
  pool: string;
  /** The parsed address (kept so hot paths never parse it again). */
  addr: Ip;
}

/** A released address; `freed` when it went back to its pool (no other Service shares it). */
export interface Released extends Held {
  freed: boolean;
}

export type AllocResult = { ok: true; held: Held[] } | { ok: false; reason: Reason; message: string; other?: string };
export type ClaimResult = { ok: true } | { ok: false; holder?: string; message: string };
/** Whether a pool serves the Service being allocated for: undefined when it does, else why not. */
export type PoolFilter = (pool: PoolEntry) => string | undefined;

/** One allocated address and the Services using it. */
interface Share {
  held: Held;
  /** The sharing key (namespace/key) and backend; absent: the address is not shared. */
  key?: string;
  backend?: string;
  /** Service key -> its ports ("TCP/80") on this address. */
  users: Map<string, string[]>;
}

interface Problem {
  other: string;
  message: string;
}

function describeBackend(backend: string | undefined): string {
  if (!backend || backend === "Cluster") return "externalTrafficPolicy Cluster";
  return `externalTrafficPolicy Local (pod selector ${backend.slice("Local:".length) || "none"})`;
}

const namespaceOf = (key: string) => key.slice(0, key.indexOf("/"));
const keyName = (key: string) => key.slice(key.indexOf("/") + 1);

export class LbAllocations {
  private readonly bySvc = new Map<string, Held[]>();
  private readonly shares = new Map<string, Share>();
  /** Sharing key -> addresses held under it. */
  private readonly byKey = new Map<string, Set<string>>();

  constructor(private readonly pools: PoolRegistry) {}

  held(key: string): Held[] | undefined {
    return this.bySvc.get(key);
  }

  keys(): IterableIterator<string> {
    return this.bySvc.keys();
  }

  /** The Services using an address (more than one when shared), oldest user first. */
  users(ip: string): string[] {
    return [...(this.shares.get(ip)?.users.keys() ?? [])];
  }

  /** The allocated address `ip` (canonical text), whoever holds it. */
  address(ip: string): Held | undefined {
    return this.shares.get(ip)?.held;
  }

  /** True when the address is held under a sharing key (it is announced as one shared advertisement). */
  isShared(ip: string): boolean {
    return this.shares.get(ip)?.key !== undefined;
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

  /** Why `key` cannot use the share with `sharing` (another user is named); undefined when it can. */
  private joinProblem(share: Share, key: string, sharing: Sharing | undefined): Problem | undefined {
    const others = [...share.users.keys()].filter((k) => k !== key);
    if (others.length === 0) return undefined;
    const other = others[0]!;
    const ip = share.held.ip;
    if (!share.key && !sharing) return { other, message: `${ip} is already allocated to ${other}` };
    if (!share.key) return { other, message: `${ip} is held by ${other}, which does not allow sharing (no ${SHARED_IP_ANNOTATION} annotation)` };
    if (!sharing) return { other, message: `${ip} is shared by ${other} (${SHARED_IP_ANNOTATION}: ${keyName(share.key)}); this Service has no ${SHARED_IP_ANNOTATION} annotation` };
    if (namespaceOf(share.key) !== namespaceOf(sharing.key)) {
      return { other, message: `${ip} is held by ${other}; addresses are shared only between Services of one namespace` };
    }
    if (share.key !== sharing.key) return { other, message: `${ip} is shared by ${other} under key ${JSON.stringify(keyName(share.key))}, not ${JSON.stringify(keyName(sharing.key))}` };
    if (share.backend !== sharing.backend) {
      return {
        other,
        message: `${ip} is shared by ${other} with ${describeBackend(share.backend)}, this Service has ${describeBackend(sharing.backend)} (Cluster shares only with Cluster, Local only with Local of the same pod selector)`,
      };
    }
    for (const o of others) {
      const overlap = share.users.get(o)!.filter((p) => sharing.ports.includes(p));
      if (overlap.length) return { other: o, message: `port ${overlap.join(", ")} on ${ip} is already used by ${o}` };
    }
    return undefined;
  }

  private record(key: string, h: Held): void {
    const list = this.bySvc.get(key);
    if (list) list.push(h);
    else this.bySvc.set(key, [h]);
  }

  private newShare(h: Held, key: string, sharing: Sharing | undefined): void {
    const share: Share = { held: h, users: new Map([[key, sharing?.ports ?? []]]) };
    this.shares.set(h.ip, share);
    this.setKey(share, sharing);
  }

  private setKey(share: Share, sharing: Sharing | undefined): void {
    if (share.key) this.byKey.get(share.key)?.delete(share.held.ip);
    if (share.key && this.byKey.get(share.key)?.size === 0) this.byKey.delete(share.key);
    share.key = sharing?.key;
    share.backend = sharing?.backend;
    if (!sharing) return;
    let set = this.byKey.get(sharing.key);
    if (!set) this.byKey.set(sharing.key, (set = new Set()));
    set.add(share.held.ip);
  }

  /** Recovery (and keeping addresses after a failed change): takes an address a Service's status shows. */
  claim(key: string, text: string, sharing?: Sharing): ClaimResult {
    const ip = parseIp(text);
    if (!ip) return { ok: false, message: `status shows ${JSON.stringify(text)}, which is not an IP address` };
    const ipText = formatIp(ip);
    const share = this.shares.get(ipText);
    if (share) {
      if (share.users.has(key)) return { ok: true };
      const problem = this.joinProblem(share, key, sharing);
      if (problem) {
        const message = !share.key && !sharing ? `${ipText} is also claimed by ${problem.other}, which is older` : `${problem.message} (${problem.other} is older)`;
        return { ok: false, holder: problem.other, message };
      }
      share.users.set(key, sharing?.ports ?? []);
      this.record(key, share.held);
      return { ok: true };
    }
    const pool = this.pools.serviceContaining(ip);
    if (!pool?.addresses) return { ok: false, message: `${ipText} is outside every service pool` };
    if (!pool.addresses.allocateAddress(ip, true)) return { ok: false, message: `${ipText} is already allocated in pool ${pool.name}` };
    const h: Held = { ip: ipText, family: ip.family, pool: pool.name, addr: ip };
    this.newShare(h, key, sharing);
    this.record(key, h);
    return { ok: true };
  }

  /** Releases every address the Service holds (a shared one stays with its other users); returns them. */
  release(key: string): Released[] {
    const list = this.bySvc.get(key);
    if (!list) return [];
    this.bySvc.delete(key);
    return list.map((h) => {
      const share = this.shares.get(h.ip);
      share?.users.delete(key);
      if (share && share.users.size > 0) return { ...h, freed: false };
      if (share) {
        this.setKey(share, undefined);
        this.shares.delete(h.ip);
      }
      this.pools.get(h.pool)?.addresses?.release(h.addr);
      return { ...h, freed: true };
    });
  }

  /**
   * Applies a Service's (possibly changed) sharing annotation, ports and traffic policy to the
   * addresses it holds, when every co-user still allows it. False when one does not: the
   * Service must be given other addresses.
   */
  updateSharing(key: string, sharing: Sharing | undefined): boolean {
    const shares = (this.bySvc.get(key) ?? []).map((h) => this.shares.get(h.ip)!);
    if (shares.some((s) => this.joinProblem(s, key, sharing))) return false;
    for (const s of shares) {
      s.users.set(key, sharing?.ports ?? []);
      if (s.users.size === 1 && (s.key !== sharing?.key || s.backend !== sharing?.backend)) this.setKey(s, sharing);
    }
    return true;
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

  /**
   * Allocates what the request asks for. The Service must hold nothing (release first).
   * `filter` says whether a pool serves this Service (serviceAllocation).
   */
  allocate(key: string, req: LbRequest, filter: PoolFilter = () => undefined): AllocResult {
    /** Picked so far: new addresses (returned to their pool on failure) or shares to join. */
    const got: { h: Held; pool: PoolEntry; join?: Share }[] = [];
    const fail = (reason: Reason, message: string, other?: string): AllocResult => {
      for (const g of got) if (!g.join) g.pool.addresses!.release(g.h.addr);
      return { ok: false, reason, message, ...(other ? { other } : {}) };
    };
    const held = (pool: PoolEntry, ip: Ip): Held => ({ ip: formatIp(ip), family: ip.family, pool: pool.name, addr: ip });
    const joining = new Set<string>();
    /** A share of `pool` the Service may join (the lowest address), else the pool's lowest free address. */
    const pick = (pool: PoolEntry): boolean => {
      if (req.sharing) {
        const candidates = [...(this.byKey.get(req.sharing.key) ?? [])]
          .map((ip) => this.shares.get(ip)!)
          .filter((s) => s.held.pool === pool.name && !joining.has(s.held.ip) && !this.joinProblem(s, key, req.sharing))
          .sort((a, b) => (a.held.addr.value < b.held.addr.value ? -1 : 1));
        if (candidates.length) {
          joining.add(candidates[0]!.held.ip);
          got.push({ h: candidates[0]!.held, pool, join: candidates[0] });
          return true;
        }
      }
      const text = pool.addresses!.allocate();
      if (text === undefined) return false;
      got.push({ h: held(pool, parseIp(text)!), pool });
      return true;
    };

    const resolve = (name: string): PoolEntry | { reason: Reason; message: string } => {
      const p = this.pools.get(name);
      const why = this.pools.rejection(name);
      if (!p) return { reason: Reason.NoPool, message: why ? `pool ${name} is not usable: ${why}` : `pool ${name} does not exist` };
      if (p.type !== "service") return { reason: Reason.NoPool, message: `pool ${name} is a pod pool, not a service pool` };
      if (p.deleting) return { reason: Reason.NoPool, message: `pool ${name} is being deleted` };
      const refused = filter(p);
      if (refused) return { reason: Reason.PoolNotAllowed, message: refused };
      return p;
    };

    if (req.addresses) {
      let candidates: PoolEntry[];
      if (req.pools) {
        candidates = [];
        for (const name of req.pools) {
          const p = resolve(name);
          if ("reason" in p) return fail(p.reason, p.message);
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
        const refused = filter(pool);
        if (refused) return fail(Reason.PoolNotAllowed, `requested address ${text}: ${refused}`);
        const share = this.shares.get(text);
        if (share) {
          const problem = this.joinProblem(share, key, req.sharing);
          if (problem) {
            const reason = share.key || req.sharing ? Reason.SharingConflict : Reason.AddressInUse;
            return fail(reason, `requested address ${problem.message}`, problem.other);
          }
          got.push({ h: share.held, pool, join: share });
          continue;
        }
        if (pool.addresses!.avoids(ip)) return fail(Reason.AddressOutsidePools, `requested address ${text} ends in .0 or .255, which pool ${pool.name} never hands out (avoidBuggyIPs)`);
        if (!pool.addresses!.allocateAddress(ip)) return fail(Reason.AddressInUse, `requested address ${text} is already allocated in pool ${pool.name}`);
        got.push({ h: held(pool, ip), pool });
      }
    } else if (req.pools) {
      let skipped = 0;
      for (const name of req.pools) {
        const p = resolve(name);
        if ("reason" in p) return fail(p.reason, p.message);
        if (req.families.length > 0 && !req.families.includes(p.cidr.family)) {
          skipped++;
          continue;
        }
        if (!pick(p)) return fail(Reason.PoolExhausted, `pool ${p.name} (${p.cidrText}) has no free address`);
      }
      if (got.length === 0 && skipped > 0) {
        return fail(Reason.NoPool, `none of the pools ${req.pools.join(", ")} serves the Service's ip families (${req.families.map(familyName).join(", ")})`);
      }
    } else {
      const serves = (p: PoolEntry) => !filter(p);
      let families = req.families;
      if (families.length === 0) {
        const first = ([4, 6] as Family[]).find((f) => this.pools.autoAssignOrder(f, serves).length > 0);
        if (first === undefined) return fail(Reason.NoPool, `no auto-assign service pool serves this Service${this.scopeHint(filter)} (set autoAssign: true on one, or name pools in the sart.terassyi.net/addresspool annotation)`);
        families = [first];
      }
      if (req.single) families = families.slice(0, 1);
      const mustAll = req.requireAll || req.single;
      let lastReason: Reason = Reason.NoPool;
      let lastMessage = "";
      for (const f of families) {
        const order = this.pools.autoAssignOrder(f, serves);
        if (order.length === 0) {
          lastReason = Reason.NoPool;
          lastMessage = `no auto-assign ${familyName(f)} service pool serves this Service${this.scopeHint(filter, f)}`;
          if (mustAll) return fail(lastReason, lastMessage);
          continue;
        }
        if (!order.some(pick)) {
          lastReason = Reason.PoolExhausted;
          lastMessage = `${order.length > 1 ? "pools" : "pool"} ${order.map((p) => `${p.name} (${p.cidrText})`).join(", ")} ${order.length > 1 ? "have" : "has"} no free address`;
          if (mustAll) return fail(lastReason, lastMessage);
        }
      }
      if (got.length === 0) return fail(lastReason, lastMessage);
    }
    for (const g of got) {
      if (g.join) g.join.users.set(key, req.sharing?.ports ?? []);
      else this.newShare(g.h, key, req.sharing);
      this.record(key, g.h);
    }
    return { ok: true, held: got.map((g) => g.h) };
  }

  /** Why the auto-assign pools with serviceAllocation refuse the Service, for a NoPool message. */
  private scopeHint(filter: PoolFilter, family?: Family): string {
    const refusals = this.pools
      .all()
      .filter((p) => p.type === "service" && p.autoAssign && !p.deleting && p.allocation && (!family || p.cidr.family === family))
      .map(filter)
      .filter((why): why is string => !!why);
    return refusals.length ? ` (${refusals.join("; ")})` : "";
  }

  clear(): void {
    this.bySvc.clear();
    this.shares.clear();
    this.byKey.clear();
  }
}
