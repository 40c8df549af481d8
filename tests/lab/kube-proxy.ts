// kube-proxy's part for LoadBalancer addresses in a lab node, as nftables rules: traffic to
// a Service's address and port is DNATed to one of its ready endpoints (chosen at random
// per connection). externalTrafficPolicy Cluster may pick an endpoint on another node, so
// that traffic is also SNATed to the node's address and the reply comes back through this
// node (as kube-proxy masquerades it); Local only picks endpoints on this node and keeps
// the client's address. One table per node, replaced whole on every change.
import { spawn } from "node:child_process";
import type { Netns } from "../helpers/netns.ts";

export interface LbEndpoint {
  ip: string;
  node: string;
}

export interface LbRule {
  /** "namespace/name", for the comment on the rule. */
  service: string;
  address: string;
  port: number;
  protocol: "tcp" | "udp";
  targetPort: number;
  policy: "Cluster" | "Local";
  endpoints: LbEndpoint[];
}

const TABLE = "sart-lab-proxy";
const SNAT_MARK = "0x5a47";

/** The node's nft ruleset for `rules` (IPv4 addresses only). */
export function proxyRuleset(node: string, nodeAddress: string, rules: LbRule[]): string {
  const lines: string[] = [];
  for (const r of rules) {
    if (r.address.includes(":")) continue;
    const eps = r.policy === "Local" ? r.endpoints.filter((e) => e.node === node) : r.endpoints;
    if (eps.length === 0) continue; // the node does not announce it either (Local), or no endpoint is ready
    const map = eps.map((e, i) => `${i} : ${e.ip} . ${r.targetPort}`).join(", ");
    const mark = r.policy === "Cluster" ? `meta mark set ${SNAT_MARK} ` : "";
    lines.push(`    ip daddr ${r.address} ${r.protocol} dport ${r.port} ${mark}dnat ip to numgen random mod ${eps.length} map { ${map} } comment "${r.service}"`);
  }
  // "table ...; delete table ...;" first: the file replaces the table whether or not it exists.
  return [
    `table ip ${TABLE}`,
    `delete table ip ${TABLE}`,
    `table ip ${TABLE} {`,
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    ...lines,
    "  }",
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    `    meta mark ${SNAT_MARK} snat ip to ${nodeAddress}`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Loads a ruleset into the node's namespace (`nft -f -`, atomic). */
export function applyRuleset(ns: Netns, ruleset: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns.name, "nft", "-f", "-"], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.on("error", (e) => reject(new Error(`nft in ${ns.name}: ${e.message}`)));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`nft -f in ${ns.name}: exit ${code}: ${stderr.trim()}\n${ruleset}`));
    });
    child.stdin.end(ruleset);
  });
}
