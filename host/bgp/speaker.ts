// The BGP speaker: owns the core's RIB, the listening sockets, the
// neighbours and the FIB writer, and runs the work after each burst of input
// (export to every Established neighbour, Loc-RIB changes to the FIB).
// `sart speaker` and the agent both embed it.
import { execFile, spawn } from "node:child_process";
import * as net from "node:net";
import { BfdManager, type BfdManagerOptions } from "../bfd/manager.ts";
import { STATE_NAMES, diagName } from "../bfd/packet.ts";
import type { BfdProfile } from "../bfd/session.ts";
import { nodeCore } from "../core/node.ts";
import type { Core } from "../core/wasm.ts";
import { type OriginatedRoute, Rib } from "../core/rib.ts";
import { FibWriter, SART_RT_PROTO, type FibRoute } from "../fib/fib.ts";
import { setListenerMd5 } from "../sockopt/tcp.ts";
import type { Family, NeighborConfig, SpeakerConfig } from "./config.ts";
import { DEFAULT_TIMINGS, Neighbor, READ_SIZE, type SpeakerContext, type Timings, normalizeAddress } from "./neighbor.ts";

export interface SpeakerOptions {
  timings?: Partial<Timings>;
  /**
   * This start is a graceful restart (RFC 4724): R and F bits in our OPENs; export to
   * peers doing graceful restart and FIB changes wait (kernel routes kept) until the peers' End-of-RIB.
   */
  restarting?: boolean;
  /** Our restart time advertised in the graceful restart capability (seconds); also bounds the wait for End-of-RIB. */
  restartTime?: number;
  /** Run `ip` for the FIB in this network namespace. */
  fibNetns?: string;
  /** Coalesce kernel route changes over this long (ms; FibWriter's default 10): a route learned and then superseded within it never reaches the kernel. */
  fibBatchDelayMs?: number;
  log?: (line: string) => void;
  /** Called when a neighbour's session comes up or goes down (e.g. for BGPPeer status). */
  onSessionChange?: (address: string, up: boolean, reason: string) => void;
  /** The core to hold this speaker's RIB (default: the process-wide one; the RIB is per core). */
  core?: Core;
  /** Called after each burst's export and FIB work (e.g. to see which UPDATEs went out: `rib.advertisedTo`). */
  onFlush?: () => void;
  /** BFD ports (default 3784 both; tests running two speakers in one namespace change them). */
  bfd?: Pick<BfdManagerOptions, "port" | "peerPort">;
}

/** Export tags in the core are a 32-bit mask: this many neighbours can be targets of `originate(r, to)`. */
export const TAGGED_NEIGHBORS = 32;

/** An API-level error with its HTTP status. */
export class SpeakerError extends Error {
  constructor(readonly status: 400 | 404 | 409, message: string) {
    super(message);
  }
}

export class Speaker implements SpeakerContext {
  readonly rib: Rib;
  readonly neighbors = new Map<string, Neighbor>();
  readonly originated = new Map<string, OriginatedRoute>();
  readonly fib: FibWriter | undefined;
  /** BFD sessions of the neighbours that ask for them (made with the first one). */
  bfd: BfdManager | undefined;
  readonly restartTime: number;
  readonly startedAt = Date.now();
  private servers: net.Server[] = [];
  private flushQueued = false;
  private restartPending: boolean;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly timings: Timings;
  private readonly logLine: (line: string) => void;
  /** Reasons the end of a graceful restart still waits for besides End-of-RIB (holdRestart). */
  private readonly restartHolds = new Set<object>();
  /** Export tag bit of each neighbour, and the neighbours each targeted route goes to (originate(r, to)). */
  private readonly tagBits = new Map<string, number>();
  private readonly routeTargets = new Map<string, string[]>();
  /** The address and port actually listened on (port 0 in the config = not listening). */
  listening: { address: string; port: number } | undefined;
  exportBytes = 0;

