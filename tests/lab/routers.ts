// The lab's two routers, FRR (bgpd) or BIRD, behind one interface: iBGP between them in
// AS 65000, eBGP multihop to every node's InternalIP from their loopback, multipath
// across nodes, graceful restart helpers, next hop towards a node rewritten to the
// router's own link address (so the node's kernel can install what it learns).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { Bird, parseBirdRoutes } from "../helpers/bird.ts";
import { Frr, type FrrRoutePath } from "../helpers/frr.ts";
import type { Netns } from "../helpers/netns.ts";
import { type NodePlan, ROUTER_ASN, ROUTER_LINK, type RouterPlan, clientLink, nodeLink } from "./addressing.ts";

/** One path a router holds for a prefix. */
export interface RouterPath {
  /** The BGP next hop (a node's address for routes from nodes). */
  nextHop: string;
  /** Selected: best or an ECMP member. */
  selected: boolean;
  stale: boolean;
  /** The node (by address) or router it came from. */
  from: string;
  /** When the router last changed the path (seconds, router's clock). */
  since?: number;
}

export interface LabRouter {
  plan: RouterPlan;
  ns: Netns;
  /** Paths for a prefix ([] when absent). */
  paths(prefix: string): Promise<RouterPath[]>;
  /** The next hops the router forwards on for a prefix (selected paths), sorted. */
  nextHops(prefix: string): Promise<string[]>;
  /** Whether the session with this neighbour (a node's address) is Established. */
  established(neighbor: string): Promise<boolean>;
  /** The router's own log (withdrawals and updates it received are logged). */
  log(): string;
  /**
   * What the log says about `prefix` from the neighbour at `from` since the log was
   * `logOffset` long: announcements taken as duplicates of what it held, and withdrawals.
   */
  updatesFrom(logOffset: number, from: string, prefix: string): { duplicates: number; withdrawals: string[] };
  stop(): Promise<void>;
}

const other = (r: RouterPlan) => (r.name === "router0" ? "router1" : "router0");

// ---- FRR ----

/**
 * `forwarding`: the router also announces its link to the client (so nodes and pods can
 * answer the client) and zebra puts its best routes in the namespace's kernel.
 */
export function frrConfig(r: RouterPlan, nodes: NodePlan[], forwarding = false): string {
  const peer = ROUTER_LINK[other(r)];
  const lines = [
    "frr defaults datacenter",
    `hostname ${r.name}`,
    "debug bgp updates in",
    "debug bgp neighbor-events",
    `router bgp ${ROUTER_ASN}`,
    ` bgp router-id ${r.loopback}`,
    " no bgp ebgp-requires-policy",
    " no bgp default ipv4-unicast",
    " bgp bestpath as-path multipath-relax",
    " bgp graceful-restart",
    " neighbor NODES peer-group",
    " neighbor NODES ebgp-multihop 2",
    ` neighbor NODES update-source ${r.loopback}`,
    ...nodes.flatMap((n) => [` neighbor ${n.address} remote-as ${n.asn}`, ` neighbor ${n.address} peer-group NODES`]),
    ` neighbor ${peer} remote-as ${ROUTER_ASN}`,
    " address-family ipv4 unicast",
    "  neighbor NODES activate",
    ...nodes.map((n) => `  neighbor ${n.address} route-map TO-NODE${n.index} out`),
    `  neighbor ${peer} activate`,
    `  neighbor ${peer} next-hop-self`,
    ...(forwarding ? [`  network ${clientLink(r).network}`] : []),
    "  maximum-paths 16",
    "  maximum-paths ibgp 16",
    " exit-address-family",
    " address-family ipv6 unicast",
    "  neighbor NODES activate",
    ...nodes.map((n) => `  neighbor ${n.address} route-map TO-NODE${n.index}-V6 out`),
    "  maximum-paths 16",
    " exit-address-family",
    ...nodes.flatMap((n) => {
      const l = nodeLink(r, n.index);
      return [`route-map TO-NODE${n.index} permit 10`, ` set ip next-hop ${l.router}`, `route-map TO-NODE${n.index}-V6 permit 10`, ` set ipv6 next-hop global ${l.router6}`];
    }),
  ];
  return lines.join("\n") + "\n";
}

export class FrrRouter implements LabRouter {
  private constructor(readonly plan: RouterPlan, readonly ns: Netns, readonly frr: Frr) {}

  static async start(plan: RouterPlan, ns: Netns, nodes: NodePlan[], forwarding = false): Promise<FrrRouter> {
    return new FrrRouter(plan, ns, await Frr.start(ns, frrConfig(plan, nodes, forwarding), { zebra: forwarding }));
  }

  async paths(prefix: string): Promise<RouterPath[]> {
    const v6 = prefix.includes(":");
    const d = await this.frr.json<{ paths?: (FrrRoutePath & { lastUpdate?: { epoch: number }; stale?: boolean })[] }>(`show bgp ${v6 ? "ipv6" : "ipv4"} unicast ${prefix}`);
    return (d.paths ?? []).map((p) => ({
      nextHop: (p.nexthops ?? []).find((n) => !n.ip.startsWith("fe80"))?.ip ?? "",
      selected: p.valid !== false && (p.multipath === true || p.bestpath === true || (typeof p.bestpath === "object" && !!p.bestpath.overall)),
      stale: !!p.stale,
      from: String((p.peer as { peerId?: string } | undefined)?.peerId ?? ""),
      since: p.lastUpdate?.epoch,
    }));
  }

  async nextHops(prefix: string): Promise<string[]> {
    return (await this.paths(prefix)).filter((p) => p.selected).map((p) => p.nextHop).sort();
  }

