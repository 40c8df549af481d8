// The BGP speaker: owns the core's RIB, the listening sockets, the
// neighbours and the FIB writer, and runs the work after each burst of input
// (export to every Established neighbour, Loc-RIB changes to the FIB).
// `sart speaker` and the agent both embed it.
import { execFile, spawn } from "node:child_process";
import * as net from "node:net";
import { nodeCore } from "../core/node.ts";
import type { Core } from "../core/wasm.ts";
import { type OriginatedRoute, Rib } from "../core/rib.ts";
import { FibWriter, SART_RT_PROTO, type FibRoute } from "../fib/fib.ts";
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
  log?: (line: string) => void;
  /** Called when a neighbour's session comes up or goes down (e.g. for BGPPeer status). */
  onSessionChange?: (address: string, up: boolean, reason: string) => void;
  /** The core to hold this speaker's RIB (default: the process-wide one; the RIB is per core). */
  core?: Core;
}

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
  readonly restartTime: number;
  readonly startedAt = Date.now();
  private servers: net.Server[] = [];
  private flushQueued = false;
  private restartPending: boolean;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly timings: Timings;
  private readonly logLine: (line: string) => void;
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
    if (config.fib.enabled) this.fib = new FibWriter({ table: config.fib.table, netns: opts.fibNetns, log: (l) => this.log(l) });
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
    const nb = new Neighbor(this, cfg, this.timings);
    this.neighbors.set(cfg.address, nb);
    nb.start();
    return nb;
  }

  async removeNeighbor(address: string): Promise<void> {
    const nb = this.neighbors.get(address);
    if (!nb) throw new SpeakerError(404, `no neighbor ${address}`);
    this.neighbors.delete(address);
    await nb.stop(3, "neighbor removed (peer de-configured)");
    nb.remove();
  }

  // ---- originated routes ----

  /** Originates a route, or replaces ours for the prefix (peers get the new attributes); SpeakerError 400 names the bad field. */
  originate(r: OriginatedRoute): void {
    try {
      this.rib.originate(r);
    } catch (e) {
      throw new SpeakerError(400, (e as Error).message);
    }
    this.originated.set(r.prefix, r);
    this.scheduleFlush();
  }

  withdraw(prefix: string): void {
    let found: boolean;
    try {
      found = this.rib.withdrawLocal(prefix);
    } catch (e) {
      throw new SpeakerError(400, (e as Error).message);
    }
    this.originated.delete(prefix);
    if (!found) throw new SpeakerError(404, `no originated route ${prefix}`);
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

  onEndOfRib(): void {
    if (!this.restartPending) return;
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