  constructor(readonly config: SpeakerConfig, private readonly opts: SpeakerOptions = {}) {
    this.timings = { ...DEFAULT_TIMINGS, ...opts.timings };
    this.restartTime = opts.restartTime ?? 120;
    this.restartPending = !!opts.restarting;
    this.logLine = opts.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
    this.rib = new Rib(opts.core ?? nodeCore());
    this.rib.setGlobal({ asn: config.asn, routerId: config.routerId, multipath: config.multipath });
    this.rib.inputView(READ_SIZE); // sized once for a whole socket read: feeds never reallocate it
    if (config.fib.enabled) this.fib = new FibWriter({ table: config.fib.table, netns: opts.fibNetns, batchDelayMs: opts.fibBatchDelayMs, log: (l) => this.log(l) });
  }

  get asn(): number {
    return this.config.asn;
  }

  get routerId(): string {
    return this.config.routerId;
  }

  restarting(): boolean {
    return this.restartPending;
  }

  sourceAddressFor(peer: string): string | undefined {
    const a = this.config.listen.address;
    if (a === "0.0.0.0" || a === "::" || net.isIPv6(a) !== net.isIPv6(peer)) return undefined;
    return a;
  }

  log(line: string): void {
    this.logLine(line);
  }

  async start(): Promise<void> {
    if (this.fib) {
      // After a graceful restart the kernel keeps forwarding on the old routes until the peers are back.
      if (!this.restartPending) await this.fib.start();
      this.rib.enableChanges(true);
    }
    for (const r of this.config.routes) this.originate(r);
    if (this.config.listen.port !== 0) await this.listen(this.config.listen.address, this.config.listen.port);
    for (const n of this.config.neighbors) this.addNeighbor(n);
    if (this.restartPending) {
      this.restartTimer = setTimeout(() => void this.finishRestart("restart time over"), this.restartTime * 1000);
    }
  }

  private listen(address: string, port: number): Promise<void> {
    const server = net.createServer((socket) => this.onIncoming(socket));
    return new Promise((resolve, reject) => {
      server.once("error", (err) => reject(new Error(`listen.address ${address} port ${port}: ${err.message}`)));
      server.listen({ host: address, port }, () => {
        const a = server.address() as net.AddressInfo;
        this.listening = { address: a.address, port: a.port };
        this.servers.push(server);
        server.on("error", (err) => this.log(`listener ${address}:${port}: ${err.message}`));
        resolve();
      });
    });
  }

  private onIncoming(socket: net.Socket): void {
    const remote = normalizeAddress(socket.remoteAddress ?? "");
    const nb = this.neighbors.get(remote);
    if (!nb) {
      this.log(`connection from ${remote}: not a configured neighbor, closed`);
      socket.destroy();
      return;
    }
    nb.accept(socket);
  }

  // ---- neighbours ----

  addNeighbor(cfg: NeighborConfig): Neighbor {
    if (this.neighbors.has(cfg.address)) throw new SpeakerError(409, `neighbor ${cfg.address} already exists`);
    if (cfg.bfd) {
      try {
        this.bfdManager().add(cfg.address, cfg.bfd, cfg.localAddress ?? this.sourceAddressFor(cfg.address));
      } catch (e) {
        throw new SpeakerError(409, `neighbor ${cfg.address}: ${(e as Error).message}`);
      }
    }
    // Incoming connections from a peer with a password are signed too: the key goes on every listener.
    if (cfg.password) {
      try {
        this.setListenerKeys(cfg.address, cfg.password);
      } catch (e) {
        this.bfd?.remove(cfg.address);
        throw e;
      }
    }
    const nb = new Neighbor(this, cfg, this.timings);
    this.neighbors.set(cfg.address, nb);
    this.assignTagBit(nb);
    nb.start();
    return nb;
  }

  async removeNeighbor(address: string): Promise<void> {
    const nb = this.neighbors.get(address);
    if (!nb) throw new SpeakerError(404, `no neighbor ${address}`);
    this.neighbors.delete(address);
    await nb.stop(3, "neighbor removed (peer de-configured)");
    this.bfd?.remove(address);
    if (nb.config.password) this.setListenerKeys(address, "");
    nb.remove();
    if (this.tagBits.delete(address)) this.reinstallTargeting(address);
  }

