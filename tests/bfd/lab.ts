// A two-namespace lab for BFD tests and the failover benchmark: sart (or, as
// the benchmark's reference, a second FRR) in "node" and FRR (zebra + bfdd +
// bgpd) in "router", joined by one veth link. Both put
// their BGP routes in their namespace's kernel table, so a failover is seen
// where it matters, with `ip monitor route`. The link is cut by dropping every
// frame arriving on either end (an nftables netdev ingress chain; this kernel
// has no netem): the interfaces stay up and senders see no error, so nothing
// but BFD or the hold timer notices.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Frr, frrBgpConfig } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { Netns, veth } from "../helpers/netns.ts";
import { type Runtime, Sart } from "../helpers/sart.ts";

export const NODE = { v4: "192.0.2.1", asn: 65001, route: "198.51.100.0/24" };
export const ROUTER = { v4: "192.0.2.2", asn: 65010, route: "203.0.113.0/24" };

export interface LabOptions {
  runtime?: Runtime;
  /** The node's speaker: sart (default) or FRR with the same settings (a reference). */
  nodeSpeaker?: "sart" | "frr";
  /** sart's BFD profile (ms, ms, count); none: no BFD on either side. */
  bfd?: { receiveInterval: number; transmitInterval: number; detectMultiplier: number };
  /** BGP hold time on both sides (keepalive a third of it). */
  holdTime?: number;
  prefix?: string;
}

type Profile = NonNullable<LabOptions["bfd"]>;

/** bgpd.conf for one side: eBGP to `peer`, its timers, BFD with profile "lab" when asked, `route` originated. */
function frrConfig(self: { v4: string; asn: number; route: string }, peer: { v4: string; asn: number }, hold: number, bfd: boolean): string {
  return frrBgpConfig({
    asn: self.asn, routerId: self.v4, neighbor: peer.v4, remoteAs: peer.asn,
    neighborOptions: [`timers ${Math.floor(hold / 3)} ${hold}`, "timers connect 5", ...(bfd ? ["bfd", "bfd profile lab"] : [])],
    lines: [" address-family ipv4 unicast", `  network ${self.route}`, " exit-address-family"],
  });
}

/** bfdd.conf with profile "lab" of these timers (undefined without a profile). */
export function bfddConfig(b: Profile | undefined): string | undefined {
  return b && `bfd\n profile lab\n  receive-interval ${b.receiveInterval}\n  transmit-interval ${b.transmitInterval}\n  detect-multiplier ${b.detectMultiplier}\n !\n!\n`;
}

export class BfdLab {
  /** The node's speaker when it is FRR (nodeSpeaker "frr"). */
  nodeFrr: Frr | undefined;
  private sartNode: Sart | undefined;

  private constructor(readonly node: Netns, readonly router: Netns, readonly frr: Frr) {}

  get sart(): Sart {
    if (!this.sartNode) throw new Error("this lab's node runs FRR, not sart");
    return this.sartNode;
  }

  static async start(o: LabOptions = {}): Promise<BfdLab> {
    const hold = o.holdTime ?? 9;
    const made: Netns[] = [];
    let frr: Frr | undefined;
    try {
      const node = await Netns.create(`${o.prefix ?? "bfd"}-n`);
      made.push(node);
      const router = await Netns.create(`${o.prefix ?? "bfd"}-r`);
      made.push(router);
      await veth({ ns: node, ifname: "eth0", addresses: [`${NODE.v4}/30`] }, { ns: router, ifname: "eth0", addresses: [`${ROUTER.v4}/30`] });
      const b = o.bfd;
      frr = await Frr.start(router, frrConfig(ROUTER, NODE, hold, !!b), { bfd: true, bfddConfig: bfddConfig(b) });
      const lab = new BfdLab(node, router, frr);
      if (o.nodeSpeaker === "frr") {
        lab.nodeFrr = await Frr.start(node, frrConfig(NODE, ROUTER, hold, !!b), { bfd: true, bfddConfig: bfddConfig(b) });
      } else {
        lab.sartNode = await Sart.startIn(node, {
          asn: NODE.asn, routerId: NODE.v4, listen: { address: "0.0.0.0", port: 179 },
          fib: { enabled: true },
          neighbors: [{ address: ROUTER.v4, asn: ROUTER.asn, holdTime: hold, ...(b && { bfd: b }) }],
          routes: [{ prefix: NODE.route }],
        }, o.runtime ?? "bun");
      }
      try {
        await lab.waitConverged(o.bfd !== undefined);
      } catch (err) {
        await lab.stopNodeSpeaker();
        throw err;
      }
      return lab;
    } catch (err) {
      await frr?.stop();
      for (const ns of made.reverse()) await ns.delete();
      throw err;
    }
  }

