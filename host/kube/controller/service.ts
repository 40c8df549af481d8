// LoadBalancer Services: allocate addresses, write status.loadBalancer.ingress and a condition,
// hold a finalizer so that deleting a Service always releases its addresses and withdraws its
// advertisements first, and release when the Service stops being our LoadBalancer.
import type { Condition, Service } from "../types.ts";
import { syncAdvertisements } from "./advertisement.ts";
import { findCondition, removeCondition, sameCondition, setCondition } from "./conditions.ts";
import { type Ctx, setFinalizer, warn } from "./context.ts";
import { parseKey } from "./fresh.ts";
import type { Held } from "./lb-allocations.ts";
import { isOurLoadBalancer, parseLbRequest } from "./lb-request.ts";
import { ALLOCATED_CONDITION, Reason, SERVICE_FINALIZER } from "./names.ts";
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

export async function reconcileService(ctx: Ctx, key: string): Promise<ReconcileResult> {
  const svc = ctx.services.get(key);
  if (!svc) {
    // Gone (its finalizer removed by someone else, or never ours): release whatever it held.
    ctx.services.forget(key);
    ctx.waiting.delete(key);
    const released = ctx.lb.release(key);
    if (released.length) {
      touchPools(ctx, released);
      retryWaiting(ctx);
    }
    await syncAdvertisements(ctx, key);
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
  let event: { reason: string; message: string } | undefined;
  const generation = current.metadata.generation;
  const conflict = ctx.conflicts.get(key);
  if (!parsed.ok) {
    const held = ctx.lb.held(key) ?? [];
    const keeping = held.length ? `; keeping ${describe(held)}` : "";
    condition = { type: ALLOCATED_CONDITION, status: "False", reason: Reason.InvalidAnnotation, message: parsed.message + keeping, observedGeneration: generation };
    event = { reason: Reason.InvalidAnnotation, message: parsed.message };
    if (!held.length) ctx.waiting.add(key);
  } else if (ctx.lb.satisfies(key, parsed.request)) {
    ctx.waiting.delete(key);
    condition = { type: ALLOCATED_CONDITION, status: "True", reason: Reason.Allocated, message: describe(ctx.lb.held(key)!), observedGeneration: generation };
  } else {
    const before = ctx.lb.release(key);
    const result = ctx.lb.allocate(key, parsed.request);
    if (result.ok) {
      ctx.waiting.delete(key);
      if (conflict) {
        ctx.conflicts.delete(key);
        event = { reason: Reason.AddressConflict, message: `${conflict}; now ${describe(result.held)}` };
      }
      condition = { type: ALLOCATED_CONDITION, status: "True", reason: Reason.Allocated, message: describe(result.held), observedGeneration: generation };
      touchPools(ctx, [...before, ...result.held]);
      if (before.length) retryWaiting(ctx);
    } else {
      // Keep what it had (nobody can have taken it: allocate() does not yield) rather than leave it with nothing.
      for (const h of before) ctx.lb.claim(key, h.ip);
      const held = ctx.lb.held(key) ?? [];
      const message = (conflict ? `${conflict}; ` : "") + result.message + (held.length ? `; keeping ${describe(held)}` : "");
      condition = { type: ALLOCATED_CONDITION, status: "False", reason: conflict && result.reason === Reason.AddressInUse ? Reason.AddressConflict : result.reason, message, observedGeneration: generation };
      event = { reason: condition.reason!, message };
      ctx.waiting.add(key);
    }
  }

  const want = (ctx.lb.held(key) ?? []).map((h) => h.ip);
  const prior = findCondition(current.status?.conditions, ALLOCATED_CONDITION);
  const statusMatches = sameList(ingressIps(current), want) && sameCondition(prior, condition);
  if (!statusMatches) {
    if (event) await warn(ctx, current, event.reason, event.message);
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
  const released = ctx.lb.release(key);
  if (released.length) {
    touchPools(ctx, released);
    retryWaiting(ctx);
  }
  const hasFinalizer = svc.metadata.finalizers?.includes(SERVICE_FINALIZER);
  // Advertisements go before the finalizer does, so nothing stays announced for a gone Service.
  await syncAdvertisements(ctx, key);
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
