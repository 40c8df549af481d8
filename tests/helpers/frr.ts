// A real FRR bgpd for tests, benchmarks and the lab, one instance per network namespace:
// config, pid, log and vty socket in a temp dir (never /etc/frr or /run/frr), no zebra
// (-Z: routes stay in bgpd, nothing reaches a kernel table), queried with
// `vtysh --vty_socket DIR`. FRR checks next hops and AS paths strictly, which makes it a
// good conformance peer.
// With `zebra: true`, zebra runs too and bgpd's best routes reach the namespace's kernel
// table; with `bfd: true`, zebra and bfdd (bgpd's BFD goes through zebra). zebra and bfdd
// have no -S and refuse to run as root unless root is in the frrvty group: they run as the package's frr user, in a
// temp dir owned by it, with their zserv socket there (-z), so nothing outside changes.
import { chownSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "./net.ts";
import type { Netns } from "./netns.ts";
import { Daemon, removeDir, run, startDaemon, tempDir } from "./proc.ts";

export interface FrrRoutePath {
  nexthops?: { ip: string; afi?: string; used?: boolean }[];
  path?: string;
  aspath?: { string: string };
  /** FRR 8.4 prints `true`; later versions an object. */
  bestpath?: boolean | { overall?: boolean };
  multipath?: boolean;
  valid?: boolean;
  origin?: string;
  metric?: number;
  locPrf?: number;
  peerId?: string;
  community?: { string: string; list?: string[] };
  largeCommunity?: { string: string };
  [k: string]: unknown;
}

/** One entry of `show bfd peers json` (FRR 8.4; intervals in ms). */
export interface FrrBfdPeer {
  peer: string;
  local?: string;
  id: number;
  "remote-id": number;
  status: "up" | "down" | "init" | "shutdown";
  diagnostic: string;
  "remote-diagnostic": string;
  "receive-interval": number;
  "transmit-interval": number;
  "detect-multiplier": number;
  "remote-receive-interval": number;
  "remote-transmit-interval": number;
  "remote-detect-multiplier": number;
  uptime?: number;
  downtime?: number;
  [k: string]: unknown;
}

export interface FrrOptions {
  timeoutMs?: number;
  /** Run zebra beside bgpd: bgpd's best routes go to the namespace's kernel (a router that forwards). */
  zebra?: boolean;
  /** Run zebra and bfdd beside bgpd (needed for `neighbor X bfd`); bgpd's routes go to the kernel. */
  bfd?: boolean;
  /** bfdd.conf (e.g. `bfd` with `profile NAME` blocks); default: an empty `bfd` node. */
  bfddConfig?: string;
}

/** The uid and gid of the frr package's user, which zebra and bfdd run as. */
async function frrUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run("id", ["-u", "frr"]), run("id", ["-g", "frr"])]);
  return { uid: Number(uid), gid: Number(gid) };
}

export interface FrrBgpOptions {
  asn: number;
  routerId: string;
  neighbor: string;
  remoteAs: number;
  /** `neighbor ADDR ...` settings, e.g. "passive", "timers 3 9", "extended-optional-parameters". */
  neighborOptions?: string[];
  /** More lines inside `router bgp` (address families, networks). */
  lines?: string[];
  /** Lines after `router bgp` (route-maps). */
  after?: string[];
}

/**
 * A bgpd.conf with one neighbour. eBGP passes routes without a policy, and `network`
 * statements announce prefixes no RIB holds (there is no zebra).
 */
export function frrBgpConfig(o: FrrBgpOptions): string {
  return [
    `router bgp ${o.asn}`,
    ` bgp router-id ${o.routerId}`,
    " no bgp ebgp-requires-policy",
    " no bgp network import-check",
    ` neighbor ${o.neighbor} remote-as ${o.remoteAs}`,
    ...(o.neighborOptions ?? []).map((opt) => ` neighbor ${o.neighbor} ${opt}`),
    ...(o.lines ?? []),
    ...(o.after ?? []),
    "",
  ].join("\n");
}

export class Frr {
  private helpers: Daemon[] = [];

  private constructor(readonly ns: Netns, readonly daemon: Daemon, readonly dir: string) {}

