// `sart controller` as a library: informers feed work queues; while this replica leads, the
// reconcilers run. Leading starts with rebuilding every allocation from the API (recovery.ts),
// so a restart or failover never hands out an address twice.
import { PrometheusText } from "../health-server.ts";
import { type Informer, type KubeObject, type Kind, type Store, type WatchEvent, isUnreachable } from "../store.ts";
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
import { onlyAgentMarksChanged } from "../advertisement-marks.ts";
import { syncAdvertisements, syncSharedAdvertisement } from "./advertisement.ts";
import { claimPodBlocks, reconcileBlockRequest, releasePodBlock } from "./block-request.ts";
import { reconcileClusterBgp } from "./cluster-bgp.ts";
import type { Ctx, Informers, Logger } from "./context.ts";
import { FreshObjects, objectKey } from "./fresh.ts";
import { canonicalIp } from "./ip.ts";
import { SHARED_ADDRESS_LABEL } from "./names.ts";
import { ByServiceIndex } from "./indexes.ts";
import { LbAllocations } from "./lb-allocations.ts";
import { reconcilePool } from "./pool.ts";
import { PoolRegistry } from "./pools.ts";
import { WorkQueue } from "./queue.ts";
import { type RecoveryReport, type Snapshot, rebuildAllocations, takeSnapshot } from "./recovery.ts";
import { reconcileService } from "./service.ts";

export interface ControllerOptions {
  store: Store;
  log?: Logger;
  /** Reconciles in flight per queue. Default 16. */
  concurrency?: number;
  /** Informer resync period. Default 5 minutes. */
  resyncMs?: number;
}

export function stderrLogger(prefix = "sart controller"): Logger {
  return (level, msg) => process.stderr.write(`${new Date().toISOString()} ${level} ${prefix}: ${msg}\n`);
}

export class Controller {
  readonly ctx: Ctx;
  private leading = false;
  private starting = false;
  /** Bumped on every stop, so a recovery that was listing when leadership ended is dropped. */
  private epoch = 0;
  private started = false;
  private cachesSynced = false;
  lastRecovery?: RecoveryReport;

  constructor(private readonly opts: ControllerOptions) {
    const store = opts.store;
    const resyncMs = opts.resyncMs ?? 300_000;
    const inf = <T extends KubeObject>(kind: Kind) => store.informer<T>(kind, { resyncMs });
    const informers: Informers = {
      services: inf<Service>("Service"),
      slices: inf<EndpointSlice>("EndpointSlice"),
      pools: inf<AddressPool>("AddressPool"),
      blocks: inf<AddressBlock>("AddressBlock"),
      blockRequests: inf<BlockRequest>("BlockRequest"),
      peers: inf<BGPPeer>("BGPPeer"),
      advs: inf<BGPAdvertisement>("BGPAdvertisement"),
      clusterBgps: inf<ClusterBGP>("ClusterBGP"),
      nodeBgps: inf<NodeBGP>("NodeBGP"),
      templates: inf<BGPPeerTemplate>("BGPPeerTemplate"),
      nodes: inf<Node>("Node"),
      namespaces: inf<Namespace>("Namespace"),
    };
    const log = opts.log ?? stderrLogger();
    const pools = new PoolRegistry();
    const concurrency = opts.concurrency ?? 16;
    const giveUp = (queue: string) => (key: string, err: unknown) =>
      log("error", `${queue} ${key}: giving up after retries: ${(err as Error).message ?? err}`);
    const counts = { allocated: 0, released: 0, reconcileErrors: new Map<string, number>() };
    const ctx: Ctx = {
      store,
      log,
      inf: informers,
      services: new FreshObjects((k) => informers.services.get(k)),
      advs: new FreshObjects((k) => informers.advs.get(k)),
      poolObjs: new FreshObjects((k) => informers.pools.get(k)),
      slicesBySvc: new ByServiceIndex(),
      advsBySvc: new ByServiceIndex(),
      pools,
      lb: new LbAllocations(pools),
      waiting: new Set(),
      conflicts: new Map(),
      waitingBlockRequests: new Set(),
      q: undefined as never,
      counts,
    };
    const queue = (name: string, fn: (ctx: Ctx, key: string) => Promise<unknown>) =>
      new WorkQueue(name, async (key) => {
        try {
          return (await fn(ctx, key)) as void;
        } catch (e) {
          counts.reconcileErrors.set(name, (counts.reconcileErrors.get(name) ?? 0) + 1);
          // An unreachable API server is reported once by the store, not once per key.
          if (!isUnreachable(e)) log("warn", `${name} ${key}: ${(e as Error).message}`);
          throw e;
        }
      }, { concurrency, onGiveUp: giveUp(name), isTransient: isUnreachable });
    ctx.q = {
      services: queue("Service", reconcileService),
      adverts: queue("BGPAdvertisement", syncAdvertisements),
      sharedAdverts: queue("shared BGPAdvertisement", syncSharedAdvertisement),
      pools: queue("AddressPool", reconcilePool),
      blockRequests: queue("BlockRequest", reconcileBlockRequest),
      clusterBgps: queue("ClusterBGP", reconcileClusterBgp),
    };
    this.ctx = ctx;
    this.wire();
  }

