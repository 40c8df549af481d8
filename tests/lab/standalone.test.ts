// The agent in standalone mode in the lab (under Node): no Kubernetes, each node's agent
// reads its own config directory (NodeBGP, BGPPeers, pools; Services and EndpointSlices
// written by the test, as files) with the controller's reconcilers in-process; two BIRD
// routers. The same scenarios as in Kubernetes mode, driven by editing files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { KubeObject } from "../../host/kube/store.ts";
import { waitFor } from "../helpers/net.ts";
import { Lab, type LabNode } from "./lab.ts";
import { atRouters, endpointSlice, resentWithoutWithdrawal, service, toYaml } from "./scenario.ts";
import { standaloneNodeConfig } from "./standalone-config.ts";

let lab: Lab;
const addr = (i: number) => lab.nodes[i].plan.address;
const addr6 = (i: number) => lab.nodes[i].plan.address6;
const [W1, W2, W3] = ["sart-worker", "sart-worker2", "sart-worker3"];

beforeAll(async () => {
  lab = await Lab.start({ mode: "standalone", runtime: "node", standaloneConfig: standaloneNodeConfig, agentArgs: ["--fib-table", "100"] });
}, 60_000);

afterAll(async () => {
  await lab?.stop();
}, 60_000);

/** The same file in every node's directory (the agents pick it up by themselves). */
function everywhere(file: string, objs: KubeObject[]): void {
  for (const n of lab.nodes) n.writeConfig(file, toYaml(objs));
}

/** What the node's agent wrote to its local store (statuses). */
function stored(n: LabNode, kind: string, name: string): KubeObject & { status?: any } {
  const state = JSON.parse(readFileSync(join(n.stateDir, "standalone-store.json"), "utf8")) as { objects: KubeObject[] };
  return state.objects.find((o) => o.kind === kind && o.metadata.name === name) as KubeObject;
}

