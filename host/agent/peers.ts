// BGPPeers of this node -> the speaker's neighbours, and back: each BGPPeer's status
// (`conditions` with the FSM state, the STATUS column, and `backoff`) and an Event
// when its session goes up or down. A changed BGPPeer changes the live session; only
// changes the OPEN carries reset it (Speaker.reconfigureNeighbor).
import { isIP } from "node:net";
import type { Family, NeighborConfig } from "../bgp/config.ts";
import type { State } from "../bgp/neighbor.ts";
import type { Speaker } from "../bgp/speaker.ts";
import type { Store } from "../kube/store.ts";
import { type BGPPeer, type BGPPeerCondition, LABEL_BGPPEER_NODE } from "../kube/types.ts";
import type { Log } from "./log.ts";
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

/** A BGPPeer field that cannot become a session; the message names the field. */
export class PeerSpecError extends Error {}

/** Session options of the CRD this agent does not apply yet (they need the speaker's peer options). */
const NOT_APPLIED = ["ebgpMultihop", "connectRetryTime", "passwordSecret", "bfdProfile"] as const;

/** What a BGPPeer asks for that the agent leaves aside: capabilities it does not know, options it does not apply. */
export function ignoredFields(p: BGPPeer): string[] {
  const out = (p.spec.capabilities ?? []).flatMap((c, i) => (FAMILIES.includes(c as Family) ? [] : [`spec.capabilities[${i}] ${JSON.stringify(c)} (known: ${FAMILIES.join(", ")})`]));
  for (const k of NOT_APPLIED) if (p.spec[k] !== undefined && p.spec[k] !== null) out.push(`spec.${k} (not applied by this agent yet)`);
  return out;
}

/**
 * The neighbour a BGPPeer asks for: its address and ASN, hold and keepalive times, its
 * `families` (or family names in the original's `capabilities`; none: the family of
 * the peer's address), from `sourceAddress` or the node's address of the peer's family.
 */
export function neighborFromPeer(p: BGPPeer, source: NodeAddresses): NeighborConfig {
  const s = p.spec;
  const fam = isIP(s.addr);
  if (!fam) throw new PeerSpecError(`spec.addr: ${JSON.stringify(s.addr)} is not an IP address`);
  if (!Number.isInteger(s.asn) || s.asn < 1 || s.asn > 4294967295) throw new PeerSpecError(`spec.asn: must be 1..4294967295, not ${s.asn}`);
  const holdTime = s.holdTime ?? 90;
  if (!Number.isInteger(holdTime) || holdTime < 0 || holdTime > 65535 || holdTime === 1 || holdTime === 2) {
    throw new PeerSpecError(`spec.holdTime: must be 0 or 3..65535 seconds, not ${holdTime}`);
  }
  const keepaliveTime = s.keepaliveTime || undefined;
  if (keepaliveTime !== undefined && (!Number.isInteger(keepaliveTime) || keepaliveTime < 0 || keepaliveTime > 65535)) {
    throw new PeerSpecError(`spec.keepaliveTime: must be 0..65535 seconds, not ${keepaliveTime}`);
  }
  const families: Family[] = [];
  (s.families?.length ? s.families : (s.capabilities ?? []).filter((c) => FAMILIES.includes(c as Family))).forEach((f, i) => {
    if (!FAMILIES.includes(f as Family)) throw new PeerSpecError(`spec.families[${i}]: unknown family ${JSON.stringify(f)} (known: ${FAMILIES.join(", ")})`);
    if (!families.includes(f as Family)) families.push(f as Family);
  });
  if (!families.length) families.push(fam === 6 ? "ipv6-unicast" : "ipv4-unicast");
  if (s.sourceAddress && isIP(s.sourceAddress) !== fam) throw new PeerSpecError(`spec.sourceAddress: ${JSON.stringify(s.sourceAddress)} is not an address of spec.addr's family`);
  const localAddress = s.sourceAddress || (fam === 6 ? source.v6 : source.v4);
  return {
    address: s.addr,
    asn: s.asn,
    port: 179,
    ...(localAddress ? { localAddress } : {}),
    passive: false,
    holdTime,
    ...(keepaliveTime ? { keepaliveTime } : {}),
    families,
    export: "local",
    maxPrefix: 0,
  };
}

interface PeerState {
  peer: BGPPeer;
  /** ignoredFields() as last reported. */
  ignored?: string;
  /** The neighbour configured for it (undefined: none, its spec is invalid). */
  address?: string;
  error?: string;
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
}

export class Peers {
  private readonly states = new Map<string, PeerState>();
  private speaker: Speaker | undefined;
  private source: NodeAddresses = {};
  private pollTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: PeersOptions) {}

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

  /** Every BGPPeer of the node has its neighbour (or a reported error). */
  allConfigured(peers: BGPPeer[]): boolean {
    return peers.every((p) => {
      const st = this.states.get(p.metadata.name);
      return st && (st.address || st.error) && st.peer.metadata.resourceVersion === p.metadata.resourceVersion;
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
      let cfg: NeighborConfig | undefined;
      let error: string | undefined;
      try {
        cfg = neighborFromPeer(p, this.source);
        const other = taken.get(cfg.address);
        if (other) throw new PeerSpecError(`spec.addr: ${cfg.address} is already BGPPeer ${other}'s session`);
        taken.set(cfg.address, name);
      } catch (e) {
        error = (e as Error).message;
      }
      const ignored = ignoredFields(p).join("; ");
      if (ignored !== (st.ignored ?? "")) {
        st.ignored = ignored;
        if (ignored) {
          this.opts.log(`BGPPeer ${name}: ignored: ${ignored}`);
          void this.event(p, "Warning", "IgnoredFields", `ignored: ${ignored}`);
        }
      }
      if (error !== st.error) {
        st.error = error;
        if (error) {
          this.opts.log(`BGPPeer ${name}: ${error}`);
          void this.event(p, "Warning", "InvalidConfiguration", error);
        }
      }
      if (st.address && st.address !== cfg?.address) {
        if (s.neighbors.has(st.address)) await s.removeNeighbor(st.address);
        st.address = undefined;
        addressesChanged = true;
      }
      if (!cfg) continue;
      if (st.address) {
        const done = await s.reconfigureNeighbor(cfg);
        if (done !== "unchanged") this.opts.log(`BGPPeer ${name}: changed, session to ${cfg.address} ${done === "reset" ? "reset (the OPEN changes)" : "updated in place"}`);
        continue;
      }
      if (s.neighbors.has(cfg.address)) await s.removeNeighbor(cfg.address); // left over from another BGPPeer
      s.addNeighbor(cfg);
      st.address = cfg.address;
      addressesChanged = true;
      this.opts.log(`BGPPeer ${name}: session to ${cfg.address} (AS ${cfg.asn}) from ${cfg.localAddress ?? "any address"}, families ${cfg.families.join(",")}`);
    }
    if (addressesChanged) this.opts.onAddressesChanged();
    this.writeStatuses();
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
      if (st.error) {
        status = "Idle";
        reason = `InvalidConfiguration: ${st.error}`;
      } else if (!nb) {
        status = "Unknown";
        reason = "NotConfigured";
      } else {
        // Failed attempts (NOTIFICATIONs either way) since the last Established count as backoff.
        const notes = nb.messagesIn.notification + nb.messagesOut.notification;
        if (notes > st.notifications && nb.state !== "Established") st.backoff += notes - st.notifications;
        st.notifications = notes;
        status = reportedState(nb.state);
        reason = nb.state === "Established" ? "Established" : nb.lastError || "Connecting";
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
  }
}
