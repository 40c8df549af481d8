// One neighbour: the RFC 4271 FSM (Idle, Connect, Active, OpenSent,
// OpenConfirm, Established) over one or more TCP connections (two during a
// collision, RFC 4271 6.8), its timers, and graceful restart (RFC 4724) as
// helper and as restarting speaker. UPDATEs never pass through here as
// objects: once Established, socket reads go straight into the core.
import * as net from "node:net";
import { networkInterfaces } from "node:os";
import type { DecodedMessage } from "../core/codec.ts";
import type { FeedEvent, Rib } from "../core/rib.ts";
import { BfdState, diagName } from "../bfd/packet.ts";
import type { StateChange } from "../bfd/session.ts";
import { dialTcp, setSocketTtl } from "../sockopt/tcp.ts";
import { unavailable as socketOptionsUnavailable } from "../sockopt/syscalls.ts";
import type { Family, NeighborConfig } from "./config.ts";
import {
  FAMILY_CODES, Framer, KEEPALIVE, MESSAGE_NAMES, MSG_KEEPALIVE, MSG_NOTIFICATION, MSG_OPEN, MSG_ROUTE_REFRESH,
  type Negotiated, decodeOne, describeNotification, familyOf, negotiate, notification, openMessage, routeRefresh,
} from "./messages.ts";

export type State = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";
export const STATES: State[] = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"];

/** What a neighbour needs from the speaker that owns it. */
export interface SpeakerContext {
  readonly rib: Rib;
  readonly asn: number;
  readonly routerId: string;
  /** Our graceful restart: restart time advertised, and whether this process is a restart (R and F bits). */
  readonly restartTime: number;
  restarting(): boolean;
  /** Source address for outgoing connections without localAddress (the listen address when it is a specific one). */
  sourceAddressFor(peer: string): string | undefined;
  /** Export, FIB and anything else that runs after a burst of input. */
  scheduleFlush(): void;
  log(line: string): void;
  /** A session reached Established, or an Established session ended (reason). */
  onSessionChange?(nb: Neighbor, up: boolean, reason: string): void;
  onEndOfRib?(nb: Neighbor, family: Family): void;
}

/** Timings (seconds); tests shorten them. */
export interface Timings {
  connectRetry: number;
  openHold: number;
  idleHoldMin: number;
  idleHoldMax: number;
  /** How long a re-established peer's stale routes wait for its End-of-RIB. */
  staleTimeout: number;
}

export const DEFAULT_TIMINGS: Timings = { connectRetry: 5, openHold: 240, idleHoldMin: 1, idleHoldMax: 60, staleTimeout: 300 };

/** Bytes per socket read: the core's input region is sized once for this. */
export const READ_SIZE = 65536;

type MessageCounts = Record<string, number>;
const zeroCounts = (): MessageCounts => ({ open: 0, update: 0, notification: 0, keepalive: 0, route_refresh: 0 });

export interface NotificationInfo {
  code: number;
  subcode: number;
  data: string;
  at: string;
}

/** One TCP connection of a neighbour and its part of the FSM (OpenSent onwards). */
class Connection {
  state: "Connect" | "OpenSent" | "OpenConfirm" | "Established" = "Connect";
  socket!: net.Socket;
  readonly framer = new Framer();
  peerOpen?: DecodedMessage;
  negotiated?: Negotiated;
  lastRecv = Date.now();
  holdSeconds = 0;
  congested = false;
  closed = false;
  /**
   * Every read of an outgoing connection lands here (then one copy into the core per read).
   * Never a view into the core's memory: the runtime asks for the next read's buffer right
   * after the previous read and holds it while the socket is idle, and a memory.grow in
   * between (another peer's routes) detaches that view: Bun then fails the read with
   * ENOBUFS, Node writes through the stale view.
   */
  private readArea: Uint8Array | undefined;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly nb: Neighbor, readonly outgoing: boolean) {}

  readBuffer(): Uint8Array {
    return (this.readArea ??= new Uint8Array(READ_SIZE));
  }

  write(bytes: Uint8Array): boolean {
    if (this.closed) return true;
    return this.socket.write(bytes);
  }

  /** (Re)arms the hold timer; 0 = none. */
  armHold(seconds: number): void {
    this.holdSeconds = seconds;
    this.lastRecv = Date.now();
    this.checkHold();
  }

  private checkHold(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (!this.holdSeconds || this.closed) return;
    // Reading may be paused while our writes back up (backpressure): silence then is ours, not the peer's.
    if (this.congested) this.lastRecv = Date.now();
    const left = this.lastRecv + this.holdSeconds * 1000 - Date.now();
    if (left <= 0) {
      this.nb.fail(this, 4, 0, `hold timer expired (${this.holdSeconds} s without a message)`);
      return;
    }
    this.holdTimer = setTimeout(() => this.checkHold(), left + 5);
  }

  startKeepalives(seconds: number): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (!seconds) return;
    this.keepaliveTimer = setInterval(() => this.nb.send(this, KEEPALIVE, "keepalive"), seconds * 1000);
  }

  stopTimers(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.holdTimer = this.keepaliveTimer = undefined;
  }
}

