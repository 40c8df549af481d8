// BGPPeer session options in the lab (Kubernetes mode, Bun), against "edge", a third FRR
// with zebra and bfdd (tests/lab/edge-router.ts):
// - sart-worker2 peers with it two hops away through router0: without `ebgpMultihop` its
//   packets die at router0 (TTL 1) and the session never opens; with `ebgpMultihop: 2` it
//   does, signed with the password of `passwordSecret` (FRR: `neighbor X password`);
// - sart-worker peers with it over iBGP on their direct link (`sourceAddress`) with a
//   BFDProfile: FRR's bfdd sees its timers, a changed profile reaches the running BFD
//   session without touching BGP, and a cut link takes the session down through BFD
//   (the failover time is measured in bench/bfd, not here).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AddressBlock, BGPPeer } from "../../host/kube/types.ts";
import { RouteMonitor, kernelRoute } from "../bfd/lab.ts";
import type { FrrBfdPeer } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { EDGE, EdgeRouter, WORKER_POD_BLOCK, bfdProfileYaml, edgePeer, workerEdgePeer } from "./edge-router.ts";
import { Lab } from "./lab.ts";
import { sample } from "./scenario.ts";

let lab: Lab;
let edge: EdgeRouter;

interface NeighborApi {
  state: string;
  ttl?: number;
  ebgpMultihop?: number;
  connectRetryTime?: number;
  passwordSet: boolean;
  localAddress?: string;
  bfd?: { state: string; profile: { receiveInterval: number; transmitInterval: number; detectMultiplier: number } };
  counters: { establishedTransitions: number };
}

beforeAll(async () => {
  lab = await Lab.start({ mode: "kubernetes", runtime: "bun" });
  edge = await EdgeRouter.start(lab);
  await lab.kubectl(["apply", "-f", "-"], [sample("peer_template.yaml"), sample("cluster_bgp_a.yaml"), sample("cluster_bgp_c.yaml")].join("\n---\n"));
}, 90_000);

afterAll(async () => {
  await edge?.stop();
  await lab?.stop();
}, 60_000);

const condition = async (name: string) => (await lab.store!.get<BGPPeer>("BGPPeer", { name }))?.status?.conditions?.at(-1);
const neighbor = (node: number, address: string) => lab.nodes[node].api<NeighborApi>(`/v1/neighbors/${address}`);
const edgeBfd = async (): Promise<FrrBfdPeer | undefined> => (await edge.frr.bfdPeers()).find((p) => p.peer === EDGE.worker.node && p.local === EDGE.worker.edge);
/** FRR's count of sessions it brought up with a neighbour. */
const edgeConnections = async (address: string) =>
  (await edge.frr.json<Record<string, { connectionsEstablished?: number }>>(`show bgp neighbors ${address}`))[address]?.connectionsEstablished ?? 0;

