// `sart agent`: store -> reconcilers -> embedded speaker -> FIB. Informers on the
// node's Node, NodeBGP, BGPPeers, the BGPAdvertisements and the node's AddressBlocks
// mark what changed; one reconcile pass at a time brings the speaker, its sessions
// and its routes in line and writes back what it sees (NodeBGP and BGPPeer status,
// BGPAdvertisement status.peers, Events).
import { networkInterfaces } from "node:os";
import { isIPv4, isIPv6 } from "node:net";
import { parseHostPort } from "../bgp/config.ts";
import type { Timings } from "../bgp/neighbor.ts";
import type { Informer, KubeObject, Store, WatchEvent } from "../kube/store.ts";
import {
  type AddressBlock, type BGPAdvertisement, type BGPPeer, LABEL_ADDRESSBLOCK_NODE, LABEL_BGPPEER_NODE, type Node, type NodeBGP, type NodeBGPCondition,
} from "../kube/types.ts";
import { CniServer } from "../cni/server.ts";
import { Advertisements, advKey, slimAdvertisement } from "./advertisements.ts";
import { PodBlocks } from "./blocks.ts";
import { type HealthServer, startHealthServer } from "../kube/health-server.ts";
import { FailureLog, type Log, stderrLog } from "./log.ts";
import { GcPacer } from "./gc-pacer.ts";
import { renderAgentMetrics } from "./metrics.ts";
import { type NodeAddresses, Peers, peerNode } from "./peers.ts";
import { OriginatedRoutes } from "./routes.ts";
import { RunMarker } from "./run-marker.ts";
import { type SpeakerSettings, SpeakerHost } from "./speaker-host.ts";
import { StatusWriter } from "./status-writer.ts";
import { type AgentStore, kubernetesStore, standaloneStore } from "./stores.ts";

export const DEFAULT_API = "127.0.0.1:5000";
/**
 * Shortest time between two reconcile passes (ms): bounds the added latency and batches
 * bursts; after a busy pass (a burst is going on) the next one waits longer, so its routes
 * leave in fewer, larger UPDATEs (every write to a router's socket has a cost). Busy: objects
 * to reconcile arrived at BUSY_KEYS_PER_SECOND or more since the pass before (a rate, so
 * that the verdict does not depend on how long that pass waited).
 */
const PASS_INTERVAL_MS = 20;
const BUSY_PASS_INTERVAL_MS = 100;
const BUSY_KEYS_PER_SECOND = 100;

export interface AgentOptions {
  node: string;
  mode: { kind: "kubernetes"; kubeconfig?: string; context?: string } | { kind: "standalone"; configDir: string };
  /** The speaker API; undefined: the NodeBGP's speaker.path, else 127.0.0.1:5000; "" none. */
  api?: string;
  /** The CNI server's unix socket; "" none. */
  cniSocket: string;
  /** How long a pod block stays empty before it goes back to its pool (default 60 s). */
  blockReleaseDelayMs?: number;
  /** /healthz, /readyz, /metrics; "" none. */
  health: string;
  stateDir: string;
  /** Passive BGP listener; undefined: the node's address, port 179. Port 0: none. */
  bgpListen?: { address?: string; port: number };
  fib: { enabled: boolean; table: number };
  log?: Log;
  /** Tests: speaker timers and our graceful restart time. */
  timings?: Partial<Timings>;
  restartTime?: number;
}

type NodeBgpState = { status: NodeBGPCondition["status"]; reason: NodeBGPCondition["reason"]; message: string };

