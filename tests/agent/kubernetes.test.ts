// The agent in Kubernetes mode against the test API server, with two routers (embedded
// speakers, real BGP over loopback TCP): sessions from the Node's InternalIP per
// BGPPeer, their status and Events, NodeBGP status, routes per BGPAdvertisement only
// to the peers its status.peers names, Advertised once in that peer's Adj-RIB-Out,
// Withdraw entries removed once withdrawn, pod AddressBlocks to every peer, BGPPeer
// changes applied to the live session.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Agent } from "../../host/agent/agent.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import { API_VERSION, type AddressBlock, type BGPAdvertisement, type BGPPeer, type NodeBGP } from "../../host/kube/types.ts";
import { type AgentEnv, type TestRouter, advertisement, agentEnv, bgpPeer, nodeWithTwoRouters, startAgent, waitFor } from "./harness.ts";

let env: AgentEnv;
let r0: TestRouter;
let r1: TestRouter;
let agent: Agent;
const lines: string[] = [];
let nodeIp: string;

beforeAll(async () => {
  env = await agentEnv();
  ({ nodeIp, r0, r1 } = await nodeWithTwoRouters(env));
  agent = await startAgent(env, "node-a", {}, lines);
});

afterAll(async () => {
  await agent?.stop();
  await Promise.all([r0?.stop(), r1?.stop()]);
  await env?.cleanup();
});

const peerStatus = async (name: string) => (await env.admin.get<BGPPeer>("BGPPeer", { name }))?.status;
const advPeers = async (name: string) => (await env.admin.get<BGPAdvertisement>("BGPAdvertisement", { name, namespace: "test" }))?.status?.peers ?? {};

