// The agent in Kubernetes mode in the lab (under Bun): the test API server and sart
// controller in the control plane, sart agent on three nodes, two FRR routers. The
// original's LoadBalancer samples (pools, peer template, ClusterBGPs) are applied with
// kubectl as the demo applies them; Services and EndpointSlices are written as the
// cluster's own controllers would.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SART_RT_PROTO } from "../../host/fib/fib.ts";
import type { AddressBlock, BGPAdvertisement, Service } from "../../host/kube/types.ts";
import { waitFor } from "../helpers/net.ts";
import { Lab } from "./lab.ts";
import { atRouters, endpointSlice, podBlock, resentWithoutWithdrawal, sample, service } from "./scenario.ts";

let lab: Lab;
const addr = (i: number) => lab.nodes[i].plan.address;
const addr6 = (i: number) => lab.nodes[i].plan.address6;
const [W1, W2, W3] = ["sart-worker", "sart-worker2", "sart-worker3"];

beforeAll(async () => {
  lab = await Lab.start({ mode: "kubernetes", runtime: "bun" });
  // The samples, unchanged (Deployments and the curl Pod are stored but never run here).
  await lab.kubectl(["apply", "-f", "-"], [sample("lb_address_pool.yaml"), sample("peer_template.yaml"), sample("cluster_bgp_a.yaml"), sample("cluster_bgp_c.yaml")].join("\n---\n"));
  await lab.kubectl(["apply", "-f", "-"], "apiVersion: v1\nkind: Namespace\nmetadata: { name: test }\n");
  // IPv6 Services need the IPv6 family on the sessions (IPv4 sessions carry it over MP-BGP), and an IPv6 pool.
  await lab.kubectl(["patch", "bgppeertemplate", "bgppeertemplate-sample", "--type=merge", "-p", JSON.stringify({ spec: { capabilities: ["ipv4-unicast", "ipv6-unicast"] } })]);
  await lab.kubectl(["patch", "clusterbgp", "clusterbgp-sample-c", "--type=json", "-p", JSON.stringify([{ op: "add", path: "/spec/peers/0/peerConfig/capabilities", value: ["ipv4-unicast", "ipv6-unicast"] }])]);
  await lab.kubectl(["apply", "-f", "-"], `apiVersion: sart.terassyi.net/v1alpha2
kind: AddressPool
metadata: { name: v6-lb-pool }
spec: { cidr: "2001:db8:100::/120", type: service, allocType: bit, autoAssign: true }
`);
}, 60_000);

afterAll(async () => {
  await lab?.stop();
}, 60_000);

async function svcAddress(name: string): Promise<string> {
  return waitFor(`${name}'s address`, async () => (await lab.store!.get<Service>("Service", { name, namespace: "test" }))?.status?.loadBalancer?.ingress?.[0]?.ip, 20_000);
}

