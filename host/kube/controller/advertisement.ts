// BGPAdvertisements of LoadBalancer Services, in the Service's namespace. status.peers maps
// each target BGPPeer to NotAdvertised (new target), Advertised (set by the agent) or Withdraw
// (no longer a target). Targets: every BGPPeer for externalTrafficPolicy Cluster; for Local,
// the peers of nodes with a ready endpoint. The Service's peer-group annotation narrows both
// (peers without groups always match). An address that goes is first marked Withdraw on every
// peer, then its object is deleted.
//
// - An address of one Service: `{endpointslice}-{ip}` (IPv6 colons as dashes), labelled with
//   the Service name, owned by the Service.
// - A shared address (allow-shared-ip): one `shared-{ip}`, labelled
//   sart.terassyi.net/shared-address, owned by every Service using it (garbage collection
//   removes it with the last one), targets the union of theirs. Its name does not depend on
//   which Services share it, so one leaving never makes the route flap.
// spec.cidr is the address (/32, /128), or the pool's aggregate for Cluster-policy Services of
// a pool with an aggregation length; spec.attrs come from the pool and, for a route of its own
// (not an aggregate), the Services' communities annotation. Advertisements of one aggregate
// always carry the same attrs; the agent announces a cidr once while any advertisement asks.
import type { OwnerReference } from "../store.ts";
import { isAlreadyExists, isNotFound } from "../store.ts";
import { mergeAttrs } from "../route-attrs.ts";
import type { AdvertiseState, BGPAdvertisement, BGPPeer, EndpointSlice, Service } from "../types.ts";
import type { Ctx } from "./context.ts";
import { objectKey, parseKey } from "./fresh.ts";
import { type Family, aggregateCidr, hostCidr, ipForName, parseIp } from "./ip.ts";
import type { Held } from "./lb-allocations.ts";
import { isOurLoadBalancer, serviceAttrs, serviceGroups } from "./lb-request.ts";
import { API_VERSION, PEER_NODE_LABEL, SERVICE_NAME_LABEL, SHARED_ADDRESS_LABEL } from "./names.ts";
import type { ReconcileResult } from "./queue.ts";

type Peers = Record<string, AdvertiseState>;

/** Peers that should announce the Service's addresses. */
export function targetPeers(svc: Service, slices: EndpointSlice[], peers: BGPPeer[]): string[] {
  const groups = serviceGroups(svc);
  const inGroup = (p: BGPPeer) => {
    const pg = p.spec.groups ?? [];
    return pg.length === 0 || groups.length === 0 || pg.some((g) => groups.includes(g));
  };
  let candidates = peers.filter((p) => !p.metadata.deletionTimestamp && inGroup(p));
  if (svc.spec?.externalTrafficPolicy === "Local") {
    const nodes = new Set<string>();
    for (const s of slices) {
      for (const ep of s.endpoints ?? []) {
        // Kubernetes: a nil `ready` means ready.
        if (ep.nodeName && ep.conditions?.ready !== false) nodes.add(ep.nodeName);
      }
    }
    candidates = candidates.filter((p) => nodes.has(p.metadata.labels?.[PEER_NODE_LABEL] ?? p.spec.nodeBGPRef));
  }
  return candidates.map((p) => p.metadata.name).sort();
}

/** The EndpointSlice an address's advertisement is named after: same family first, then by name. */
export function sliceFor(slices: EndpointSlice[], family: Family): EndpointSlice | undefined {
  const want = family === 4 ? "IPv4" : "IPv6";
  const sorted = [...slices].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  return sorted.find((s) => s.addressType === want) ?? sorted[0];
}

/** New targets start NotAdvertised; dropped ones become Withdraw; a returning one starts over. */
export function syncPeers(current: Peers | undefined, targets: string[]): { peers: Peers; changed: boolean } {
  const peers: Peers = { ...(current ?? {}) };
  let changed = false;
  const want = new Set(targets);
  for (const t of targets) {
    if (peers[t] === undefined || peers[t] === "Withdraw") {
      peers[t] = "NotAdvertised";
      changed = true;
    }
  }
  for (const [name, state] of Object.entries(peers)) {
    if (!want.has(name) && state !== "Withdraw") {
      peers[name] = "Withdraw";
      changed = true;
    }
  }
  return { peers, changed };
}