describe("Kubernetes mode", () => {
  test("NodeBGP Available, a session per BGPPeer from the InternalIP, Established in status with an Event", async () => {
    await waitFor("NodeBGP Available", async () => (await env.admin.get<NodeBGP>("NodeBGP", { name: "node-a" }))?.status?.conditions?.at(-1)?.status === "Available");
    await env.admin.create(bgpPeer("p0", "node-a", r0));
    await env.admin.create(bgpPeer("p1", "node-a", r1));
    await waitFor("p0 and p1 Established in status", async () => (await peerStatus("p0"))?.conditions?.at(-1)?.status === "Established" && (await peerStatus("p1"))?.conditions?.at(-1)?.status === "Established", 20_000);
    expect((await peerStatus("p0"))!.backoff).toBe(0);
    expect(r0.s.neighbors.get(nodeIp)!.state).toBe("Established");
    const events = await env.admin.list<KubeObject & { reason: string; message: string; involvedObject: { name: string } }>("Event", { namespace: "default" });
    expect(events.some((e) => e.involvedObject.name === "p0" && e.reason === "Established" && e.message.includes(r0.address))).toBe(true);
    expect(agent.ready).toBe(true);
  });

  test("an advertisement goes only to the peers its status names; Advertised once sent; Withdraw removed once withdrawn", async () => {
    const obj = advertisement("web", "198.51.100.10/32");
    await env.admin.create(obj);
    // Created without status.peers (the controller writes them next): nowhere yet.
    await env.admin.patchStatus("BGPAdvertisement", { name: "web", namespace: "test" }, { peers: { p0: "NotAdvertised", "other-node-peer": "NotAdvertised" } });
    await waitFor("Advertised for p0", async () => (await advPeers("web")).p0 === "Advertised");
    expect(r0.has("198.51.100.10/32")).toBe(true);
    expect(r1.has("198.51.100.10/32")).toBe(false);
    // Another node's peer is not ours to mark.
    expect((await advPeers("web"))["other-node-peer"]).toBe("NotAdvertised");

    // The controller moves the target: p0 Withdraw, p1 NotAdvertised.
    await env.admin.patchStatus("BGPAdvertisement", { name: "web", namespace: "test" }, { peers: { p0: "Withdraw", p1: "NotAdvertised" } });
    await waitFor("p1 Advertised and p0's entry gone", async () => {
      const p = await advPeers("web");
      return p.p1 === "Advertised" && !("p0" in p);
    });
    expect(r1.has("198.51.100.10/32")).toBe(true);
    expect(r0.has("198.51.100.10/32")).toBe(false);

    // Deleted: withdrawn from p1.
    await env.admin.delete("BGPAdvertisement", { name: "web", namespace: "test" });
    await waitFor("withdrawn at r1", () => !r1.has("198.51.100.10/32"));
  });

  test("an IPv6 advertisement the session cannot carry usefully stays NotAdvertised (the lab covers MP-BGP with real addresses)", async () => {
    // p0 negotiates IPv6 too, but on loopback the node has no global IPv6 address for a next hop.
    await env.admin.patch("BGPPeer", { name: "p0" }, { spec: { capabilities: ["ipv4-unicast", "ipv6-unicast"] } });
    await waitFor("p0 back with IPv6", async () => agent.speaker?.neighbors.get(r0.address)?.negotiated?.families.includes("ipv6-unicast"), 20_000);
    for (const [name, cidr] of [["web6", "2001:db8:100::10/128"], ["web4", "198.51.100.11/32"]]) {
      await env.admin.create(advertisement(name, cidr));
      await env.admin.patchStatus("BGPAdvertisement", { name, namespace: "test" }, { peers: { p0: "NotAdvertised" } });
    }
    // The witness: the IPv4 one, reconciled and flushed with it, went out.
    await waitFor("web4 Advertised", async () => (await advPeers("web4")).p0 === "Advertised");
    expect(r0.has("198.51.100.11/32")).toBe(true);
    expect(r0.has("2001:db8:100::10/128")).toBe(false);
    expect((await advPeers("web6")).p0).toBe("NotAdvertised");
    for (const name of ["web6", "web4"]) await env.admin.delete("BGPAdvertisement", { name, namespace: "test" });
    await waitFor("withdrawn at r0", () => !r0.has("198.51.100.11/32"));
  });

  test("spec.attrs go with the route: communities and large communities (LOCAL_PREF stays out of eBGP)", async () => {
    const obj = advertisement("attrs", "198.51.100.30/32");
    (obj.spec as { attrs?: string[] }).attrs = ["community:65000:100", "community:65535:65281", "large-community:65000:1:2", "local-pref:200"];
    await env.admin.create(obj);
    await env.admin.patchStatus("BGPAdvertisement", { name: "attrs", namespace: "test" }, { peers: { p0: "NotAdvertised" } });
    const path = await waitFor("the route at r0", () => r0.s.rib.lookup("198.51.100.30/32")?.paths[0]);
    expect(path.communities).toEqual(["65000:100", "65535:65281"]);
    expect(path.largeCommunities).toEqual(["65000:1:2"]);
    expect(path.localPref).toBeUndefined();
    await env.admin.delete("BGPAdvertisement", { name: "attrs", namespace: "test" });
    await waitFor("withdrawn", () => !r0.has("198.51.100.30/32"));
  });

  test("attrs are parsed as the list they are: one entry with a newline is not two entries", async () => {
    const two = advertisement("attrs-two", "198.51.100.31/32");
    (two.spec as { attrs?: string[] }).attrs = ["community:65000:101", "community:65000:102"];
    const one = advertisement("attrs-one", "198.51.100.32/32");
    (one.spec as { attrs?: string[] }).attrs = ["community:65000:101\ncommunity:65000:102"];
    for (const obj of [two, one]) {
      await env.admin.create(obj);
      await env.admin.patchStatus("BGPAdvertisement", { name: obj.metadata.name, namespace: "test" }, { peers: { p0: "NotAdvertised" } });
      await waitFor(`${obj.metadata.name} Advertised`, async () => (await advPeers(obj.metadata.name)).p0 === "Advertised");
    }
    expect(r0.s.rib.lookup("198.51.100.31/32")?.paths[0]?.communities).toEqual(["65000:101", "65000:102"]);
    // Not a community: announced without attributes, and said so.
    expect(r0.s.rib.lookup("198.51.100.32/32")?.paths[0]?.communities).toEqual([]);
    expect(lines.some((l) => l.includes("BGPAdvertisement test/attrs-one: spec.attrs[0]") && l.includes("announced without its attributes"))).toBe(true);
    for (const obj of [two, one]) await env.admin.delete("BGPAdvertisement", { name: obj.metadata.name, namespace: "test" });
    await waitFor("both withdrawn", () => !r0.has("198.51.100.31/32") && !r0.has("198.51.100.32/32"));
  });

  test("the node's pod AddressBlocks go to every peer; another node's do not", async () => {
    const block = (name: string, node: string, cidr: string): AddressBlock => ({
      apiVersion: API_VERSION, kind: "AddressBlock",
      metadata: { name, labels: { "addressblock.sart.terassyi.net/node": node, "sart.terassyi.net/addresspool": "pods" } },
      spec: { cidr, type: "pod", poolRef: "pods", nodeRef: node, autoAssign: true },
    });
    await env.admin.create(block("pods-0", "node-a", "10.1.0.0/29"));
    await env.admin.create(block("pods-1", "node-b", "10.1.0.8/29"));
    await waitFor("the block at both routers", () => r0.has("10.1.0.0/29") && r1.has("10.1.0.0/29"));
    // The other node's block never reaches this agent (its informer selects node-a's blocks).
    expect(r0.has("10.1.0.8/29") || r1.has("10.1.0.8/29")).toBe(false);
    await env.admin.delete("AddressBlock", { name: "pods-0" });
    await waitFor("the block withdrawn", () => !r0.has("10.1.0.0/29") && !r1.has("10.1.0.0/29"));
  });

  test("a keepalive change applies in place; a hold time change resets the session (Cease 6/6) and the Event names it", async () => {
    const nb = () => agent.speaker!.neighbors.get(r1.address)!;
    const transitions = nb().establishedTransitions;
    await env.admin.patch("BGPPeer", { name: "p1" }, { spec: { keepaliveTime: 1 } });
    await waitFor("keepalive applied", () => nb().config.keepaliveTime === 1);
    expect(nb().establishedTransitions).toBe(transitions);
    await env.admin.patch("BGPPeer", { name: "p1" }, { spec: { holdTime: 30 } });
    await waitFor("re-established", () => nb().establishedTransitions === transitions + 1 && nb().state === "Established", 20_000);
    const atRouter = r1.s.neighbors.get(nodeIp)!;
    expect(atRouter.lastNotificationReceived).toMatchObject({ code: 6, subcode: 6 });
    const events = await env.admin.list<KubeObject & { reason: string; message: string; involvedObject: { name: string } }>("Event", { namespace: "default" });
    expect(events.some((e) => e.involvedObject.name === "p1" && e.reason === "SessionDown" && e.message.includes("NOTIFICATION 6/6"))).toBe(true);
  });

  test("a session that goes down: its Advertised entries back to NotAdvertised, Advertised again when it is back", async () => {
    const obj = advertisement("api", "198.51.100.20/32");
    await env.admin.create(obj);
    await env.admin.patchStatus("BGPAdvertisement", { name: "api", namespace: "test" }, { peers: { p0: "NotAdvertised", p1: "NotAdvertised" } });
    await waitFor("Advertised for both", async () => Object.values(await advPeers("api")).every((s) => s === "Advertised"));
    // The router ends the session (Cease 6/2) and comes back.
    await r0.s.removeNeighbor(nodeIp);
    await waitFor("p0 NotAdvertised", async () => (await advPeers("api")).p0 === "NotAdvertised");
    expect((await advPeers("api")).p1).toBe("Advertised");
    await waitFor("p0 status names the NOTIFICATION", async () => (await peerStatus("p0"))?.conditions?.at(-1)?.reason.includes("NOTIFICATION 6/3"));
    r0.accept(nodeIp, 65010);
    await waitFor("p0 Advertised again", async () => (await advPeers("api")).p0 === "Advertised", 20_000);
    expect(r0.has("198.51.100.20/32")).toBe(true);
  });

  test("an invalid BGPPeer: no session, Idle with the field in status, a Warning Event", async () => {
    await env.admin.create(bgpPeer("bad", "node-a", r0, { addr: "192.0.2.77", sourceAddress: "2001:db8::1" }));
    await waitFor("bad's status", async () => (await peerStatus("bad"))?.conditions?.at(-1)?.reason.startsWith("InvalidConfiguration: spec.sourceAddress"));
    expect(agent.speaker!.neighbors.has("192.0.2.77")).toBe(false);
    expect(agent.ready).toBe(true);
    const events = await env.admin.list<KubeObject & { reason: string; message: string; involvedObject: { name: string } }>("Event", { namespace: "default" });
    expect(events.some((e) => e.involvedObject.name === "bad" && e.reason === "InvalidConfiguration" && e.message.includes("spec.sourceAddress"))).toBe(true);
  });

  test("unknown capabilities are ignored with a Warning; the session runs", async () => {
    await env.admin.patch("BGPPeer", { name: "p1" }, { spec: { capabilities: ["ipv4-unicast", "graceful-restart-notification"] } });
    await waitFor("the IgnoredFields Event", async () => {
      const events = await env.admin.list<KubeObject & { reason: string; message: string; involvedObject: { name: string } }>("Event", { namespace: "default" });
      return events.some((e) => e.involvedObject.name === "p1" && e.reason === "IgnoredFields" && e.message.includes('spec.capabilities[1] "graceful-restart-notification"'));
    });
    expect(agent.speaker!.neighbors.get(r1.address)!.state).toBe("Established");
  });

  test("a deleted BGPPeer: its session ends (Cease 6/3) and its routes go elsewhere only", async () => {
    await env.admin.delete("BGPPeer", { name: "bad" });
    await env.admin.delete("BGPPeer", { name: "p1" });
    await waitFor("session to r1 gone", () => !agent.speaker!.neighbors.has(r1.address));
    await waitFor("r1 saw Cease 6/3", () => r1.s.neighbors.get(nodeIp)?.lastNotificationReceived?.subcode === 3);
    await waitFor("the route withdrawn at r1", () => !r1.has("198.51.100.20/32"));
    expect(r0.has("198.51.100.20/32")).toBe(true);
  });
});
