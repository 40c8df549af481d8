// A node for CNI tests: a network namespace with an address and the real `sart agent` in it
// (standalone: the pools as YAML and a NodeBGP naming the node's address, the controller
// in-process; or Kubernetes mode: a test API server, `sart controller` and a Node object in
// the namespace too), and helpers that call the real sart-cni as a runtime would (env +
// stdin), or the agent's socket directly for many calls at once. Pods are network namespaces.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import yaml from "js-yaml";
import { callAgent } from "../../host/cni/call.ts";
import type { WireRequest, WireResponse } from "../../host/cni/protocol.ts";
import { waitFor } from "../helpers/net.ts";
import { Netns } from "../helpers/netns.ts";
import { Daemon, removeDir, startDaemon, tempDir } from "../helpers/proc.ts";
import { ROOT, SART_BIN } from "../helpers/sart.ts";

export const SART_CNI = join(ROOT, "build/bin/sart-cni");
/** The self-contained executable a node installs in /opt/cni/bin (make build). */
export const SART_CNI_COMPILED = join(ROOT, "build/cni/sart-cni");
const BUN = join(ROOT, "node_modules/.bin/bun");

export interface Pool {
  name: string;
  cidr: string;
  blockSize?: number;
  autoAssign?: boolean;
}

export function poolManifest(p: Pool): Record<string, unknown> {
  return {
    apiVersion: "sart.terassyi.net/v1alpha2",
    kind: "AddressPool",
    metadata: { name: p.name },
    spec: { cidr: p.cidr, type: "pod", allocType: "bit", ...(p.blockSize ? { blockSize: p.blockSize } : {}), autoAssign: p.autoAssign ?? false },
  };
}

export interface NodeOptions {
  pools: Pool[];
  /**
   * The node's addresses, put on lo: the pods' gateways. Standalone, the IPv4 one reaches the
   * agent as its NodeBGP's router id; Kubernetes mode, both as the Node's InternalIPs.
   */
  ipv4?: string;
  ipv6?: string;
  /** The agent's --block-release-delay, in ms (default: the agent's 60 s). */
  releaseDelayMs?: number;
  /** Prefix of the node namespace's name. */
  name?: string;
  /**
   * Kubernetes mode: a test API server runs in the node's namespace (port 6443 on its own
   * loopback), with `sart controller`; the pools and the Node are applied with kubectl.
   */
  kube?: boolean;
  /** Kubernetes mode without `sart controller`: BlockRequests go unanswered. */
  noController?: boolean;
  /** The agent's runtime (default Bun) and more environment for it (e.g. SART_SOCKOPT). */
  agentRuntime?: "bun" | "node";
  agentEnv?: Record<string, string>;
}

export interface CniCall {
  command: "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  config: Record<string, unknown> | string;
  env?: Record<string, string>;
}

export interface CniOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The JSON on stdout, if any. */
  json?: Record<string, unknown> & { code?: number; msg?: string; details?: string };
}

/** Runs the real sart-cni as a runtime does (the wrapper under Bun or Node, or the compiled executable); bounded by `timeoutMs`. */
export async function runCni(call: CniCall, timeoutMs = 30_000, runtime: "bun" | "node" | "compiled" = "bun"): Promise<CniOutcome> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    CNI_COMMAND: call.command,
    CNI_PATH: "/usr/lib/cni",
    ...(call.containerId ? { CNI_CONTAINERID: call.containerId } : {}),
    ...(call.netns ? { CNI_NETNS: call.netns } : {}),
    ...(call.ifname ? { CNI_IFNAME: call.ifname } : {}),
    ...(call.args ? { CNI_ARGS: call.args } : {}),
    ...(runtime === "node" ? { SART_RUNTIME: "node" } : {}),
    ...call.env,
  };
  const stdin = typeof call.config === "string" ? call.config : JSON.stringify(call.config);
  return runPlugin(runtime === "compiled" ? SART_CNI_COMPILED : SART_CNI, env, stdin, timeoutMs);
}