interface Desired {
  name: string;
  cidr: string;
  protocol: "ipv4" | "ipv6";
  attrs: string[];
}

/** The route announcing `h` for these Services (one, or every user of a shared address). */
function route(ctx: Ctx, name: string, h: Held, svcs: Service[]): Desired {
  const pool = ctx.pools.get(h.pool);
  const protocol = h.family === 4 ? "ipv4" : "ipv6";
  // Sharing Services have one backend, so one policy; an aggregate carries the pool's attrs only.
  if (pool?.aggregation !== undefined && svcs.every((s) => s.spec?.externalTrafficPolicy !== "Local")) {
    return { name, cidr: aggregateCidr(h.addr, pool.aggregation), protocol, attrs: pool.attrs };
  }
  return { name, cidr: hostCidr(h.addr), protocol, attrs: mergeAttrs(pool?.attrs ?? [], ...svcs.map(serviceAttrs)) };
}

const live = (svc: Service | undefined): svc is Service => !!svc && !svc.metadata.deletionTimestamp && isOurLoadBalancer(svc);

export async function syncAdvertisements(ctx: Ctx, svcKey: string): Promise<ReconcileResult> {
  const { namespace } = parseKey(svcKey);
  const svc = ctx.services.get(svcKey);
  const held = live(svc) ? (ctx.lb.held(svcKey) ?? []) : [];
  const slices = ctx.slicesBySvc.of(svcKey);

  const desired = new Map<string, Desired>();
  let targets: string[] = [];
  for (const h of held) {
    // Shared addresses have one advertisement for all their Services: see syncSharedAdvertisement.
    if (ctx.lb.isShared(h.ip)) ctx.q.sharedAdverts.add(`${namespace}/${h.ip}`);
    else if (slices.length) {
      const name = `${sliceFor(slices, h.family)!.metadata.name}-${ipForName(h.addr)}`;
      desired.set(name, route(ctx, name, h, [svc!]));
    }
  }
  if (desired.size) targets = targetPeers(svc!, slices, ctx.inf.peers.list());

  for (const d of desired.values()) {
    const labels = { [SERVICE_NAME_LABEL]: svc!.metadata.name };
    await applyAdvertisement(ctx, namespace!, d, targets, owners([svc!]), labels);
  }
  for (const adv of ctx.advsBySvc.of(svcKey)) {
    if (!desired.has(adv.metadata.name)) await withdrawAndDelete(ctx, ctx.advs.get(`${namespace}/${adv.metadata.name}`) ?? adv);
  }
}

/** The name of the advertisement of a shared address. */
export function sharedAdvertisementName(ip: string): string {
  return `shared-${ipForName(parseIp(ip)!)}`;
}

/**
 * The one advertisement of a shared address ("namespace/ip"): owned by every live Service using
 * it, announced by the union of their targets; withdrawn and deleted when none is left (or none
 * has an EndpointSlice).
 */
export async function syncSharedAdvertisement(ctx: Ctx, key: string): Promise<ReconcileResult> {
  const { namespace, name: ip } = parseKey(key);
  const name = sharedAdvertisementName(ip);
  const existing = ctx.advs.get(`${namespace}/${name}`);
  const h = ctx.lb.address(ip);
  const users = h && ctx.lb.isShared(ip) ? ctx.lb.users(ip).filter((k) => parseKey(k).namespace === namespace) : [];
  const svcs = users.map((k) => ctx.services.get(k)).filter(live);
  const withSlices = svcs.filter((s) => ctx.slicesBySvc.of(objectKey(s)).length > 0);
  if (!h || withSlices.length === 0) {
    if (existing) await withdrawAndDelete(ctx, existing);
    return;
  }
  const peers = ctx.inf.peers.list();
  const targets = [...new Set(withSlices.flatMap((s) => targetPeers(s, ctx.slicesBySvc.of(objectKey(s)), peers)))].sort();
  await applyAdvertisement(ctx, namespace!, route(ctx, name, h, svcs), targets, owners(svcs), { [SHARED_ADDRESS_LABEL]: ipForName(h.addr) });
}

