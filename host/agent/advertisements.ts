// BGPAdvertisements -> routes of this node, and back: `status.peers[peer]` for this
// node's peers. The controller names the target peers (NotAdvertised for a new target,
// Withdraw for a dropped one); this agent originates the /32 or /128 to its targets
// among them, sets `Advertised` once the route is in that peer's Adj-RIB-Out (its
// UPDATE went out), and removes a `Withdraw` entry once the route is no longer
// advertised to that peer. A session that goes down turns its `Advertised` entries
// back to `NotAdvertised` (the router dropped them). Deleting the object withdraws it.
// spec.attrs (communities, large communities, LOCAL_PREF) go with the route.
import type { Speaker } from "../bgp/speaker.ts";
import { onlyAgentMarksChanged } from "../kube/advertisement-marks.ts";
import { type RouteAttributes, parseAdvertisementAttrs } from "../kube/route-attrs.ts";
import type { Informer, KubeObject, WatchEvent } from "../kube/store.ts";
import { type AdvertiseState, type BGPAdvertisement, LABEL_SERVICE_NAME } from "../kube/types.ts";
import type { Peers } from "./peers.ts";
import type { OriginatedRoutes, Targets } from "./routes.ts";
import type { DeferredPatches, StatusWriter } from "./status-writer.ts";

export interface AdvertisementsOptions {
  informer: Informer<BGPAdvertisement>;
  routes: OriginatedRoutes;
  peers: Peers;
  status: StatusWriter;
  log: (line: string) => void;
  /** Whether a BGPPeer name is one of this node's peers. */
  isOurPeer: (name: string) => boolean;
  /**
   * Standalone mode: an advertisement no controller manages (no Service label, no
   * status.peers), as written in the config directory, goes to every peer of the node.
   */
  standalone: boolean;
}

const OWNER = "BGPAdvertisement/";

export const advKey = (a: BGPAdvertisement) => `${a.metadata.namespace ?? "default"}/${a.metadata.name}`;

/**
 * What the agent keeps of an advertisement (its informer's transform, Kubernetes mode only):
 * what reconciling reads. Every node caches every advertisement of the cluster; uid, owner
 * references, timestamps, labels (read in standalone mode only) and an empty attrs list are
 * most of each object's cells.
 */
export function slimAdvertisement(o: KubeObject): KubeObject {
  const { name, namespace, resourceVersion, deletionTimestamp } = o.metadata;
  const spec = o.spec as Record<string, unknown> | undefined;
  let slimSpec = spec;
  if (spec && Array.isArray(spec.attrs) && !spec.attrs.length) {
    const { attrs: _, ...rest } = spec;
    slimSpec = rest;
  }
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name, namespace, resourceVersion, ...(deletionTimestamp ? { deletionTimestamp } : {}) },
    spec: slimSpec,
    ...(o.status ? { status: o.status } : {}),
  };
}

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** A status.peers entry to write: a state, or null to remove it. */
type Mark = AdvertiseState | null;

export class Advertisements implements DeferredPatches {
  /** Advertisement key -> the prefix it originates (to remove it when it changes or goes). */
  private readonly applied = new Map<string, string>();
  /** Peer name -> advertisement keys waiting to be seen in that peer's Adj-RIB-Out (then Advertised). */
  private readonly toMark = new Map<string, Set<string>>();
  /** Peer name -> advertisement keys whose Withdraw entry goes once the route left that peer. */
  private readonly toUnmark = new Map<string, Set<string>>();
  private speaker: Speaker | undefined;
  /** Advertisements whose attrs did not parse, with the message logged. */
  private readonly badAttrs = new Map<string, string>();
  /** spec.attrs (as JSON: entries may hold any character) -> what they parse to, or why not. */
  private readonly parsedAttrs = new Map<string, RouteAttributes | Error>();
  /** Target sets by content: thousands of advertisements name the same few sets of peers. */
  private readonly targetSets = new Map<string, ReadonlySet<string>>();
  /**
   * Status marks waiting to be written (the status writer takes them when the agent is not
   * busy): peer -> advertisement key -> the entry. Kept as keys and shared strings, made into
   * patches only when sent: a burst of 10,000 Services leaves 10,000 of them waiting.
   */
  private readonly marks = new Map<string, Map<string, Mark>>();

  constructor(private readonly opts: AdvertisementsOptions) {
    opts.status.addDeferred(this);
  }

  attach(speaker: Speaker | undefined): void {
    this.speaker = speaker;
  }

