// A real gobgpd for tests and benchmarks: TOML config in a temp dir, BGP on a
// loopback address and free port, gRPC API on a free port, pprof off, bounded
// readiness wait, and `gobgp` CLI queries as JSON.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitFor } from "./net.ts";
import { Daemon, removeDir, run, startDaemon, tempDir } from "./proc.ts";

export interface GobgpNeighbor {
  address: string;
  asn: number;
  /** The neighbour's BGP port (gobgpd connects there unless passive). */
  port?: number;
  passive?: boolean;
  families?: string[];
  holdTime?: number;
  keepalive?: number;
  gracefulRestart?: boolean;
  /** Seconds between connection attempts (gobgpd's default is 120: keep it short in tests). */
  connectRetry?: number;
}

export interface GobgpdOptions {
  asn: number;
  routerId: string;
  address: string;
  /** BGP listen port; a free one when omitted. */
  port?: number;
  neighbors: GobgpNeighbor[];
  /** Extra TOML appended to the config (defined-sets, policy-definitions, ...). */
  extra?: string;
  /** Global export policies by name (defined in `extra`), before the default accept. */
  exportPolicies?: string[];
}

export function gobgpdToml(o: GobgpdOptions & { port: number }): string {
  const lines = [
    "[global.config]",
    `  as = ${o.asn}`,
    `  router-id = "${o.routerId}"`,
    `  port = ${o.port}`,
    `  local-address-list = ["${o.address}"]`,
    "[global.apply-policy.config]",
    '  default-import-policy = "accept-route"',
    '  default-export-policy = "accept-route"',
  ];
  if (o.exportPolicies?.length) lines.push(`  export-policy-list = [${o.exportPolicies.map((p) => JSON.stringify(p)).join(", ")}]`);
  for (const n of o.neighbors) {
    lines.push(
      "[[neighbors]]",
      "  [neighbors.config]",
      `    neighbor-address = "${n.address}"`,
      `    peer-as = ${n.asn}`,
      "  [neighbors.transport.config]",
      `    local-address = "${o.address}"`,
      `    passive-mode = ${n.passive ? "true" : "false"}`,
    );
    if (n.port) lines.push(`    remote-port = ${n.port}`);
    lines.push("  [neighbors.timers.config]", `    connect-retry = ${n.connectRetry ?? 1}`);
    if (n.holdTime !== undefined) {
      lines.push(`    hold-time = ${n.holdTime}`, `    keepalive-interval = ${n.keepalive ?? Math.max(1, Math.floor(n.holdTime / 3))}`);
    }
    if (n.gracefulRestart) lines.push("  [neighbors.graceful-restart.config]", "    enabled = true", "    restart-time = 120");
    for (const f of n.families ?? ["ipv4-unicast"]) {
      lines.push("  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]", `      afi-safi-name = "${f}"`);
      if (n.gracefulRestart) lines.push("    [neighbors.afi-safis.mp-graceful-restart.config]", "      enabled = true");
    }
  }
  if (o.extra) lines.push(o.extra);
  return lines.join("\n") + "\n";
}

export class Gobgpd {
  private constructor(
    readonly daemon: Daemon,
    readonly dir: string,
    readonly address: string,
    readonly port: number,
    readonly apiPort: number,
  ) {}

  /** Starts gobgpd and waits (bounded) until its API answers. */
  static async start(options: GobgpdOptions, timeoutMs = 20000): Promise<Gobgpd> {
    const dir = tempDir("gobgpd");
    const port = options.port ?? (await freePort(options.address));
    const apiPort = await freePort("127.0.0.1");
    const config = join(dir, "gobgpd.toml");
    writeFileSync(config, gobgpdToml({ ...options, port }));
    const daemon = startDaemon("gobgpd", "gobgpd", ["-f", config, "-t", "toml", "--api-hosts", `127.0.0.1:${apiPort}`, "--pprof-disable", "-p", "-l", "info"], join(dir, "gobgpd.log"));
    const g = new Gobgpd(daemon, dir, options.address, port, apiPort);
    try {
      await waitFor("gobgpd API", async () => {
        if (!daemon.running) throw new Error(`gobgpd exited:\n${daemon.tail()}`);
        await g.cli(["global"], 2000);
        return true;
      }, timeoutMs, 200);
    } catch (err) {
      await g.stop();
      throw err;
    }
    return g;
  }

  /** Runs `gobgp -u 127.0.0.1 -p API ARGS...` and returns stdout. */
  cli(args: string[], timeoutMs = 10000): Promise<string> {
    return run("gobgp", ["-u", "127.0.0.1", "-p", String(this.apiPort), ...args], timeoutMs);
  }

  /** `gobgp global rib -a FAMILY -j`: prefix -> paths (gobgp's JSON). */
  async rib(family: "ipv4" | "ipv6" = "ipv4"): Promise<Record<string, GobgpPath[]>> {
    const out = await this.cli(["global", "rib", "-a", family, "-j"]);
    return out.trim() ? JSON.parse(out) : {};
  }

  /** `gobgp neighbor ADDR -j`. */
  async neighbor(address: string): Promise<GobgpNeighborState> {
    return JSON.parse(await this.cli(["neighbor", address, "-j"]));
  }

  async sessionState(address: string): Promise<string> {
    try {
      return String((await this.neighbor(address)).state?.session_state ?? "");
    } catch {
      return "";
    }
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    removeDir(this.dir);
  }
}

export interface GobgpPath {
  nlri: { prefix: string };
  attrs: { type: number; [k: string]: unknown }[];
  "source-id"?: string;
  "neighbor-ip"?: string;
  stale?: boolean;
  best?: boolean;
  age?: number;
}

export interface GobgpNeighborState {
  conf: { neighbor_address: string; peer_asn: number };
  state: {
    session_state: number | string;
    neighbor_address?: string;
    remote_cap?: { code: number; [k: string]: unknown }[];
    local_cap?: { code: number; [k: string]: unknown }[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** gobgp's path attribute JSON by type code (1 origin, 2 as path, 3 next hop, 8 communities, 14 mp reach). */
export function gobgpAttr(path: GobgpPath, type: number): Record<string, unknown> | undefined {
  return path.attrs.find((a) => a.type === type);
}