function owners(svcs: Service[]): OwnerReference[] {
  return svcs.filter((s) => s.metadata.uid).map((s) => ({ apiVersion: "v1", kind: "Service", name: s.metadata.name, uid: s.metadata.uid! }));
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Creates or updates one advertisement (a changed cidr starts over: withdraw, delete, create) and its targets. */
async function applyAdvertisement(ctx: Ctx, namespace: string, d: Desired, targets: string[], ownerReferences: OwnerReference[], labels: Record<string, string>): Promise<void> {
  const key = `${namespace}/${d.name}`;
  let adv = ctx.advs.get(key);
  if (adv && adv.spec.cidr !== d.cidr) {
    // The same name now means another route (a slice renamed, an aggregation length changed).
    await withdrawAndDelete(ctx, adv);
    adv = undefined;
  }
  const attrs = d.attrs.length ? d.attrs : undefined;
  if (!adv) {
    const metadata = { name: d.name, namespace, labels, ...(ownerReferences.length ? { ownerReferences } : {}) };
    adv = await createAdvertisement(ctx, { apiVersion: API_VERSION, kind: "BGPAdvertisement", metadata, spec: { cidr: d.cidr, type: "service", protocol: d.protocol, ...(attrs ? { attrs } : {}) } });
  } else if (!sameJson(adv.spec.attrs, attrs) || !sameJson(adv.metadata.ownerReferences ?? [], ownerReferences)) {
    // Merge patch replaces lists whole.
    const written = await ctx.store.patch<BGPAdvertisement>("BGPAdvertisement", { namespace, name: d.name }, {
      metadata: { ownerReferences: ownerReferences.length ? ownerReferences : null },
      spec: { attrs: attrs ?? null },
    });
    ctx.advs.wrote(written);
    adv = written;
  }
  const { peers, changed } = syncPeers(adv.status?.peers, targets);
  if (!changed) return;
  const written = await ctx.store.patchStatus<BGPAdvertisement>("BGPAdvertisement", { namespace, name: d.name }, { peers });
  ctx.advs.wrote(written);
  const withdrawn = Object.keys(peers).filter((p) => peers[p] === "Withdraw" && adv!.status?.peers?.[p] !== "Withdraw");
  ctx.log("info", `BGPAdvertisement ${key} (${d.cidr}): targets ${targets.join(", ") || "none"}${withdrawn.length ? `; withdraw from ${withdrawn.join(", ")}` : ""}`);
}

async function createAdvertisement(ctx: Ctx, obj: BGPAdvertisement): Promise<BGPAdvertisement> {
  const { namespace, name } = obj.metadata;
  try {
    const created = await ctx.store.create(obj);
    ctx.advs.wrote(created);
    return created;
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const existing = await ctx.store.get<BGPAdvertisement>("BGPAdvertisement", { namespace, name });
    if (!existing) throw e;
    ctx.advs.wrote(existing);
    return existing;
  }
}

async function withdrawAndDelete(ctx: Ctx, adv: BGPAdvertisement): Promise<void> {
  const key = { namespace: adv.metadata.namespace, name: adv.metadata.name };
  const { peers, changed } = syncPeers(adv.status?.peers, []);
  try {
    if (changed) await ctx.store.patchStatus("BGPAdvertisement", key, { peers });
    await ctx.store.delete("BGPAdvertisement", key);
    ctx.log("info", `BGPAdvertisement ${key.namespace}/${key.name} (${adv.spec.cidr}): withdrawn and deleted`);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  ctx.advs.forget(`${adv.metadata.namespace}/${adv.metadata.name}`);
}