  /**
   * Whether an informer event asks for a reconcile of its advertisement: not when it only
   * brings other nodes' marks or this node's own Advertised marks (written after the route
   * went out), nor a new advertisement that names none of this node's peers yet (the
   * controller writes its targets next: a pass for nothing would hold that one back by a pass
   * interval). Resyncs (a MODIFIED without the version before) always do.
   */
  needsReconcile(e: WatchEvent<BGPAdvertisement>): boolean {
    if (e.type === "ADDED" && !this.applied.has(advKey(e.object)) && !this.concernsUs(e.object)) return false;
    const prev = e.old;
    if (e.type !== "MODIFIED" || !prev || !onlyAgentMarksChanged(prev, e.object)) return true;
    const before = prev.status?.peers ?? {};
    for (const [peer, state] of Object.entries(e.object.status?.peers ?? {})) {
      if (state !== before[peer] && state !== "Advertised" && this.opts.isOurPeer(peer)) return true;
    }
    return false;
  }

  /** Whether an advertisement asks anything of this node: a route to all its peers (standalone), or an entry for one of them. */
  private concernsUs(adv: BGPAdvertisement): boolean {
    const peers = adv.status?.peers;
    if (this.opts.standalone && !peers && !adv.metadata.labels?.[LABEL_SERVICE_NAME]) return true;
    return Object.keys(peers ?? {}).some((p) => this.opts.isOurPeer(p));
  }

  /** Brings one advertisement's route and pending status marks in line with its current object. */
  reconcile(key: string): void {
    const adv = this.opts.informer.get(splitKey(key));
    const prev = this.applied.get(key);
    const owner = OWNER + key;
    this.forgetMarks(key);
    if (!adv || adv.metadata.deletionTimestamp) {
      if (prev) this.opts.routes.remove(owner, prev);
      this.applied.delete(key);
      this.badAttrs.delete(key);
      return;
    }
    const prefix = adv.spec.cidr;
    if (prev && prev !== prefix) this.opts.routes.remove(owner, prev);
    const { targets, waiting, withdrawn } = this.targetsOf(adv);
    if (targets === "all" || targets.size) {
      this.opts.routes.set(owner, prefix, { targets, ...this.attrsOf(key, adv) });
      this.applied.set(key, prefix);
    } else {
      this.opts.routes.remove(owner, prefix);
      this.applied.delete(key);
    }
    for (const p of waiting) add(this.toMark, p, key);
    for (const p of withdrawn) add(this.toUnmark, p, key);
  }

  /** Every advertisement again (the node's peers changed, or a new speaker). */
  reconcileAll(): void {
    const keys = new Set([...this.applied.keys(), ...this.opts.informer.list().map(advKey)]);
    for (const k of keys) this.reconcile(k);
  }

  /** The route attributes in spec.attrs; unreadable ones are logged once and left out (the route still goes). */
  private attrsOf(key: string, adv: BGPAdvertisement): RouteAttributes {
    // Parsed once per distinct attrs (a pool's advertisements all carry the same), and shared.
    const text = JSON.stringify(adv.spec.attrs ?? []);
    let parsed = this.parsedAttrs.get(text);
    if (!parsed) {
      try {
        parsed = parseAdvertisementAttrs(adv.spec.attrs);
      } catch (e) {
        parsed = e as Error;
      }
      if (this.parsedAttrs.size >= 1024) this.parsedAttrs.clear();
      this.parsedAttrs.set(text, parsed);
    }
    if (!(parsed instanceof Error)) {
      this.badAttrs.delete(key);
      return parsed;
    }
    if (this.badAttrs.get(key) !== parsed.message) this.opts.log(`BGPAdvertisement ${key}: ${parsed.message}; announced without its attributes`);
    this.badAttrs.set(key, parsed.message);
    return { communities: [], largeCommunities: [] };
  }

  /** This node's peers an advertisement targets, those still NotAdvertised, and those to withdraw from. */
  private targetsOf(adv: BGPAdvertisement): { targets: Targets; waiting: string[]; withdrawn: string[] } {
    const peers = adv.status?.peers;
    if (this.opts.standalone && !peers && !adv.metadata.labels?.[LABEL_SERVICE_NAME]) return { targets: "all", waiting: [], withdrawn: [] };
    const targets = new Set<string>();
    const waiting: string[] = [];
    const withdrawn: string[] = [];
    for (const [name, state] of Object.entries(peers ?? {})) {
      if (!this.opts.isOurPeer(name)) continue;
      if (state === "Withdraw") withdrawn.push(name);
      else {
        targets.add(name);
        if (state === "NotAdvertised") waiting.push(name);
      }
    }
    return { targets: this.shared(targets), waiting, withdrawn };
  }

  private shared(targets: Set<string>): ReadonlySet<string> {
    const key = [...targets].sort().join(" ");
    const known = this.targetSets.get(key);
    if (known) return known;
    if (this.targetSets.size >= 1024) this.targetSets.clear();
    this.targetSets.set(key, targets);
    return targets;
  }

  private forgetMarks(key: string): void {
    for (const m of [this.toMark, this.toUnmark]) {
      for (const [peer, keys] of m) if (keys.delete(key) && !keys.size) m.delete(peer);
    }
  }

