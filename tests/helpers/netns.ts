// Network namespaces for tests, benchmarks and the lab: unique names (helpers and CI
// run tests at the same time), veth links between namespaces, and a process-exit hook
// that deletes whatever a test forgot, so no namespace outlives the run.
import { execFileSync } from "node:child_process";
import { run } from "./proc.ts";

const live = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const name of live) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
      } catch {}
    }
  });
}

/** A short random suffix: netns and link names are limited (IFNAMSIZ 15 for links). */
export function uniqueSuffix(length = 5): string {
  return Math.random().toString(36).slice(2, 2 + length).padEnd(length, "0");
}

export class Netns {
  private constructor(readonly name: string) {}

  /** `ip netns add PREFIX-xxxxx` with loopback up. */
  static async create(prefix: string): Promise<Netns> {
    hookExit();
    const name = `${prefix}-${uniqueSuffix()}`;
    await run("ip", ["netns", "add", name]);
    live.add(name);
    const ns = new Netns(name);
    await ns.ip("link", "set", "lo", "up");
    return ns;
  }

  /** The path runtimes pass as CNI_NETNS. */
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }

  /** `ip -n NAME ARGS...`, stdout. */
  ip(...args: string[]): Promise<string> {
    return run("ip", ["-n", this.name, ...args]);
  }

  /** Runs a command inside the namespace (`ip netns exec`), stdout. */
  exec(cmd: string, args: string[], timeoutMs = 10000): Promise<string> {
    return run("ip", ["netns", "exec", this.name, cmd, ...args], timeoutMs);
  }

  /** The command line that runs `cmd args` in this namespace (for startDaemon). */
  wrap(cmd: string, args: string[]): [string, string[]] {
    return ["ip", ["netns", "exec", this.name, cmd, ...args]];
  }

  async delete(): Promise<void> {
    if (!live.delete(this.name)) return;
    await run("ip", ["netns", "del", this.name]).catch(() => {});
  }
}

export interface VethEnd {
  ns: Netns;
  ifname: string;
  /** Addresses with prefix length, e.g. "192.0.2.1/24", "2001:db8::1/64". */
  addresses?: string[];
}

/**
 * A veth pair between two namespaces, both ends up, addresses added (IPv6 without
 * duplicate address detection, so they are usable at once).
 */
export async function veth(a: VethEnd, b: VethEnd): Promise<void> {
  await a.ns.ip("link", "add", a.ifname, "type", "veth", "peer", "name", b.ifname, "netns", b.ns.name);
  for (const end of [a, b]) {
    for (const addr of end.addresses ?? []) {
      await end.ns.ip("addr", "add", addr, "dev", end.ifname, ...(addr.includes(":") ? ["nodad"] : []));
    }
    await end.ns.ip("link", "set", end.ifname, "up");
  }
}
