// BGPPeers of this node -> the speaker's neighbours, and back: each BGPPeer's status
// (`conditions` with the FSM state, the STATUS column, and `backoff`) and an Event
// when its session goes up or down. Every session option of the BGPPeer is applied;
// the Secret of its password and the BFDProfile it names are read through
// PeerReferences. A changed BGPPeer (or Secret, or BFDProfile) changes the live
// session; only changes the OPEN or the TCP connection carries reset it
// (Speaker.reconfigureNeighbor), and BFD timers change without touching BGP.
import { isIP } from "node:net";
import type { Family, NeighborConfig } from "../bgp/config.ts";
import type { State } from "../bgp/neighbor.ts";
import type { Speaker } from "../bgp/speaker.ts";
import type { Store } from "../kube/store.ts";
import { type BGPPeer, type BGPPeerCondition, LABEL_BGPPEER_NODE } from "../kube/types.ts";
import { unavailable as socketOptionsUnavailable } from "../sockopt/syscalls.ts";
import type { Log } from "./log.ts";
import { PeerProblem, PeerReferences } from "./peer-refs.ts";
import type { StatusWriter } from "./status-writer.ts";

/** The node's own addresses, the source of its sessions (per family). */
export interface NodeAddresses {
  v4?: string;
  v6?: string;
}

/** The node a BGPPeer belongs to: its label, else spec.nodeBGPRef. */
export function peerNode(p: BGPPeer): string {
  return p.metadata.labels?.[LABEL_BGPPEER_NODE] ?? p.spec.nodeBGPRef;
}

const FAMILIES: Family[] = ["ipv4-unicast", "ipv6-unicast"];

const invalid = (message: string) => new PeerProblem("InvalidConfiguration", message, "invalid");

/** Entries of the original's `capabilities` that name no family: the one thing of a BGPPeer the agent leaves aside. */
export function unknownCapabilities(p: BGPPeer): string[] {
  return (p.spec.capabilities ?? []).flatMap((c, i) => (FAMILIES.includes(c as Family) ? [] : [`spec.capabilities[${i}] ${JSON.stringify(c)} (known: ${FAMILIES.join(", ")})`]));
}

function integer(v: number | null | undefined, field: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(`${field}: must be ${min}..${max}, not ${v}`);
  return v;
}

/**
 * The neighbour a BGPPeer asks for: its address and ASN, hold and keepalive times
 * (keepaliveTime 0: unset), connect retry, eBGP TTL, its `families` (or family names in
 * the original's `capabilities`; none: the family of the peer's address), from
 * `sourceAddress` or the node's address of the peer's family; the password and BFD
 * timers come from what it names (`refs`). Throws a PeerProblem naming the field.
 */
