// The lab: sart on three nodes in network namespaces, with two routers and a client,
// in the shape of the original sart's e2e (kind cluster + containerlab). Reused by the
// agent's lab tests, the CNI tests, the demo and the LoadBalancer/BFD work; see
// tests/lab/README.md for the topology, the addresses and the API.
import { execFile } from "node:child_process";
import * as http from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeStore } from "../../host/kube/kube-store.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import type { Node } from "../../host/kube/types.ts";
import { kubeconfigYaml } from "../kube/apiserver/index.ts";
import { freePort, waitFor } from "../helpers/net.ts";
import { Netns, veth } from "../helpers/netns.ts";
import { type Daemon, removeDir, run, startDaemon, tempDir } from "../helpers/proc.ts";
import { ROOT, type Runtime, SART_BIN } from "../helpers/sart.ts";
import { MGMT, type NodePlan, ROUTERS, ROUTER_LINK, clientLink, nodeLink, nodePlan } from "./addressing.ts";
import { type Forwarder, forward } from "./forward.ts";
import { BirdRouter, FrrRouter, type LabRouter } from "./routers.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");

export interface LabOptions {
  mode: "kubernetes" | "standalone";
  /** Runtime of the sart processes (agents, controller). Default bun. */
  runtime?: Runtime;
  /** Runtime of the agents when it differs from the controller's (`runtime`). */
  agentRuntime?: Runtime;
  /** Default: FRR in Kubernetes mode, BIRD in standalone mode. */
  routers?: "frr" | "bird";
  /** Default 3. */
  nodes?: number;
  /** Extra flags for every agent (e.g. ["--fib-table", "100"]). */
  agentArgs?: string[];
  /** Standalone: the files of each node's config directory (name -> YAML), written before its agent starts. */
  standaloneConfig?: (node: NodePlan) => Record<string, string>;
  /** Kubernetes mode: labels of every Node object besides the ASN (default the samples' `bgp: a`, `bgp2: c`). */
  nodeLabels?: Record<string, string>;
  /** The agents' command instead of build/bin/sart (e.g. a profiler: ["node", "--cpu-prof", "build/node/sart/main.js"]). */
  agentCommand?: string[];
  /** Do not start the agents (start them with node.startAgent()). */
  noAgents?: boolean;
  /**
   * FRR routers only: they also install their best routes in their kernels (zebra) and
   * announce their links to the client, so traffic flows client -> router -> node -> pod
   * and back (the demo). Default off: the routes stay in bgpd.
   */
  forwarding?: boolean;
  /** Prefix of the lab's network namespace names (default "lab"), e.g. to find them all. */
  netnsPrefix?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** A GET over a unix socket (agent API and health), JSON or text. */
export function unixGet(socket: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socket, path, headers: { host: "localhost" }, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET unix:${socket}${path}: timed out`)));
    req.on("error", reject);
  });
}

export class LabNode {
  agent: Daemon | undefined;
  /** How many times its agent was started (logs are per start). */
  starts = 0;

  constructor(
    readonly lab: Lab,
    readonly plan: NodePlan,
    readonly ns: Netns,
    /** Its --state-dir (kept across agent restarts). */
    readonly stateDir: string,
    /** Standalone: its --config directory. */
    readonly configDir: string,
  ) {}

  get name(): string {
    return this.plan.name;
  }

  get apiSocket(): string {
    return join(this.lab.dir, `${this.name}-api.sock`);
  }

  get healthSocket(): string {
    return join(this.lab.dir, `${this.name}-health.sock`);
  }

  get cniSocket(): string {
    return join(this.lab.dir, `${this.name}-cni.sock`);
  }

  /** Writes a file of the standalone config directory (the agent picks it up by itself). */
  writeConfig(file: string, yaml: string): void {
    writeFileSync(join(this.configDir, file), yaml);
  }

  /** `sart agent` in the node's namespace with the lab's flags (plus `extra`); waits for /readyz. */
  async startAgent(extra: string[] = [], waitReady = true): Promise<Daemon> {
    const l = this.lab;
    const mode = l.opts.mode === "kubernetes"
      ? ["--kubeconfig", l.nodeKubeconfig!]
      : ["--standalone", "--config", this.configDir];
    const args = [
      "agent", "--node", this.name, ...mode,
      "--api", `unix:${this.apiSocket}`, "--health", `unix:${this.healthSocket}`, "--cni-socket", this.cniSocket,
      "--state-dir", this.stateDir, ...(l.opts.agentArgs ?? []), ...extra,
    ];
    const [bin, ...pre] = l.opts.agentCommand ?? [SART_BIN];
    const [cmd, argv] = this.ns.wrap(bin, [...pre, ...args]);
    this.starts++;
    const d = startDaemon(`agent-${this.name}`, cmd, argv, join(l.dir, `${this.name}-agent-${this.starts}.log`), { ...process.env, SART_RUNTIME: l.opts.agentRuntime ?? l.runtime });
    this.agent = d;
    if (waitReady) await this.waitReady();
    return d;
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(`agent ${this.name} ready`, async () => {
      if (!this.agent?.running) throw new Error(`agent ${this.name} exited:\n${this.agent?.tail()}`);
      return (await this.health("/readyz")).status === 200;
    }, timeoutMs, 100);
  }

  /** Clean stop (SIGTERM): Cease to its peers, its kernel routes removed. */
  async stopAgent(): Promise<void> {
    await this.agent?.stop("SIGTERM", 10_000);
  }

  /** kill -9: no NOTIFICATION, kernel routes and the run marker left behind. */
  async killAgent(): Promise<void> {
    const d = this.agent;
    if (!d?.running) return;
    d.signal("SIGKILL");
    await d.exited;
    await waitFor(`agent ${this.name} (pid ${d.pid}) gone`, async () => {
      try {
        return !(await run("ps", ["-o", "stat=", "-p", String(d.pid)])).trim().startsWith("Z");
      } catch {
        return true; // ps exits 1 when there is no such process
      }
    }, 5000);
  }

  agentLog(): string {
    return this.agent?.log() ?? "";
  }

  health(path: string): Promise<{ status: number; body: string }> {
    return unixGet(this.healthSocket, path);
  }

  /** The agent's speaker API (JSON). */
  async api<T = unknown>(path: string): Promise<T> {
    const r = await unixGet(this.apiSocket, path);
    if (r.status !== 200) throw new Error(`agent ${this.name} API ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as T;
  }