  /**
   * Starts bgpd in `ns` with `config` (a bgpd.conf: `router bgp ...`; eBGP needs
   * `no bgp ebgp-requires-policy` to pass routes), after `bgpd -C` accepted it, and
   * waits until vtysh answers. `opts` may be the timeout (ms).
   */
  static async start(ns: Netns, config: string, opts: number | FrrOptions = 15000): Promise<Frr> {
    const { timeoutMs = 15000, bfd = false, bfddConfig = "bfd\n!\n", zebra = bfd } = typeof opts === "number" ? { timeoutMs: opts } : opts;
    const dir = tempDir("frr");
    const file = join(dir, "bgpd.conf");
    writeFileSync(file, config);
    try {
      await run("/usr/lib/frr/bgpd", ["-C", "-f", file, "-S", "-Z", "-n"]);
    } catch (err) {
      removeDir(dir);
      throw new Error(`FRR config rejected: ${(err as Error).message}\n${config}`);
    }
    const helpers: Daemon[] = [];
    const zserv = join(dir, "zserv.api");
    if (zebra) {
      const { uid, gid } = await frrUser();
      chownSync(dir, uid, gid);
      writeFileSync(join(dir, "zebra.conf"), "!\n");
      if (bfd) writeFileSync(join(dir, "bfdd.conf"), bfddConfig);
      const asFrr = ["--vty_socket", dir, "-z", zserv, "-u", "frr", "-g", "frr"];
      for (const name of bfd ? ["zebra", "bfdd"] : ["zebra"]) {
        const extra = name === "bfdd" ? ["--bfdctl", join(dir, "bfdd.sock")] : [];
        const [cmd, args] = ns.wrap(`/usr/lib/frr/${name}`, ["-f", join(dir, `${name}.conf`), "-i", join(dir, `${name}.pid`), ...asFrr, ...extra, "--log", `file:${join(dir, `${name}-daemon.log`)}`]);
        const d = startDaemon(`frr-${name}-${ns.name}`, cmd, args, join(dir, `${name}.log`));
        helpers.push(d);
        try {
          // zebra's API socket first (bfdd and bgpd connect to it), then each daemon's vty.
          await waitFor(`FRR ${name} in ${ns.name}`, () => {
            if (!d.running) throw new Error(`${name} exited:\n${d.tail()}`);
            return existsSync(join(dir, `${name}.vty`)) && existsSync(zserv);
          }, timeoutMs, 50);
        } catch (err) {
          await Promise.all(helpers.map((h) => h.stop()));
          removeDir(dir);
          throw err;
        }
      }
    }
    // Without zebra: -Z (routes stay in bgpd) and -n (no kernel); with it, routes go through zebra to the kernel.
    const zebraArgs = zebra ? ["-z", zserv] : ["-Z", "-n"];
    const [cmd, args] = ns.wrap("/usr/lib/frr/bgpd", [
      "-f", file, "-i", join(dir, "bgpd.pid"), "--vty_socket", dir, "-S", ...zebraArgs, "--log", `file:${join(dir, "bgpd-daemon.log")}`,
    ]);
    const daemon = startDaemon(`frr-${ns.name}`, cmd, args, join(dir, "bgpd.log"));
    const frr = new Frr(ns, daemon, dir);
    frr.helpers = helpers;
    try {
      await waitFor(`FRR bgpd in ${ns.name}`, async () => {
        if (!daemon.running) throw new Error(`bgpd exited:\n${daemon.tail()}`);
        return (await frr.vtysh("show version", 2000)).includes("FRRouting");
      }, timeoutMs, 100);
    } catch (err) {
      await frr.stop();
      throw err;
    }
    return frr;
  }

  /** One vtysh command (configuration commands: `vtysh(["configure terminal", "router bgp 65000", ...])`). */
  vtysh(command: string | string[], timeoutMs = 10000): Promise<string> {
    const cmds = Array.isArray(command) ? command : [command];
    return run("vtysh", ["--vty_socket", this.dir, ...cmds.flatMap((c) => ["-c", c])], timeoutMs);
  }

  async json<T = unknown>(command: string): Promise<T> {
    const out = await this.vtysh(`${command} json`);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new Error(`vtysh "${command} json" did not print JSON: ${out.slice(0, 300)}`);
    }
  }

  /** The BGP state of a neighbour ("Established", "Active", ...), "" when unknown. */
  async neighborState(address: string): Promise<string> {
    const n = await this.json<Record<string, { bgpState?: string }>>(`show bgp neighbors ${address}`);
    return n[address]?.bgpState ?? "";
  }

  /** `show bgp FAMILY unicast json` as prefix -> paths. */
  async routes(family: "ipv4" | "ipv6" = "ipv4"): Promise<Map<string, FrrRoutePath[]>> {
    const table = await this.json<{ routes?: Record<string, FrrRoutePath[]> }>(`show bgp ${family} unicast`);
    return new Map(Object.entries(table.routes ?? {}));
  }

  /** The next hops FRR uses for `prefix` (best and multipath), sorted; [] when absent. */
  async nextHops(prefix: string): Promise<string[]> {
    const paths = (await this.routes(prefix.includes(":") ? "ipv6" : "ipv4")).get(prefix) ?? [];
    return paths
      .filter((p) => p.valid !== false && (p.bestpath === true || (typeof p.bestpath === "object" && p.bestpath.overall) || p.multipath))
      .flatMap((p) => (p.nexthops ?? []).filter((n) => n.afi !== "ipv6" || !n.ip.startsWith("fe80")).map((n) => n.ip).slice(0, 1))
      .sort();
  }

  log(): string {
    return this.daemon.log();
  }

  /** `show bfd peers json`: bfdd's sessions (needs `bfd: true`). */
  bfdPeers(): Promise<FrrBfdPeer[]> {
    return this.json<FrrBfdPeer[]>("show bfd peers");
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    for (const h of this.helpers.reverse()) await h.stop();
    removeDir(this.dir);
  }
}
