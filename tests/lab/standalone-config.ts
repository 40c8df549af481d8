// A standalone node's config directory for the lab: its NodeBGP, a BGPPeer per router
// (groups to-router0 / to-router1, IPv4 and IPv6 over the IPv4 session), and the
// LoadBalancer pools of the samples plus an IPv6 one. Services and EndpointSlices are
// written by the tests (the same files in every node's directory).
import type { KubeObject } from "../../host/kube/store.ts";
import { API_VERSION } from "../../host/kube/types.ts";
import { type NodePlan, ROUTERS, ROUTER_ASN } from "./addressing.ts";
import { toYaml } from "./scenario.ts";

export function standaloneNodeConfig(n: NodePlan): Record<string, string> {
  const nodeBgp: KubeObject = {
    apiVersion: API_VERSION,
    kind: "NodeBGP",
    metadata: { name: n.name },
    spec: { asn: n.asn, routerId: n.address, speaker: { path: "127.0.0.1:5000", multipath: true } },
  };
  const peers: KubeObject[] = ROUTERS.map((r) => ({
    apiVersion: API_VERSION,
    kind: "BGPPeer",
    metadata: { name: `${n.name}-${r.name}`, labels: { "bgppeer.sart.terassyi.net/node": n.name } },
    spec: {
      asn: ROUTER_ASN, addr: r.loopback, nodeBGPRef: n.name, speaker: { path: "127.0.0.1:5000" },
      groups: [r.name === "router0" ? "to-router0" : "to-router1"], capabilities: ["ipv4-unicast", "ipv6-unicast"],
    },
  }));
  const pool = (name: string, cidr: string): KubeObject => ({
    apiVersion: API_VERSION, kind: "AddressPool", metadata: { name }, spec: { cidr, type: "service", allocType: "bit", autoAssign: true },
  });
  return {
    "nodebgp.yaml": toYaml([nodeBgp]),
    "peers.yaml": toYaml(peers),
    "pools.yaml": toYaml([pool("default-lb-pool", "10.0.1.0/24"), pool("v6-lb-pool", "2001:db8:100::/120")]),
  };
}
