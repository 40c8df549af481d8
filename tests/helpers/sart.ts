// A real `sart speaker --config FILE` (docs/speaker.md's YAML) for tests, benchmarks
// and the demo: config in a temp dir, the HTTP API on a free loopback port,
// under Bun (default) or Node (build/node bundle), bounded readiness wait and
// small typed API calls.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { freePort, waitFor } from "./net.ts";
import type { Netns } from "./netns.ts";
import { Daemon, removeDir, run, startDaemon, tempDir } from "./proc.ts";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const SART_BIN = join(ROOT, "build/bin/sart");

export type Runtime = "bun" | "node";

export interface SartNeighbor {
  address: string;
  asn: number;
  port?: number;
  localAddress?: string;
  passive?: boolean;
  holdTime?: number;
  families?: string[];
  export?: "local" | "all" | "none";
  [k: string]: unknown;
}

export interface SartConfig {
  asn: number;
  routerId: string;
  listen: { address: string; port: number };
  neighbors: SartNeighbor[];
  routes?: { prefix: string; nextHop?: string; communities?: string[] }[];
  fib?: { enabled: boolean; table?: number };
  [k: string]: unknown;
}

export interface RibPath {
  nextHop: string;
  asPath: number[] | { type: string; asns: number[] }[];
  origin: string;
  med?: number;
  localPref?: number;
  communities?: string[];
  best?: boolean;
  peer?: string;
  [k: string]: unknown;
}

export interface RibEntry {
  prefix: string;
  paths: RibPath[];
}

export class Sart {
  private constructor(
    readonly daemon: Daemon,
    readonly dir: string,
    readonly configFile: string,
    readonly config: SartConfig,
    /** "http://127.0.0.1:PORT", or "unix:PATH" for a speaker in a network namespace. */
    readonly api: string,
    readonly runtime: Runtime,
    readonly netns?: Netns,
  ) {}

  /** Writes the config (fib always disabled unless given) and starts the speaker; waits until the API answers. */
  static async start(config: Omit<SartConfig, "api">, runtime: Runtime = "bun", timeoutMs = 20000, dir = tempDir("sart"), args: string[] = []): Promise<Sart> {
    return Sart.launch(config, { runtime, timeoutMs, dir, args });
  }

  /** Like start, inside network namespace `ns`; the API listens on a unix socket in the speaker's directory. */
  static async startIn(ns: Netns, config: Omit<SartConfig, "api">, runtime: Runtime = "bun", timeoutMs = 20000): Promise<Sart> {
    return Sart.launch(config, { runtime, timeoutMs, dir: tempDir("sart"), args: [], netns: ns });
  }

  private static async launch(
    config: Omit<SartConfig, "api">,
    o: { runtime: Runtime; timeoutMs: number; dir: string; args: string[]; netns?: Netns },
  ): Promise<Sart> {
    const listen = o.netns ? `unix:${join(o.dir, "api.sock")}` : `127.0.0.1:${await freePort("127.0.0.1")}`;
    const full = { fib: { enabled: false }, ...config, api: { listen } } as SartConfig;
    const configFile = join(o.dir, "sart.yaml");
    writeFileSync(configFile, yaml.dump(full));
    const argv = ["speaker", "--config", configFile, ...o.args];
    const [cmd, args] = o.netns ? o.netns.wrap(SART_BIN, argv) : [SART_BIN, argv];
    const daemon = startDaemon("sart", cmd, args, join(o.dir, `sart-${Date.now()}.log`), { ...process.env, SART_RUNTIME: o.runtime });
    const s = new Sart(daemon, o.dir, configFile, full, o.netns ? listen : `http://${listen}`, o.runtime, o.netns);
    try {
      await waitFor("sart API", async () => {
        if (!daemon.running) throw new Error(`sart speaker exited:\n${daemon.tail()}`);
        return (await s.request("/v1/global")).ok;
      }, o.timeoutMs, 100);
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  /** Starts a new speaker process on the same config and directory (after stop(true)); `args` e.g. ["--graceful-restart"]. */
  restart(args: string[] = [], timeoutMs = 20000): Promise<Sart> {
    const { api: _api, ...rest } = this.config;
    return Sart.launch(rest, { runtime: this.runtime, timeoutMs, dir: this.dir, args, netns: this.netns });
  }

  /** fetch against the API (TCP, or the unix socket: Bun's fetch `unix` option). */
  private request(path: string, init: RequestInit = {}): Promise<Response> {
    if (this.api.startsWith("unix:")) return fetch(`http://localhost${path}`, { ...init, unix: this.api.slice(5) } as RequestInit);
    return fetch(this.api + path, init);
  }

  async get<T = unknown>(path: string): Promise<T> {
    const res = await this.request(path);
    const text = await res.text();
    if (!res.ok) throw new Error(`sart API GET ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /** One unlabelled sample of `name` from GET /metrics. */
  async metric(name: string): Promise<number> {
    const text = await (await this.request("/metrics")).text();
    const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    if (!m) throw new Error(`sart /metrics has no unlabelled ${name}`);
    return Number(m[1]);
  }

  async send(method: "POST" | "DELETE", path: string, body?: unknown): Promise<unknown> {
    const res = await this.request(path, {
      method,
      // The API refuses a POST that is not application/json, even an empty one (docs/api.md).
      headers: body === undefined && method !== "POST" ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sart API ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  neighbor(address: string): Promise<Record<string, any>> {
    return this.get(`/v1/neighbors/${address}`);
  }

  async neighborState(address: string): Promise<string> {
    try {
      return String((await this.neighbor(address)).state ?? "");
    } catch {
      return "";
    }
  }

  /** The whole RIB of a family, following `after` pages. */
  async rib(family = "ipv4-unicast"): Promise<Map<string, RibPath[]>> {
    const out = new Map<string, RibPath[]>();
    let after = "";
    for (let page = 0; page < 1000; page++) {
      const q = `/v1/rib?family=${family}&limit=1000${after ? `&after=${encodeURIComponent(after)}` : ""}`;
      const body = await this.get<RibEntry[] | { routes?: RibEntry[]; entries?: RibEntry[] }>(q);
      const entries = Array.isArray(body) ? body : body.routes ?? body.entries ?? [];
      for (const e of entries) out.set(e.prefix, e.paths);
      if (entries.length < 1000) break;
      after = entries[entries.length - 1].prefix;
    }
    return out;
  }

  /** `build/bin/sart ARGS` under this speaker's runtime (the CLI against its API when args name it). */
  cli(args: string[]): Promise<string> {
    return run("env", [`SART_RUNTIME=${this.runtime}`, SART_BIN, ...args], 20000);
  }

  log(): string {
    return this.daemon.log();
  }

  /** Stops the process; keeps the directory when `keepDir` (for a restart). */
  async stop(keepDir = false): Promise<void> {
    await this.daemon.stop();
    if (!keepDir) removeDir(this.dir);
  }
}

/** Flattens an AS path given as numbers or as segments. */
export function asPathNumbers(p: RibPath["asPath"]): number[] {
  return (p as unknown[]).flatMap((s) => (typeof s === "number" ? [s] : (s as { asns: number[] }).asns));
}