  /** `ip -j route show ...` in the node's namespace. */
  async routes(args: string[] = []): Promise<{ dst: string; protocol?: string; gateway?: string; nexthops?: { gateway: string }[]; table?: string }[]> {
    return JSON.parse((await this.ns.ip("-j", "route", "show", ...args)) || "[]");
  }
}

export class Lab {
  readonly nodes: LabNode[] = [];
  readonly routers: LabRouter[] = [];
  client!: Netns;
  /** Kubernetes mode: the control plane (API server, controller); standalone: the management bridge only. */
  cp!: Netns;
  /** Kubernetes mode: a kubeconfig for this process (kubectl, KubeStore) and one for the nodes. */
  kubeconfig?: string;
  nodeKubeconfig?: string;
  /** Kubernetes mode: a kubeconfig for processes in the control-plane namespace (the API server on its loopback). */
  cpKubeconfig?: string;
  store?: KubeStore;
  controller?: Daemon;
  private apiServer?: Daemon;
  private apiForwarder?: Daemon;
  private rootForwarder?: Forwarder;
  private readonly namespaces: Netns[] = [];
  private stopped = false;

  private constructor(readonly opts: LabOptions, readonly dir: string) {}

  get runtime(): Runtime {
    return this.opts.runtime ?? "bun";
  }

  /** Builds the topology and starts everything; on failure, whatever started is stopped. */
  static async start(opts: LabOptions): Promise<Lab> {
    const lab = new Lab(opts, tempDir("lab"));
    try {
      await lab.build();
    } catch (e) {
      await lab.stop();
      throw e;
    }
    return lab;
  }

  private say(line: string): void {
    this.opts.log?.(`lab: ${line}`);
  }

  private async netns(role: string): Promise<Netns> {
    const ns = await Netns.create(`${this.opts.netnsPrefix ?? "lab"}-${role}`);
    this.namespaces.push(ns);
    return ns;
  }

