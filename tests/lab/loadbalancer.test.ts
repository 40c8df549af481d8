// The LoadBalancer extensions end to end in the lab (Kubernetes mode, Bun): the test API
// server, sart controller, three agents, the two FRR routers of the samples (eBGP), and
// "edge", a third FRR in sart-worker's own AS (iBGP with it, tests/lab/edge-router.ts),
// where LOCAL_PREF arrives. Each check reads FRR's own JSON or kubectl's output. The
// routers forward and the lab's kubelet stand-in runs pods (tests/lab/kubelet.ts), so the
// client's curl to a shared address reaches the pods of the Service whose port it uses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { KubeObject } from "../../host/kube/store.ts";
import type { BGPAdvertisement, BGPPeer, Service } from "../../host/kube/types.ts";
import type { FrrRoutePath } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { join } from "node:path";
import { EDGE, EdgeRouter, workerEdgePeer } from "./edge-router.ts";
import { Kubelets } from "./kubelet.ts";
import { Lab } from "./lab.ts";
import type { FrrRouter } from "./routers.ts";
import { ROOT } from "../helpers/sart.ts";
import { atRouters, endpointSlice, sample, service } from "./scenario.ts";

let lab: Lab;
let edge: EdgeRouter;
let kubelets: Kubelets | undefined;
const addr = (i: number) => lab.nodes[i].plan.address;
const [W1, W2, W3] = ["sart-worker", "sart-worker2", "sart-worker3"];

beforeAll(async () => {
  lab = await Lab.start({ mode: "kubernetes", runtime: "bun", forwarding: true });
  edge = await EdgeRouter.start(lab);
  kubelets = new Kubelets(lab, { netnsPrefix: "lbpod", dir: join(lab.dir, "pods") });
  kubelets.start();
  await lab.kubectl(["apply", "-f", "-"], [sample("lb_address_pool.yaml"), sample("peer_template.yaml"), sample("cluster_bgp_a.yaml"), sample("cluster_bgp_c.yaml")].join("\n---\n"));
  await lab.kubectl(["apply", "-f", join(ROOT, "crds/samples/cni/pool.yaml")]);
  await lab.kubectl(["apply", "-f", "-"], `apiVersion: v1
kind: Namespace
metadata: { name: test }
---
apiVersion: v1
kind: Namespace
metadata: { name: team-a }
`);
  // sart-worker's iBGP session with edge, on their direct link.
  await lab.kubectl(["apply", "-f", "-"], workerEdgePeer());
  await waitFor("sart-worker's iBGP session at edge", async () => (await edge.frr.neighborState(EDGE.worker.node)) === "Established", 40_000, 250);
}, 90_000);

afterAll(async () => {
  await kubelets?.stop();
  await edge?.stop();
  await lab?.stop();
}, 60_000);

async function addressOf(name: string, namespace = "test"): Promise<string> {
  return waitFor(`${namespace}/${name}'s address`, async () => (await lab.store!.get<Service>("Service", { name, namespace }))?.status?.loadBalancer?.ingress?.[0]?.ip, 20_000);
}

/** A Cluster Service of the lab's scenario with more annotations. */
function svc(name: string, o: { namespace?: string; annotations?: Record<string, string> }): Service {
  const s = service(name, { namespace: o.namespace });
  Object.assign(s.metadata.annotations!, o.annotations ?? {});
  return s;
}

/** The paths a router holds for `prefix` from the lab's nodes, by node address. */
async function pathsFromNodes(r: FrrRouter, prefix: string): Promise<string[]> {
  const nodes = lab.nodes.map((n) => n.plan.address);
  return (await r.paths(prefix)).map((p) => p.from).filter((f) => nodes.includes(f)).sort();
}

/** `show bgp ipv4 unicast PREFIX json`: the paths of one prefix, attributes and all (the table's JSON leaves communities out). */
async function table(frr: { json<T>(c: string): Promise<T> }, prefix: string): Promise<FrrRoutePath[]> {
  return (await frr.json<{ paths?: FrrRoutePath[] }>(`show bgp ipv4 unicast ${prefix}`)).paths ?? [];
}

