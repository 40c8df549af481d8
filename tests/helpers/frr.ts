// A real FRR bgpd for tests, benchmarks and the lab, one instance per network namespace:
// config, pid, log and vty socket in a temp dir (never /etc/frr or /run/frr), no zebra
// (-Z: routes stay in bgpd, nothing reaches a kernel table), queried with
// `vtysh --vty_socket DIR`. FRR checks next hops and AS paths strictly, which makes it a
// good conformance peer.
import { writeFileSync } from "node:fs";
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
  private constructor(readonly ns: Netns, readonly daemon: Daemon, readonly dir: string) {}

  /**
   * Starts bgpd in `ns` with `config` (a bgpd.conf: `router bgp ...`; eBGP needs
   * `no bgp ebgp-requires-policy` to pass routes), after `bgpd -C` accepted it, and
   * waits until vtysh answers.
   */
  static async start(ns: Netns, config: string, timeoutMs = 15000): Promise<Frr> {
    const dir = tempDir("frr");
    const file = join(dir, "bgpd.conf");
    writeFileSync(file, config);
    try {
      await run("/usr/lib/frr/bgpd", ["-C", "-f", file, "-S", "-Z", "-n"]);
    } catch (err) {
      removeDir(dir);
      throw new Error(`FRR config rejected: ${(err as Error).message}\n${config}`);
    }
    const [cmd, args] = ns.wrap("/usr/lib/frr/bgpd", [
      "-f", file, "-i", join(dir, "bgpd.pid"), "--vty_socket", dir, "-S", "-Z", "-n", "--log", `file:${join(dir, "bgpd-daemon.log")}`,
    ]);
    const daemon = startDaemon(`frr-${ns.name}`, cmd, args, join(dir, "bgpd.log"));
    const frr = new Frr(ns, daemon, dir);
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

  async stop(): Promise<void> {
    await this.daemon.stop();
    removeDir(this.dir);
  }
}
