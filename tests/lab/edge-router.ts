// A third router for the lab's peer-option, route-attribute and BFD tests (and the lab
// BFD benchmark): "edge", FRR with zebra and bfdd, in AS 65020, sart-worker's own AS.
//
//   sart-worker  edge 192.0.2.2/30 ---- w1 192.0.2.1/30  edge (AS 65020) r0 192.0.2.6/30 ---- edge 192.0.2.5/30  router0
//
// - sart-worker peers with it over iBGP on their direct link (its BGPPeer's sourceAddress
//   is 192.0.2.2): LOCAL_PREF arrives, and BFD runs single hop on that link;
// - sart-worker2 peers with it over eBGP from its InternalIP, two hops away through
//   router0 (ebgpMultihop 2, the lab's routers forward), signed with TCP MD5.
// FRR waits for the agents to connect (passive) and sends them nothing, so the lab's
// routing is unchanged; zebra puts what it learns in the edge's kernel table, where
// `ip monitor route` times a failover.
import yaml from "js-yaml";
import { API_VERSION, LABEL_BGPPEER_NODE } from "../../host/kube/types.ts";
import { bfddConfig, cutLink, restoreLink } from "../bfd/lab.ts";
import { Frr } from "../helpers/frr.ts";
import { Netns, veth } from "../helpers/netns.ts";
import { ROUTERS, nodeLink } from "./addressing.ts";
import type { Lab } from "./lab.ts";
import { podBlock } from "./scenario.ts";

export const EDGE = {
  asn: 65020,
  /** Its link to sart-worker: the iBGP session's ends. */
  worker: { edge: "192.0.2.1", node: "192.0.2.2" },
  /** Its link to router0; sart-worker2 peers with `edge` from its InternalIP. */
  router0: { router: "192.0.2.5", edge: "192.0.2.6" },
  /** TCP MD5 password of the session with sart-worker2. */
  password: "lab-edge-md5",
};

export interface EdgeOptions {
  /** FRR's BFD timers towards sart-worker (profile "lab"); default 100 ms x 3. */
  bfd?: { receiveInterval: number; transmitInterval: number; detectMultiplier: number };
  /** FRR's hold time towards the nodes (keepalive a third); default 9 s. */
  holdTime?: number;
}

export function edgeConfig(lab: Lab, o: EdgeOptions = {}): string {
  const hold = o.holdTime ?? 9;
  const [w1, w2] = lab.nodes;
  const timers = `timers ${Math.floor(hold / 3)} ${hold}`;
  return [
    "frr defaults datacenter",
    "hostname edge",
    "debug bgp neighbor-events",
    `router bgp ${EDGE.asn}`,
    ` bgp router-id ${EDGE.worker.edge}`,
    " no bgp ebgp-requires-policy",
    " no bgp default ipv4-unicast",
    ` neighbor ${EDGE.worker.node} remote-as ${w1.plan.asn}`,
    ` neighbor ${EDGE.worker.node} passive`,
    ` neighbor ${EDGE.worker.node} ${timers}`,
    ` neighbor ${EDGE.worker.node} bfd`,
    ` neighbor ${EDGE.worker.node} bfd profile lab`,
    ` neighbor ${w2.plan.address} remote-as ${w2.plan.asn}`,
    ` neighbor ${w2.plan.address} passive`,
    ` neighbor ${w2.plan.address} ${timers}`,
    ` neighbor ${w2.plan.address} ebgp-multihop 2`,
    ` neighbor ${w2.plan.address} update-source ${EDGE.router0.edge}`,
    ` neighbor ${w2.plan.address} password ${EDGE.password}`,
    " address-family ipv4 unicast",
    ...[EDGE.worker.node, w2.plan.address].flatMap((n) => [`  neighbor ${n} activate`, `  neighbor ${n} route-map NOTHING out`]),
    " exit-address-family",
    "route-map NOTHING deny 10",
    "",
  ].join("\n");
}

export class EdgeRouter {
  private constructor(readonly lab: Lab, readonly ns: Netns, readonly frr: Frr) {}

  /** The namespace, its links and routes, FRR (zebra, bfdd, bgpd). */
  static async start(lab: Lab, o: EdgeOptions = {}): Promise<EdgeRouter> {
    const ns = await Netns.create("lab-edge");
    try {
      const [w1, w2] = lab.nodes;
      const r0 = lab.router("router0");
      await veth({ ns, ifname: "w1", addresses: [`${EDGE.worker.edge}/30`] }, { ns: w1.ns, ifname: "edge", addresses: [`${EDGE.worker.node}/30`] });
      await veth({ ns, ifname: "r0", addresses: [`${EDGE.router0.edge}/30`] }, { ns: r0.ns, ifname: "edge", addresses: [`${EDGE.router0.router}/30`] });
      // sart-worker2 <-> edge through router0 (which routes both ways already: it forwards).
      await w2.ns.ip("route", "add", `${EDGE.router0.edge}/32`, "via", nodeLink(ROUTERS[0], w2.plan.index).router);
      await ns.ip("route", "add", `${w2.plan.address}/32`, "via", EDGE.router0.router);
      const frr = await Frr.start(ns, edgeConfig(lab, o), { bfd: true, bfddConfig: bfddConfig(o.bfd ?? { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 }) });
      return new EdgeRouter(lab, ns, frr);
    } catch (e) {
      await ns.delete();
      throw e;
    }
  }

  /** Drops every frame on the edge <-> sart-worker link, both ends (the link stays up). */
  cutWorkerLink(): Promise<void> {
    return cutLink([{ ns: this.ns, ifname: "w1" }, { ns: this.lab.nodes[0].ns, ifname: "edge" }]);
  }

  restoreWorkerLink(): Promise<void> {
    return restoreLink([this.ns, this.lab.nodes[0].ns]);
  }

  async stop(): Promise<void> {
    await this.frr.stop();
    await this.ns.delete(); // its veth ends go with it
  }
}

/** A node's BGPPeer towards edge (named `{node}-edge`), with these spec fields besides AS and node. */
export function edgePeer(node: string, spec: Record<string, unknown>): string {
  return yaml.dump({
    apiVersion: API_VERSION,
    kind: "BGPPeer",
    metadata: { name: `${node}-edge`, labels: { [LABEL_BGPPEER_NODE]: node } },
    spec: { asn: EDGE.asn, nodeBGPRef: node, speaker: { path: "127.0.0.1:5000" }, ...spec },
  });
}

/** sart-worker's BGPPeer towards edge: iBGP on their direct link (sourceAddress), BFD when `bfdProfile` names one. */
export function workerEdgePeer(o: { holdTime?: number; bfdProfile?: string } = {}): string {
  return edgePeer("sart-worker", { addr: EDGE.worker.edge, sourceAddress: EDGE.worker.node, holdTime: o.holdTime ?? 9, ...(o.bfdProfile ? { bfdProfile: o.bfdProfile } : {}) });
}

/** A BFDProfile. */
export function bfdProfileYaml(name: string, p: { receiveInterval: number; transmitInterval: number; detectMultiplier: number }): string {
  return `apiVersion: sart.terassyi.net/v1alpha2
kind: BFDProfile
metadata: { name: ${name} }
spec: { receiveInterval: ${p.receiveInterval}, transmitInterval: ${p.transmitInterval}, detectMultiplier: ${p.detectMultiplier} }
`;
}

/** A pod block of sart-worker: a route only sart-worker announces (edge learns it from nothing else). */
export const WORKER_POD_BLOCK = podBlock("sart-worker");