export class Neighbor {
  config: NeighborConfig;
  /** The core's peer index. */
  readonly idx: number;
  private conns = new Set<Connection>();
  private session: Connection | undefined;
  private connecting = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private idleUntil = 0;
  private idleHold: number;
  private stopped = false;
  private establishedAt = 0;
  /** Families whose routes are kept stale through the peer's restart, and the timer that drops them. */
  private staleFamilies = new Set<Family>();
  private staleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Enhanced route refresh: EoRR to send once the re-advertisement is out. */
  private pendingEoRR: Family[] = [];
  /** Enhanced route refresh from the peer (RFC 7313): families between its BoRR and EoRR, and the timers that sweep them when no EoRR comes. */
  private refreshing = new Map<Family, ReturnType<typeof setTimeout>>();
  readonly messagesIn = zeroCounts();
  readonly messagesOut = zeroCounts();
  establishedTransitions = 0;
  lastError = "";
  lastNotificationSent: NotificationInfo | undefined;
  lastNotificationReceived: NotificationInfo | undefined;
  endOfRibReceived = new Set<Family>();

  constructor(readonly ctx: SpeakerContext, config: NeighborConfig, private readonly timings: Timings = DEFAULT_TIMINGS) {
    this.config = config;
    this.idleHold = timings.idleHoldMin;
    this.idx = ctx.rib.addPeer({ asn: config.asn, address: config.address, export: config.export, maxPrefix: config.maxPrefix });
  }

  // ---- state ----

  get state(): State {
    if (this.session) return "Established";
    let best: State | undefined;
    for (const c of this.conns) {
      if (c.state === "OpenConfirm") best = "OpenConfirm";
      else if (c.state === "OpenSent" && best !== "OpenConfirm") best = "OpenSent";
    }
    if (best) return best;
    if (this.connecting) return "Connect";
    if (this.stopped || Date.now() < this.idleUntil) return "Idle";
    return "Active";
  }

  get negotiated(): Negotiated | undefined {
    return this.session?.negotiated;
  }

  get peerRouterId(): string | undefined {
    return this.session?.peerOpen?.routerId;
  }

  get uptimeSeconds(): number {
    return this.session ? Math.floor((Date.now() - this.establishedAt) / 1000) : 0;
  }

  get stale(): Family[] {
    return [...this.staleFamilies];
  }

  // ---- lifecycle ----

  /**
   * A new configuration for the same address (Speaker.reconfigureNeighbor): what
   * needs a new OPEN waits for the next session; the keepalive interval applies now.
   */
  reconfigure(cfg: NeighborConfig): void {
    this.config = cfg;
    this.ctx.rib.configurePeer(this.idx, { asn: cfg.asn, address: cfg.address, routerId: this.peerRouterId, export: cfg.export, maxPrefix: cfg.maxPrefix });
    if (this.session?.negotiated) this.session.startKeepalives(this.keepaliveFor(this.session.negotiated));
  }

  /** The configured keepalive interval, never more than a third of the negotiated hold time. */
  private keepaliveFor(n: Negotiated): number {
    return this.config.keepaliveTime ? Math.min(this.config.keepaliveTime, n.keepalive) : n.keepalive;
  }

