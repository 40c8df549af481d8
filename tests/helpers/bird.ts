// A real BIRD 2 for tests and benchmarks: config and control socket in a temp
// dir (never /etc/bird or /run/bird), foreground (-f), bounded readiness wait,
// birdc queries. No kernel protocol: nothing BIRD learns reaches a kernel table.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "./net.ts";
import type { Netns } from "./netns.ts";
import { Daemon, removeDir, run, startDaemon, tempDir } from "./proc.ts";

export class Bird {
  private constructor(readonly daemon: Daemon, readonly dir: string, readonly socket: string) {}

  /**
   * Starts BIRD with `config` (everything after the log line; a `router id` is
   * required) after checking it with `bird -p`, and waits until birdc answers.
   * With `ns`, BIRD runs in that network namespace (birdc reaches it through its socket file).
   */
  static async start(config: string, timeoutMs = 15000, ns?: Netns): Promise<Bird> {
    const dir = tempDir("bird");
    const socket = join(dir, "bird.ctl");
    const file = join(dir, "bird.conf");
    writeFileSync(file, `log "${join(dir, "bird-daemon.log")}" all;\n${config}`);
    try {
      await run("bird", ["-p", "-c", file]);
    } catch (err) {
      removeDir(dir);
      throw new Error(`BIRD config rejected: ${(err as Error).message}\n${config}`);
    }
    const args = ["-f", "-c", file, "-s", socket, "-P", join(dir, "bird.pid")];
    const [cmd, argv] = ns ? ns.wrap("bird", args) : ["bird", args];
    const daemon = startDaemon(ns ? `bird-${ns.name}` : "bird", cmd, argv, join(dir, "bird.log"));
    const b = new Bird(daemon, dir, socket);
    try {
      await waitFor("BIRD control socket", async () => {
        if (!daemon.running) throw new Error(`bird exited:\n${daemon.tail()}`);
        return (await b.cli("show status", 2000)).includes("Daemon is up");
      }, timeoutMs, 100);
    } catch (err) {
      await b.stop();
      throw err;
    }
    return b;
  }

  /** `birdc -s SOCK COMMAND` (the command as one string, split on spaces), stdout. */
  cli(command: string, timeoutMs = 10000): Promise<string> {
    return run("birdc", ["-s", this.socket, ...command.split(" ")], timeoutMs);
  }

  /** The BGP state column of `show protocols NAME` ("Established", "Active", "Connect", ...). */
  async protocolInfo(name: string): Promise<string> {
    const out = await this.cli(`show protocols ${name}`);
    const line = out.split("\n").find((l) => l.startsWith(name + " "));
    return line ? line.trim().split(/\s+/).slice(5).join(" ") : "";
  }

  async established(name: string): Promise<boolean> {
    try {
      return (await this.protocolInfo(name)).startsWith("Established");
    } catch {
      return false;
    }
  }

  /** `show route all` parsed into prefix -> routes with their BGP attributes. */
  async routes(filter = ""): Promise<Map<string, BirdRoute[]>> {
    return parseBirdRoutes(await this.cli(`show route all${filter ? " " + filter : ""}`));
  }

  log(): string {
    return this.daemon.log();
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    removeDir(this.dir);
  }
}

export interface BirdRoute {
  prefix: string;
  /** The route line after the prefix, e.g. "unicast [sart 07:01:02.123] * (100) [AS65000i]". */
  summary: string;
  protocol: string;
  primary: boolean;
  stale: boolean;
  /** BGP attributes by name as birdc prints them: "BGP.as_path" -> "65000 65001". */
  attrs: Record<string, string>;
  via?: string;
}

/** Parses `birdc show route all` output (BIRD 2.0 layout). */
export function parseBirdRoutes(text: string): Map<string, BirdRoute[]> {
  const out = new Map<string, BirdRoute[]>();
  let prefix = "";
  let cur: BirdRoute | undefined;
  for (const raw of text.split("\n")) {
    if (!raw.trim() || raw.startsWith("BIRD ") || raw.startsWith("Table ")) continue;
    const start = /^(\S+\/\d+)\s+(.*)$/.exec(raw);
    const cont = /^\s+((unicast|unreachable|blackhole|prohibit)\b.*)$/.exec(raw);
    if (start || cont) {
      if (start) prefix = start[1];
      const summary = (start ? start[2] : cont![1]).trim();
      const proto = /\[(\S+)/.exec(summary);
      cur = { prefix, summary, protocol: proto ? proto[1] : "", primary: /\]\s+\*/.test(summary), stale: /\bstale\b/i.test(summary), attrs: {} };
      (out.get(prefix) ?? out.set(prefix, []).get(prefix)!).push(cur);
      continue;
    }
    if (!cur) continue;
    const via = /^\s+via (\S+)/.exec(raw);
    if (via) {
      cur.via = via[1];
      continue;
    }
    const attr = /^\s+(\S+):\s?(.*)$/.exec(raw);
    if (attr) cur.attrs[attr[1]] = attr[2].trim();
  }
  return out;
}

export interface BirdBgpOptions {
  name: string;
  localAddress: string;
  localPort: number;
  asn: number;
  neighbor: string;
  neighborPort: number;
  neighborAs: number;
  families?: ("ipv4" | "ipv6")[];
  holdTime?: number;
  passive?: boolean;
  gracefulRestart?: boolean;
  /** Extra lines inside the protocol block. */
  extra?: string;
}

/**
 * A BIRD config with one BGP protocol toward a loopback peer, importing and
 * exporting everything. Next hops resolve through private IGP tables
 * (192.0.2.0/24 and 2001:db8::/32 as blackholes); BIRD calls 127/8 bogus, so
 * routes with loopback next hops show as unreachable, attributes intact. No
 * kernel protocol. `statics` are extra protocol blocks (e.g. static routes).
 */
export function birdBgpConfig(o: BirdBgpOptions, statics = ""): string {
  const fams = o.families ?? ["ipv4"];
  const channel = (f: "ipv4" | "ipv6") =>
    f === "ipv4"
      ? "  ipv4 { import all; export all; igp table igp4; };"
      : "  ipv6 { import all; export all; igp table igp6; next hop address 2001:db8::2; };";
  return `router id 192.0.2.2;
ipv4 table igp4;
ipv6 table igp6;
protocol device { }
protocol static igp_4 { ipv4 { table igp4; }; route 192.0.2.0/24 blackhole; }
protocol static igp_6 { ipv6 { table igp6; }; route 2001:db8::/32 blackhole; }
${statics}
protocol bgp ${o.name} {
  local ${o.localAddress} port ${o.localPort} as ${o.asn};
  neighbor ${o.neighbor} port ${o.neighborPort} as ${o.neighborAs};
  multihop 2;
  strict bind on;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
${o.holdTime !== undefined ? `  hold time ${o.holdTime};\n  keepalive time ${Math.max(1, Math.floor(o.holdTime / 3))};\n` : ""}${o.passive ? "  passive on;\n" : ""}${o.gracefulRestart ? "  graceful restart on;\n" : ""}${o.extra ?? ""}
${fams.map(channel).join("\n")}
}
`;
}