  /**
   * A new configuration for an existing neighbour (same address). Changes an OPEN
   * carries (ASN, hold time, families, port, addresses, passive) restart the session
   * with Cease 6/6 (other configuration change), and so does a new password or TTL;
   * the others (keepalive, export, maxPrefix, connect retry) apply to the running
   * session, and BFD changes go through setBfd (BGP untouched). Returns what was done.
   */
  async reconfigureNeighbor(cfg: NeighborConfig): Promise<"unchanged" | "updated" | "reset"> {
    const nb = this.neighbors.get(cfg.address);
    if (!nb) throw new SpeakerError(404, `no neighbor ${cfg.address}`);
    const old = nb.config;
    const same = (k: keyof NeighborConfig) => JSON.stringify(old[k]) === JSON.stringify(cfg[k]);
    const keys = [...new Set([...Object.keys(old), ...Object.keys(cfg)])] as (keyof NeighborConfig)[];
    const changed = keys.filter((k) => !same(k));
    if (!changed.length) return "unchanged";
    // BFD from a new source address is a new BFD session.
    if (!same("localAddress") && this.bfd?.get(cfg.address)) this.bfd.remove(cfg.address);
    if (!same("bfd") || !same("localAddress")) this.setBfd(cfg.address, cfg.bfd);
    if (!same("password")) this.setListenerKeys(cfg.address, cfg.password ?? "");
    const live: (keyof NeighborConfig)[] = ["keepaliveTime", "export", "maxPrefix", "connectRetryTime", "bfd"];
    if (changed.every((k) => live.includes(k))) {
      nb.reconfigure(cfg);
      this.scheduleFlush();
      return "updated";
    }
    await nb.stop(6, `configuration changed (${changed.join(", ")})`);
    nb.reconfigure(cfg);
    nb.start();
    return "reset";
  }

  private setListenerKeys(peer: string, key: string): void {
    try {
      for (const server of this.servers) setListenerMd5(server, peer, key);
    } catch (e) {
      throw new SpeakerError(400, `neighbor ${peer}: TCP MD5 key on the listener: ${(e as Error).message}`);
    }
  }

  /**
   * Starts, changes or ends a neighbour's BFD session without touching its BGP
   * session: new timers reach the peer by a Poll Sequence (RFC 5880 6.8.3).
   */
  setBfd(address: string, profile: BfdProfile | undefined): void {
    const nb = this.neighbors.get(address);
    if (!nb) throw new SpeakerError(404, `no neighbor ${address}`);
    const session = this.bfd?.get(address);
    if (profile && session) session.reconfigure(profile);
    else if (profile) {
      try {
        this.bfdManager().add(address, profile, nb.config.localAddress ?? this.sourceAddressFor(address));
      } catch (e) {
        throw new SpeakerError(409, `neighbor ${address}: ${(e as Error).message}`);
      }
    } else if (session) this.bfd!.remove(address);
    nb.config = { ...nb.config, bfd: profile };
  }

  private bfdManager(): BfdManager {
    this.bfd ??= new BfdManager({
      ...this.opts.bfd,
      log: (line) => this.log(line),
      onChange: (s, change) => {
        this.log(`BFD ${s.peer}: ${STATE_NAMES[change.from]} -> ${STATE_NAMES[change.to]} (${diagName(change.diag)}${change.remoteAdminDown ? ", peer AdminDown" : ""})`);
        this.neighbors.get(s.peer)?.onBfdChange(change);
      },
    });
    return this.bfd;
  }

  // ---- originated routes ----

  /**
   * Originates a route, or replaces ours for the prefix (peers get the new attributes);
   * SpeakerError 400 names the bad field. `to` restricts it to these neighbours
   * (addresses; ones not configured yet get it once added); without it every neighbour gets it.
   */
  originate(r: OriginatedRoute, to?: string[]): void {
    try {
      this.install(r, to);
    } catch (e) {
      throw new SpeakerError(400, (e as Error).message);
    }
    this.originated.set(r.prefix, r);
    if (to) this.routeTargets.set(r.prefix, [...to]);
    else this.routeTargets.delete(r.prefix);
    this.scheduleFlush();
  }

