// LoadBalancer Services: allocate addresses, write status.loadBalancer.ingress and a condition,
// hold a finalizer so that deleting a Service always releases its addresses and withdraws its
// advertisements first, and release when the Service stops being our LoadBalancer.
import type { Condition, Service } from "../types.ts";
import { syncAdvertisements, syncSharedAdvertisement } from "./advertisement.ts";
import { findCondition, removeCondition, sameCondition, setCondition } from "./conditions.ts";
import { type Ctx, event, setFinalizer } from "./context.ts";
import { parseKey } from "./fresh.ts";
import type { Held, PoolFilter, Released } from "./lb-allocations.ts";
import { isOurLoadBalancer, parseLbRequest } from "./lb-request.ts";
import { ALLOCATED_CONDITION, IP_ALLOCATED, Reason, SERVICE_FINALIZER } from "./names.ts";
import { whyPoolRefuses } from "./pool-scope.ts";
import type { ReconcileResult } from "./queue.ts";

type DesiredCondition = Omit<Condition, "lastTransitionTime">;

function ingressIps(svc: Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function describe(held: Held[]): string {
  return held.map((h) => `${h.ip} from ${h.pool}`).join(", ");
}

/** Pools whose status counts change when a Service's addresses do. */
function touchPools(ctx: Ctx, held: Held[]): void {
  for (const name of new Set(held.map((h) => h.pool))) ctx.q.pools.addAfter(name, 2000);
}

/** Addresses were freed: Services waiting for one may now fit. */
function retryWaiting(ctx: Ctx): void {
  for (const key of ctx.waiting) ctx.q.services.add(key);
}

/** The shared advertisements of these addresses may have to change (users, targets, or go). */
function touchShared(ctx: Ctx, key: string, held: Held[]): void {
  const ns = parseKey(key).namespace;
  for (const h of held) ctx.q.sharedAdverts.add(`${ns}/${h.ip}`);
}

/** Whether each pool serves this Service (serviceAllocation), with its namespace's labels. */
export function poolFilter(ctx: Ctx, svc: Service): PoolFilter {
  const nsLabels = () => ctx.inf.namespaces.get({ name: svc.metadata.namespace ?? "default" })?.metadata.labels;
  return (p) => whyPoolRefuses(p, svc, nsLabels());
}

/** One log line per address given back; the pools' counts and waiting Services follow. */
function released(ctx: Ctx, key: string, list: Released[]): Released[] {
  if (!list.length) return list;
  for (const r of list) {
    const rest = r.freed ? "" : ` (still used by ${ctx.lb.users(r.ip).join(", ")})`;
    ctx.log("info", `Service ${key}: released ${r.ip} (pool ${r.pool})${rest}`);
  }
  ctx.counts.released += list.length;
  touchPools(ctx, list);
  touchShared(ctx, key, list);
  if (list.some((r) => r.freed)) retryWaiting(ctx);
  return list;
}

/** Withdraws what a leaving Service announced (its own advertisements, its part of shared ones) before it goes. */
async function withdrawAll(ctx: Ctx, key: string, list: Released[]): Promise<void> {
  await syncAdvertisements(ctx, key);
  for (const r of list) await syncSharedAdvertisement(ctx, `${parseKey(key).namespace}/${r.ip}`);
}

export async function reconcileService(ctx: Ctx, key: string): Promise<ReconcileResult> {
  const svc = ctx.services.get(key);
  if (!svc) {
    // Gone (its finalizer removed by someone else, or never ours): release whatever it held.
    ctx.services.forget(key);
    ctx.waiting.delete(key);
    await withdrawAll(ctx, key, released(ctx, key, ctx.lb.release(key)));
    return;
  }
  const deleting = !!svc.metadata.deletionTimestamp;
  if (deleting || !isOurLoadBalancer(svc)) return await releaseService(ctx, key, svc, deleting);

  let current: Service | undefined = svc;
  if (!svc.metadata.finalizers?.includes(SERVICE_FINALIZER)) {
    current = await setFinalizer(ctx, "Service", svc, SERVICE_FINALIZER, true);
    if (!current) return;
    ctx.services.wrote(current);
  }

  const parsed = parseLbRequest(current);
  let condition: DesiredCondition;
  let warning: { reason: string; message: string } | undefined;
  let allocated: Held[] = [];
  const generation = current.metadata.generation;
  const conflict = ctx.conflicts.get(key);
  if (!parsed.ok) {
    const held = ctx.lb.held(key) ?? [];
    const keeping = held.length ? `; keeping ${describe(held)}` : "";
    condition = { type: ALLOCATED_CONDITION, status: "False", reason: Reason.InvalidAnnotation, message: parsed.message + keeping, observedGeneration: generation };
    warning = { reason: Reason.InvalidAnnotation, message: parsed.message };
    if (!held.length) ctx.waiting.add(key);
  } else if (ctx.lb.updateSharing(key, parsed.request.sharing) && ctx.lb.satisfies(key, parsed.request)) {
    ctx.waiting.delete(key);
    condition = { type: ALLOCATED_CONDITION, status: "True", reason: Reason.Allocated, message: describe(ctx.lb.held(key)!), observedGeneration: generation };
  } else {
    const before = ctx.lb.release(key);
    const result = ctx.lb.allocate(key, parsed.request, poolFilter(ctx, current));
    if (result.ok) {
      ctx.waiting.delete(key);
      if (conflict) {
        ctx.conflicts.delete(key);
        warning = { reason: Reason.AddressConflict, message: `${conflict}; now ${describe(result.held)}` };
      }
      condition = { type: ALLOCATED_CONDITION, status: "True", reason: Reason.Allocated, message: describe(result.held), observedGeneration: generation };
      const kept = new Set(result.held.map((h) => h.ip));
      released(ctx, key, before.filter((b) => !kept.has(b.ip)));
      const had = new Set(before.map((b) => b.ip));
      allocated = result.held.filter((h) => !had.has(h.ip));
      touchPools(ctx, result.held);
      touchShared(ctx, key, result.held);
    } else {
      // Keep what it had where that is still allowed (allocate() does not yield, so nobody took
      // it meanwhile; a co-user of a shared address may now conflict with its changed ports).
      const lost: Released[] = [];
      for (const b of before) {
        const r = ctx.lb.claim(key, b.ip, parsed.request.sharing);
        if (!r.ok) lost.push(b);
      }
      released(ctx, key, lost);
      const held = ctx.lb.held(key) ?? [];
      const message = (conflict ? `${conflict}; ` : "") + result.message + (held.length ? `; keeping ${describe(held)}` : "");
      condition = { type: ALLOCATED_CONDITION, status: "False", reason: conflict && result.reason === Reason.AddressInUse ? Reason.AddressConflict : result.reason, message, observedGeneration: generation };
      warning = { reason: condition.reason!, message };
      ctx.waiting.add(key);
    }
  }

  const want = (ctx.lb.held(key) ?? []).map((h) => h.ip);
  const prior = findCondition(current.status?.conditions, ALLOCATED_CONDITION);
  const statusMatches = sameList(ingressIps(current), want) && sameCondition(prior, condition);
  if (allocated.length) {
    // Before the status write: a retry after a failed write finds the addresses held and says nothing.
    ctx.counts.allocated += allocated.length;
    for (const h of allocated) {
      const others = ctx.lb.users(h.ip).filter((u) => u !== key);
      ctx.log("info", `Service ${key}: allocated ${h.ip} from pool ${h.pool}${others.length ? ` (shared with ${others.join(", ")})` : ""}`);
    }
    await event(ctx, current, "Normal", IP_ALLOCATED, `Assigned ${describe(allocated)}`);
  }
  if (!statusMatches) {
    if (warning) await event(ctx, current, "Warning", warning.reason, warning.message);
    const written = await ctx.store.patchStatus<Service>("Service", parseKey(key), {
      loadBalancer: want.length ? { ingress: want.map((ip) => ({ ip })) } : { ingress: null },
      conditions: setCondition(current.status?.conditions, condition),
    });
    ctx.services.wrote(written);
  }
  ctx.q.adverts.add(key);
}

/** Deleting, or no longer our LoadBalancer: release, withdraw, clear our status, drop the finalizer. */
async function releaseService(ctx: Ctx, key: string, svc: Service, deleting: boolean): Promise<ReconcileResult> {
  ctx.waiting.delete(key);
  ctx.conflicts.delete(key);
  const list = released(ctx, key, ctx.lb.release(key));
  const hasFinalizer = svc.metadata.finalizers?.includes(SERVICE_FINALIZER);
  // Advertisements go before the finalizer does, so nothing stays announced for a gone Service.
  await withdrawAll(ctx, key, list);
  if (!deleting) {
    const ours = findCondition(svc.status?.conditions, ALLOCATED_CONDITION);
    const ips = ingressIps(svc);
    // Only clear an ingress we wrote (another implementation may own a Service of its class).
    if (ours || (hasFinalizer && ips.length)) {
      const written = await ctx.store.patchStatus<Service>("Service", parseKey(key), {
        loadBalancer: { ingress: null },
        conditions: removeCondition(svc.status?.conditions, ALLOCATED_CONDITION),
      });
      ctx.services.wrote(written);
      svc = written;
    }
  }
  if (hasFinalizer) {
    const written = await setFinalizer(ctx, "Service", svc, SERVICE_FINALIZER, false);
    // Without its last finalizer a deleting Service is gone: remember nothing of it.
    if (written && !deleting) ctx.services.wrote(written);
    else ctx.services.forget(key);
  }
}
