// What the agent needs from the embedded Speaker beyond `sart speaker`: routes
// originated for some neighbours only (the core's export tags), a neighbour's
// configuration changed in place (reset only when the OPEN changes), and a graceful
// restart that also waits for the embedder (holdRestart) before our End-of-RIB.
// Peers are other embedded speakers in the same process, each with its own core.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { checkConfig, neighborFromJson } from "../../host/bgp/config.ts";
import { Speaker } from "../../host/bgp/speaker.ts";
import { locateWasm } from "../../host/core/node.ts";
import { instantiateCore } from "../../host/core/wasm.ts";
import { freePort, loopbackAddress, waitFor } from "./harness.ts";

const wasm = readFileSync(locateWasm());
const speakers: Speaker[] = [];

afterAll(async () => {
  await Promise.all(speakers.map((s) => s.stop()));
});

interface Node {
  s: Speaker;
  address: string;
  port: number;
  events: string[];
}

async function embedded(asn: number, routerId: string, opts: { restarting?: boolean; restartTime?: number } = {}): Promise<Node> {
  const address = loopbackAddress();
  const port = await freePort(address);
  const events: string[] = [];
  const config = checkConfig({ asn, routerId, listen: { address, port }, api: { listen: "" } }, "embedded");
  const s = new Speaker(config, {
    core: instantiateCore(wasm),
    log: () => undefined,
    restarting: opts.restarting,
    restartTime: opts.restartTime,
    onSessionChange: (peer, up, reason) => events.push(`${peer} ${up ? "up" : `down: ${reason}`}`),
  });
  speakers.push(s);
  await s.start();
  return { s, address, port, events };
}

/** `a` connects to `b` (passive there), holdTime 9. */
function peer(a: Node, b: Node, extra: Record<string, unknown> = {}): void {
  a.s.addNeighbor(neighborFromJson({ address: b.address, asn: b.s.asn, port: b.port, holdTime: 9, ...extra }));
  b.s.addNeighbor(neighborFromJson({ address: a.address, asn: a.s.asn, port: a.port, passive: true, holdTime: 9 }));
}

const up = (x: Node, y: Node) => waitFor(`${x.address} -> ${y.address} Established`, () => x.s.neighbors.get(y.address)?.state === "Established" || undefined);
const has = (x: Node, prefix: string) => x.s.rib.lookup(prefix) !== undefined;

describe("routes for some neighbours only", () => {
  test("a route goes to its targets; retargeting moves it; a target added later gets it; removal drops it", async () => {
    const agent = await embedded(65010, "192.0.2.10");
    const r0 = await embedded(65000, "192.0.2.100");
    const r1 = await embedded(65000, "192.0.2.101");
    peer(agent, r0);
    peer(agent, r1);
    await up(agent, r0);
    await up(agent, r1);

    agent.s.originate({ prefix: "198.51.100.1/32", nextHop: "self", communities: [] }, [r0.address]);
    agent.s.originate({ prefix: "198.51.100.0/28", nextHop: "self", communities: [] });
    await waitFor("the untargeted route at both", () => (has(r0, "198.51.100.0/28") && has(r1, "198.51.100.0/28")) || undefined);
    await waitFor("the targeted route at r0", () => has(r0, "198.51.100.1/32") || undefined);
    expect(has(r1, "198.51.100.1/32")).toBe(false);
    const r0Idx = agent.s.neighbors.get(r0.address)!.idx;
    const r1Idx = agent.s.neighbors.get(r1.address)!.idx;
    expect(agent.s.rib.advertisedTo(r0Idx, "198.51.100.1/32")).toBe(true);
    expect(agent.s.rib.advertisedTo(r1Idx, "198.51.100.1/32")).toBe(false);

    // Retarget to r1 only: withdrawn at r0, announced at r1.
    agent.s.originate({ prefix: "198.51.100.1/32", nextHop: "self", communities: [] }, [r1.address]);
    await waitFor("moved to r1", () => (has(r1, "198.51.100.1/32") && !has(r0, "198.51.100.1/32")) || undefined);
    expect(agent.s.routeTargetsOf("198.51.100.1/32")).toEqual([r1.address]);

    // A route for a neighbour not configured yet is nowhere until it is added.
    const r2 = await embedded(65000, "192.0.2.102");
    agent.s.originate({ prefix: "198.51.100.2/32", nextHop: "self", communities: [] }, [r2.address]);
    await waitFor("the untargeted route reached r1 after the retarget", () => has(r1, "198.51.100.0/28") || undefined);
    peer(agent, r2);
    await up(agent, r2);
    await waitFor("the late target's route", () => has(r2, "198.51.100.2/32") || undefined);
    expect(has(r0, "198.51.100.2/32") || has(r1, "198.51.100.2/32")).toBe(false);

    // Its neighbour removed: its bit is free, and a neighbour taking the bit does not inherit the route.
    await agent.s.removeNeighbor(r2.address);
    const r3 = await embedded(65000, "192.0.2.103");
    peer(agent, r3);
    await up(agent, r3);
    await waitFor("r3 has the untargeted route (its table arrived)", () => has(r3, "198.51.100.0/28") || undefined);
    expect(has(r3, "198.51.100.2/32")).toBe(false);
    expect(has(r3, "198.51.100.1/32")).toBe(false);

    // Withdrawing a route whose targets are all gone is not an error.
    agent.s.withdraw("198.51.100.2/32");
    expect(agent.s.originated.has("198.51.100.2/32")).toBe(false);
  });
});