  /**
   * After the speaker's export: NotAdvertised entries whose route reached the peer's
   * Adj-RIB-Out become Advertised; Withdraw entries whose route left it are removed.
   */
  afterFlush(): void {
    const s = this.speaker;
    if (!s || (!this.toMark.size && !this.toUnmark.size)) return;
    for (const [peer, keys] of this.toMark) {
      const nb = this.neighborOf(s, peer);
      // While restarting, a peer doing graceful restart gets nothing yet: its mark waits.
      if (!nb || nb.state !== "Established" || (s.restarting() && nb.negotiated?.gracefulRestart)) continue;
      for (const key of keys) {
        const prefix = this.applied.get(key);
        if (!prefix || !s.rib.advertisedTo(nb.idx, prefix)) continue;
        keys.delete(key);
        this.write(key, peer, "Advertised");
      }
      if (!keys.size) this.toMark.delete(peer);
    }
    for (const [peer, keys] of this.toUnmark) {
      const nb = this.neighborOf(s, peer);
      for (const key of keys) {
        const adv = this.opts.informer.get(splitKey(key));
        const prefix = adv?.spec.cidr;
        const t = prefix ? this.opts.routes.targetsOf(prefix) : undefined;
        const wantedByOther = t === "all" || (t !== undefined && t.has(peer));
        if (!wantedByOther && nb && prefix && nb.state === "Established" && s.rib.advertisedTo(nb.idx, prefix)) continue;
        keys.delete(key);
        this.write(key, peer, null);
      }
      if (!keys.size) this.toUnmark.delete(peer);
    }
  }

  /** A session went down: its Advertised entries are NotAdvertised again (and wait for the next session). */
  onPeerDown(peer: string): void {
    // Marks not written yet: an Advertised one is not true any more and waits for the next session.
    const pending = this.marks.get(peer);
    for (const [key, state] of pending ?? []) {
      if (state !== "Advertised") continue;
      pending!.delete(key);
      add(this.toMark, peer, key);
    }
    if (pending && !pending.size) this.marks.delete(peer);
    for (const adv of this.opts.informer.list()) {
      if (adv.status?.peers?.[peer] !== "Advertised") continue;
      const key = advKey(adv);
      this.write(key, peer, "NotAdvertised");
      add(this.toMark, peer, key);
    }
  }

  private neighborOf(s: Speaker, peer: string) {
    const address = this.opts.peers.addressOf(peer);
    return address ? s.neighbors.get(address) : undefined;
  }

  /** One peer's entry of status.peers, written when the status writer takes it. */
  private write(key: string, peer: string, state: Mark): void {
    let byKey = this.marks.get(peer);
    if (!byKey) this.marks.set(peer, (byKey = new Map()));
    byKey.set(key, state);
    this.opts.status.deferredAdded();
  }

  get waiting(): number {
    let n = 0;
    for (const byKey of this.marks.values()) n += byKey.size;
    return n;
  }

  /**
   * The next advertisement's waiting marks as one patch (every peer of this node that has one),
   * less those the object already shows or has moved past: a mark is skipped when the entry
   * says so already, is Withdraw (the controller dropped the target meanwhile) or is gone; a
   * removal only when the entry is still Withdraw.
   */
  take(): { kind: "BGPAdvertisement"; key: { namespace: string; name: string }; patch: unknown } | undefined {
    for (;;) {
      const first = this.marks.entries().next();
      if (first.done) return undefined;
      const [firstPeer, firstKeys] = first.value;
      const next = firstKeys.keys().next();
      if (next.done) {
        this.marks.delete(firstPeer);
        continue;
      }
      const key = next.value;
      const at = splitKey(key);
      const now = this.opts.informer.get(at)?.status?.peers;
      let peers: Record<string, Mark> | undefined;
      for (const [peer, byKey] of this.marks) {
        if (!byKey.has(key)) continue;
        const state = byKey.get(key)!;
        byKey.delete(key);
        if (!byKey.size) this.marks.delete(peer);
        const cur = now?.[peer];
        if (!now || (state === null ? cur !== "Withdraw" : cur === state || cur === "Withdraw" || cur === undefined)) continue;
        (peers ??= {})[peer] = state;
      }
      if (peers) return { kind: "BGPAdvertisement", key: at, patch: { peers } };
    }
  }

  /** (advertisement, peer of this node) pairs by state, for metrics. */
  countByState(): Record<AdvertiseState, number> {
    const out: Record<AdvertiseState, number> = { NotAdvertised: 0, Advertised: 0, Withdraw: 0 };
    for (const adv of this.opts.informer.list()) {
      for (const [peer, state] of Object.entries(adv.status?.peers ?? {})) if (this.opts.isOurPeer(peer)) out[state]++;
    }
    return out;
  }

  /** Advertisements whose routes this node originates. */
  get originated(): number {
    return this.applied.size;
  }
}

function add(m: Map<string, Set<string>>, peer: string, key: string): void {
  let s = m.get(peer);
  if (!s) m.set(peer, (s = new Set()));
  s.add(key);
}