  async established(neighbor: string): Promise<boolean> {
    return (await this.frr.neighborState(neighbor)) === "Established";
  }

  updatesFrom(logOffset: number, from: string, prefix: string) {
    const lines = this.log().slice(logOffset).split("\n").filter((l) => l.includes(`${from}(`) || l.includes(`${from} `));
    return {
      duplicates: lines.filter((l) => l.includes(`rcvd ${prefix} `) && l.includes("duplicate ignored")).length,
      withdrawals: lines.filter((l) => l.includes(prefix) && /withdrawn/.test(l)),
    };
  }

  /** bgpd's own log file (`debug bgp updates in`: every UPDATE and withdrawal received). */
  log(): string {
    const file = join(this.frr.dir, "bgpd-daemon.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  stop(): Promise<void> {
    return this.frr.stop();
  }
}

// ---- BIRD ----

export function birdConfig(r: RouterPlan, nodes: NodePlan[]): string {
  const peer = ROUTER_LINK[other(r)];
  const statics4 = nodes.map((n) => `  route ${n.address}/32 via ${nodeLink(r, n.index).node};`).join("\n");
  const statics6 = nodes.map((n) => `  route ${n.address6}/128 via ${nodeLink(r, n.index).node6};`).join("\n");
  const nodeProtocols = nodes.map((n) => {
    const l = nodeLink(r, n.index);
    return `protocol bgp node${n.index} {
  local ${r.loopback} as ${ROUTER_ASN};
  neighbor ${n.address} as ${n.asn};
  multihop 2;
  graceful restart on;
  connect retry time 2;
  error wait time 1, 5;
  hold time 9;
  keepalive time 3;
  debug { states, routes, events };
  ipv4 { import all; export where source = RTS_BGP; next hop address ${l.router}; };
  ipv6 { import all; export where source = RTS_BGP; next hop address ${l.router6}; };
}`;
  }).join("\n");
  return `router id ${r.loopback};
protocol device { }
protocol direct { ipv4; ipv6; }
protocol static nodes4 { ipv4; ${"\n"}${statics4}
}
protocol static nodes6 { ipv6; ${"\n"}${statics6}
}
${nodeProtocols}
protocol bgp ${other(r)} {
  local ${ROUTER_LINK[r.name]} as ${ROUTER_ASN};
  neighbor ${peer} as ${ROUTER_ASN};
  graceful restart on;
  ipv4 { import all; export where source = RTS_BGP; next hop self; };
  ipv6 { import all; export where source = RTS_BGP; next hop self; };
}
`;
}

export class BirdRouter implements LabRouter {
  private constructor(readonly plan: RouterPlan, readonly ns: Netns, readonly bird: Bird, private readonly nodes: NodePlan[]) {}

  static async start(plan: RouterPlan, ns: Netns, nodes: NodePlan[]): Promise<BirdRouter> {
    return new BirdRouter(plan, ns, await Bird.start(birdConfig(plan, nodes), 15000, ns), nodes);
  }

  async paths(prefix: string): Promise<RouterPath[]> {
    // birdc exits non-zero when there is no route ("Network not found" on stdout).
    const out = await new Promise<string>((resolve, reject) =>
      execFile("birdc", ["-s", this.bird.socket, "show", "route", "all", "for", prefix], { timeout: 10_000 }, (err, stdout, stderr) =>
        !err || /Network not found/.test(stdout) ? resolve(stdout) : reject(new Error(`birdc show route for ${prefix}: ${stderr || stdout || err.message}`))));
    const routes = parseBirdRoutes(out).get(prefix) ?? [];
    // `for` answers the longest match: only exact entries count.
    return routes.filter((rt) => rt.prefix === prefix).map((rt) => ({
      nextHop: rt.attrs["BGP.next_hop"]?.split(/\s+/)[0] ?? "",
      selected: rt.primary,
      stale: rt.stale,
      from: this.protocolAddress(rt.protocol),
    }));
  }

  private protocolAddress(protocol: string): string {
    const m = /^node(\d+)$/.exec(protocol);
    return m ? (this.nodes.find((n) => n.index === Number(m[1]))?.address ?? protocol) : protocol;
  }

  /** BIRD shows one primary path and keeps the others: the paths from nodes are the ECMP set. */
  async nextHops(prefix: string): Promise<string[]> {
    return (await this.paths(prefix)).filter((p) => p.from !== other(this.plan)).map((p) => p.nextHop).sort();
  }

  async established(neighbor: string): Promise<boolean> {
    const n = this.nodes.find((x) => x.address === neighbor);
    return n ? this.bird.established(`node${n.index}`) : false;
  }

  /** BIRD traces imports as "nodeN.ipv4 > added|ignored|removed PREFIX". */
  updatesFrom(logOffset: number, from: string, prefix: string) {
    const n = this.nodes.find((x) => x.address === from);
    const tag = `node${n?.index}.ipv${prefix.includes(":") ? 6 : 4} > `;
    const lines = this.log().slice(logOffset).split("\n").filter((l) => l.includes(tag) && l.includes(` ${prefix} `));
    return {
      duplicates: lines.filter((l) => l.includes(`${tag}ignored`)).length,
      withdrawals: lines.filter((l) => l.includes(`${tag}removed`)),
    };
  }

  /** BIRD's own log file (the `debug` lines: routes added and removed per protocol). */
  log(): string {
    const file = join(this.bird.dir, "bird-daemon.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  stop(): Promise<void> {
    return this.bird.stop();
  }
}
