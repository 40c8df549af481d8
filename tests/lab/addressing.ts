// The lab's address plan. Every address lives only inside the lab's own network
// namespaces, so each lab instance uses the same plan (the namespaces' names are
// unique) and the original sart's sample manifests apply unchanged: routers at
// 9.9.9.9 and 7.7.7.7 in AS 65000, LoadBalancer pools such as 10.0.1.0/24.

export const ROUTER_ASN = 65000;

export interface RouterPlan {
  name: "router0" | "router1";
  /** The loopback address nodes peer with (the samples' BGPPeer addr). */
  loopback: string;
  /** Third octet base of its links to the nodes: node i is on 169.254.(base + i).0/24. */
  linkBase: number;
}

export const ROUTERS: RouterPlan[] = [
  { name: "router0", loopback: "9.9.9.9", linkBase: 10 },
  { name: "router1", loopback: "7.7.7.7", linkBase: 20 },
];

/** The iBGP link between the two routers. */
export const ROUTER_LINK = { router0: "169.254.0.1", router1: "169.254.0.2", prefixLength: 30 };

/** The management network (the API server and the nodes, like kind's docker network). */
export const MGMT = { apiServer: "172.18.0.1", prefixLength: 24, apiPort: 6443 };

export interface NodePlan {
  /** 1-based. */
  index: number;
  name: string;
  asn: number;
  /** InternalIP: on the management interface, the source of the node's BGP sessions. */
  address: string;
  /** A global IPv6 address on the same interface: next hop of its IPv6 routes. */
  address6: string;
}

/** Node names as the original's kind cluster names its workers. */
export function nodePlan(index: number): NodePlan {
  return {
    index,
    name: index === 1 ? "sart-worker" : `sart-worker${index}`,
    asn: 65010 + 10 * index,
    address: `172.18.0.${10 + index}`,
    address6: `2001:db8:18::${10 + index}`,
  };
}

/** Both ends of the link between node i and a router. */
export function nodeLink(r: RouterPlan, node: number) {
  const third = r.linkBase + node;
  return {
    router: `169.254.${third}.1`,
    node: `169.254.${third}.2`,
    router6: `2001:db8:a:${third}::1`,
    node6: `2001:db8:a:${third}::2`,
  };
}

/** The client's links to the routers (the demo's curl side). */
export function clientLink(r: RouterPlan) {
  const third = r.name === "router0" ? 100 : 101;
  return { network: `169.254.${third}.0/24`, router: `169.254.${third}.1`, client: `169.254.${third}.2`, router6: `2001:db8:c:${third}::1`, client6: `2001:db8:c:${third}::2` };
}
