// What every reconciler shares: the store, the informer caches (with our own writes layered
// on top), the pools and allocations, the indexes and the work queues.
import type { Informer, KubeObject, Kind, Store } from "../store.ts";
import { isConflict, isNotFound, isUnreachable } from "../store.ts";
import type {
  AddressBlock,
  AddressPool,
  BGPAdvertisement,
  BGPPeer,
  BGPPeerTemplate,
  BlockRequest,
  ClusterBGP,
  EndpointSlice,
  Namespace,
  Node,
  NodeBGP,
  Service,
} from "../types.ts";
import { FreshObjects, objectKey } from "./fresh.ts";
import type { ByServiceIndex } from "./indexes.ts";
import type { LbAllocations } from "./lb-allocations.ts";
import type { PoolRegistry } from "./pools.ts";
import type { WorkQueue } from "./queue.ts";

export type Logger = (level: "info" | "warn" | "error", msg: string) => void;

export interface Informers {
  services: Informer<Service>;
  slices: Informer<EndpointSlice>;
  pools: Informer<AddressPool>;
  blocks: Informer<AddressBlock>;
  blockRequests: Informer<BlockRequest>;
  peers: Informer<BGPPeer>;
  advs: Informer<BGPAdvertisement>;
  clusterBgps: Informer<ClusterBGP>;
  nodeBgps: Informer<NodeBGP>;
  templates: Informer<BGPPeerTemplate>;
  nodes: Informer<Node>;
  /** Namespace labels, for pools with serviceAllocation.namespaceSelectors. */
  namespaces: Informer<Namespace>;
}

export interface Queues {
  services: WorkQueue;
  adverts: WorkQueue;
  /** The BGPAdvertisement of one shared address, keyed "namespace/ip". */
  sharedAdverts: WorkQueue;
  pools: WorkQueue;
  blockRequests: WorkQueue;
  clusterBgps: WorkQueue;
}

export interface Ctx {
  store: Store;
  log: Logger;
  inf: Informers;
  /** Services / advertisements / pools with our last writes layered over the caches. */
  services: FreshObjects<Service>;
  advs: FreshObjects<BGPAdvertisement>;
  poolObjs: FreshObjects<AddressPool>;
  slicesBySvc: ByServiceIndex<EndpointSlice>;
  advsBySvc: ByServiceIndex<BGPAdvertisement>;
  pools: PoolRegistry;
  lb: LbAllocations;
  /** Services that could not get addresses: retried when pools or allocations change. */
  waiting: Set<string>;
  /** Recovery found these Services claiming an address an older Service holds. */
  conflicts: Map<string, string>;
  /** BlockRequests waiting for a pool or a free block. */
  waitingBlockRequests: Set<string>;
  q: Queues;
  /** Counters for /metrics. */
  counts: Counters;
}

export interface Counters {
  /** Addresses given to Services. */
  allocated: number;
  /** Addresses Services gave back. */
  released: number;
  /** Failed reconciles per queue (kind). */
  reconcileErrors: Map<string, number>;
}

/** Records an Event; a failure to record one never fails a reconcile. */
export async function event(ctx: Ctx, about: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
  try {
    await ctx.store.recordEvent(about, type, reason, message);
  } catch (e) {
    if (!isUnreachable(e)) ctx.log("warn", `recording Event ${reason} for ${objectKey(about)}: ${(e as Error).message}`);
  }
}

/** Records a Warning Event (see event()). */
export function warn(ctx: Ctx, about: KubeObject, reason: string, message: string): Promise<void> {
  return event(ctx, about, "Warning", reason, message);
}

/**
 * Adds or removes a finalizer with a merge patch guarded by resourceVersion (merge patch
 * replaces the whole list, so an unguarded write could drop another controller's finalizer).
 * On a conflict, re-reads and tries again. Returns the written object (undefined: gone).
 */
export async function setFinalizer<T extends KubeObject>(
  ctx: Pick<Ctx, "store">,
  kind: Kind,
  obj: T,
  finalizer: string,
  present: boolean,
): Promise<T | undefined> {
  let current: T | undefined = obj;
  for (let attempt = 0; attempt < 5 && current; attempt++) {
    const list = current.metadata.finalizers ?? [];
    if (list.includes(finalizer) === present) return current;
    const next = present ? [...list, finalizer] : list.filter((f) => f !== finalizer);
    try {
      return await ctx.store.patch<T>(
        kind,
        { name: current.metadata.name, namespace: current.metadata.namespace },
        { metadata: { finalizers: next.length ? next : null } },
        { resourceVersion: current.metadata.resourceVersion },
      );
    } catch (e) {
      if (isNotFound(e)) return undefined;
      if (!isConflict(e)) throw e;
      current = await ctx.store.get<T>(kind, { name: obj.metadata.name, namespace: obj.metadata.namespace });
    }
  }
  if (!current) return undefined;
  throw new Error(`${kind} ${objectKey(obj)}: finalizer ${finalizer} still contended after 5 attempts`);
}