export function neighborFromPeer(p: BGPPeer, source: NodeAddresses, refs: Pick<PeerReferences, "password" | "bfd">): NeighborConfig {
  const s = p.spec;
  const fam = isIP(s.addr);
  if (!fam) throw invalid(`spec.addr: ${JSON.stringify(s.addr)} is not an IP address`);
  const asn = integer(s.asn, "spec.asn", 1, 4294967295)!;
  const holdTime = integer(s.holdTime, "spec.holdTime", 0, 65535) ?? 90;
  if (holdTime === 1 || holdTime === 2) throw invalid(`spec.holdTime: must be 0 or 3..65535 seconds, not ${holdTime}`);
  const keepaliveTime = integer(s.keepaliveTime, "spec.keepaliveTime", 0, 65535) || undefined;
  const connectRetryTime = integer(s.connectRetryTime, "spec.connectRetryTime", 1, 65535);
  const ebgpMultihop = integer(s.ebgpMultihop, "spec.ebgpMultihop", 1, 255);
  const families: Family[] = [];
  (s.families?.length ? s.families : (s.capabilities ?? []).filter((c) => FAMILIES.includes(c as Family))).forEach((f, i) => {
    if (!FAMILIES.includes(f as Family)) throw invalid(`spec.families[${i}]: unknown family ${JSON.stringify(f)} (known: ${FAMILIES.join(", ")})`);
    if (!families.includes(f as Family)) families.push(f as Family);
  });
  if (!families.length) families.push(fam === 6 ? "ipv6-unicast" : "ipv4-unicast");
  if (s.sourceAddress && isIP(s.sourceAddress) !== fam) throw invalid(`spec.sourceAddress: ${JSON.stringify(s.sourceAddress)} is not an address of spec.addr's family`);
  // Options that need socket calls this runtime may lack (Node without the addon): refused, never dropped.
  const why = socketOptionsUnavailable();
  if (why) {
    for (const [field, set, what] of [["ebgpMultihop", s.ebgpMultihop, "a TTL"], ["passwordSecret", s.passwordSecret, "a TCP MD5 password"], ["bfdProfile", s.bfdProfile, "BFD"]] as const) {
      if (set !== undefined && set !== null) throw new PeerProblem("Unsupported", `spec.${field}: ${what} cannot be set in this runtime: ${why}`, "invalid");
    }
  }
  const password = refs.password(p);
  const bfd = refs.bfd(p);
  const localAddress = s.sourceAddress || (fam === 6 ? source.v6 : source.v4);
  return {
    address: s.addr,
    asn,
    port: 179,
    ...(localAddress ? { localAddress } : {}),
    passive: false,
    holdTime,
    ...(keepaliveTime ? { keepaliveTime } : {}),
    ...(connectRetryTime ? { connectRetryTime } : {}),
    ...(ebgpMultihop ? { ebgpMultihop } : {}),
    ...(password ? { password } : {}),
    ...(bfd ? { bfd } : {}),
    families,
    export: "local",
    maxPrefix: 0,
    extendedOptionalParameters: false,
  };
}

/** How a session's options read in the log (never the password itself). */
function describeOptions(c: NeighborConfig): string {
  const out = [`families ${c.families.join(",")}`, `hold ${c.holdTime} s`];
  if (c.keepaliveTime) out.push(`keepalive ${c.keepaliveTime} s`);
  if (c.connectRetryTime) out.push(`connect retry ${c.connectRetryTime} s`);
  if (c.ebgpMultihop) out.push(`TTL ${c.ebgpMultihop}`);
  if (c.password) out.push("TCP MD5");
  if (c.bfd) out.push(`BFD ${c.bfd.transmitInterval}/${c.bfd.receiveInterval} ms x${c.bfd.detectMultiplier}`);
  return out.join(", ");
}

interface PeerState {
  peer: BGPPeer;
  /** unknownCapabilities() as last reported. */
  ignored?: string;
  /** The neighbour configured for it (undefined: none). */
  address?: string;
  /** Why it has no session, or keeps its last good settings. */
  problem?: PeerProblem;
  backoff: number;
  notifications: number;
  /** The condition last written, "status|reason|backoff". */
  written?: string;
}

/** Condition states: Connect and Active are one ("trying") so a retry loop does not rewrite status. */
function reportedState(s: State): BGPPeerCondition["status"] {
  return s === "Connect" ? "Active" : s;
}

export interface PeersOptions {
  store: Store;
  status: StatusWriter;
  log: Log;
  /** Called when the peers' addresses changed (routes re-resolve their targets). */
  onAddressesChanged: () => void;
  /** Called when a Secret or BFDProfile a peer names changed: sync() again. */
  onReferencesChanged: () => void;
}

export class Peers {
  private readonly states = new Map<string, PeerState>();
  private speaker: Speaker | undefined;
  private source: NodeAddresses = {};
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  /** The Secrets and BFDProfiles the peers name. */
  private readonly refs: PeerReferences;

  constructor(private readonly opts: PeersOptions) {
    this.refs = new PeerReferences(opts.store, opts.onReferencesChanged);
  }

