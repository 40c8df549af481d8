// BGPAdvertisements of a LoadBalancer Service: one per allocated address, named
// `{endpointslice}-{ip}` (IPv6 colons as dashes), labelled with the Service name, in the
// Service's namespace. status.peers maps each target BGPPeer to NotAdvertised (new target),
// Advertised (set by the agent) or Withdraw (no longer a target). Targets: every BGPPeer for
// externalTrafficPolicy Cluster; for Local, the peers of nodes with a ready endpoint. The
// Service's peer-group annotation narrows both (peers without groups always match).
// An address that goes is first marked Withdraw on every peer, then its object is deleted.
import type { OwnerReference } from "../store.ts";
import { isAlreadyExists, isNotFound } from "../store.ts";
import type { AdvertiseState, BGPAdvertisement, BGPPeer, EndpointSlice, Service } from "../types.ts";
import type { Ctx } from "./context.ts";
import { parseKey } from "./fresh.ts";
import { type Family, hostCidr, ipForName } from "./ip.ts";
import { isOurLoadBalancer, serviceGroups } from "./lb-request.ts";
import { API_VERSION, PEER_NODE_LABEL, SERVICE_NAME_LABEL } from "./names.ts";
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
}

export async function syncAdvertisements(ctx: Ctx, svcKey: string): Promise<ReconcileResult> {
  const { namespace } = parseKey(svcKey);
  const svc = ctx.services.get(svcKey);
  const live = svc && !svc.metadata.deletionTimestamp && isOurLoadBalancer(svc);
  const held = live ? (ctx.lb.held(svcKey) ?? []) : [];
  const slices = ctx.slicesBySvc.of(svcKey);

  const desired = new Map<string, Desired>();
  let targets: string[] = [];
  if (live && held.length && slices.length) {
    targets = targetPeers(svc!, slices, ctx.inf.peers.list());
    for (const h of held) {
      const ip = h.addr;
      const slice = sliceFor(slices, ip.family)!;
      const name = `${slice.metadata.name}-${ipForName(ip)}`;
      desired.set(name, { name, cidr: hostCidr(ip), protocol: ip.family === 4 ? "ipv4" : "ipv6" });
    }
  }

  for (const d of desired.values()) {
    const key = `${namespace}/${d.name}`;
    let adv = ctx.advs.get(key);
    if (adv && adv.spec.cidr !== d.cidr) {
      // The same name now means another address (a slice renamed): start over.
      await withdrawAndDelete(ctx, adv);
      adv = undefined;
    }
    if (!adv) adv = await createAdvertisement(ctx, svc!, d);
    const { peers, changed } = syncPeers(adv.status?.peers, targets);
    if (changed) {
      const written = await ctx.store.patchStatus<BGPAdvertisement>("BGPAdvertisement", { namespace, name: d.name }, { peers });
      ctx.advs.wrote(written);
    }
  }
  for (const adv of ctx.advsBySvc.of(svcKey)) {
    if (!desired.has(adv.metadata.name)) await withdrawAndDelete(ctx, ctx.advs.get(`${namespace}/${adv.metadata.name}`) ?? adv);
  }
}

async function createAdvertisement(ctx: Ctx, svc: Service, d: Desired): Promise<BGPAdvertisement> {
  const namespace = svc.metadata.namespace!;
  const owner: OwnerReference[] = svc.metadata.uid
    ? [{ apiVersion: "v1", kind: "Service", name: svc.metadata.name, uid: svc.metadata.uid }]
    : [];
  const obj: BGPAdvertisement = {
    apiVersion: API_VERSION,
    kind: "BGPAdvertisement",
    metadata: {
      name: d.name,
      namespace,
      labels: { [SERVICE_NAME_LABEL]: svc.metadata.name },
      ...(owner.length ? { ownerReferences: owner } : {}),
    },
    spec: { cidr: d.cidr, type: "service", protocol: d.protocol },
  };
  try {
    const created = await ctx.store.create(obj);
    ctx.advs.wrote(created);
    return created;
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const existing = await ctx.store.get<BGPAdvertisement>("BGPAdvertisement", { namespace, name: d.name });
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
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  ctx.advs.forget(`${adv.metadata.namespace}/${adv.metadata.name}`);
}