  get isLeading(): boolean {
    return this.leading;
  }

  private on<T extends KubeObject>(informer: Informer<T>, handler: (e: WatchEvent<T>) => void): void {
    informer.on((e) => {
      try {
        handler(e);
      } catch (err) {
        this.ctx.log("error", `handling ${e.type} ${e.object.kind} ${objectKey(e.object)}: ${(err as Error).message}`);
      }
    });
  }

  /** Informer events -> indexes (always) and queue keys (while leading). */
  private wire(): void {
    const { ctx } = this;
    const { inf, q } = ctx;
    this.on(inf.services, (e) => {
      const key = objectKey(e.object);
      if (e.type === "DELETED") ctx.services.forget(key);
      else if (ctx.services.isOwnWrite(e.object)) return; // the echo of our own patch
      if (this.leading) q.services.add(key);
    });
    this.on(inf.slices, (e) => {
      const changed = e.type === "DELETED" ? [ctx.slicesBySvc.remove(e.object)] : ctx.slicesBySvc.put(e.object);
      if (this.leading) for (const k of changed) if (k) q.adverts.add(k);
    });
    this.on(inf.advs, (e) => {
      if (e.type === "DELETED") ctx.advs.forget(objectKey(e.object));
      const prev = e.type === "MODIFIED" ? ctx.advsBySvc.current(e.object) : undefined;
      const changed = e.type === "DELETED" ? [ctx.advsBySvc.remove(e.object)] : ctx.advsBySvc.put(e.object);
      if (e.type !== "DELETED" && ctx.advs.isOwnWrite(e.object)) return; // the echo of our own write
      // An agent's Advertised mark (not a resync, which re-delivers the cached object itself).
      if (prev && prev !== e.object && onlyAgentMarksChanged(prev, e.object)) return;
      if (!this.leading) return;
      for (const k of changed) if (k) q.adverts.add(k);
      const shared = sharedKey(e.object);
      if (shared) q.sharedAdverts.add(shared);
    });
    this.on(inf.peers, () => {
      // Targets of every advertisement may change; the Services holding addresses are the ones to look at.
      if (this.leading) for (const k of ctx.lb.keys()) q.adverts.add(k);
    });
    this.on(inf.pools, (e) => {
      if (!this.leading) return;
      if (e.type === "DELETED") ctx.poolObjs.forget(e.object.metadata.name);
      const { added, routesChanged } = ctx.pools.sync(inf.pools.list());
      for (const name of added) {
        const entry = ctx.pools.get(name);
        if (entry?.type === "pod") claimPodBlocks(ctx, entry);
      }
      // New attrs or aggregation length: the advertisements of the pool's addresses follow.
      for (const name of routesChanged) for (const k of ctx.lb.holdersOf(name, Number.POSITIVE_INFINITY)) q.adverts.add(k);
      // Admission, auto-assign choice and conditions of every pool may depend on this one.
      for (const p of inf.pools.list()) q.pools.add(p.metadata.name);
      q.pools.add(e.object.metadata.name);
      for (const k of ctx.waiting) q.services.add(k);
      for (const k of ctx.waitingBlockRequests) q.blockRequests.add(k);
    });
    this.on(inf.blocks, (e) => {
      if (!this.leading) return;
      if (e.type === "DELETED") releasePodBlock(ctx, e.object);
      if (e.object.spec.type === "service") q.pools.add(e.object.spec.poolRef);
      else q.pools.addAfter(e.object.spec.poolRef, 2000); // its in-use and free block counts
    });
    this.on(inf.namespaces, (e) => {
      // Namespace labels decide which scoped pools serve its Services: the waiting ones may now fit.
      if (!this.leading) return;
      const prefix = `${e.object.metadata.name}/`;
      for (const k of ctx.waiting) if (k.startsWith(prefix)) q.services.add(k);
    });
    this.on(inf.blockRequests, (e) => {
      if (this.leading) q.blockRequests.add(e.object.metadata.name);
    });
    const allClusterBgps = () => {
      if (this.leading) for (const c of inf.clusterBgps.list()) q.clusterBgps.add(c.metadata.name);
    };
    this.on(inf.clusterBgps, (e) => {
      if (this.leading) q.clusterBgps.add(e.object.metadata.name);
      allClusterBgps(); // NodeBGPs merge every ClusterBGP selecting a node
    });
    this.on(inf.nodes, allClusterBgps);
    this.on(inf.templates, allClusterBgps);
    this.on(inf.nodeBgps, (e) => {
      if (e.type === "DELETED") allClusterBgps();
    });
  }