/**
 * Runs a CNI plugin binary with `env` and `stdin`, inside the network namespace at
 * `runtimeNetns` when given (plugins act on the runtime's namespace: the node's in tests),
 * in the working directory `cwd` when given; resolves with its exit code and output.
 */
export function runPlugin(bin: string, env: Record<string, string>, stdin: string, timeoutMs = 30_000, runtimeNetns?: string, cwd?: string): Promise<CniOutcome> {
  return new Promise((resolve, reject) => {
    const [cmd, args] = runtimeNetns ? ["nsenter", [`--net=${runtimeNetns}`, bin]] : [bin, []];
    const child = spawn(cmd, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${bin} ${env.CNI_COMMAND} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      let json: CniOutcome["json"];
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {}
      resolve({ exitCode: code ?? -1, stdout, stderr, json });
    });
    child.stdin.end(stdin);
  });
}

export class CniNode {
  daemon?: Daemon;
  apiserver?: Daemon;
  controller?: Daemon;
  private starts = 0;

  private constructor(
    readonly ns: Netns,
    readonly dir: string,
    readonly opts: NodeOptions,
    readonly nodeName: string,
  ) {}

  static async create(opts: NodeOptions): Promise<CniNode> {
    const ns = await Netns.create(opts.name ?? "cnin");
    const dir = tempDir("cni-node");
    const node = new CniNode(ns, dir, opts, ns.name);
    mkdirSync(join(dir, "config"));
    node.writePools(opts.pools);
    if (opts.ipv4) await ns.ip("addr", "add", `${opts.ipv4}/32`, "dev", "lo");
    if (opts.ipv6) await ns.ip("addr", "add", `${opts.ipv6}/128`, "dev", "lo");
    if (opts.kube) {
      const [cmd, argv] = ns.wrap(BUN, ["tests/kube/apiserver-main.ts", "--host", "127.0.0.1", "--port", "6443", "--kubeconfig", node.kubeconfig]);
      const api = startDaemon(`test apiserver in ${ns.name}`, cmd, argv, join(dir, "apiserver.log"));
      node.apiserver = api;
      await waitFor("the test API server", () => {
        if (!api.running) throw new Error(`apiserver exited: ${api.tail()}`);
        return api.log().includes("listening on");
      }, 30_000, 50);
      const internal = [opts.ipv4, opts.ipv6].filter(Boolean).map((address) => ({ type: "InternalIP", address }));
      await node.kubectl(["apply", "-f", "-"], yaml.dump({ apiVersion: "v1", kind: "Node", metadata: { name: node.nodeName }, status: { addresses: internal } }));
      await node.kubectl(["apply", "-f", join(dir, "config", "pools.yaml")]);
      if (!opts.noController) {
        const [ccmd, cargv] = ns.wrap(SART_BIN, ["controller", "--kubeconfig", node.kubeconfig]);
        node.controller = startDaemon(`sart controller in ${ns.name}`, ccmd, cargv, join(dir, "controller.log"));
      }
    } else if (opts.ipv4) {
      // The agent's own address in standalone mode: its NodeBGP's router id, an address of the node.
      writeFileSync(join(dir, "config", "nodebgp.yaml"), yaml.dump({
        apiVersion: "sart.terassyi.net/v1alpha2",
        kind: "NodeBGP",
        metadata: { name: node.nodeName },
        spec: { asn: 65010, routerId: opts.ipv4, speaker: { path: "127.0.0.1:5000" } },
      }));
    }
    await node.start();
    return node;
  }

  get kubeconfig(): string {
    return join(this.dir, "kubeconfig");
  }