  private async build(): Promise<void> {
    const t0 = Date.now();
    const o = this.opts;
    const plans = Array.from({ length: o.nodes ?? 3 }, (_, i) => nodePlan(i + 1));
    this.cp = await this.netns("cp");
    const routerNs = await Promise.all(ROUTERS.map((r) => this.netns(r.name === "router0" ? "r0" : "r1")));
    this.client = await this.netns("client");
    const nodeNs = await Promise.all(plans.map((p) => this.netns(`w${p.index}`)));

    // Management network: a bridge in the control plane, each node's eth0 on it.
    await this.cp.ip("link", "add", "mgmt", "type", "bridge");
    await this.cp.ip("addr", "add", `${MGMT.apiServer}/${MGMT.prefixLength}`, "dev", "mgmt");
    await this.cp.ip("link", "set", "mgmt", "up");
    for (const [i, p] of plans.entries()) {
      await veth({ ns: this.cp, ifname: `w${p.index}` }, { ns: nodeNs[i], ifname: "eth0", addresses: [`${p.address}/${MGMT.prefixLength}`, `${p.address6}/64`] });
      await this.cp.ip("link", "set", `w${p.index}`, "master", "mgmt");
    }
    // Routers: a loopback each, links to every node, to each other and to the client.
    for (const [ri, r] of ROUTERS.entries()) {
      const rns = routerNs[ri];
      await rns.ip("addr", "add", `${r.loopback}/32`, "dev", "lo");
      for (const [i, p] of plans.entries()) {
        const l = nodeLink(r, p.index);
        await veth({ ns: rns, ifname: `w${p.index}`, addresses: [`${l.router}/24`, `${l.router6}/64`] }, { ns: nodeNs[i], ifname: ri === 0 ? "r0" : "r1", addresses: [`${l.node}/24`, `${l.node6}/64`] });
        await nodeNs[i].ip("route", "add", `${r.loopback}/32`, "via", l.router);
        await rns.ip("route", "add", `${p.address}/32`, "via", l.node);
        await rns.ip("-6", "route", "add", `${p.address6}/128`, "via", l.node6);
      }
      const c = clientLink(r);
      await veth({ ns: rns, ifname: "client", addresses: [`${c.router}/24`, `${c.router6}/64`] }, { ns: this.client, ifname: ri === 0 ? "r0" : "r1", addresses: [`${c.client}/24`, `${c.client6}/64`] });
      for (const v of ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]) await rns.exec("sysctl", ["-qw", v]);
    }
    await veth({ ns: routerNs[0], ifname: "r1", addresses: [`${ROUTER_LINK.router0}/30`] }, { ns: routerNs[1], ifname: "r0", addresses: [`${ROUTER_LINK.router1}/30`] });
    const [c0, c1] = ROUTERS.map(clientLink);
    await this.client.ip("route", "add", "default", "nexthop", "via", c0.router, "nexthop", "via", c1.router);
    await this.client.ip("-6", "route", "add", "default", "nexthop", "via", c0.router6, "nexthop", "via", c1.router6);
    for (const ns of nodeNs) for (const v of ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]) await ns.exec("sysctl", ["-qw", v]);
    // ECMP spreads connections (ports in the hash), not only address pairs.
    if (o.forwarding) for (const ns of [...routerNs, ...nodeNs, this.client]) await ns.exec("sysctl", ["-qw", "net.ipv4.fib_multipath_hash_policy=1"]);
    this.say(`namespaces and links in ${Date.now() - t0} ms`);

    const useBird = (o.routers ?? (o.mode === "kubernetes" ? "frr" : "bird")) === "bird";
    const routers = await Promise.all(ROUTERS.map((r, i) => (useBird ? BirdRouter.start(r, routerNs[i], plans) : FrrRouter.start(r, routerNs[i], plans, o.forwarding))));
    this.routers.push(...routers);
    this.say(`${useBird ? "BIRD" : "FRR"} routers up at ${Date.now() - t0} ms`);

    for (const [i, p] of plans.entries()) {
      const stateDir = join(this.dir, `${p.name}-state`);
      const configDir = join(this.dir, `${p.name}-config`);
      mkdirSync(stateDir, { recursive: true });
      mkdirSync(configDir, { recursive: true });
      const node = new LabNode(this, p, nodeNs[i], stateDir, configDir);
      for (const [file, text] of Object.entries(o.standaloneConfig?.(p) ?? {})) node.writeConfig(file, text);
      this.nodes.push(node);
    }
    if (o.mode === "kubernetes") await this.startControlPlane(plans);
    this.say(`control plane up at ${Date.now() - t0} ms`);
    if (!o.noAgents) await Promise.all(this.nodes.map((n) => n.startAgent()));
    this.say(`agents ready at ${Date.now() - t0} ms`);
  }

  private async startControlPlane(plans: NodePlan[]): Promise<void> {
    const sock = join(this.dir, "apiserver.sock");
    const [acmd, aargs] = this.cp.wrap(BUN, [join(ROOT, "tests/kube/apiserver-main.ts"), "--host", "0.0.0.0", "--port", String(MGMT.apiPort)]);
    this.apiServer = startDaemon("apiserver", acmd, aargs, join(this.dir, "apiserver.log"));
    const [fcmd, fargs] = this.cp.wrap(BUN, [join(ROOT, "tests/lab/forward.ts"), `unix:${sock}`, `127.0.0.1:${MGMT.apiPort}`]);
    this.apiForwarder = startDaemon("apiserver-forward", fcmd, fargs, join(this.dir, "forward.log"));
    const port = await freePort("127.0.0.1");
    await waitFor("the API server forwarder's socket", async () => {
      if (!this.apiForwarder!.running) throw new Error(this.apiForwarder!.tail());
      this.rootForwarder = await forward(`127.0.0.1:${port}`, `unix:${sock}`);
      return true;
    }, 10_000, 100);
    const url = `http://127.0.0.1:${port}`;
    await waitFor("the API server", async () => {
      if (!this.apiServer!.running) throw new Error(`API server exited:\n${this.apiServer!.tail()}`);
      return (await fetch(`${url}/readyz`)).ok;
    }, 20_000, 100);
    this.kubeconfig = join(this.dir, "kubeconfig");
    this.nodeKubeconfig = join(this.dir, "kubeconfig-nodes");
    const cpKubeconfig = (this.cpKubeconfig = join(this.dir, "kubeconfig-cp"));
    writeFileSync(this.kubeconfig, kubeconfigYaml(url, "default"), { mode: 0o600 });
    writeFileSync(this.nodeKubeconfig, kubeconfigYaml(`http://${MGMT.apiServer}:${MGMT.apiPort}`, "default"), { mode: 0o600 });
    writeFileSync(cpKubeconfig, kubeconfigYaml(`http://127.0.0.1:${MGMT.apiPort}`, "kube-system"), { mode: 0o600 });
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfig);
    this.store = new KubeStore(kc);
    // What kubelets would register: the Nodes, with the samples' labels and the ASN label.
    for (const p of plans) {
      const node: Node = {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: p.name, labels: { "kubernetes.io/hostname": p.name, ...(this.opts.nodeLabels ?? { bgp: "a", bgp2: "c" }), "sart.terassyi.net/asn": String(p.asn) } },
        spec: {},
        status: { addresses: [{ type: "InternalIP", address: p.address }, { type: "InternalIP", address: p.address6 }, { type: "Hostname", address: p.name }] },
      };
      await this.store.create(node);
    }
    const [ccmd, cargs] = this.cp.wrap(SART_BIN, ["controller", "--kubeconfig", cpKubeconfig]);
    this.controller = startDaemon("controller", ccmd, cargs, join(this.dir, "controller.log"), { ...process.env, SART_RUNTIME: this.runtime });
    await waitFor("the controller's caches", () => {
      if (!this.controller!.running) throw new Error(`controller exited:\n${this.controller!.tail()}`);
      return this.controller!.log().includes("leading");
    }, 30_000, 100);
  }

  /** kubectl against the lab's API server; `input` goes to stdin (e.g. `apply -f -`). */
  kubectl(args: string[], input?: string): Promise<string> {
    if (!this.kubeconfig) throw new Error("kubectl: the lab runs in standalone mode");
    return new Promise((resolve, reject) => {
      const child = execFile("kubectl", ["--kubeconfig", this.kubeconfig!, ...args], { timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout));
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  /** Creates objects through the lab's KubeStore (what kubelets and the endpointslice controller would write). */
  async create(objs: KubeObject[]): Promise<void> {
    for (const o of objs) await this.store!.create(o);
  }

  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no lab node ${name}`);
    return n;
  }

  router(name: "router0" | "router1"): LabRouter {
    return this.routers.find((r) => r.plan.name === name)!;
  }

  /** Stops everything (agents cleanly), deletes the namespaces and the directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.nodes.map((n) => n.stopAgent().catch(() => {})));
    await this.controller?.stop();
    this.store?.close();
    await this.rootForwarder?.close();
    await this.apiForwarder?.stop();
    await this.apiServer?.stop();
    await Promise.all(this.routers.map((r) => r.stop().catch(() => {})));
    for (const ns of this.namespaces) await ns.delete();
    if (!process.env.SART_LAB_KEEP) removeDir(this.dir);
  }
}