  /** Starts the informers and waits until every cache is synced. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await Promise.all(Object.values(this.ctx.inf).map((i: Informer) => i.start()));
    this.cachesSynced = true;
  }

  /**
   * Becomes the active replica: rebuild every allocation from a fresh list, then reconcile
   * everything. Resolves with the recovery report (undefined when leadership was lost meanwhile).
   */
  async startLeading(): Promise<RecoveryReport | undefined> {
    if (this.leading || this.starting) return this.lastRecovery;
    const { ctx } = this;
    const epoch = ++this.epoch;
    this.starting = true;
    let snap: Snapshot | undefined;
    try {
      for (let attempt = 0; !snap; attempt++) {
        try {
          snap = await takeSnapshot(ctx);
        } catch (e) {
          if (!isUnreachable(e)) ctx.log("warn", `listing for recovery: ${(e as Error).message}; retrying`);
          await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
        }
        if (epoch !== this.epoch) return undefined; // stopped leading while listing
      }
    } finally {
      this.starting = false;
    }
    const report = rebuildAllocations(ctx, snap);
    this.lastRecovery = report;
    ctx.log(
      "info",
      `leading: recovered ${report.addresses} addresses of ${report.services} Services` +
        ` (${report.conflicts} conflicts, ${report.dropped} dropped), ${report.podBlocks} pod blocks`,
    );
    this.leading = true;
    for (const queue of Object.values(ctx.q)) queue.start();
    for (const p of ctx.inf.pools.list()) ctx.q.pools.add(p.metadata.name);
    for (const s of snap.services) ctx.q.services.add(objectKey(s));
    for (const s of ctx.inf.services.list()) ctx.q.services.add(objectKey(s));
    for (const b of ctx.inf.blockRequests.list()) ctx.q.blockRequests.add(b.metadata.name);
    for (const c of ctx.inf.clusterBgps.list()) ctx.q.clusterBgps.add(c.metadata.name);
    // Advertisements of Services that are gone or no longer ours, and of addresses no longer shared.
    for (const a of ctx.inf.advs.list()) {
      const svc = a.metadata.labels?.["kubernetes.io/service-name"];
      if (svc) ctx.q.adverts.add(`${a.metadata.namespace}/${svc}`);
      const shared = sharedKey(a);
      if (shared) ctx.q.sharedAdverts.add(shared);
    }
    return report;
  }

