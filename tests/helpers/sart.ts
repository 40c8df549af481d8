// A real `sart speaker --config FILE` (docs/speaker.md's YAML) for tests, benchmarks
// and the demo: config in a temp dir, the HTTP API on a free loopback port,
// under Bun (default) or Node (build/node bundle), bounded readiness wait and
// small typed API calls.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { freePort, waitFor } from "./net.ts";
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
    readonly api: string,
    readonly runtime: Runtime,
  ) {}

  /** Writes the config (fib always disabled unless given) and starts the speaker; waits until the API answers. */
  static async start(config: Omit<SartConfig, "api">, runtime: Runtime = "bun", timeoutMs = 20000, dir = tempDir("sart"), args: string[] = []): Promise<Sart> {
    const apiPort = await freePort("127.0.0.1");
    const full = { fib: { enabled: false }, ...config, api: { listen: `127.0.0.1:${apiPort}` } } as SartConfig;
    const configFile = join(dir, "sart.yaml");
    writeFileSync(configFile, yaml.dump(full));
    const daemon = startDaemon("sart", SART_BIN, ["speaker", "--config", configFile, ...args], join(dir, `sart-${Date.now()}.log`), { ...process.env, SART_RUNTIME: runtime });
    const s = new Sart(daemon, dir, configFile, full, `http://127.0.0.1:${apiPort}`, runtime);
    try {
      await waitFor("sart API", async () => {
        if (!daemon.running) throw new Error(`sart speaker exited:\n${daemon.tail()}`);
        return (await fetch(`${s.api}/v1/global`)).ok;
      }, timeoutMs, 100);
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  /** Starts a new speaker process on the same config and directory (after stop(true)); `args` e.g. ["--graceful-restart"]. */
  restart(args: string[] = [], timeoutMs = 20000): Promise<Sart> {
    const { api: _api, ...rest } = this.config;
    return Sart.start(rest, this.runtime, timeoutMs, this.dir, args);
  }

  async get<T = unknown>(path: string): Promise<T> {
    const res = await fetch(this.api + path);
    const text = await res.text();
    if (!res.ok) throw new Error(`sart API GET ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  async send(method: "POST" | "DELETE", path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(this.api + path, {
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