describe("the agent in Kubernetes mode (lab, Bun)", () => {
  test("kubectl get bgppeer: every peer Established; nodebgp: Available", async () => {
    await waitFor("6 BGPPeers Established with IPv6 negotiated", async () => {
      const table = await lab.kubectl(["get", "bgppeer", "--no-headers"]);
      const rows = table.trim().split("\n").filter(Boolean);
      if (rows.length !== 6 || !rows.every((r) => /\bEstablished\b/.test(r))) return false;
      for (const n of lab.nodes) {
        const nbs = await n.api<{ negotiated?: { families: string[] } }[]>("/v1/neighbors");
        if (nbs.length !== 2 || !nbs.every((x) => x.negotiated?.families.includes("ipv6-unicast"))) return false;
      }
      return true;
    }, 40_000, 250);
    const nodebgps = await lab.kubectl(["get", "nodebgp", "--no-headers"]);
    expect(nodebgps.trim().split("\n").map((l) => l.split(/\s+/)[0])).toEqual([W1, W2, W3]);
    expect(nodebgps.trim().split("\n").every((l) => /\bAvailable\b/.test(l))).toBe(true);
    for (const r of lab.routers) for (let i = 0; i < 3; i++) expect(await r.established(addr(i))).toBe(true);
  });

  test("a Cluster Service's address at both routers, an ECMP next hop per node; Advertised for every peer", async () => {
    await lab.create([service("web"), endpointSlice("web", [{ node: W1 }])]);
    const ip = await svcAddress("web");
    expect(ip).toStartWith("10.0.1.");
    await atRouters(lab.routers, `${ip}/32`, [addr(0), addr(1), addr(2)]);
    await waitFor("every peer Advertised", async () => {
      const advs = await lab.store!.list<BGPAdvertisement>("BGPAdvertisement", { namespace: "test" });
      const a = advs.find((x) => x.spec.cidr === `${ip}/32`);
      return a && Object.keys(a.status?.peers ?? {}).length === 6 && Object.values(a.status!.peers!).every((s) => s === "Advertised");
    });
  });

  test("a Local Service only via nodes with a ready endpoint; moving the endpoint moves the route", async () => {
    await lab.create([service("local", { policy: "Local" }), endpointSlice("local", [{ node: W1 }, { node: W2 }, { node: W3, ready: false }])]);
    const ip = await svcAddress("local");
    await atRouters(lab.routers, `${ip}/32`, [addr(0), addr(1)]);
    await lab.store!.patch("EndpointSlice", { name: "local-v4slc", namespace: "test" }, endpointSlice("local", [{ node: W1, ready: false }, { node: W2 }, { node: W3 }]));
    await atRouters(lab.routers, `${ip}/32`, [addr(1), addr(2)]);
  });

  test("the bgppeer.sart.terassyi.net/group annotation narrows the peers to router0's", async () => {
    await lab.create([service("grouped", { group: "to-router0" }), endpointSlice("grouped", [{ node: W1 }])]);
    const ip = await svcAddress("grouped");
    await atRouters([lab.router("router0")], `${ip}/32`, [addr(0), addr(1), addr(2)]);
    // A witness: a Service created after it reaches router1; the grouped address never does.
    await lab.create([service("after-grouped"), endpointSlice("after-grouped", [{ node: W1 }])]);
    const later = await svcAddress("after-grouped");
    await atRouters([lab.router("router1")], `${later}/32`, [addr(0), addr(1), addr(2)]);
    // (router1 may hold it from router0 over iBGP; from no node.)
    const nodes = lab.nodes.map((n) => n.plan.address);
    expect((await lab.router("router1").paths(`${ip}/32`)).filter((p) => nodes.includes(p.from))).toEqual([]);
  });

  test("an IPv6 Service's /128 arrives over MP-BGP, next hop each node's IPv6 address", async () => {
    await lab.create([service("web6", { family: "IPv6" }), endpointSlice("web6", [{ node: W2 }], { family: "IPv6" })]);
    const ip = await svcAddress("web6");
    expect(ip).toStartWith("2001:db8:100::");
    await atRouters(lab.routers, `${ip}/128`, [addr6(0), addr6(1), addr6(2)]);
  });

  test("deleting the Service withdraws its address from both routers", async () => {
    const ip = await svcAddress("after-grouped");
    await lab.store!.delete("Service", { name: "after-grouped", namespace: "test" });
    await atRouters(lab.routers, `${ip}/32`, []);
  });

  test("a pod AddressBlock of a node is announced by that node only; other nodes install it (ECMP via both routers)", async () => {
    await lab.kubectl(["apply", "-f", "-"], podBlock(W3));
    const block = await waitFor("the block", async () => (await lab.store!.list<AddressBlock>("AddressBlock", {})).find((b) => b.spec.nodeRef === W3));
    await atRouters(lab.routers, block.spec.cidr, [addr(2)]);
    // sart-worker learned it from both routers: one kernel route, a next hop per router link.
    // (The route appears with the first router's path and turns ECMP when the second arrives.)
    const route = await waitFor("the ECMP kernel route on sart-worker", async () => {
      const r = (await lab.nodes[0].routes([block.spec.cidr]))[0];
      return r?.nexthops?.length === 2 && r;
    });
    expect(route.protocol).toBe(String(SART_RT_PROTO));
    expect(route.nexthops!.map((h) => h.gateway).sort()).toEqual(["169.254.11.1", "169.254.21.1"]);
    // Its own block comes back from the routers with its own AS in the path: never installed.
    expect(await lab.nodes[2].routes([block.spec.cidr])).toEqual([]);
  });

  test("kill -9 of an agent: the routers keep its routes, the restarted agent re-sends them, nothing is withdrawn meanwhile", async () => {
    const ip = await svcAddress("web");
    const prefix = `${ip}/32`;
    const w2 = lab.nodes[1];
    const from = addr(1);
    const logAt = lab.routers.map((r) => r.log().length);
    await w2.killAgent();
    // Graceful restart helpers: its paths stay in use, stale.
    for (const r of lab.routers) {
      await waitFor(`${r.plan.name}: sart-worker2's path kept, stale`, async () => {
        const p = (await r.paths(prefix)).find((x) => x.from === from);
        return p?.stale && p.selected;
      }, 20_000, 200);
    }
    await w2.startAgent();
    expect(w2.agentLog()).toContain("graceful restart");
    for (const r of lab.routers) {
      await waitFor(`${r.plan.name}: sart-worker2's path fresh again`, async () => {
        const p = (await r.paths(prefix)).find((x) => x.from === from);
        return p && !p.stale && p.selected;
      }, 30_000, 200);
    }
    // The restarted agent re-sent the same route: FRR took it as a duplicate of the path it
    // kept, and received no withdrawal of it in between.
    await resentWithoutWithdrawal(lab.routers, logAt, from, prefix, [addr(0), addr(1), addr(2)]);
  }, 90_000);

  test("/metrics and /readyz of an agent", async () => {
    const n = lab.nodes[0];
    expect((await n.health("/readyz")).status).toBe(200);
    const m = (await n.health("/metrics")).body;
    expect(m).toContain('sart_agent_sessions{state="Established"} 2');
    expect(m).toMatch(/sart_agent_advertisements\{state="Advertised"\} [1-9]/);
    expect(m).toMatch(/sart_bgp_prefixes_advertised\{neighbor="9\.9\.9\.9"\} [1-9]/);
    expect(m).toMatch(/sart_fib_operations_total [1-9]/);
    // Under Bun, watch events were followed by paced young collections (host/agent/gc-pacer.ts).
    expect(m).toMatch(/sart_agent_gc_young_collections_total [1-9]/);
  });

  test("a clean stop (SIGTERM): Cease to the routers, its kernel routes removed", async () => {
    const n = lab.nodes[0];
    expect((await n.routes(["proto", String(SART_RT_PROTO)])).length).toBeGreaterThan(0);
    await n.stopAgent();
    expect(n.agent!.exitCode).toBe(0);
    expect(await n.routes(["proto", String(SART_RT_PROTO)])).toEqual([]);
    // Its BGPPeers say so (the STATUS column), not a stale Established.
    const table = await lab.kubectl(["get", "bgppeer", "--no-headers"]);
    const mine = table.trim().split("\n").filter((l) => /\bsart-worker\b/.test(l));
    expect(mine.length).toBe(2);
    expect(mine.every((l) => /\bIdle\b/.test(l))).toBe(true);
    for (const r of lab.routers) await waitFor(`${r.plan.name}: sart-worker down`, async () => !(await r.established(addr(0))), 10_000, 200);
  }, 30_000);
});