  /** The route in the core, tagged for its neighbours; a route for neighbours none of which exists is not there at all. */
  private install(r: OriginatedRoute, to: string[] | undefined): void {
    let tags = 0;
    for (const a of to ?? []) {
      const bit = this.tagBits.get(a);
      if (bit !== undefined) tags |= 1 << bit;
    }
    if (to && !tags) {
      this.rib.withdrawLocal(r.prefix);
      return;
    }
    this.rib.originate({ ...r, tags: tags >>> 0 });
  }

  /** The neighbours a route originated with `originate(r, to)` goes to; undefined: every neighbour. */
  routeTargetsOf(prefix: string): readonly string[] | undefined {
    return this.routeTargets.get(prefix);
  }

  private assignTagBit(nb: Neighbor): void {
    const used = new Set(this.tagBits.values());
    let bit = 0;
    while (bit < TAGGED_NEIGHBORS && used.has(bit)) bit++;
    if (bit === TAGGED_NEIGHBORS) {
      this.log(`neighbor ${nb.config.address}: more than ${TAGGED_NEIGHBORS} neighbors; it gets only the routes originated for every neighbor`);
      return;
    }
    this.tagBits.set(nb.config.address, bit);
    this.rib.setPeerTags(nb.idx, (1 << bit) >>> 0);
    this.reinstallTargeting(nb.config.address);
  }

  /** Re-tags the routes that name this neighbour (it was added or removed). */
  private reinstallTargeting(address: string): void {
    let any = false;
    for (const [prefix, to] of this.routeTargets) {
      if (!to.includes(address)) continue;
      this.install(this.originated.get(prefix)!, to);
      any = true;
    }
    if (any) this.scheduleFlush();
  }

  withdraw(prefix: string): void {
    let found: boolean;
    try {
      found = this.rib.withdrawLocal(prefix);
    } catch (e) {
      throw new SpeakerError(400, (e as Error).message);
    }
    this.originated.delete(prefix);
    const targeted = this.routeTargets.delete(prefix);
    if (!found && !targeted) throw new SpeakerError(404, `no originated route ${prefix}`);
    this.scheduleFlush();
  }

  // ---- after each burst ----

  scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  private flush(): void {
    for (const nb of this.neighbors.values()) {
      if (nb.state === "Established" && !this.exportDeferred(nb)) this.exportBytes += nb.exportPending();
    }
    // Restarting: the kernel keeps the old routes; finishRestart installs the new selection.
    if (this.fib && !this.restartPending) this.drainToFib(this.fib);
    this.opts.onFlush?.();
  }

  private drainToFib(fib: FibWriter): void {
    const routes: FibRoute[] = [];
    let withdrawals = false;
    for (;;) {
      const changes = this.rib.drainChanges(4096);
      for (const c of changes) {
        const remove = c.withdrawn || c.local || c.nextHops.length === 0;
        withdrawals ||= remove;
        routes.push({ prefix: c.prefix, nextHops: remove ? [] : c.nextHops });
      }
      if (changes.length < 4096) break;
    }
    if (!routes.length) return;
    fib.apply(routes);
    if (withdrawals) void fib.flush();
  }

  onSessionChange(nb: Neighbor, up: boolean, reason: string): void {
    this.opts.onSessionChange?.(nb.config.address, up, reason);
  }

  // ---- graceful restart (restarting speaker) ----

  /**
   * RFC 4724 4.1: while restarting, a peer doing graceful restart gets our routes
   * only after every peer's End-of-RIB; one without it, or restarting itself
   * (its R bit: it must not wait for us), is served at once.
   */
  private exportDeferred(nb: Neighbor): boolean {
    const gr = nb.negotiated?.gracefulRestart;
    return this.restartPending && !!gr && !gr.restarting;
  }