describe("reconfigureNeighbor", () => {
  test("keepalive and export apply to the running session; a hold time change resets it with Cease 6/6", async () => {
    const a = await embedded(65020, "192.0.2.20");
    const b = await embedded(65021, "192.0.2.21");
    peer(a, b);
    await up(a, b);
    const cfg = a.s.neighbors.get(b.address)!.config;
    expect(await a.s.reconfigureNeighbor({ ...cfg })).toBe("unchanged");
    expect(await a.s.reconfigureNeighbor({ ...cfg, keepaliveTime: 1 })).toBe("updated");
    const nb = a.s.neighbors.get(b.address)!;
    const sent = nb.messagesOut.keepalive;
    await waitFor("keepalives every second", () => nb.messagesOut.keepalive >= sent + 2 || undefined, 5000);
    expect(a.events).toEqual([`${b.address} up`]);

    expect(await a.s.reconfigureNeighbor({ ...cfg, keepaliveTime: 1, holdTime: 30 })).toBe("reset");
    await waitFor("B saw Cease 6/6", () => b.events.some((e) => e.includes("NOTIFICATION 6/6")) || undefined);
    await up(a, b);
    expect(a.s.neighbors.get(b.address)!.negotiated!.holdTime).toBe(9); // b still offers 9
    expect(a.events.at(-1)).toBe(`${b.address} up`);
  });
});

describe("holdRestart", () => {
  test("a restarting speaker sends nothing to graceful-restart peers until the embedder releases its hold", async () => {
    const agent = await embedded(65030, "192.0.2.30", { restarting: true, restartTime: 60 });
    const router = await embedded(65000, "192.0.2.130");
    const release = agent.s.holdRestart();
    agent.s.originate({ prefix: "198.51.100.30/32", nextHop: "self", communities: [] });
    peer(agent, router);
    await up(agent, router);
    // The router's End-of-RIB reached the agent: only the hold keeps the restart going.
    const nb = agent.s.neighbors.get(router.address)!;
    await waitFor("End-of-RIB from the router", () => nb.endOfRibReceived.has("ipv4-unicast") || undefined);
    expect(agent.s.restarting()).toBe(true);
    // A KEEPALIVE from the router after its End-of-RIB: the agent had its chance to send.
    const ka = nb.messagesIn.keepalive;
    await waitFor("a keepalive after End-of-RIB", () => nb.messagesIn.keepalive > ka || undefined, 10_000);
    expect(has(router, "198.51.100.30/32")).toBe(false);
    release();
    expect(agent.s.restarting()).toBe(false);
    await waitFor("the route at the router", () => has(router, "198.51.100.30/32") || undefined);
  });
});