  /**
   * BGP Established (and BFD Up when configured) on both sides, each side's route in the
   * other's kernel. BFD first: FRR's bgpd re-creates its BFD session with the local address
   * once BGP is first Established, and a session that came Up just before that goes Down
   * (FRR then resets BGP itself): Up with the local address set is the session that stays.
   */
  async waitConverged(bfd: boolean, timeoutMs = 30000): Promise<void> {
    const n = this.nodeFrr;
    if (bfd) {
      const up = (f: Frr, peer: string, local: string) => async () => (await f.bfdPeers()).some((p) => p.peer === peer && p.local === local && p.status === "up");
      await waitFor("the router's BFD up", up(this.frr, NODE.v4, ROUTER.v4), timeoutMs);
      await waitFor("the node's BFD Up", n ? up(n, ROUTER.v4, NODE.v4) : async () => (await this.sart.neighbor(ROUTER.v4)).bfd?.state === "Up", timeoutMs);
    }
    await waitFor("the node Established", async () => (n ? await n.neighborState(ROUTER.v4) : await this.sart.neighborState(ROUTER.v4)) === "Established", timeoutMs);
    await waitFor("the router Established", async () => (await this.frr.neighborState(NODE.v4)) === "Established", timeoutMs);
    await waitFor(`${NODE.route} in the router's kernel`, async () => (await kernelRoute(this.router, NODE.route)) !== undefined, timeoutMs);
    await waitFor(`${ROUTER.route} in the node's kernel`, async () => (await kernelRoute(this.node, ROUTER.route)) !== undefined, timeoutMs);
  }

  /** Drops every frame in both directions; the links stay up. */
  cut(): Promise<void> {
    return cutLink([{ ns: this.node, ifname: "eth0" }, { ns: this.router, ifname: "eth0" }]);
  }

  restore(): Promise<void> {
    return restoreLink([this.node, this.router]);
  }

  private async stopNodeSpeaker(): Promise<void> {
    await this.sartNode?.stop();
    await this.nodeFrr?.stop();
  }

  async stop(): Promise<void> {
    await this.stopNodeSpeaker();
    await this.frr.stop();
    await this.node.delete();
    await this.router.delete();
  }
}

/**
 * Cuts a link without taking it down: every frame arriving on each end is dropped (an
 * nftables netdev ingress chain, table "labcut"), so senders see no error and only BFD
 * or a hold timer notices.
 */
export async function cutLink(ends: { ns: Netns; ifname: string }[]): Promise<void> {
  await Promise.all(ends.map(({ ns, ifname }) => {
    const rules = `add table netdev labcut\nadd chain netdev labcut in { type filter hook ingress device "${ifname}" priority 0; policy drop; }\n`;
    return ns.exec("sh", ["-c", `printf '%s' '${rules}' | nft -f -`]);
  }));
}

export async function restoreLink(namespaces: Netns[]): Promise<void> {
  await Promise.all(namespaces.map((ns) => ns.exec("nft", ["delete", "table", "netdev", "labcut"]).catch(() => {})));
}

export async function kernelRoute(ns: Netns, prefix: string): Promise<unknown> {
  const routes = JSON.parse((await ns.ip("-j", "route", "show", prefix)) || "[]") as unknown[];
  return routes[0];
}

/**
 * `ip monitor route` in a namespace: `deleted(prefix)` resolves with the time
 * (Date.now()) the kernel reported the route gone.
 */
export class RouteMonitor {
  private child: ChildProcess;
  private waiters: { prefix: string; resolve: (t: number) => void }[] = [];
  readonly ready: Promise<void>;

  constructor(ns: Netns) {
    this.child = spawn("ip", ["-n", ns.name, "monitor", "route"], { stdio: ["ignore", "pipe", "ignore"] });
    // `ip monitor` prints nothing until a change: it is listening once the process runs.
    this.ready = new Promise((resolve) => this.child.once("spawn", () => resolve()));
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const now = Date.now();
      if (!line.startsWith("Deleted ")) return;
      this.waiters = this.waiters.filter((w) => {
        if (!line.startsWith(`Deleted ${w.prefix} `)) return true;
        w.resolve(now);
        return false;
      });
    });
  }

  deleted(prefix: string): Promise<number> {
    return new Promise((resolve) => this.waiters.push({ prefix, resolve }));
  }

  stop(): void {
    this.child.kill();
  }
}