  start(): void {
    this.stopped = false;
    this.scheduleConnect(0);
  }

  /** Administrative stop: Cease with `subcode` (2 shutdown, 3 de-configured) on every connection. */
  async stop(subcode: number, reason: string): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.endPeerRefreshes();
    const closing = [...this.conns].map((c) => this.closeGracefully(c, subcode, reason));
    await Promise.all(closing);
  }

  /** Removes the peer from the core (after stop). */
  remove(): void {
    this.ctx.rib.removePeer(this.idx);
    this.ctx.scheduleFlush();
  }

  private closeGracefully(c: Connection, subcode: number, reason: string): Promise<void> {
    return new Promise((resolve) => {
      if (c.closed) return resolve();
      const done = setTimeout(() => {
        c.socket.destroy();
        resolve();
      }, 1000);
      c.socket.once("close", () => {
        clearTimeout(done);
        resolve();
      });
      if (c.state === "Connect") this.closeConnection(c, reason, false);
      else this.fail(c, 6, subcode, reason);
    });
  }

  private scheduleConnect(delaySeconds: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.stopped || this.config.passive) return;
    const jitter = delaySeconds > 0 ? 0.75 + Math.random() * 0.25 : 1; // RFC 4271 10: jitter the retry
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopped || this.session || this.conns.size) return;
      this.connect();
    }, delaySeconds * 1000 * jitter);
  }

  private connect(): void {
    const c = new Connection(this, true);
    this.connecting = true;
    this.conns.add(c);
    const localAddress = this.config.localAddress ?? this.ctx.sourceAddressFor(this.config.address);
    const onData = (n: number, buf: Uint8Array) => this.onRead(c, n, buf);
    const ttl = this.ttl;
    try {
      // TTL and MD5 must be on the socket before the SYN: a socket made here, adopted by the runtime.
      c.socket = ttl !== undefined || this.config.password
        ? dialTcp({ host: this.config.address, port: this.config.port, localAddress, ttl, password: this.config.password, readBuffer: () => c.readBuffer(), onData })
        : net.connect({
          host: this.config.address,
          port: this.config.port,
          localAddress,
          noDelay: true,
          onread: { buffer: () => c.readBuffer(), callback: (n: number, buf: Uint8Array) => (onData(n, buf), true) },
        } as net.NetConnectOpts);
    } catch (err) {
      this.conns.delete(c);
      this.connecting = false;
      this.lastError = `connect to ${this.config.address}: ${(err as Error).message}`;
      this.scheduleConnect(this.connectRetry);
      return;
    }
    const socket = c.socket;
    const connectTimer = setTimeout(() => {
      // What a peer that drops our SYNs looks like (wrong TCP MD5 key, TTL too small, a filter): say so.
      this.lastError = `connect to ${this.config.address}: timed out after ${this.connectRetry} s`;
      this.closeConnection(c, "connect timed out", false);
    }, this.connectRetry * 1000);
    socket.once("connect", () => {
      clearTimeout(connectTimer);
      this.connecting = false;
      socket.setNoDelay(true);
      this.openSent(c);
    });
    this.watch(c, () => clearTimeout(connectTimer));
  }

  /**
   * The TTL of the session's packets: ebgpMultihop, else 1 for eBGP (RFC 4271's
   * directly connected peers, as FRR and BIRD) where the runtime can set it.
   */
  get ttl(): number | undefined {
    if (this.config.ebgpMultihop !== undefined) return this.config.ebgpMultihop;
    return this.config.asn !== this.ctx.asn && !socketOptionsUnavailable() ? 1 : undefined;
  }

  private get connectRetry(): number {
    return this.config.connectRetryTime ?? this.timings.connectRetry;
  }

  /** An incoming connection from this neighbour's address. */
  accept(socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const c = new Connection(this, false);
    c.socket = socket;
    this.conns.add(c);
    socket.setNoDelay(true);
    const ttl = this.ttl;
    if (ttl !== undefined) {
      try {
        setSocketTtl(socket, this.config.address, ttl);
      } catch (err) {
        this.ctx.log(`neighbor ${this.config.address}: TTL ${ttl} on the accepted connection: ${(err as Error).message}`);
      }
    }
    socket.on("data", (chunk: Buffer) => this.onRead(c, chunk.length, chunk));
    this.watch(c);
    this.openSent(c);
  }

  private watch(c: Connection, onClose?: () => void): void {
    c.socket.on("error", (err) => {
      if (!c.closed) this.lastError = `${c.outgoing ? "connect to" : "connection from"} ${this.config.address}: ${err.message}`;
    });
    c.socket.on("close", () => {
      onClose?.();
      this.closeConnection(c, "", false);
    });
  }

  private openSent(c: Connection): void {
    c.state = "OpenSent";
    this.send(c, openMessage({
      asn: this.ctx.asn, holdTime: this.config.holdTime, routerId: this.ctx.routerId, families: this.config.families,
      restartTime: this.ctx.restartTime, restarting: this.ctx.restarting(), extendedOptionalParameters: this.config.extendedOptionalParameters,
    }), "open");
    c.armHold(this.timings.openHold);
  }

  send(c: Connection, bytes: Uint8Array, kind: string): boolean {
    this.messagesOut[kind]++;
    return c.write(bytes);
  }

  // ---- input ----

  private onRead(c: Connection, n: number, buf: Uint8Array): void {
    if (c.closed || n <= 0) return;
    c.lastRecv = Date.now();
    if (c.state === "Established") {
      const events = this.ctx.rib.feed(this.idx, buf.subarray(0, n));
      if (events.length) this.onEvents(c, events);
      this.ctx.scheduleFlush();
      return;
    }
    c.framer.push(buf.subarray(0, n));
    while (!c.closed && c.state !== "Established") {
      const m = c.framer.next();
      if (!m) break;
      if ("code" in m) {
        this.fail(c, m.code, m.subcode, `bad message header (${m.code}/${m.subcode})`, m.data);
        return;
      }
      this.onMessage(c, m.type, m.bytes);
    }
    if (!c.closed && c.state === "Established") {
      const rest = c.framer.takeRest();
      if (rest.length) {
        const events = this.ctx.rib.feed(this.idx, rest);
        if (events.length) this.onEvents(c, events);
      }
      this.ctx.scheduleFlush();
    }
  }

  /** Messages before Established (host-framed). */
  private onMessage(c: Connection, type: number, bytes: Uint8Array): void {
    this.messagesIn[MESSAGE_NAMES[type]]++;
    if (type === MSG_NOTIFICATION) {
      this.receivedNotification(c, bytes);
      return;
    }
    if (c.state === "OpenSent") {
      if (type !== MSG_OPEN) return this.fail(c, 5, 1, `${MESSAGE_NAMES[type]} in OpenSent`);
      this.onOpen(c, bytes);
      return;
    }
    // OpenConfirm
    if (type === MSG_KEEPALIVE) {
      this.established(c);
      return;
    }
    this.fail(c, 5, 2, `${MESSAGE_NAMES[type]} in OpenConfirm`);
  }

  private onOpen(c: Connection, bytes: Uint8Array): void {
    const open = decodeOne(bytes);
    if (open.error) {
      const data = open.error.data ? Uint8Array.from(Buffer.from(open.error.data, "hex")) : undefined;
      return this.fail(c, open.error.code, open.error.subcode, `bad OPEN: ${open.error.message}`, data);
    }
    const peerAs = open.asn ?? open.myAs ?? 0;
    if (peerAs !== this.config.asn) {
      return this.fail(c, 2, 2, `OPEN from AS ${peerAs}, configured ${this.config.asn}`, Uint8Array.of(...u16(open.myAs ?? 0)));
    }
    if (peerAs === this.ctx.asn && open.routerId === this.ctx.routerId) {
      return this.fail(c, 2, 3, `iBGP peer uses our BGP identifier ${open.routerId}`);
    }
    c.peerOpen = open;
    c.negotiated = negotiate(open, { holdTime: this.config.holdTime, families: this.config.families });
    // keepaliveTime when shorter than a third of the negotiated hold time (as FRR).
    const keepaliveTime = this.config.keepaliveTime;
    if (keepaliveTime && keepaliveTime < c.negotiated.keepalive) c.negotiated.keepalive = keepaliveTime;
    if (!this.resolveCollision(c)) return;
    c.state = "OpenConfirm";
    this.send(c, KEEPALIVE, "keepalive");
    c.armHold(c.negotiated.holdTime);
    c.startKeepalives(this.keepaliveFor(c.negotiated));
  }

  /**
   * RFC 4271 6.8 on receipt of an OPEN: against a connection in OpenConfirm,
   * the one initiated by the speaker with the higher BGP identifier survives;
   * against an Established session the new connection is closed, except
   * when the peer restarts gracefully, R bit set (RFC 4724 4.2: the old
   * session ends and its routes turn stale). Returns false when `c` lost.
   */
  private resolveCollision(c: Connection): boolean {
    const remoteId = ipv4Number(c.peerOpen!.routerId!);
    const localId = ipv4Number(this.ctx.routerId);
    for (const o of [...this.conns]) {
      if (o === c || o.closed) continue;
      if (o.state === "Established") {
        // Only an OPEN with the Restart State bit proves a restart: without it, this is the
        // late OPEN of a simultaneous connection, and the Established session stays.
        const gr = c.negotiated!.gracefulRestart;
        if (gr?.restarting && o.negotiated?.gracefulRestart) {
          this.closeConnection(o, "peer restarted (graceful restart)", false);
          continue;
        }
        this.fail(c, 6, 7, "collision with an Established session");
        return false;
      }
      if (o.state !== "OpenConfirm") continue;
      // Keep the connection the higher identifier opened: ours (outgoing) when local > remote.
      const keepOutgoing = localId > remoteId;
      const loser = c.outgoing === keepOutgoing ? o : c;
      this.fail(loser, 6, 7, `connection collision: closing the ${loser.outgoing ? "outgoing" : "incoming"} connection (router ids ${this.ctx.routerId} vs ${c.peerOpen!.routerId})`);
      if (loser === c) return false;
    }
    return true;
  }

  private established(c: Connection): void {
    const n = c.negotiated!;
    const rib = this.ctx.rib;
    // Connections still opening lose to the one that made it (collision resolution).
    for (const o of [...this.conns]) if (o !== c) this.fail(o, 6, 7, "connection collision: another connection is Established");
    c.state = "Established";
    this.session = c;
    this.connecting = false;
    this.establishedAt = Date.now();
    this.establishedTransitions++;
    this.endOfRibReceived.clear();
    this.pendingEoRR = [];
    rib.setPeerRouterId(this.idx, c.peerOpen!.routerId!);
    const local = normalizeAddress(c.socket.localAddress ?? "");
    const localV6 = net.isIPv6(local);
    // NEXT_HOP self for the other family: an address of that family on the session's interface.
    const other = n.families.includes(localV6 ? "ipv4-unicast" : "ipv6-unicast") ? siblingAddress(local, localV6 ? "IPv4" : "IPv6") : undefined;
    rib.peerUp(this.idx, {
      as4: n.as4,
      ipv4: n.families.includes("ipv4-unicast"),
      ipv6: n.families.includes("ipv6-unicast"),
      addPathReceiveV4: n.addPath.includes("ipv4-unicast"),
      addPathReceiveV6: n.addPath.includes("ipv6-unicast"),
      extendedMessage: n.extendedMessage,
      nextHopV4: localV6 ? other : local,
      nextHopV6: localV6 ? local : other,
    });
    this.resumeAfterRestart(n);
    this.ctx.log(`neighbor ${this.config.address}: Established (hold ${n.holdTime} s, families ${n.families.join(",")})`);
    this.ctx.onSessionChange?.(this, true, "");
  }

  /** Graceful restart helper: stale families the restarted peer does not keep forwarding go now; the rest wait for End-of-RIB. */
  private resumeAfterRestart(n: Negotiated): void {
    if (!this.staleFamilies.size) return;
    if (this.staleTimer) clearTimeout(this.staleTimer);
    const kept = new Set((n.gracefulRestart?.families ?? []).filter((f) => f.forwarding).map((f) => f.family));
    const drop = [...this.staleFamilies].filter((f) => !kept.has(f) || !n.families.includes(f));
    if (drop.length) this.sweep(drop);
    if (this.staleFamilies.size) this.staleTimer = setTimeout(() => this.sweep([...this.staleFamilies]), this.timings.staleTimeout * 1000);
  }

  private sweep(families: Family[]): void {
    for (const f of families) this.staleFamilies.delete(f);
    if (!this.staleFamilies.size && this.staleTimer) {
      clearTimeout(this.staleTimer);
      this.staleTimer = undefined;
    }
    const n = this.ctx.rib.sweepStale(this.idx, families);
    if (n) this.ctx.log(`neighbor ${this.config.address}: ${n} stale paths removed (${families.join(",")})`);
    this.ctx.scheduleFlush();
  }

  /**
   * Core events of an Established session. The UPDATEs behind a BoRR must be
   * applied after it marked the paths stale: when the core pauses at a
   * ROUTE-REFRESH, its event ends the batch and reading resumes here. (The core
   * does not pause there yet: a BoRR in the same read as UPDATEs behind it
   * marks those stale too, and they go at EoRR.)
   */
  private onEvents(c: Connection, events: FeedEvent[]): void {
    for (let batch = events; batch.length && this.onEventBatch(c, batch); ) {
      const last = batch[batch.length - 1];
      if (c.closed || last.kind !== "message" || last.type !== MSG_ROUTE_REFRESH) return;
      batch = this.ctx.rib.resume(this.idx);
    }
  }

  /** Handles one batch of core events; false when the session failed or ended. */
  private onEventBatch(c: Connection, events: FeedEvent[]): boolean {
    for (const e of events) {
      if (c.closed) return false;
      if (e.kind === "notification") {
        this.fail(c, e.code, e.subcode, `error in received message (${e.code}/${e.subcode})`, e.data);
        return false;
      }
      if (e.kind === "end-of-rib") {
        const fam = familyOf(e.afi, e.safi);
        if (!fam) continue;
        this.endOfRibReceived.add(fam);
        if (this.staleFamilies.has(fam)) this.sweep([fam]);
        this.ctx.onEndOfRib?.(this, fam);
        continue;
      }
      this.messagesIn[MESSAGE_NAMES[e.type] ?? "unknown"]++;
      if (e.type === MSG_NOTIFICATION) {
        this.receivedNotification(c, e.bytes);
        return false;
      }
      if (e.type === MSG_KEEPALIVE) continue;
      if (e.type === MSG_ROUTE_REFRESH) {
        this.onRouteRefresh(c, e.bytes);
        continue;
      }
      this.fail(c, 5, 3, `${MESSAGE_NAMES[e.type] ?? `type ${e.type}`} in Established`);
      return false;
    }
    return true;
  }

  /** BoRR (RFC 7313 4): the peer re-sends the family; what it does not re-send by EoRR (or within staleTimeout) goes. */
  private onBoRR(fam: Family): void {
    const t = this.refreshing.get(fam);
    if (t) clearTimeout(t);
    this.refreshing.set(fam, setTimeout(() => this.onEoRR(fam), this.timings.staleTimeout * 1000));
    this.ctx.rib.markStale(this.idx, [fam]);
  }

  /** EoRR (or its timer): the family's paths not re-sent since BoRR are purged; an EoRR without BoRR is ignored. */
  private onEoRR(fam: Family): void {
    const t = this.refreshing.get(fam);
    if (!t) return;
    clearTimeout(t);
    this.refreshing.delete(fam);
    const n = this.ctx.rib.sweepStale(this.idx, [fam]);
    if (n) this.ctx.log(`neighbor ${this.config.address}: ${n} paths not re-sent in its route refresh removed (${fam})`);
    this.ctx.scheduleFlush();
  }

  /** Session down: refreshes in progress end without a sweep (peerDown dealt with the paths). */
  private endPeerRefreshes(): void {
    for (const t of this.refreshing.values()) clearTimeout(t);
    this.refreshing.clear();
  }

  private onRouteRefresh(c: Connection, b: Uint8Array): void {
    const afi = (b[19] << 8) | b[20];
    const subtype = b[21];
    const fam = familyOf(afi, b[22]);
    const n = c.negotiated!;
    if (!fam || !n.families.includes(fam)) return; // RFC 2918 4: ignore unconfigured families
    if (subtype === 1 && n.enhancedRouteRefresh) return this.onBoRR(fam);
    if (subtype === 2 && n.enhancedRouteRefresh) return this.onEoRR(fam);
    if (subtype !== 0) return; // RFC 7313 5: unknown subtypes (and BoRR/EoRR without the capability) are ignored
    if (n.enhancedRouteRefresh) {
      for (const f of n.families) this.send(c, routeRefresh(...FAMILY_CODES[f], 1), "route_refresh");
      this.pendingEoRR = [...n.families];
    }
    this.ctx.rib.refresh(this.idx);
    this.ctx.scheduleFlush();
  }

  /**
   * BFD for this neighbour changed state. Up -> Down ends every connection at once
   * with Cease/BFD Down (6/10, RFC 9384), as FRR does; a Down the peer announced with
   * AdminDown does not (RFC 5882 3.2). BFD coming Up starts a connection attempt at
   * once; otherwise the usual timers retry.
   */
  onBfdChange(change: StateChange): void {
    if (change.from === BfdState.Up && change.to === BfdState.Down && !change.remoteAdminDown) {
      const reason = `BFD down (${diagName(change.diag)})`;
      if (this.conns.size) this.ctx.log(`neighbor ${this.config.address}: ${reason}: closing the session`);
      for (const c of [...this.conns]) this.fail(c, 6, 10, reason);
      return;
    }
    if (change.to === BfdState.Up && !this.session && !this.conns.size && !this.stopped) {
      this.idleUntil = 0;
      this.scheduleConnect(0);
    }
  }

  /** Asks the peer to re-send its routes (RFC 2918). */
  requestRefresh(): boolean {
    const c = this.session;
    if (!c || !c.negotiated!.routeRefresh) return false;
    for (const f of c.negotiated!.families) this.send(c, routeRefresh(...FAMILY_CODES[f]), "route_refresh");
    return true;
  }

  private receivedNotification(c: Connection, bytes: Uint8Array): void {
    const m = decodeOne(bytes);
    this.lastNotificationReceived = { code: bytes[19], subcode: bytes[20], data: Buffer.from(bytes.subarray(21)).toString("hex"), at: new Date().toISOString() };
    this.lastError = `received NOTIFICATION ${bytes[19]}/${bytes[20]}${m.subcodeName ? ` (${m.codeName}: ${m.subcodeName})` : ""}${m.communication ? `: ${m.communication}` : ""}`;
    this.ctx.log(`neighbor ${this.config.address}: received NOTIFICATION ${describeNotification(bytes[19], bytes[20], m.communication)}`);
    this.closeConnection(c, this.lastError, true);
  }

  // ---- output (called by the speaker after a burst) ----

  /** Writes pending UPDATEs until the socket's buffer is full; then reading pauses until it drains. */
  exportPending(): number {
    const c = this.session;
    if (!c || c.closed || c.congested) return 0;
    let bytes = 0;
    for (;;) {
      const chunk = this.ctx.rib.exportChunk(this.idx);
      if (!chunk) break;
      bytes += chunk.length;
      if (!c.write(chunk)) {
        c.congested = true;
        c.socket.pause();
        // Two speakers both waiting for the other to read would wait forever: reading resumes
        // after a while even without a drain (export stays paused; the core holds the changes).
        const unstick = setTimeout(() => {
          if (!c.closed && c.congested) c.socket.resume();
        }, 1000);
        c.socket.once("drain", () => {
          clearTimeout(unstick);
          c.congested = false;
          if (!c.closed) c.socket.resume();
          this.ctx.scheduleFlush();
        });
        return bytes;
      }
    }
    if (this.pendingEoRR.length) {
      for (const f of this.pendingEoRR) this.send(c, routeRefresh(...FAMILY_CODES[f], 2), "route_refresh");
      this.pendingEoRR = [];
    }
    return bytes;
  }

  // ---- errors and closing ----

  /** Sends a NOTIFICATION and closes the connection (RFC 4271 6). */
  fail(c: Connection, code: number, subcode: number, reason: string, data?: Uint8Array): void {
    if (c.closed) return;
    if (c.state === "Connect") {
      // TCP not up yet: nothing to notify.
      this.closeConnection(c, reason, false);
      return;
    }
    this.lastError = `${reason} (sent NOTIFICATION ${code}/${subcode})`;
    this.lastNotificationSent = { code, subcode, data: data ? Buffer.from(data).toString("hex") : "", at: new Date().toISOString() };
    this.send(c, notification(code, subcode, data), "notification");
    this.ctx.log(`neighbor ${this.config.address}: sent NOTIFICATION ${describeNotification(code, subcode)}: ${reason}`);
    this.closeConnection(c, this.lastError, true);
  }

  /**
   * Ends a connection. For the Established one: the peer's routes are
   * withdrawn, or kept stale when the peer does graceful restart and the
   * session ended without a NOTIFICATION (RFC 4724 4.2).
   */
  private closeConnection(c: Connection, reason: string, notified: boolean): void {
    if (c.closed) return;
    c.closed = true;
    c.stopTimers();
    this.conns.delete(c);
    if (c.outgoing && c.state === "Connect") this.connecting = false;
    c.socket.end();
    setTimeout(() => c.socket.destroy(), 500).unref?.();
    if (this.session === c) {
      this.session = undefined;
      this.endPeerRefreshes();
      const gr = c.negotiated?.gracefulRestart;
      const keep = !notified && !this.stopped && gr;
      const grFamilies = keep ? gr!.families.map((f) => f.family).filter((f) => c.negotiated!.families.includes(f)) : [];
      if (grFamilies.length) {
        this.ctx.rib.peerDown(this.idx, { keepStale: true });
        const others = (["ipv4-unicast", "ipv6-unicast"] as Family[]).filter((f) => !grFamilies.includes(f));
        if (others.length) this.ctx.rib.sweepStale(this.idx, others);
        for (const f of grFamilies) this.staleFamilies.add(f);
        if (this.staleTimer) clearTimeout(this.staleTimer);
        this.staleTimer = setTimeout(() => this.sweep([...this.staleFamilies]), Math.max(1, gr!.restartTime) * 1000);
        this.ctx.log(`neighbor ${this.config.address}: down (${reason || "connection closed"}); keeping its routes stale for ${gr!.restartTime} s (graceful restart)`);
      } else {
        this.ctx.rib.peerDown(this.idx);
        if (this.staleFamilies.size) this.sweep([...this.staleFamilies]);
        this.ctx.log(`neighbor ${this.config.address}: down (${reason || "connection closed"})`);
      }
      if (reason) this.lastError = reason;
      else this.lastError ||= "connection closed by the peer";
      this.ctx.onSessionChange?.(this, false, this.lastError);
      // Sessions that flap quickly back off; one that lasted resets the idle hold.
      if (Date.now() - this.establishedAt > 30_000) this.idleHold = this.timings.idleHoldMin;
      this.ctx.scheduleFlush();
    }
    if (this.stopped || this.session || this.conns.size) return;
    const hold = notified ? this.idleHold : Math.min(this.idleHold, this.connectRetry);
    if (notified) this.idleHold = Math.min(this.idleHold * 2, this.timings.idleHoldMax);
    this.idleUntil = Date.now() + hold * 1000;
    this.scheduleConnect(c.outgoing && !c.peerOpen && !notified ? this.connectRetry : hold);
  }
}

function u16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

function ipv4Number(s: string): number {
  return s.split(".").reduce((a, o) => a * 256 + Number(o), 0);
}

/** "::ffff:192.0.2.1" -> "192.0.2.1". */
export function normalizeAddress(a: string): string {
  return a.startsWith("::ffff:") && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

/** A global address of `family` on the interface that holds `address` (link-local IPv6 never). */
function siblingAddress(address: string, family: "IPv4" | "IPv6"): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    if (!addrs?.some((a) => normalizeAddress(a.address) === address)) continue;
    const found = addrs.find((a) => a.family === family && !a.address.toLowerCase().startsWith("fe80:"));
    if (found) return found.address;
  }
  return undefined;
}