export class Agent {
  readonly log: Log;
  private readonly failures: FailureLog;
  private readonly marker: RunMarker;
  private store!: AgentStore;
  private status!: StatusWriter;
  /** Under Bun: young collections paced to watch traffic (./gc-pacer.ts). */
  private gc: GcPacer | undefined;
  private host!: SpeakerHost;
  private routes!: OriginatedRoutes;
  private peers!: Peers;
  private advs!: Advertisements;
  private blocks!: PodBlocks;
  private inf!: {
    node?: Informer<Node>;
    nodeBgp: Informer<NodeBGP>;
    peers: Informer<BGPPeer>;
    advs: Informer<BGPAdvertisement>;
    blocks: Informer<AddressBlock>;
  };
  private health: HealthServer | undefined;
  private cni: CniServer | undefined;
  private restarting = false;
  private synced = false;
  private settled = false;
  private stopping = false;
  private dirty = { speaker: true, peers: true, advs: new DirtyKeys(), blocks: new DirtyKeys() };
  private passQueued = false;
  private lastPassAt = 0;
  /** Whether the last pass found a burst going on. */
  private busy = false;
  private passRunning: Promise<void> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private nodeBgpState: NodeBgpState | undefined;
  private nodeBgpWritten = "";
  /** The node's addresses its sessions start from. */
  private source: NodeAddresses = {};
  /** This node's BGPPeers by name (isOurPeer), until the next BGPPeer event. */
  private ourPeerNames: Set<string> | undefined;
  reconcileErrors = 0;

  constructor(readonly opts: AgentOptions) {
    this.log = opts.log ?? stderrLog();
    this.failures = new FailureLog(this.log);
    this.marker = new RunMarker(opts.stateDir);
  }

  get ready(): boolean {
    return this.readiness() === true;
  }

  get speaker() {
    return this.host?.speaker;
  }

  /** Opens the store, serves /healthz, syncs the caches, configures sessions and routes. */
  async start(): Promise<void> {
    const o = this.opts;
    this.restarting = await this.marker.begin();
    this.store = o.mode.kind === "kubernetes"
      ? await kubernetesStore({ ...o.mode, node: o.node }, this.log)
      : await standaloneStore({ configDir: o.mode.configDir, stateDir: o.stateDir }, this.log);
    const store = this.store.store;
    // A few writes at a time: under a burst, the controller's writes (which decide what the
    // routers get) should not queue behind thousands of Advertised marks.
    this.status = new StatusWriter({ store, failures: this.failures, concurrency: 4 });
    this.gc = await GcPacer.forRuntime();
    this.host = new SpeakerHost({
      fib: o.fib,
      restarting: this.restarting,
      restartTime: o.restartTime,
      timings: o.timings,
      log: this.log,
      onSessionChange: (a, up, reason) => this.onSessionChange(a, up, reason),
      onFlush: () => this.advs.afterFlush(),
    });
    this.routes = new OriginatedRoutes((name) => this.peers.addressOf(name));
    this.peers = new Peers({
      store,
      status: this.status,
      log: this.log,
      onAddressesChanged: () => {
        this.routes.reapplyAll();
        this.dirty.advs.markAll();
      },
      onReferencesChanged: () => {
        this.dirty.peers = true;
        this.schedule();
      },
    });
    this.inf = this.makeInformers(store);
    this.advs = new Advertisements({
      informer: this.inf.advs,
      routes: this.routes,
      peers: this.peers,
      status: this.status,
      log: this.log,
      isOurPeer: (name) => this.isOurPeer(name),
      standalone: o.mode.kind === "standalone",
    });
    this.blocks = new PodBlocks(this.inf.blocks, this.routes, o.node);
    if (o.health) {
      this.health = await startHealthServer({ listen: o.health, ready: () => this.readiness(), metrics: () => renderAgentMetrics(this) + (this.cni?.metricsText() ?? "") });
    }
    this.log(`node ${o.node}, ${o.mode.kind === "kubernetes" ? this.store.source : `standalone, ${this.store.source}`}, state ${o.stateDir}${this.restarting ? " (restart after an unclean stop: graceful restart)" : ""}${this.health ? `, health ${this.health.address}` : ""}`);
    await Promise.all(Object.values(this.inf).map((i) => i!.start()));
    this.synced = true;
    this.probeWhileUnreachable(store);
    await this.runPass();
    // Everything the store asks for is originated: a graceful restart may end (End-of-RIB to the routers).
    this.host.releaseRestartHold();
    if (o.cniSocket) {
      // Pods' gateways: the node's own addresses (docs/cni.md), as the first pass found them.
      this.cni = new CniServer({
        store,
        node: o.node,
        socketPath: o.cniSocket,
        stateDir: o.stateDir,
        mode: o.mode.kind,
        hostAddresses: this.nodeAddresses(),
        blockReleaseDelayMs: o.blockReleaseDelayMs,
        log: (level, msg) => this.log(`cni ${level}: ${msg}`),
      });
      await this.cni.start();
    }
  }

