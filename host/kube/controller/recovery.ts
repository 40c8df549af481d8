// Rebuilding allocations when this replica starts leading, before anything new is allocated:
// pod pool block indexes from the AddressBlocks, LoadBalancer addresses from Service status
// (oldest Service first, so on a duplicate claim the older Service keeps the address and the
// newer one is told why it lost it; Services allowed to share an address join it again, the
// same rules as allocation deciding). The input is a fresh list from the API, not the informer
// caches: right after a failover a cache may not yet show the previous leader's last writes.
import type { AddressBlock, AddressPool, Service } from "../types.ts";
import { claimPodBlocks } from "./block-request.ts";
import type { Ctx } from "./context.ts";
import { objectKey } from "./fresh.ts";
import { isOurLoadBalancer, parseLbRequest } from "./lb-request.ts";

export interface RecoveryReport {
  services: number;
  addresses: number;
  conflicts: number;
  dropped: number;
  podBlocks: number;
}

function olderFirst(a: Service, b: Service): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = objectKey(a);
  const kb = objectKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export interface Snapshot {
  services: Service[];
  pools: AddressPool[];
  blocks: AddressBlock[];
}

/** Lists what recovery reads, straight from the store. */
export async function takeSnapshot(ctx: Ctx): Promise<Snapshot> {
  const [services, pools, blocks] = await Promise.all([
    ctx.store.list<Service>("Service"),
    ctx.store.list<AddressPool>("AddressPool"),
    ctx.store.list<AddressBlock>("AddressBlock"),
  ]);
  return { services, pools, blocks };
}

export function rebuildAllocations(ctx: Ctx, snap: Snapshot): RecoveryReport {
  ctx.lb.clear();
  ctx.pools.clear();
  ctx.conflicts.clear();
  ctx.waiting.clear();
  ctx.pools.sync(snap.pools);
  const report: RecoveryReport = { services: 0, addresses: 0, conflicts: 0, dropped: 0, podBlocks: 0 };
  for (const pool of ctx.pools.all()) {
    if (pool.type !== "pod") continue;
    claimPodBlocks(ctx, pool, snap.blocks);
    report.podBlocks += ctx.pools.inUse(pool);
  }
  // Reconciles read the newer of this list and the cache.
  for (const s of snap.services) ctx.services.wrote(s);
  const services = snap.services.filter((s) => isOurLoadBalancer(s) && s.status?.loadBalancer?.ingress?.length);
  services.sort(olderFirst);
  for (const svc of services) {
    const key = objectKey(svc);
    report.services++;
    const parsed = parseLbRequest(svc);
    const sharing = parsed.ok ? parsed.request.sharing : undefined;
    for (const ing of svc.status!.loadBalancer!.ingress!) {
      if (!ing.ip) continue;
      const r = ctx.lb.claim(key, ing.ip, sharing);
      if (r.ok) {
        report.addresses++;
      } else if (r.holder) {
        report.conflicts++;
        ctx.conflicts.set(key, `address conflict: ${r.message}`);
        ctx.log("warn", `Service ${key}: ${r.message}; it will be given another address`);
      } else {
        report.dropped++;
        ctx.log("warn", `Service ${key}: ${r.message}; dropped`);
      }
    }
  }
  return report;
}