  /** Every informer has listed once (readiness). */
  get synced(): boolean {
    return this.started && this.cachesSynced;
  }

  /** Prometheus text for /metrics: pool usage (while leading), allocations, reconcile errors. */
  metrics(): string {
    const { ctx } = this;
    const m = new PrometheusText();
    const pools = this.leading ? ctx.pools.all() : [];
    const service = pools.filter((p) => p.type === "service");
    const pod = pools.filter((p) => p.type === "pod");
    m.metric("sart_controller_leader", "gauge", "1 while this replica leads (only the leader reports pools)", [[{}, this.leading ? 1 : 0]]);
    m.metric("sart_addresspool_addresses_in_use", "gauge", "Addresses of a service pool given to Services", service.map((p) => [{ pool: p.name }, ctx.pools.inUse(p)]));
    m.metric("sart_addresspool_addresses_free", "gauge", "Addresses a service pool can still give (capped at 2^53-1)", service.map((p) => [{ pool: p.name }, ctx.pools.free(p)]));
    m.metric("sart_addresspool_blocks_in_use", "gauge", "Blocks of a pod pool given to nodes", pod.map((p) => [{ pool: p.name }, ctx.pools.inUse(p)]));
    m.metric("sart_addresspool_blocks_free", "gauge", "Blocks a pod pool can still give", pod.map((p) => [{ pool: p.name }, ctx.pools.free(p)]));
    m.metric("sart_controller_addresses_allocated_total", "counter", "Addresses given to LoadBalancer Services", [[{}, ctx.counts.allocated]]);
    m.metric("sart_controller_addresses_released_total", "counter", "Addresses LoadBalancer Services gave back", [[{}, ctx.counts.released]]);
    m.metric("sart_controller_reconcile_errors_total", "counter", "Failed reconciles (retried), by kind", [...ctx.counts.reconcileErrors].map(([kind, n]) => [{ kind }, n]));
    return m.text();
  }

  /** Waits until no reconcile is running (call after stopLeading, before releasing the Lease). */
  async drain(timeoutMs = 10_000): Promise<void> {
    await Promise.all(Object.values(this.ctx.q).map((q) => q.drain(timeoutMs)));
  }

  /** Stops reconciling and forgets every allocation (the next leader rebuilds them from the API). */
  stopLeading(): void {
    this.epoch++;
    if (!this.leading) return;
    this.leading = false;
    const { ctx } = this;
    for (const queue of Object.values(ctx.q)) queue.stop();
    ctx.lb.clear();
    ctx.pools.clear();
    ctx.waiting.clear();
    ctx.conflicts.clear();
    ctx.waitingBlockRequests.clear();
    ctx.services.clear();
    ctx.advs.clear();
    ctx.poolObjs.clear();
    ctx.log("info", "stopped leading");
  }

  /** Resolves once every queue is idle at the same time (tests, benchmarks). */
  async idle(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      const queues = Object.values(this.ctx.q);
      if (queues.every((q) => q.isIdle())) return;
      await Promise.all(queues.map((q) => q.idle()));
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  async stop(): Promise<void> {
    this.stopLeading();
    for (const i of Object.values(this.ctx.inf) as Informer[]) i.stop();
    this.started = false;
    this.cachesSynced = false;
  }
}

/** The shared-address queue key ("namespace/ip") of a shared advertisement, from its label. */
function sharedKey(adv: BGPAdvertisement): string | undefined {
  const label = adv.metadata.labels?.[SHARED_ADDRESS_LABEL];
  if (!label) return undefined;
  // The label is the address as names write it: IPv4 as is, IPv6 groups joined by dashes.
  const ip = canonicalIp(label.includes(".") ? label : label.replaceAll("-", ":"));
  return ip ? `${adv.metadata.namespace}/${ip}` : undefined;
}