describe("the agent in standalone mode (lab, Node, BIRD)", () => {
  test("BGPPeers Established and NodeBGP Available in each node's local store", async () => {
    for (const n of lab.nodes) {
      await waitFor(`${n.name}'s BGPPeers Established`, () =>
        ["router0", "router1"].every((r) => stored(n, "BGPPeer", `${n.name}-${r}`)?.status?.conditions?.at(-1)?.status === "Established"), 30_000, 200);
      expect(stored(n, "NodeBGP", n.name).status.conditions.at(-1)).toEqual({ status: "Available", reason: "Configured" });
    }
    for (const r of lab.routers) for (let i = 0; i < 3; i++) expect(await r.established(addr(i))).toBe(true);
  });

  test("/metrics under Node: the agent's own metrics, no paced young collections (V8 needs none)", async () => {
    const m = (await lab.nodes[0].health("/metrics")).body;
    expect(m).toContain('sart_agent_sessions{state="Established"} 2');
    expect(m).not.toContain("sart_agent_gc_young_collections_total");
  });

  test("a Cluster Service's address at both routers with a path per node", async () => {
    everywhere("web.yaml", [service("web", { ips: "10.0.1.10", namespace: "default" }), endpointSlice("web", [{ node: W1 }], { namespace: "default" })]);
    await atRouters(lab.routers, "10.0.1.10/32", [addr(0), addr(1), addr(2)]);
  });

  test("a Local Service only via nodes with a ready endpoint; editing the EndpointSlice moves the route", async () => {
    everywhere("local.yaml", [service("local", { ips: "10.0.1.11", policy: "Local", namespace: "default" }), endpointSlice("local", [{ node: W1 }, { node: W2 }, { node: W3, ready: false }], { namespace: "default" })]);
    await atRouters(lab.routers, "10.0.1.11/32", [addr(0), addr(1)]);
    everywhere("local.yaml", [service("local", { ips: "10.0.1.11", policy: "Local", namespace: "default" }), endpointSlice("local", [{ node: W1, ready: false }, { node: W2 }, { node: W3 }], { namespace: "default" })]);
    await atRouters(lab.routers, "10.0.1.11/32", [addr(1), addr(2)]);
  });

  test("the group annotation narrows the peers to router0's", async () => {
    everywhere("grouped.yaml", [service("grouped", { ips: "10.0.1.12", group: "to-router0", namespace: "default" }), endpointSlice("grouped", [{ node: W1 }], { namespace: "default" })]);
    await atRouters([lab.router("router0")], "10.0.1.12/32", [addr(0), addr(1), addr(2)]);
    // A witness: a Service written after it reaches router1 from the nodes; the grouped one does not.
    everywhere("after.yaml", [service("after", { ips: "10.0.1.13", namespace: "default" }), endpointSlice("after", [{ node: W1 }], { namespace: "default" })]);
    await atRouters([lab.router("router1")], "10.0.1.13/32", [addr(0), addr(1), addr(2)]);
    const nodes = lab.nodes.map((n) => n.plan.address);
    expect((await lab.router("router1").paths("10.0.1.12/32")).filter((p) => nodes.includes(p.from))).toEqual([]);
  });

  test("an IPv6 Service's /128 over MP-BGP", async () => {
    everywhere("web6.yaml", [service("web6", { ips: "2001:db8:100::10", family: "IPv6", namespace: "default" }), endpointSlice("web6", [{ node: W2 }], { family: "IPv6", namespace: "default" })]);
    await atRouters(lab.routers, "2001:db8:100::10/128", [addr6(0), addr6(1), addr6(2)]);
  });

  test("removing the Service's file withdraws it from both routers", async () => {
    for (const n of lab.nodes) rmSync(join(n.configDir, "after.yaml"));
    await atRouters(lab.routers, "10.0.1.13/32", []);
  });

  test("a pod AddressBlock in one node's directory is announced by that node only; the others install it in --fib-table 100", async () => {
    lab.nodes[2].writeConfig("block.yaml", `apiVersion: sart.terassyi.net/v1alpha2
kind: AddressBlock
metadata:
  name: pods-0
  labels: { addressblock.sart.terassyi.net/node: sart-worker3, sart.terassyi.net/addresspool: pods }
spec: { cidr: 10.1.0.0/29, type: pod, poolRef: pods, nodeRef: sart-worker3, autoAssign: true }
`);
    await atRouters(lab.routers, "10.1.0.0/29", [addr(2)]);
    const route = await waitFor("the ECMP route in table 100 on sart-worker", async () => {
      const r = (await lab.nodes[0].routes(["table", "100", "10.1.0.0/29"]))[0];
      return r?.nexthops?.length === 2 && r;
    });
    expect(route.nexthops!.map((h) => h.gateway).sort()).toEqual(["169.254.11.1", "169.254.21.1"]);
    expect(await lab.nodes[0].routes(["10.1.0.0/29"])).toEqual([]); // not in the main table
  });

  test("SIGHUP re-reads the config directory", async () => {
    const n = lab.nodes[0];
    const reloads = () => n.agentLog().split("\n").filter((l) => l.includes("reloaded")).length;
    const before = reloads();
    n.agent!.signal("SIGHUP");
    await waitFor("a reload after SIGHUP", () => reloads() === before + 1, 10_000);
  });

  test("kill -9 of an agent: BIRD keeps its routes, the restarted agent re-sends them, nothing is withdrawn meanwhile", async () => {
    const prefix = "10.0.1.10/32";
    const w2 = lab.nodes[1];
    const from = addr(1);
    const logAt = lab.routers.map((r) => r.log().length);
    await w2.killAgent();
    for (const r of lab.routers) await waitFor(`${r.plan.name}: graceful restart of sart-worker2 detected`, () => r.log().slice(logAt[lab.routers.indexOf(r)]).includes("node2: Neighbor graceful restart detected"), 20_000, 200);
    // Kept meanwhile.
    for (const r of lab.routers) expect((await r.paths(prefix)).some((p) => p.from === from)).toBe(true);
    await w2.startAgent();
    expect(w2.agentLog()).toContain("graceful restart");
    for (const r of lab.routers) await waitFor(`${r.plan.name}: graceful restart of sart-worker2 done`, () => r.log().slice(logAt[lab.routers.indexOf(r)]).includes("node2: Neighbor graceful restart done"), 30_000, 200);
    await resentWithoutWithdrawal(lab.routers, logAt, from, prefix, [addr(0), addr(1), addr(2)]);
  }, 90_000);
});