describe("LoadBalancer extensions in the lab, against FRR", () => {
  test("a shared address: announced once by each node; the client's curl on each port is answered by that Service's pods", async () => {
    // Two apps (the lab's stand-in runs their pods), one LoadBalancer Service each, one key: they share an address.
    await lab.kubectl(["apply", "-f", "-"], ["shared-a", "shared-b"].map((app, i) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${app}, namespace: test }
spec:
  replicas: 2
  selector: { matchLabels: { app: ${app} } }
  template:
    metadata: { labels: { app: ${app} } }
    spec: { containers: [{ name: app, image: ghcr.io/terassyi/test-server:0.1.2 }] }
---
apiVersion: v1
kind: Service
metadata:
  name: ${app}
  namespace: test
  annotations: { sart.terassyi.net/allow-shared-ip: web }
spec:
  type: LoadBalancer
  selector: { app: ${app} }
  ports: [{ name: http, port: ${i === 0 ? 80 : 8080}, targetPort: 8080 }]
`).join("---\n"));
    const ip = await addressOf("shared-a");
    expect(await addressOf("shared-b")).toBe(ip);
    const prefix = `${ip}/32`;
    const logAt = lab.routers.map((r) => r.log().length);
    await atRouters(lab.routers, prefix, [addr(0), addr(1), addr(2)]);
    // One advertisement for the address, owned by both Services, Advertised by every peer.
    const adv = await waitFor("the shared advertisement Advertised everywhere", async () => {
      const a = (await lab.store!.list<BGPAdvertisement>("BGPAdvertisement", { namespace: "test" })).filter((x) => x.spec.cidr === prefix);
      return a.length === 1 && Object.keys(a[0].status?.peers ?? {}).length === 7 && Object.values(a[0].status!.peers!).every((s) => s === "Advertised") && a[0];
    });
    expect(adv.metadata.name).toBe(`shared-${ip}`);
    expect(adv.metadata.ownerReferences!.map((o) => o.name).sort()).toEqual(["shared-a", "shared-b"]);
    for (const r of lab.routers as FrrRouter[]) {
      // One path per node, each sent once: FRR logged no repeat of it from any node.
      expect(await pathsFromNodes(r, prefix)).toEqual([addr(0), addr(1), addr(2)]);
      for (const n of lab.nodes) expect(r.updatesFrom(logAt[lab.routers.indexOf(r)], n.plan.address, prefix).duplicates).toBe(0);
    }
    // Traffic: the client, through the routers (ECMP) and any node, to the pods of the Service of each port.
    for (const [port, app] of [[80, "shared-a"], [8080, "shared-b"]] as const) {
      for (let i = 0; i < 4; i++) {
        const answer = await waitFor(`curl ${ip}:${port}`, async () => (await lab.client.exec("curl", ["-s", "-m", "3", `http://${ip}:${port}/`]).catch(() => "")).trim() || undefined, 30_000, 250);
        expect(answer.split(" ")[0]).toStartWith(`${app}-`);
      }
    }
  }, 90_000);

  test("a namespace-scoped pool: refused to another namespace with a condition kubectl shows; served to its own", async () => {
    await lab.kubectl(["apply", "-f", "-"], `apiVersion: sart.terassyi.net/v1alpha2
kind: AddressPool
metadata: { name: team-a }
spec:
  cidr: 203.0.113.64/27
  type: service
  serviceAllocation: { namespaces: [team-a] }
`);
    const asks = svc("asks-team-a", { annotations: { "sart.terassyi.net/addresspool": "team-a" } });
    await lab.create([asks, endpointSlice("asks-team-a", [{ node: W1 }])]);
    const jsonpath = '-o=jsonpath={.status.conditions[?(@.type=="sart.terassyi.net/AddressAllocated")].reason}: {.status.conditions[?(@.type=="sart.terassyi.net/AddressAllocated")].message}';
    const shown = await waitFor("the condition", async () => {
      const out = await lab.kubectl(["get", "svc", "-n", "test", "asks-team-a", jsonpath]);
      return out.startsWith("PoolNotAllowed") && out;
    }, 20_000);
    expect(shown).toBe("PoolNotAllowed: pool team-a serves only namespaces team-a, not namespace test");
    const described = await waitFor("the Warning Event in kubectl describe", async () => {
      const out = await lab.kubectl(["describe", "svc", "-n", "test", "asks-team-a"]);
      return /Warning\s+PoolNotAllowed/.test(out) && out;
    }, 20_000);
    expect(described).toContain("pool team-a serves only namespaces team-a, not namespace test");
    expect(await lab.kubectl(["get", "svc", "-n", "test", "asks-team-a", "-o=jsonpath={.status.loadBalancer}"])).toBe("{}");
    // In its own namespace the same Service gets the pool's first address, announced by every node.
    await lab.create([svc("asks-team-a", { namespace: "team-a", annotations: { "sart.terassyi.net/addresspool": "team-a" } }), endpointSlice("asks-team-a", [{ node: W1 }], { namespace: "team-a" })]);
    expect(await addressOf("asks-team-a", "team-a")).toBe("203.0.113.64");
    await atRouters(lab.routers, "203.0.113.64/32", [addr(0), addr(1), addr(2)]);
    // The refused one still has nothing (its condition was rewritten after the pool's change, never Allocated).
    expect(await lab.kubectl(["get", "svc", "-n", "test", "asks-team-a", "-o=jsonpath={.status.loadBalancer}"])).toBe("{}");
  }, 60_000);

  test("communities and large communities at the eBGP routers, LOCAL_PREF at the iBGP one, in FRR's `show bgp ipv4 unicast PREFIX json`", async () => {
    await lab.kubectl(["apply", "-f", "-"], `apiVersion: sart.terassyi.net/v1alpha2
kind: AddressPool
metadata: { name: tagged }
spec:
  cidr: 203.0.113.0/27
  type: service
  bgp:
    communities: ["65000:100"]
    largeCommunities: ["64512:1:2"]
    localPref: 200
`);
    await lab.create([svc("tagged", { annotations: { "sart.terassyi.net/addresspool": "tagged", "sart.terassyi.net/communities": "65000:200" } }), endpointSlice("tagged", [{ node: W2 }])]);
    const prefix = `${await addressOf("tagged")}/32`;
    await atRouters(lab.routers, prefix, [addr(0), addr(1), addr(2)]);
    for (const r of lab.routers as FrrRouter[]) {
      const nodes = lab.nodes.map((n) => n.plan.address);
      const fromNodes = (await table(r.frr, prefix)).filter((p) => nodes.includes(String((p.peer as { peerId?: string } | undefined)?.peerId)));
      expect(fromNodes.length).toBe(3);
      for (const p of fromNodes) {
        expect(p.community?.string).toBe("65000:100 65000:200");
        expect(p.largeCommunity?.string).toBe("64512:1:2");
        expect(p.locPrf ?? 100).not.toBe(200); // never over eBGP
      }
    }
    // edge holds it over iBGP from sart-worker, with LOCAL_PREF 200, from sart-worker's address on their link.
    const atEdge = await waitFor("the route at edge", async () => (await table(edge.frr, prefix))[0], 20_000);
    expect(atEdge.locPrf).toBe(200);
    expect(atEdge.community?.string).toBe("65000:100 65000:200");
    expect(atEdge.largeCommunity?.string).toBe("64512:1:2");
    expect(atEdge.nexthops?.[0]?.ip).toBe(EDGE.worker.node);
    expect(atEdge.aspath?.string).toBe("Local"); // FRR's word for an empty AS_PATH: iBGP prepends nothing
    // The table's JSON shows LOCAL_PREF too.
    const row = (await edge.frr.json<{ routes?: Record<string, FrrRoutePath[]> }>("show bgp ipv4 unicast")).routes?.[prefix];
    expect(row?.map((p) => p.locPrf)).toEqual([200]);
  }, 60_000);

  test("a pool with aggregationLength: its Cluster Services are the aggregate at the routers, no /32s; it stays while one is left", async () => {
    await lab.kubectl(["apply", "-f", "-"], `apiVersion: sart.terassyi.net/v1alpha2
kind: AddressPool
metadata: { name: aggregated }
spec:
  cidr: 203.0.113.128/26
  type: service
  bgp: { aggregationLength: 26, communities: ["65000:300"] }
`);
    const pool = { "sart.terassyi.net/addresspool": "aggregated" };
    await lab.create([svc("agg-a", { annotations: pool }), endpointSlice("agg-a", [{ node: W1 }]), svc("agg-b", { annotations: pool }), endpointSlice("agg-b", [{ node: W3 }])]);
    const [a, b] = [await addressOf("agg-a"), await addressOf("agg-b")];
    expect([a, b].sort()).toEqual(["203.0.113.128", "203.0.113.129"]);
    const aggregate = "203.0.113.128/26";
    await atRouters(lab.routers, aggregate, [addr(0), addr(1), addr(2)]);
    for (const r of lab.routers as FrrRouter[]) {
      const routes = (await r.frr.json<{ routes?: Record<string, FrrRoutePath[]> }>("show bgp ipv4 unicast")).routes ?? {};
      expect(routes[`${a}/32`]).toBeUndefined();
      expect(routes[`${b}/32`]).toBeUndefined();
      const paths = await table(r.frr, aggregate);
      expect(paths.length).toBeGreaterThanOrEqual(3);
      expect(paths.map((p) => p.community?.string ?? "none").filter((c) => c !== "65000:300")).toEqual([]);
    }
    // Two advertisements of the aggregate; deleting one Service leaves the other's.
    const aggAdvs = async () => (await lab.store!.list<BGPAdvertisement>("BGPAdvertisement", { namespace: "test" })).filter((x) => x.spec.cidr === aggregate);
    expect((await aggAdvs()).length).toBe(2);
    const logAt = lab.routers.map((r) => r.log().length);
    await lab.store!.delete("Service", { name: "agg-a", namespace: "test" });
    await waitFor("agg-a's advertisement gone", async () => (await aggAdvs()).length === 1, 20_000);
    // The witness: a Service created after it reaches the routers.
    await lab.create([service("after-agg"), endpointSlice("after-agg", [{ node: W1 }])]);
    await atRouters(lab.routers, `${await addressOf("after-agg")}/32`, [addr(0), addr(1), addr(2)]);
    for (const [i, r] of lab.routers.entries()) {
      expect(await r.nextHops(aggregate)).toEqual([addr(0), addr(1), addr(2)]);
      for (const n of lab.nodes) expect(r.updatesFrom(logAt[i], n.plan.address, aggregate).withdrawals).toEqual([]);
    }
    await lab.store!.delete("Service", { name: "agg-b", namespace: "test" });
    await atRouters(lab.routers, aggregate, []);
  }, 60_000);

  test("kubectl get bgppeer: the hand-written iBGP peer Established beside the ClusterBGP ones", async () => {
    const rows = (await lab.kubectl(["get", "bgppeer", "--no-headers"])).trim().split("\n");
    expect(rows.length).toBe(7);
    expect(rows.every((r) => /\bEstablished\b/.test(r))).toBe(true);
    const peer = await lab.store!.get<BGPPeer>("BGPPeer", { name: "sart-worker-edge" });
    expect(peer?.status?.conditions?.at(-1)).toEqual({ status: "Established", reason: "Established" });
    expect((await lab.store!.list<KubeObject>("Event", { namespace: "default" })).some((e) => (e as unknown as { reason: string }).reason === "IgnoredFields")).toBe(false);
  });
});
