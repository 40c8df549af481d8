// The agent's CNI server: sart-cni's calls arrive as JSON lines on a unix socket (mode 0600)
// and are answered here. ADD picks the pools (pool-choice.ts), takes addresses from the
// node's blocks (node-ipam.ts), writes the attachment to the allocation log
// (allocation-log.ts) and only then builds the pod's network (podnet.ts); DEL undoes the
// network first and forgets the attachment last. So after a kill -9 at any point the log
// holds every address a container may be using, and start() rebuilds from it (and from the
// host's veths, whose aliases name their holders) before the socket opens.
import { chmodSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { PrometheusText } from "../kube/health-server.ts";
import { normalizeAddress } from "../core/ipam.ts";
import type { Informer, Store } from "../kube/store.ts";
import type { AddressBlock, AddressPool, Namespace, Pod } from "../kube/types.ts";
import { AllocationLog, attachmentKey, type Attachment } from "./allocation-log.ts";
import { CallLocks } from "./locks.ts";
import { NodeIpam, type Logger } from "./node-ipam.ts";
import { PodNetwork, vethName } from "./podnet.ts";
import { choosePools, namedPools } from "./pool-choice.ts";
import { CniError, Code, type ErrorBody, type WireRequest, type WireResponse } from "./protocol.ts";
import { readRequest, type AttachRequest } from "./request.ts";
import { addResult, resultAddresses } from "./result.ts";

export interface CniServerOptions {
  store: Store;
  /** This node's name: its pod AddressBlocks carry it in addressblock.sart.terassyi.net/node. */
  node: string;
  socketPath: string;
  /** Where the allocation log lives (the agent's --state-dir). */
  stateDir: string;
  /** kubernetes: pool annotations of Pods and Namespaces count; standalone: only the config and CNI_ARGS. */
  mode: "kubernetes" | "standalone";
  /** The node's addresses: the pods' gateways (169.254.1.1 and fe80::1 stand in for one the node lacks). */
  hostAddresses: { ipv4?: string; ipv6?: string };
  log: Logger;
  /** Pod interface MTU when the config gives none. Default 1500. */
  mtu?: number;
  /** Table of the per-pod host routes. Default 120 (the original's). */
  podTable?: number;
  /** Priority of the `ip rule` that looks the pod table up. Default 2000. */
  rulePriority?: number;
  /** How long a pod block stays empty before it goes back to its pool. Default 60 s. */
  blockReleaseDelayMs?: number;
}

const COMMANDS = ["ADD", "DEL", "CHECK", "GC", "STATUS"] as const;

export class CniServer {
  private readonly pools: Informer<AddressPool>;
  private readonly blocks: Informer<AddressBlock>;
  private readonly pods?: Informer<Pod>;
  private readonly namespaces?: Informer<Namespace>;
  private readonly ipam: NodeIpam;
  private readonly net: PodNetwork;
  private readonly locks = new CallLocks();
  private alloc?: AllocationLog;
  private server?: Server;
  private readonly connections = new Set<Socket>();
  private isReady = false;
  private inflight = 0;
  private readonly calls = new Map<string, { count: number; seconds: number }>();
  private readonly recovered = { fromLog: 0, fromHost: 0, staleVeths: 0 };

  constructor(private readonly o: CniServerOptions) {
    const { store } = o;
    this.pools = store.informer<AddressPool>("AddressPool");
    this.blocks = store.informer<AddressBlock>("AddressBlock");
    if (o.mode === "kubernetes") {
      this.pods = store.informer<Pod>("Pod", { fieldSelector: `spec.nodeName=${o.node}` });
      this.namespaces = store.informer<Namespace>("Namespace");
    }
    this.ipam = new NodeIpam({ store, node: o.node, pools: this.pools, blocks: this.blocks, releaseDelayMs: o.blockReleaseDelayMs ?? 60_000, log: o.log });
    this.net = new PodNetwork({ table: o.podTable ?? 120, rulePriority: o.rulePriority ?? 2000, hostAddresses: o.hostAddresses });
  }

  /** Rebuilds the allocations (log, informers, host veths), then listens. */
  async start(): Promise<void> {
    this.alloc = AllocationLog.open(this.o.stateDir, { log: (m) => this.o.log("warn", m) });
    await Promise.all([this.pools, this.blocks, this.pods, this.namespaces].map((i) => i?.start()));
    this.ipam.syncBlocks();
    await this.recover(this.alloc);
    if (this.alloc.size) await this.net.ensureRouting(); // pods from before the restart need their routes
    await this.listen();
    this.isReady = true;
    this.o.log("info", `CNI server on ${this.o.socketPath}: ${this.alloc.size} attachments (${this.recovered.fromHost} recovered from host veths), pod networks through ${this.net.noNetlink ? `ip (${this.net.noNetlink})` : "rtnetlink"}`);
  }

  ready(): boolean {
    return this.isReady;
  }

  /** Stops listening, lets the calls in flight finish (up to `graceMs`), then releases everything. */
  async stop(graceMs = 5000): Promise<void> {
    this.isReady = false;
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    rmSync(this.o.socketPath, { force: true });
    const deadline = Date.now() + graceMs;
    while (this.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.connections) c.destroy();
    await closed;
    this.ipam.stop();
    this.net.close();
    for (const i of [this.pools, this.blocks, this.pods, this.namespaces]) i?.stop();
    await this.alloc?.close();
  }

  metricsText(): string {
    const e = new PrometheusText();
    e.metric("sart_cni_ready", "gauge", "1 once the CNI server has rebuilt its allocations and listens", [[{}, this.isReady ? 1 : 0]]);
    e.metric("sart_cni_requests_total", "counter", "CNI calls answered, by command and code (0: success)",
      [...this.calls].map(([k, v]) => {
        const [command, code] = k.split(" ");
        return [{ command: command!, code: code! }, v.count];
      }));
    e.metric("sart_cni_request_seconds_total", "counter", "Seconds spent answering CNI calls, by command and code",
      [...this.calls].map(([k, v]) => {
        const [command, code] = k.split(" ");
        return [{ command: command!, code: code! }, v.seconds];
      }));
    e.metric("sart_cni_attachments", "gauge", "Container interfaces holding pod addresses on this node", [[{}, this.alloc?.size ?? 0]]);
    const stats = this.ipam.blockStats();
    e.metric("sart_cni_block_addresses_allocated", "gauge", "Pod addresses allocated in each of this node's AddressBlocks", stats.map((b) => [{ block: b.name, pool: b.pool, cidr: b.cidr }, b.used]));
    e.metric("sart_cni_block_addresses", "gauge", "Addresses in each of this node's AddressBlocks", stats.map((b) => [{ block: b.name, pool: b.pool, cidr: b.cidr }, b.size]));
    e.metric("sart_cni_block_requests_total", "counter", "BlockRequests created for this node", [[{}, this.ipam.counters.blockRequests]]);
    e.metric("sart_cni_blocks_released_total", "counter", "Empty AddressBlocks given back to their pools", [[{}, this.ipam.counters.blocksReleased]]);
    e.metric("sart_cni_log_writes_total", "counter", "Allocation log writes (each one fdatasync, shared by concurrent calls)", [[{}, this.alloc?.counters.writes ?? 0]]);
    e.metric("sart_cni_log_compactions_total", "counter", "Allocation log compactions", [[{}, this.alloc?.counters.compactions ?? 0]]);
    e.metric("sart_cni_recovered_attachments", "gauge", "Attachments rebuilt at start, by source", [
      [{ source: "log" }, this.recovered.fromLog],
      [{ source: "host" }, this.recovered.fromHost],
    ]);
    e.metric("sart_cni_stale_veths_removed", "gauge", "Host veths of ADDs that never finished, removed at start", [[{}, this.recovered.staleVeths]]);
    return e.text();
  }

  /**
   * Every address the log names is held again; a veth with our alias that the log does not
   * know (its state dir was lost) is adopted from its routes, and one with no routes (an ADD
   * that never finished) is removed.
   */
  private async recover(alloc: AllocationLog): Promise<void> {
    for (const a of alloc.all()) {
      for (const { address } of a.addresses) this.ipam.hold(address, attachmentKey(a.containerId, a.ifname));
      this.recovered.fromLog++;
    }
    for (const v of await this.net.list()) {
      const known = alloc.get(v.containerId, v.ifname);
      if (known) {
        if (known.veth !== v.veth) this.o.log("warn", `host veth ${v.veth} names ${v.containerId}/${v.ifname}, which the log has on ${known.veth}`);
        continue;
      }
      if (!v.addresses.length) {
        this.o.log("info", `removing ${v.veth} of ${v.containerId}/${v.ifname}: an ADD that never finished`);
        await this.net.del(v.veth);
        this.recovered.staleVeths++;
        continue;
      }
      const key = attachmentKey(v.containerId, v.ifname);
      const addresses = v.addresses.map((address) => ({ address, pool: this.ipam.poolContaining(address)?.name ?? v.pools[0] ?? "" }));
      for (const { address } of addresses) this.ipam.hold(address, key);
      await alloc.add({ containerId: v.containerId, ifname: v.ifname, network: "", addresses, veth: v.veth }).synced;
      this.recovered.fromHost++;
      this.o.log("warn", `adopted ${key} (${v.addresses.join(", ")}) from host veth ${v.veth}: the allocation log did not have it`);
    }
  }

  /** Listens on a temporary name, sets mode 0600, then renames: the socket is never open to others. */
  private async listen(): Promise<void> {
    const path = this.o.socketPath;
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const tmp = `${path}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    const server = createServer((conn) => this.serve(conn));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(tmp, () => resolve());
    });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
    this.server = server;
  }

  private serve(conn: Socket): void {
    this.connections.add(conn);
    let buf = "";
    let answered = false;
    conn.setEncoding("utf8");
    conn.on("data", (d: string) => {
      if (answered) return;
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) {
        if (buf.length > 1 << 20) {
          answered = true;
          conn.end(`${JSON.stringify({ error: new CniError(Code.DecodingFailure, "request larger than 1 MiB").body() })}\n`);
        }
        return;
      }
      answered = true;
      void this.answer(buf.slice(0, nl)).then((resp) => {
        if (!conn.destroyed) conn.end(`${JSON.stringify(resp)}\n`);
      });
    });
    conn.on("error", () => {});
    conn.on("close", () => this.connections.delete(conn));
  }

  private async answer(line: string): Promise<WireResponse> {
    const started = performance.now();
    let command = "?";
    let code = 0;
    this.inflight++;
    try {
      const wire = JSON.parse(line) as WireRequest;
      if (!wire || typeof wire !== "object" || !wire.env || typeof wire.config !== "object" || wire.config === null) {
        throw new CniError(Code.DecodingFailure, "request is not {env, config, deadline}");
      }
      command = String(wire.env.command);
      const req = readRequest(wire, this.o.mtu ?? 1500);
      const result = await this.dispatch(req);
      return result ? { result } : {};
    } catch (e) {
      const err = toCniError(e);
      code = err.code;
      if (err.code === Code.Internal) this.o.log("error", `CNI ${command}: ${err.details}`);
      return { error: err.body() as ErrorBody };
    } finally {
      this.inflight--;
      const key = `${(COMMANDS as readonly string[]).includes(command) ? command : "invalid"} ${code}`;
      const c = this.calls.get(key) ?? { count: 0, seconds: 0 };
      c.count++;
      c.seconds += (performance.now() - started) / 1000;
      this.calls.set(key, c);
    }
  }

  private dispatch(req: AttachRequest): Promise<Record<string, unknown> | undefined> {
    const key = attachmentKey(req.containerId, req.ifname);
    switch (req.command) {
      case "ADD":
        return this.locks.forKey(key, () => this.add(req));
      case "DEL":
        return this.locks.forKey(key, () => this.del(req));
      case "CHECK":
        return this.locks.forKey(key, () => this.check(req));
      case "GC":
        return this.locks.exclusive(() => this.gc(req));
      case "STATUS":
        return this.status();
    }
  }

  private async add(req: AttachRequest): Promise<Record<string, unknown>> {
    const alloc = this.alloc!;
    const key = attachmentKey(req.containerId, req.ifname);
    let a = alloc.get(req.containerId, req.ifname);
    let synced = Promise.resolve();
    if (a) {
      // ADD again without DEL (a retry): same addresses, network built afresh.
      await this.net.del(a.veth);
    } else {
      const wanted = choosePools(this.ipam, await namedPools(req, this.o.store, this.pods, this.namespaces), req.ips);
      const addresses: Attachment["addresses"] = [];
      try {
        for (const w of wanted) {
          const address = w.address ? this.ipam.allocateAddress(w.pool, w.address, key) : await this.ipam.allocate(w.pool, key, req.deadline);
          addresses.push({ address, pool: w.pool.name });
        }
        a = {
          containerId: req.containerId,
          ifname: req.ifname,
          network: req.network,
          addresses,
          veth: vethName(req.containerId, req.ifname),
          netns: req.netns,
          ...(req.pod ? { pod: `${req.pod.namespace}/${req.pod.name}` } : {}),
        };
        // In the log before the network is built; on disk before the runtime hears of success.
        synced = alloc.add(a).synced;
      } catch (e) {
        for (const { address } of addresses) this.ipam.release(address);
        throw e;
      }
    }
    const attachment = a;
    const addresses = attachment.addresses.map((x) => x.address);
    try {
      const { containerMac } = await this.net.add({
        veth: attachment.veth,
        containerId: req.containerId,
        ifname: req.ifname,
        netns: req.netns!,
        pools: [...new Set(attachment.addresses.map((x) => x.pool))],
        addresses,
        mtu: req.mtu,
      });
      await synced;
      return addResult({
        version: req.version,
        veth: attachment.veth,
        ifname: req.ifname,
        netns: req.netns!,
        containerMac,
        addresses,
        mtu: req.mtu,
        gateways: this.net.gateways,
        dns: req.dns,
        prevResult: req.prevResult,
      });
    } catch (e) {
      // Nothing stays: the network (net.add took down what it made; the sync may have failed after it), then the allocation.
      await this.net.del(attachment.veth).catch(() => {});
      await synced.catch(() => {});
      await this.forget(attachment);
      throw e;
    }
  }

  private async del(req: AttachRequest): Promise<undefined> {
    const a = this.alloc!.get(req.containerId, req.ifname);
    if (!a) {
      await this.net.del(vethName(req.containerId, req.ifname)); // nothing held; no veth left behind either
      return;
    }
    await this.net.del(a.veth);
    await this.forget(a);
  }

  /** Drops the attachment from the log (durably), then frees its addresses. */
  private async forget(a: Attachment): Promise<void> {
    await this.alloc!.remove(a.containerId, a.ifname);
    for (const { address } of a.addresses) this.ipam.release(address);
  }

  private async check(req: AttachRequest): Promise<undefined> {
    const key = attachmentKey(req.containerId, req.ifname);
    const a = this.alloc!.get(req.containerId, req.ifname);
    if (!a) throw new CniError(Code.CheckFailed, `${key}: sart holds no addresses for it`);
    const held = a.addresses.map((x) => x.address);
    if (req.prevResult) {
      const expected = resultAddresses(req.prevResult, req.ifname, req.netns);
      if (!expected) throw new CniError(Code.CheckFailed, `${key}: prevResult has no interface ${req.ifname}`);
      const norm = expected.map((x) => normalizeAddress(x)).sort();
      if (norm.join(",") !== [...held].sort().join(",")) {
        throw new CniError(Code.CheckFailed, `${key}: prevResult gives ${req.ifname} ${norm.join(", ") || "no address"}, sart holds ${held.join(", ")}`);
      }
    }
    for (const addr of held) {
      const holder = this.ipam.holderOf(addr);
      if (holder !== key) throw new CniError(Code.CheckFailed, `${key}: address ${addr} is held by ${holder ?? "nobody"}`);
    }
    await this.net.check({ veth: a.veth, containerId: req.containerId, ifname: req.ifname, netns: req.netns!, pools: [], addresses: held, mtu: req.mtu });
    return undefined;
  }

  /** Releases every attachment of this network the runtime no longer lists; keeps going past failures. */
  private async gc(req: AttachRequest): Promise<undefined> {
    const valid = new Set((req.validAttachments ?? []).map((v) => attachmentKey(v.containerId, v.ifname)));
    const failures: string[] = [];
    for (const a of this.alloc!.all()) {
      // Attachments adopted from host veths have no known network: only their DEL releases them.
      if (a.network !== req.network) continue;
      if (valid.has(attachmentKey(a.containerId, a.ifname))) continue;
      try {
        await this.net.del(a.veth);
        await this.forget(a);
        this.o.log("info", `GC: released ${a.containerId}/${a.ifname} (${a.addresses.map((x) => x.address).join(", ")}) of network ${req.network}`);
      } catch (e) {
        failures.push(`${a.containerId}/${a.ifname}: ${(e as Error).message}`);
      }
    }
    if (failures.length) throw new CniError(Code.Internal, `GC of network ${req.network}: ${failures.join("; ")}`);
    return undefined;
  }

  /** 50 when ADD cannot succeed (the auto-assign pools are full), 51 when pods lack their routes. */
  private async status(): Promise<undefined> {
    if (!this.isReady) throw new CniError(Code.NotAvailable, "the CNI server is still rebuilding its allocations");
    if (this.alloc!.size && !(await this.net.ruleInstalled())) {
      throw new CniError(Code.LimitedConnectivity, "the ip rule to the pod route table is missing: pods on this node are unreachable");
    }
    const auto = this.ipam.autoAssignPools();
    const full = auto.filter((p) => !this.ipam.hasRoom(p));
    if (auto.length && full.length === auto.length) {
      throw new CniError(Code.NotAvailable, `auto-assign pool${full.length > 1 ? "s" : ""} ${full.map((p) => `${p.name} (${p.cidr.text})`).join(", ")} exhausted`);
    }
    return undefined;
  }

}

function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof SyntaxError) return new CniError(Code.DecodingFailure, `request is not JSON: ${e.message}`);
  return new CniError(Code.Internal, (e as Error)?.message ?? String(e));
}