  /** kubectl against the node's test API server (Kubernetes mode), from inside its namespace. */
  kubectl(args: string[], stdin?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", this.ns.name, "kubectl", "--kubeconfig", this.kubeconfig, ...args], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      child.on("close", (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`kubectl ${args.join(" ")}: exit ${code}: ${err}`));
      });
      child.stdin.end(stdin ?? "");
    });
  }

  get socket(): string {
    return join(this.dir, "cni.sock");
  }

  get stateDir(): string {
    return join(this.dir, "state");
  }

  get healthSocket(): string {
    return join(this.dir, "health.sock");
  }

  /** Writes the pool manifests (standalone: the agent's config directory). */
  writePools(pools: Pool[]): void {
    writeFileSync(join(this.dir, "config", "pools.yaml"), pools.map((p) => yaml.dump(poolManifest(p))).join("---\n"));
  }

  /** The network config for this node's socket. */
  config(version = "1.0.0", extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { cniVersion: version, name: "sart-test", type: "sart-cni", socket: this.socket, timeout: 30, ...extra };
  }

  /** `sart agent` in the node's namespace; resolves once /readyz answers 200. */
  async start(): Promise<void> {
    const n = ++this.starts;
    const args = [
      "agent", "--node", this.nodeName,
      ...(this.opts.kube ? ["--kubeconfig", this.kubeconfig] : ["--standalone", "--config", join(this.dir, "config")]),
      "--state-dir", this.stateDir,
      "--cni-socket", this.socket,
      "--health", `unix:${this.healthSocket}`,
      "--api", "none", "--bgp-listen", "0", "--no-fib",
      ...(this.opts.releaseDelayMs !== undefined ? ["--block-release-delay", String(this.opts.releaseDelayMs / 1000)] : []),
    ];
    const [cmd, argv] = this.ns.wrap(SART_BIN, args);
    this.daemon = startDaemon(`sart agent ${this.nodeName}`, cmd, argv, join(this.dir, `agent-${n}.log`), { ...process.env, SART_RUNTIME: this.opts.agentRuntime ?? "bun", ...this.opts.agentEnv });
    const d = this.daemon;
    await waitFor(`sart agent of ${this.nodeName} ready (start ${n})`, async () => {
      if (!d.running) throw new Error(`agent exited: ${d.tail()}`);
      return (await this.get("/readyz")).status === 200;
    }, 30_000, 50);
  }

  /** A GET on the agent's health socket. */
  get(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.healthSocket, path }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  /** kill -9, and waits until the process is gone (not a zombie). */
  async kill9(): Promise<void> {
    const d = this.daemon;
    if (!d?.running) return;
    d.signal("SIGKILL");
    await d.exited;
  }

  async stop(): Promise<void> {
    await this.daemon?.stop();
  }

  /** Calls the agent's socket directly (no process per call): for many calls at once. */
  call(command: WireRequest["env"]["command"], fields: Omit<WireRequest["env"], "command">, config: Record<string, unknown> = this.config(), timeoutMs = 30_000): Promise<WireResponse> {
    return callAgent(this.socket, { env: { command, ...fields }, config, deadline: Date.now() + timeoutMs }, timeoutMs, command);
  }

  /** The agent's metrics as name{labels} -> value. */
  async metrics(): Promise<Map<string, number>> {
    const text = (await this.get("/metrics")).body;
    const out = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const sp = line.lastIndexOf(" ");
      out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
    }
    return out;
  }

  /** Sum of a metric over all its label sets. */
  async total(name: string): Promise<number> {
    let sum = 0;
    for (const [k, v] of await this.metrics()) if (k === name || k.startsWith(`${name}{`)) sum += v;
    return sum;
  }

  /** Host veths with a SART alias in the node namespace. */
  async sartVeths(): Promise<{ ifname: string; ifalias: string }[]> {
    const links = JSON.parse(await this.ns.ip("-j", "link", "show", "type", "veth")) as { ifname: string; ifalias?: string }[];
    return links.filter((l) => l.ifalias?.startsWith("SART:")) as { ifname: string; ifalias: string }[];
  }

  async destroy(): Promise<void> {
    await this.stop();
    await this.controller?.stop();
    await this.apiserver?.stop();
    await this.ns.delete();
    removeDir(this.dir);
  }
}

/** Pod namespaces made by a test, deleted together. */
export class Pods {
  private readonly all: Netns[] = [];

  async create(prefix = "cnip"): Promise<Netns> {
    const ns = await Netns.create(prefix);
    this.all.push(ns);
    return ns;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.all.map((n) => n.delete()));
  }
}