  /** A new speaker (first start, or rebuilt for a new ASN/router id): every session is configured again on it. */
  attach(speaker: Speaker | undefined, source: NodeAddresses): void {
    this.speaker = speaker;
    this.source = source;
    for (const st of this.states.values()) st.address = undefined;
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => this.writeStatuses(), 2000);
      this.pollTimer.unref?.();
    }
  }

  addressOf = (name: string): string | undefined => this.states.get(name)?.address;

  nameOf(address: string): string | undefined {
    for (const [name, st] of this.states) if (st.address === address) return name;
    return undefined;
  }

  /** BGPPeer names with a configured neighbour. */
  configured(): string[] {
    return [...this.states].filter(([, st]) => st.address).map(([n]) => n);
  }

  /** Every BGPPeer of the node has its neighbour (or a reported problem; not one still waiting for what it names). */
  allConfigured(peers: BGPPeer[]): boolean {
    return peers.every((p) => {
      const st = this.states.get(p.metadata.name);
      return st && (st.address || (st.problem && st.problem.severity !== "waiting")) && st.peer.metadata.resourceVersion === p.metadata.resourceVersion;
    });
  }

  state(name: string): State | undefined {
    const a = this.addressOf(name);
    return a ? this.speaker?.neighbors.get(a)?.state : undefined;
  }

  /** Brings the speaker's neighbours in line with these BGPPeers (this node's, not being deleted). */
  async sync(peers: BGPPeer[]): Promise<void> {
    const s = this.speaker;
    if (!s) return;
    this.refs.want(peers);
    let addressesChanged = false;
    const want = new Map(peers.map((p) => [p.metadata.name, p]));
    for (const [name, st] of [...this.states]) {
      if (want.has(name)) continue;
      this.states.delete(name);
      if (st.address && s.neighbors.has(st.address)) {
        await s.removeNeighbor(st.address);
        this.opts.log(`BGPPeer ${name}: removed, session to ${st.address} closed`);
      }
      addressesChanged = true;
    }
    const taken = new Map<string, string>();
    for (const p of [...want.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
      const name = p.metadata.name;
      let st = this.states.get(name);
      if (!st) this.states.set(name, (st = { peer: p, backoff: 0, notifications: 0 }));
      st.peer = p;
      this.reportIgnored(st);
      const r = await this.apply(s, st, taken);
      this.setProblem(st, r.problem);
      if (r.addressesChanged) addressesChanged = true;
    }
    if (addressesChanged) this.opts.onAddressesChanged();
    this.writeStatuses();
  }

  /** One BGPPeer onto the speaker: its neighbour added, changed, kept or removed; and the problem that remains. */
  private async apply(s: Speaker, st: PeerState, taken: Map<string, string>): Promise<{ problem?: PeerProblem; addressesChanged: boolean }> {
    const p = st.peer;
    const name = p.metadata.name;
    let cfg: NeighborConfig;
    try {
      const other = taken.get(p.spec.addr);
      if (other) throw invalid(`spec.addr: ${p.spec.addr} is already BGPPeer ${other}'s session`);
      taken.set(p.spec.addr, name);
      cfg = neighborFromPeer(p, this.source, this.refs);
    } catch (e) {
      const problem = e instanceof PeerProblem ? e : invalid((e as Error).message);
      // A running session keeps its last good settings while what it names is missing.
      if (problem.severity !== "invalid" && st.address) return { problem, addressesChanged: false };
      return { problem, addressesChanged: await this.removeSession(s, st) };
    }
    const addressesChanged = st.address !== undefined && st.address !== cfg.address && (await this.removeSession(s, st));
    try {
      if (st.address) {
        const done = await s.reconfigureNeighbor(cfg);
        if (done !== "unchanged") this.opts.log(`BGPPeer ${name}: changed, session to ${cfg.address} ${done === "reset" ? "reset (the OPEN or the connection changes)" : "updated in place"}: ${describeOptions(cfg)}`);
        return { addressesChanged };
      }
      if (s.neighbors.has(cfg.address)) await s.removeNeighbor(cfg.address); // left over from another BGPPeer
      s.addNeighbor(cfg);
    } catch (e) {
      // The speaker refused it (a BFD port in use, a key the kernel rejects): a running session keeps its settings.
      return { problem: new PeerProblem("Refused", `the speaker refused the session: ${(e as Error).message}`, st.address ? "unresolved" : "invalid"), addressesChanged };
    }
    st.address = cfg.address;
    this.opts.log(`BGPPeer ${name}: session to ${cfg.address} (AS ${cfg.asn}) from ${cfg.localAddress ?? "any address"}, ${describeOptions(cfg)}`);
    return { addressesChanged: true };
  }

  /** Ends the peer's session, if it has one; true when it had. */
  private async removeSession(s: Speaker, st: PeerState): Promise<boolean> {
    if (!st.address) return false;
    if (s.neighbors.has(st.address)) await s.removeNeighbor(st.address);
    st.address = undefined;
    return true;
  }

  /** Unknown `capabilities` entries: logged and a Warning Event once per change. */
  private reportIgnored(st: PeerState): void {
    const ignored = unknownCapabilities(st.peer).join("; ");
    if (ignored === (st.ignored ?? "")) return;
    st.ignored = ignored;
    if (!ignored) return;
    this.opts.log(`BGPPeer ${st.peer.metadata.name}: ignored: ${ignored}`);
    void this.event(st.peer, "Warning", "IgnoredFields", `ignored: ${ignored}`);
  }

  /** A new problem (or none) for a peer: logged, and a Warning Event unless it only waits for a first read. */
  private setProblem(st: PeerState, problem: PeerProblem | undefined): void {
    const prev = st.problem;
    st.problem = problem;
    if (prev?.reason === problem?.reason && prev?.message === problem?.message) return;
    const name = st.peer.metadata.name;
    if (!problem) {
      if (prev && prev.severity !== "waiting") this.opts.log(`BGPPeer ${name}: ${prev.reason} resolved`);
      return;
    }
    this.opts.log(`BGPPeer ${name}: ${problem.reason}: ${problem.message}${problem.severity === "unresolved" && st.address ? " (the running session keeps its settings)" : ""}`);
    if (problem.severity !== "waiting") void this.event(st.peer, "Warning", problem.reason, problem.message);
  }

  /** The speaker's session callback: backoff, an Event, the status at once. */
  onSessionChange(address: string, up: boolean, reason: string): void {
    const name = this.nameOf(address);
    const st = name ? this.states.get(name) : undefined;
    if (!name || !st) return;
    const nb = this.speaker?.neighbors.get(address);
    if (up) {
      st.backoff = 0;
      const n = nb?.negotiated;
      void this.event(st.peer, "Normal", "Established", `BGP session to ${address} (AS ${st.peer.spec.asn}) established${n ? ` (hold time ${n.holdTime} s, ${n.families.join(", ")})` : ""}`);
    } else {
      st.backoff++;
      void this.event(st.peer, "Warning", "SessionDown", `BGP session to ${address} (AS ${st.peer.spec.asn}) down: ${reason}`);
    }
    if (nb) st.notifications = nb.messagesIn.notification + nb.messagesOut.notification;
    this.writeStatuses();
  }

  /** Writes each BGPPeer's condition when its state, reason or backoff changed. */
  writeStatuses(): void {
    for (const [name, st] of this.states) {
      let status: BGPPeerCondition["status"];
      let reason: string;
      const nb = st.address ? this.speaker?.neighbors.get(st.address) : undefined;
      const problem = st.problem && `${st.problem.reason}: ${st.problem.message}`;
      if (!nb) {
        status = st.problem?.severity === "invalid" || st.problem?.severity === "unresolved" ? "Idle" : "Unknown";
        reason = problem ?? "NotConfigured";
      } else {
        // Failed attempts (NOTIFICATIONs either way) since the last Established count as backoff.
        const notes = nb.messagesIn.notification + nb.messagesOut.notification;
        if (notes > st.notifications && nb.state !== "Established") st.backoff += notes - st.notifications;
        st.notifications = notes;
        status = reportedState(nb.state);
        // A session on its last good settings says why it has not taken the new ones.
        reason = problem ?? (nb.state === "Established" ? "Established" : nb.lastError || "Connecting");
      }
      const key = `${status}|${reason}|${st.backoff}`;
      if (key === st.written) continue;
      st.written = key;
      this.opts.status.patch("BGPPeer", { name }, { backoff: st.backoff, conditions: [{ status, reason }] });
    }
  }

  private async event(peer: BGPPeer, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    try {
      await this.opts.store.recordEvent(peer, type, reason, message);
    } catch {
      // Events are best effort; the status says the same.
    }
  }

  stop(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.refs.stop();
  }
}