  /** The node's addresses: its InternalIPs (Kubernetes), else those its sessions start from. */
  private nodeAddresses(): { ipv4?: string; ipv6?: string } {
    const node = this.inf.node?.get({ name: this.opts.node });
    const internal = (node?.status?.addresses ?? []).filter((a) => a.type === "InternalIP").map((a) => a.address);
    return { ipv4: internal.find((a) => isIPv4(a)) ?? this.source.v4, ipv6: internal.find((a) => isIPv6(a)) ?? this.source.v6 };
  }

  /**
   * While the API server is unreachable, a cheap read every few seconds finds out when it
   * answers again (informers resuming a quiet watch make no request that would tell).
   */
  private probeWhileUnreachable(store: Store): void {
    const unreachable = this.store.unreachable;
    if (!unreachable) return;
    this.probeTimer = setInterval(() => {
      if (unreachable()) store.get("NodeBGP", { name: this.opts.node }).catch(() => {});
    }, 5000);
    this.probeTimer.unref?.();
  }

  private makeInformers(store: Store) {
    const node = this.opts.node;
    const kube = this.opts.mode.kind === "kubernetes";
    const inf = {
      // Only this node's Node: every other node's status updates would be traffic for nothing.
      ...(kube ? { node: store.informer<Node>("Node", { fieldSelector: `metadata.name=${node}` }) } : {}),
      nodeBgp: store.informer<NodeBGP>("NodeBGP"),
      // Standalone: the directory is this node's; a BGPPeer without the label belongs to its nodeBGPRef.
      peers: store.informer<BGPPeer>("BGPPeer", kube ? { labelSelector: `${LABEL_BGPPEER_NODE}=${node}` } : {}),
      advs: store.informer<BGPAdvertisement>("BGPAdvertisement", { transform: slimAdvertisement, updateInPlace: true }),
      blocks: store.informer<AddressBlock>("AddressBlock", { labelSelector: `${LABEL_ADDRESSBLOCK_NODE}=${node}` }),
    };
    // Each handler marks what to look at again; a pass follows only when it marked something.
    const on = <T extends KubeObject>(i: Informer<T> | undefined, f: (e: WatchEvent<T>) => boolean) =>
      i?.on((e) => {
        this.gc?.activity();
        if (f(e)) this.schedule();
      });
    const ours = (e: WatchEvent<KubeObject>) => e.object.metadata.name === node && (this.dirty.speaker = true);
    on(inf.node, ours);
    on(inf.nodeBgp, ours);
    on(inf.peers, () => {
      this.ourPeerNames = undefined;
      return (this.dirty.peers = true);
    });
    on(inf.advs, (e) => {
      if (!this.advs.needsReconcile(e)) return false;
      this.dirty.advs.mark(advKey(e.object));
      return true;
    });
    on(inf.blocks, (e) => {
      this.dirty.blocks.mark(e.object.metadata.name);
      return true;
    });
    return inf;
  }

  private isOurPeer(name: string): boolean {
    // Asked for every peer of every advertisement: a set, dropped on every BGPPeer event.
    this.ourPeerNames ??= new Set(this.ourPeers().map((p) => p.metadata.name));
    return this.ourPeerNames.has(name);
  }

