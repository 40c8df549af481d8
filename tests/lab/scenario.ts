// Objects and waits the lab tests share (Kubernetes and standalone mode).
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import type { KubeObject } from "../../host/kube/store.ts";
import type { EndpointSlice, Service } from "../../host/kube/types.ts";
import { waitFor } from "../helpers/net.ts";
import { ROOT } from "../helpers/sart.ts";
import type { LabRouter } from "./routers.ts";

/** The original's LoadBalancer samples (crds/samples/lb), as the demo applies them. */
export function sample(file: string): string {
  return readFileSync(join(ROOT, "crds/samples/lb", file), "utf8");
}

export function service(name: string, o: { policy?: "Cluster" | "Local"; ips?: string; pool?: string; group?: string; family?: "IPv4" | "IPv6"; namespace?: string } = {}): Service {
  const annotations: Record<string, string> = {};
  if (o.ips) annotations["sart.terassyi.net/loadBalancerIPs"] = o.ips;
  if (o.pool) annotations["sart.terassyi.net/addresspool"] = o.pool;
  if (o.group) annotations["bgppeer.sart.terassyi.net/group"] = o.group;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: o.namespace ?? "test", annotations },
    spec: {
      type: "LoadBalancer",
      externalTrafficPolicy: o.policy ?? "Cluster",
      allocateLoadBalancerNodePorts: false,
      ...(o.family ? { ipFamilies: [o.family], ipFamilyPolicy: "SingleStack" as const } : {}),
      selector: { app: name },
      ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080 }],
    },
  };
}

/** What the endpointslice controller would write: one endpoint per node, ready unless said. */
export function endpointSlice(svc: string, endpoints: { node: string; ready?: boolean }[], o: { family?: "IPv4" | "IPv6"; namespace?: string } = {}): EndpointSlice {
  const v6 = o.family === "IPv6";
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${svc}-${v6 ? "v6" : "v4"}slc`, namespace: o.namespace ?? "test", labels: { "kubernetes.io/service-name": svc } },
    addressType: v6 ? "IPv6" : "IPv4",
    endpoints: endpoints.map((e, i) => ({ addresses: [v6 ? `fd00:244::${i + 10}` : `10.244.0.${i + 10}`], conditions: { ready: e.ready ?? true }, nodeName: e.node })),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  } as EndpointSlice;
}

/** A pod pool (10.1.0.0/24 in /29 blocks) and a BlockRequest giving `node` a block of it. */
export function podBlock(node: string): string {
  return `apiVersion: sart.terassyi.net/v1alpha2
kind: AddressPool
metadata: { name: pods }
spec: { cidr: 10.1.0.0/24, type: pod, allocType: bit, blockSize: 29, autoAssign: true }
---
apiVersion: sart.terassyi.net/v1alpha2
kind: BlockRequest
metadata: { name: ${node}-pods }
spec: { pool: pods, node: ${node} }
`;
}

export function toYaml(objs: KubeObject[]): string {
  return objs.map((o) => yaml.dump(o, { noRefs: true })).join("---\n");
}

/** Waits until both routers forward `prefix` on exactly these next hops ([] = absent). */
export async function atRouters(routers: LabRouter[], prefix: string, nextHops: string[], timeoutMs = 30_000): Promise<void> {
  const want = [...nextHops].sort().join(",");
  for (const r of routers) {
    await waitFor(`${prefix} at ${r.plan.name} via [${want}]`, async () => (await r.nextHops(prefix)).join(",") === want, timeoutMs, 200);
  }
}

/**
 * After an agent's graceful restart: each router's log since `logAt[i]` shows the route
 * from `from` re-sent once and taken as a duplicate of the path it kept, and no
 * withdrawal of it; then every router forwards on `nextHops` again.
 */
export async function resentWithoutWithdrawal(routers: LabRouter[], logAt: number[], from: string, prefix: string, nextHops: string[]): Promise<void> {
  routers.forEach((r, i) => {
    const u = r.updatesFrom(logAt[i], from, prefix);
    expect({ router: r.plan.name, duplicates: u.duplicates, withdrawals: u.withdrawals }).toEqual({ router: r.plan.name, duplicates: 1, withdrawals: [] });
  });
  await atRouters(routers, prefix, nextHops);
}
