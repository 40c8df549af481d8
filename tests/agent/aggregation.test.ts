// The aggregation rule (host/kube/route-attrs.ts, docs/loadbalancer.md): the controller
// gives every Cluster Service of a pool with aggregationLength an advertisement whose
// spec.cidr is the pool's aggregate, all with the same attrs. The agent announces the
// aggregate to a peer while any of them targets that peer, once (one UPDATE), and
// withdraws it from a peer only when none does. Kubernetes mode against the test API
// server, routers as embedded speakers on loopback.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Agent } from "../../host/agent/agent.ts";
import type { BGPAdvertisement } from "../../host/kube/types.ts";
import { type AgentEnv, type TestRouter, advertisement, agentEnv, bgpPeer, nodeWithTwoRouters, startAgent, waitFor } from "./harness.ts";

let env: AgentEnv;
let r0: TestRouter;
let r1: TestRouter;
let agent: Agent;
let nodeIp: string;

const AGGREGATE = "203.0.113.0/25";
const ATTRS = ["community:65000:300", "large-community:64512:1:2"];

beforeAll(async () => {
  env = await agentEnv();
  ({ nodeIp, r0, r1 } = await nodeWithTwoRouters(env));
  agent = await startAgent(env, "node-a");
  await env.admin.create(bgpPeer("p0", "node-a", r0));
  await env.admin.create(bgpPeer("p1", "node-a", r1));
  await waitFor("both sessions up", () => r0.s.neighbors.get(nodeIp)?.state === "Established" && r1.s.neighbors.get(nodeIp)?.state === "Established", 20_000);
});

afterAll(async () => {
  await agent?.stop();
  await Promise.all([r0?.stop(), r1?.stop()]);
  await env?.cleanup();
});

const key = (name: string) => ({ name, namespace: "test" });
const peersOf = async (name: string) => (await env.admin.get<BGPAdvertisement>("BGPAdvertisement", key(name)))?.status?.peers ?? {};

/** An advertisement of the aggregate, as the controller writes one per Cluster Service. */
async function aggregateFor(svc: string, peers: Record<string, "NotAdvertised">): Promise<void> {
  const adv = advertisement(`${svc}-agg`, AGGREGATE);
  (adv.spec as { attrs: string[] }).attrs = ATTRS;
  await env.admin.create(adv);
  await env.admin.patchStatus("BGPAdvertisement", key(`${svc}-agg`), { peers });
}

/** UPDATEs and withdrawn prefixes a router received from the node so far. */
const counters = (r: TestRouter) => r.s.rib.peerCounters(r.s.neighbors.get(nodeIp)!.idx);
const updates = (r: TestRouter) => counters(r).updatesIn;
const withdrawals = (r: TestRouter) => counters(r).withdrawnIn;

describe("one aggregate, several advertisements", () => {
  test("announced once to each peer any of them targets, with the attrs", async () => {
    await aggregateFor("a", { p0: "NotAdvertised" });
    await waitFor("a Advertised", async () => (await peersOf("a-agg")).p0 === "Advertised");
    const u0 = updates(r0);
    expect(u0).toBeGreaterThan(0);
    await aggregateFor("b", { p0: "NotAdvertised", p1: "NotAdvertised" });
    await waitFor("b Advertised to both", async () => Object.values(await peersOf("b-agg")).join() === "Advertised,Advertised");
    const path = r0.s.rib.lookup(AGGREGATE)!.paths;
    expect(path.length).toBe(1);
    expect(path[0].communities).toEqual(["65000:300"]);
    expect(path[0].largeCommunities).toEqual(["64512:1:2"]);
    expect(r1.has(AGGREGATE)).toBe(true);
    // r0 already had it: b's advertisement sent it nothing again.
    expect(updates(r0)).toBe(u0);
  });

  test("one of them letting go of a peer withdraws nothing while another targets it", async () => {
    const [u0, u1, w0] = [updates(r0), updates(r1), withdrawals(r0)];
    await env.admin.delete("BGPAdvertisement", key("a-agg"));
    // The witness, reconciled after the deletion: a route of its own reaching r0.
    const witness = advertisement("witness", "198.51.100.99/32");
    await env.admin.create(witness);
    await env.admin.patchStatus("BGPAdvertisement", key("witness"), { peers: { p0: "NotAdvertised" } });
    await waitFor("the witness Advertised", async () => (await peersOf("witness")).p0 === "Advertised");
    expect(r0.has(AGGREGATE)).toBe(true);
    expect(updates(r0)).toBe(u0 + 1); // the witness's UPDATE only
    expect(withdrawals(r0)).toBe(w0); // no withdrawal of the aggregate, even briefly
    expect(updates(r1)).toBe(u1);
  });

  test("withdrawn from a peer when the last advertisement targeting it lets go, and everywhere when none is left", async () => {
    await env.admin.patchStatus("BGPAdvertisement", key("b-agg"), { peers: { p1: "Withdraw" } });
    await waitFor("b's Withdraw entry removed", async () => !("p1" in (await peersOf("b-agg"))));
    expect(r1.has(AGGREGATE)).toBe(false);
    expect(r0.has(AGGREGATE)).toBe(true);
    await env.admin.delete("BGPAdvertisement", key("b-agg"));
    await waitFor("withdrawn at r0", () => !r0.has(AGGREGATE));
    expect(r0.has("198.51.100.99/32")).toBe(true);
  });
});