describe("BGPPeer options against FRR in the lab", () => {
  test("ebgpMultihop: two hops away the session opens only with it; TCP MD5 from passwordSecret; connectRetryTime", async () => {
    const w2 = lab.nodes[1].plan.address;
    await lab.kubectl(["apply", "-f", "-"], `apiVersion: v1
kind: Secret
metadata: { name: sart-bgp-passwords, namespace: kube-system }
stringData: { edge: ${EDGE.password} }
`);
    await lab.kubectl(["apply", "-f", "-"], edgePeer("sart-worker2", {
      addr: EDGE.router0.edge, holdTime: 9, connectRetryTime: 2, passwordSecret: { name: "sart-bgp-passwords", namespace: "kube-system", key: "edge" },
    }));
    // TTL 1: router0 drops the SYN (ICMP time exceeded: EHOSTUNREACH) and the status says so.
    const failed = await waitFor("a failed attempt in status", async () => {
      const c = await condition("sart-worker2-edge");
      return c && c.status !== "Established" && c.reason.includes("EHOSTUNREACH") && c;
    }, 20_000, 200);
    expect(["Active", "Idle"]).toContain(failed.status); // trying, or waiting to try again
    const before = await neighbor(1, EDGE.router0.edge);
    expect([before.ttl, before.connectRetryTime, before.passwordSet]).toEqual([1, 2, true]);
    expect(await edgeConnections(w2)).toBe(0);

    await lab.kubectl(["patch", "bgppeer", "sart-worker2-edge", "--type=merge", "-p", '{"spec":{"ebgpMultihop":2}}']);
    await waitFor("Established at edge", async () => (await edge.frr.neighborState(w2)) === "Established", 30_000, 250);
    await waitFor("Established in kubectl", async () => /\bEstablished\b/.test(await lab.kubectl(["get", "bgppeer", "sart-worker2-edge", "--no-headers"])), 10_000, 200);
    const nb = await neighbor(1, EDGE.router0.edge);
    expect([nb.state, nb.ttl, nb.ebgpMultihop, nb.passwordSet]).toEqual(["Established", 2, 2, true]);
    // (FRR signs and checks every segment of a neighbour with a password: up means signed with the Secret's.)
  }, 60_000);

  test("bfdProfile: FRR's bfdd sees its timers; a changed BFDProfile reaches the running session, BGP untouched", async () => {
    await lab.kubectl(["apply", "-f", "-"], [bfdProfileYaml("lab-bfd", { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 }), workerEdgePeer({ bfdProfile: "lab-bfd" })].join("---\n"));
    await waitFor("BGP Established at edge", async () => (await edge.frr.neighborState(EDGE.worker.node)) === "Established", 30_000, 250);
    const up = await waitFor("BFD up at edge with sart's timers", async () => {
      const p = await edgeBfd();
      return p?.status === "up" && p["remote-receive-interval"] === 100 && p["remote-detect-multiplier"] === 3 && p;
    }, 30_000, 200);
    expect(up["remote-transmit-interval"]).toBe(100);
    const nb = await neighbor(0, EDGE.worker.edge);
    expect([nb.localAddress, nb.bfd?.state]).toEqual([EDGE.worker.node, "Up"]);
    // FRR may reset BGP once when its BFD session first comes up (docs/bgp-peers.md); count from here.
    await waitFor("BGP Established again at edge", async () => (await edge.frr.neighborState(EDGE.worker.node)) === "Established", 30_000, 250);
    const [connections, transitions] = [await edgeConnections(EDGE.worker.node), (await neighbor(0, EDGE.worker.edge)).counters.establishedTransitions];

    await lab.kubectl(["patch", "bfdprofile", "lab-bfd", "--type=merge", "-p", '{"spec":{"receiveInterval":200,"transmitInterval":200,"detectMultiplier":5}}']);
    await waitFor("edge sees the new timers", async () => {
      const p = await edgeBfd();
      return p?.status === "up" && p["remote-receive-interval"] === 200 && p["remote-transmit-interval"] === 200 && p["remote-detect-multiplier"] === 5;
    }, 20_000, 200);
    expect((await neighbor(0, EDGE.worker.edge)).bfd?.profile).toEqual({ receiveInterval: 200, transmitInterval: 200, detectMultiplier: 5 });
    expect(await edgeConnections(EDGE.worker.node)).toBe(connections);
    expect((await neighbor(0, EDGE.worker.edge)).counters.establishedTransitions).toBe(transitions);

    // Deleted: the running session keeps its BFD; the condition says what is missing.
    await lab.kubectl(["delete", "bfdprofile", "lab-bfd"]);
    await waitFor("BFDProfileNotFound on the running session", async () => (await condition("sart-worker-edge"))?.reason.startsWith("BFDProfileNotFound: "), 20_000);
    expect((await condition("sart-worker-edge"))!.status).toBe("Established");
    expect((await edgeBfd())?.status).toBe("up");
    await lab.kubectl(["apply", "-f", "-"], bfdProfileYaml("lab-bfd", { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 }));
    await waitFor("back to 100 ms x 3 at edge", async () => (await edgeBfd())?.["remote-receive-interval"] === 100, 20_000, 200);
    await waitFor("the condition clear", async () => (await condition("sart-worker-edge"))?.reason === "Established", 20_000);
  }, 90_000);

  test("a cut link: BFD takes the session down at once and the node's route leaves edge; restored, all is back", async () => {
    await lab.kubectl(["apply", "-f", "-"], WORKER_POD_BLOCK);
    const block = await waitFor("the block", async () => (await lab.store!.list<AddressBlock>("AddressBlock", {})).find((b) => b.spec.nodeRef === "sart-worker"));
    await waitFor("the block in edge's kernel", async () => (await kernelRoute(edge.ns, block.spec.cidr)) !== undefined, 30_000, 200);
    const monitor = new RouteMonitor(edge.ns);
    try {
      await monitor.ready;
      const gone = monitor.deleted(block.spec.cidr);
      await edge.cutWorkerLink();
      // Bounded by the hold timer (9 s): what ends it sooner is BFD.
      await Promise.race([gone, new Promise((_, reject) => setTimeout(() => reject(new Error("the route still at edge 9 s after the cut")), 9000))]);
      const atEdge = (await edge.frr.json<Record<string, Record<string, unknown>>>(`show bgp neighbors ${EDGE.worker.node}`))[EDGE.worker.node];
      // FRR ended the session because its BFD went down (Cease 6/10, RFC 9384).
      expect([atEdge.lastNotificationReason, atEdge.lastErrorCodeSubcode]).toEqual(["Cease/BFD Down", "060A"]);
      expect((await edgeBfd())?.status).toBe("down");
      await waitFor("sart-worker's condition says BFD", async () => /BFD/.test((await condition("sart-worker-edge"))?.reason ?? ""), 10_000, 200);
    } finally {
      monitor.stop();
      await edge.restoreWorkerLink();
    }
    await waitFor("BFD up again", async () => (await edgeBfd())?.status === "up", 30_000, 200);
    await waitFor("the block back in edge's kernel", async () => (await kernelRoute(edge.ns, block.spec.cidr)) !== undefined, 30_000, 200);
    await waitFor("Established in status", async () => (await condition("sart-worker-edge"))?.status === "Established", 20_000);
  }, 90_000);
});