  /**
   * While restarting, the end of the restart (our routes and End-of-RIB to the
   * peers) also waits until the returned function is called: e.g. an agent
   * re-originating its routes from its store. The restart time still bounds it.
   */
  holdRestart(): () => void {
    if (!this.restartPending) return () => {};
    const hold = {};
    this.restartHolds.add(hold);
    return () => {
      if (this.restartHolds.delete(hold)) this.onEndOfRib();
    };
  }

  onEndOfRib(): void {
    if (!this.restartPending || this.restartHolds.size) return;
    // Peers up without graceful restart may never send End-of-RIB: they are not waited for.
    const waiting = [...this.neighbors.values()].filter((nb) => {
      if (nb.state === "Established" && !nb.negotiated!.gracefulRestart) return false;
      return !(nb.negotiated?.families ?? nb.config.families).every((f) => nb.endOfRibReceived.has(f));
    });
    if (!waiting.length) void this.finishRestart("End-of-RIB from every neighbor");
  }

  /** Restart over: kernel routes of ours that the new Loc-RIB did not re-install are removed. */
  private async finishRestart(why: string): Promise<void> {
    if (!this.restartPending) return;
    this.restartPending = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.log(`graceful restart finished (${why})`);
    this.scheduleFlush(); // the deferred exports
    if (!this.fib) return;
    // Everything the Loc-RIB holds now must be in the kernel before we judge what is stale.
    this.drainToFib(this.fib);
    await this.fib.flush();
    const keep = new Set(this.fib.routes());
    const stale = (await kernelRoutes(this.config.fib.table, this.opts.fibNetns)).filter((p) => !keep.has(p));
    if (!stale.length) return;
    await removeKernelRoutes(stale, this.config.fib.table, this.opts.fibNetns);
    // A prefix learned again while we listed and deleted goes back in.
    const installed = new Set(this.fib.routes());
    const back = stale.filter((p) => installed.has(p)).map((prefix): FibRoute => {
      const paths = this.rib.lookup(prefix)?.paths.filter((x) => (x.best || x.multipath) && x.peer !== "local") ?? [];
      return { prefix, nextHops: paths.map((x) => x.nextHop) };
    }).filter((r) => r.nextHops.length);
    if (back.length) this.fib.apply(back);
  }

  // ---- shutdown ----

  /** Cease 6/2 to every peer, listeners closed, our kernel routes removed. */
  async stop(): Promise<void> {
    for (const s of this.servers) s.close();
    await Promise.all([...this.neighbors.values()].map((nb) => nb.stop(2, "administrative shutdown")));
    this.bfd?.close();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.fib) await this.fib.stop();
  }

  stats(): { families: Record<Family, number> } {
    const s = this.rib.stats();
    return { families: { "ipv4-unicast": s.ipv4Prefixes, "ipv6-unicast": s.ipv6Prefixes } };
  }
}

function ip(args: string[], netns?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("ip", [...(netns ? ["-n", netns] : []), ...args], { encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Prefixes of our protocol in the table (both families). */
async function kernelRoutes(table: number, netns?: string): Promise<string[]> {
  const out: string[] = [];
  for (const fam of ["-4", "-6"]) {
    const text = await ip([fam, "-j", "route", "show", "table", String(table), "proto", String(SART_RT_PROTO)], netns);
    for (const r of JSON.parse(text || "[]") as { dst: string }[]) {
      out.push(r.dst.includes("/") ? r.dst : `${r.dst}/${fam === "-4" ? 32 : 128}`);
    }
  }
  return out;
}

/** One `ip -batch` for all of them; a route already gone is not an error (-force goes on). */
function removeKernelRoutes(prefixes: string[], table: number, netns?: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn("ip", [...(netns ? ["-n", netns] : []), "-force", "-batch", "-"], { stdio: ["pipe", "ignore", "ignore"] });
    child.on("error", () => resolve());
    child.on("close", () => resolve());
    child.stdin.end(prefixes.map((p) => `route del ${p} table ${table} proto ${SART_RT_PROTO}`).join("\n") + "\n");
  });
}