  private ourPeers(): BGPPeer[] {
    return this.inf.peers.list().filter((p) => !p.metadata.deletionTimestamp && peerNode(p) === this.opts.node);
  }

  // ---- the reconcile pass ----

  /**
   * Passes run at most every PASS_INTERVAL_MS: a burst of watch events (thousands of
   * Services at once) becomes a few passes, whose routes leave in a few packed UPDATEs
   * rather than one small write per event.
   */
  private schedule(): void {
    if (!this.synced || this.passQueued || this.stopping) return;
    this.passQueued = true;
    const interval = this.busy ? BUSY_PASS_INTERVAL_MS : PASS_INTERVAL_MS;
    const wait = Math.max(0, this.lastPassAt + interval - performance.now());
    const go = () => {
      this.passQueued = false;
      void this.runPass();
    };
    if (wait > 0) setTimeout(go, wait);
    else setImmediate(go);
  }

  /** One pass at a time; a pass asked for while one runs follows it. */
  private runPass(): Promise<void> {
    if (this.passRunning) {
      this.schedule();
      return this.passRunning;
    }
    const now = performance.now();
    const sinceLast = now - this.lastPassAt;
    this.lastPassAt = now;
    this.passRunning = this.pass(sinceLast)
      .then(() => {
        this.settled = true;
      })
      .catch((e) => {
        this.reconcileErrors++;
        this.failures.fail("reconcile", (e as Error).message);
        if (!this.retryTimer && !this.stopping) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.dirty.speaker = this.dirty.peers = true;
            this.dirty.advs.markAll();
            this.dirty.blocks.markAll();
            this.schedule();
          }, 2000);
        }
      })
      .finally(() => {
        this.passRunning = undefined;
      });
    return this.passRunning;
  }

  private async pass(sinceLastMs: number): Promise<void> {
    const d = this.dirty;
    this.busy = (d.advs.size + d.blocks.size) * 1000 >= BUSY_KEYS_PER_SECOND * Math.max(PASS_INTERVAL_MS, sinceLastMs);
    // A burst (thousands of new Services): the controller's writes first, our marks after.
    if (this.busy) this.status.deferUntil(Date.now() + 1000);
    if (d.speaker) {
      d.speaker = false;
      await this.reconcileSpeaker();
    }
    if (d.peers) {
      d.peers = false;
      await this.peers.sync(this.host.speaker ? this.ourPeers() : []);
    }
    d.advs.drain(this.advs);
    d.blocks.drain(this.blocks);
    this.failures.ok("reconcile");
    this.writeNodeBgpStatus();
  }

  /** The speaker the node's NodeBGP (and Node) ask for: made, changed or stopped. */
  private async reconcileSpeaker(): Promise<void> {
    const want = this.speakerSettings();
    if ("error" in want) {
      if (this.host.speaker) {
        this.log(`speaker stopped: ${want.error.message}`);
        await this.host.stop();
        this.attachSpeaker();
      }
      this.setNodeBgpState(want.error);
      return;
    }
    let made: boolean;
    try {
      made = await this.host.apply(want.settings);
    } catch (e) {
      this.setNodeBgpState({ status: "Unavailable", reason: "InvalidConfiguration", message: (e as Error).message });
      throw e;
    }
    const sourceChanged = JSON.stringify(want.source) !== JSON.stringify(this.source);
    this.source = want.source;
    if (made || sourceChanged) this.attachSpeaker();
    this.setNodeBgpState({ status: "Available", reason: "Configured", message: `AS ${want.settings.asn}, router id ${want.settings.routerId}` });
  }

  /** A new speaker (or none): sessions, routes and status marks start over on it. */
  private attachSpeaker(): void {
    const s = this.host.speaker;
    this.peers.attach(s, this.source);
    this.advs.attach(s);
    this.routes.attach(s);
    this.dirty.peers = true;
    this.dirty.advs.markAll();
    this.dirty.blocks.markAll();
  }

  private speakerSettings(): { settings: SpeakerSettings; source: NodeAddresses } | { error: NodeBgpState } {
    const o = this.opts;
    const nb = this.inf.nodeBgp.get({ name: o.node });
    if (!nb || nb.metadata.deletionTimestamp) return { error: { status: "Unavailable", reason: "NotConfigured", message: `no NodeBGP ${o.node}` } };
    const bad = (message: string) => ({ error: { status: "Unavailable" as const, reason: "InvalidConfiguration" as const, message: `NodeBGP ${o.node}: ${message}` } });
    const { asn, routerId } = nb.spec;
    if (!Number.isInteger(asn) || asn < 1 || asn > 4294967295) return bad(`spec.asn: must be 1..4294967295, not ${asn}`);
    if (!isIPv4(routerId)) return bad(`spec.routerId: must be an IPv4 address, not ${JSON.stringify(routerId)}`);
    let source: NodeAddresses;
    if (o.mode.kind === "kubernetes") {
      const node = this.inf.node!.get({ name: o.node });
      if (!node) return { error: { status: "Unavailable", reason: "NotConfigured", message: `no Node ${o.node}` } };
      const internal = (node.status?.addresses ?? []).filter((a) => a.type === "InternalIP").map((a) => a.address);
      source = { v4: internal.find((a) => isIPv4(a)), v6: internal.find((a) => isIPv6(a)) };
      if (!source.v4 && !source.v6) return { error: { status: "Unavailable", reason: "NotConfigured", message: `Node ${o.node} has no InternalIP` } };
    } else {
      // No Node object: the listen address, else the router id when it is an address of this host.
      const l = o.bgpListen?.address;
      const local = localAddresses();
      source = {
        v4: l && isIPv4(l) && l !== "0.0.0.0" ? l : local.has(routerId) ? routerId : undefined,
        v6: l && isIPv6(l) && l !== "::" ? l : undefined,
      };
    }
    const listenAddress = o.bgpListen?.address ?? source.v4 ?? source.v6 ?? "0.0.0.0";
    let api = o.api ?? nb.spec.speaker?.path ?? DEFAULT_API;
    if (o.api === undefined && api !== DEFAULT_API && !api.startsWith("unix:")) {
      try {
        parseHostPort(api);
      } catch {
        this.log(`NodeBGP ${o.node}: spec.speaker.path ${JSON.stringify(api)} is not host:port; API on ${DEFAULT_API}`);
        api = DEFAULT_API;
      }
    }
    return {
      settings: { asn, routerId, multipath: nb.spec.speaker?.multipath ?? false, listen: { address: listenAddress, port: o.bgpListen?.port ?? 179 }, api },
      source,
    };
  }

  private setNodeBgpState(s: NodeBgpState): void {
    const prev = this.nodeBgpState;
    this.nodeBgpState = s;
    if (prev?.status === s.status && prev.reason === s.reason && prev.message === s.message) return;
    this.log(`NodeBGP ${this.opts.node}: ${s.status} (${s.reason}): ${s.message}`);
    const nb = this.inf.nodeBgp.get({ name: this.opts.node });
    if (nb && s.reason === "InvalidConfiguration") void this.store.store.recordEvent(nb, "Warning", s.reason, s.message).catch(() => {});
  }

  /** NodeBGP status: Available/Configured, or Unavailable with the reason (only when it exists and changed). */
  private writeNodeBgpStatus(): void {
    const s = this.nodeBgpState;
    const nb = this.inf.nodeBgp.get({ name: this.opts.node });
    if (!s || !nb) return;
    const key = `${nb.metadata.uid}|${s.status}|${s.reason}`;
    const cur = nb.status?.conditions?.at(-1);
    if (key === this.nodeBgpWritten || (cur?.status === s.status && cur.reason === s.reason)) {
      this.nodeBgpWritten = key;
      return;
    }
    this.nodeBgpWritten = key;
    this.status.patch("NodeBGP", { name: this.opts.node }, { backoff: nb.status?.backoff ?? 0, conditions: [{ status: s.status, reason: s.reason }] });
  }

  private onSessionChange(address: string, up: boolean, reason: string): void {
    this.peers.onSessionChange(address, up, reason);
    const name = this.peers.nameOf(address);
    if (!up && name) this.advs.onPeerDown(name);
  }

  /** Standalone: re-read the config directory (SIGHUP). */
  async reload(): Promise<void> {
    await this.store?.reload?.();
  }

  /** /readyz: true, or why not. */
  readiness(): true | string {
    if (!this.synced) return "store not synced yet";
    if (!this.settled) return "first reconcile pass not done";
    if (this.opts.cniSocket && !this.cni?.ready()) return "CNI server not serving yet";
    const nbs = this.nodeBgpState;
    if (nbs?.reason === "NotConfigured" && !this.inf.nodeBgp.get({ name: this.opts.node })) return true; // no NodeBGP: no BGP on this node
    if (!this.host.speaker) return `speaker not running: ${nbs?.message ?? "not configured"}`;
    if (!this.peers.allConfigured(this.ourPeers())) return "BGPPeers not all configured yet";
    return true;
  }

  /** For metrics. */
  snapshot() {
    return {
      node: this.opts.node,
      synced: this.synced,
      ready: this.ready,
      speaker: this.host?.speaker,
      peers: this.synced ? this.ourPeers().map((p) => ({ name: p.metadata.name, address: this.peers.addressOf(p.metadata.name), state: this.peers.state(p.metadata.name) })) : [],
      advertisements: this.synced ? this.advs.countByState() : { NotAdvertised: 0, Advertised: 0, Withdraw: 0 },
      originated: this.routes ? Object.fromEntries(this.routes.countByOwnerKind()) : {},
      reconcileErrors: this.reconcileErrors,
      informerRestarts: Object.values(this.inf ?? {}).reduce((n, i) => n + ((i as { errors?: number } | undefined)?.errors ?? 0), 0),
      statusWrites: this.status?.writes ?? 0,
      statusWriteFailures: this.status?.failures ?? 0,
      statusWritesPending: this.status?.pending ?? 0,
      youngCollections: this.gc?.collections,
    };
  }

  /**
   * Clean shutdown: Cease to every peer, our kernel routes removed, BGPPeer status Idle and
   * pending status written (bounded), the run marker removed (the next start is a fresh one).
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    for (const i of Object.values(this.inf ?? {})) i?.stop();
    await this.passRunning?.catch(() => {});
    this.peers?.stop();
    await this.host?.stop();
    // The sessions just ended with Cease: STATUS says Idle, not a stale Established.
    this.peers?.writeStatuses();
    await Promise.race([this.status?.idle(), new Promise((r) => setTimeout(r, 3000))]);
    this.status?.stop();
    this.gc?.stop();
    await this.cni?.stop();
    await this.health?.close();
    await this.store?.close();
    await this.marker.end();
    this.log("stopped");
  }
}

/** Objects of one kind a pass must look at again: some keys, or all of them. */
class DirtyKeys {
  private all = true;
  private readonly keys = new Set<string>();

  mark(key: string): void {
    this.keys.add(key);
  }

  markAll(): void {
    this.all = true;
  }

  get size(): number {
    return this.keys.size;
  }

  drain(r: { reconcile(key: string): void; reconcileAll(): void }): void {
    const all = this.all;
    const keys = [...this.keys];
    this.all = false;
    this.keys.clear();
    if (all) r.reconcileAll();
    else for (const k of keys) r.reconcile(k);
  }
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) out.add(a.address);
  return out;
}
