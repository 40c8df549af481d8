// The Speaker as the agent embeds it: two speakers in one process, each with
// its own core, session change callbacks, run-time routes and neighbours.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { checkConfig, neighborFromJson } from "../../host/bgp/config.ts";
import { Speaker, SpeakerError } from "../../host/bgp/speaker.ts";
import { locateWasm } from "../../host/core/node.ts";
import { instantiateCore } from "../../host/core/wasm.ts";
import { freePort, loopbackAddress, waitFor } from "./harness.ts";

const wasm = readFileSync(locateWasm());
const speakers: Speaker[] = [];

afterAll(async () => {
  await Promise.all(speakers.map((s) => s.stop()));
});

async function embedded(asn: number, routerId: string, events: string[]): Promise<{ s: Speaker; address: string; port: number }> {
  const address = loopbackAddress();
  const port = await freePort(address);
  const config = checkConfig({ asn, routerId, listen: { address, port }, api: { listen: "" } }, "embedded");
  const s = new Speaker(config, {
    core: instantiateCore(wasm),
    log: () => undefined,
    onSessionChange: (peer, up, reason) => events.push(`${peer} ${up ? "up" : `down: ${reason}`}`),
  });
  speakers.push(s);
  await s.start();
  return { s, address, port };
}

describe("embedded Speaker", () => {
  test("two speakers in one process: sessions, routes, session callbacks, neighbour removal", async () => {
    const ea: string[] = [];
    const eb: string[] = [];
    const a = await embedded(65101, "192.0.2.11", ea);
    const b = await embedded(65102, "192.0.2.12", eb);
    a.s.addNeighbor(neighborFromJson({ address: b.address, asn: 65102, port: b.port }));
    b.s.addNeighbor(neighborFromJson({ address: a.address, asn: 65101, port: a.port, passive: true }));
    expect(() => a.s.addNeighbor(neighborFromJson({ address: b.address, asn: 65102 }))).toThrow(SpeakerError);
    await waitFor("both up", () => ea.length && eb.length || undefined);
    expect(ea).toEqual([`${b.address} up`]);
    expect(eb).toEqual([`${a.address} up`]);

    a.s.originate({ prefix: "198.51.100.0/24", nextHop: "self", communities: ["65101:1"] });
    const atB = await waitFor("route at B", () => b.s.rib.lookup("198.51.100.0/24"));
    expect(atB.paths[0]).toMatchObject({ peer: a.address, nextHop: a.address, communities: ["65101:1"] });
    a.s.withdraw("198.51.100.0/24");
    await waitFor("withdrawn at B", () => b.s.rib.lookup("198.51.100.0/24") === undefined || undefined);
    let missing: unknown;
    try {
      a.s.withdraw("198.51.100.0/24");
    } catch (e) {
      missing = e;
    }
    expect(missing).toBeInstanceOf(SpeakerError);
    expect((missing as SpeakerError).status).toBe(404);

    await a.s.removeNeighbor(b.address);
    await waitFor("B sees the session end", () => eb.length === 2 || undefined);
    expect(eb[1]).toBe(`${a.address} down: received NOTIFICATION 6/3 (Cease: Peer De-configured)`);
    expect(ea[1]).toStartWith(`${b.address} down: neighbor removed (peer de-configured) (sent NOTIFICATION 6/3)`);
  });

  test("full tables both ways at once (backpressure on both sockets): everything arrives", async () => {
    const N = 200_000;
    const a = await embedded(65111, "192.0.2.21", []);
    const b = await embedded(65112, "192.0.2.22", []);
    for (let i = 0; i < N; i++) {
      a.s.originate({ prefix: `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`, nextHop: "self", communities: [] });
      b.s.originate({ prefix: `${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`, nextHop: "self", communities: [] });
    }
    a.s.addNeighbor(neighborFromJson({ address: b.address, asn: 65112, port: b.port }));
    b.s.addNeighbor(neighborFromJson({ address: a.address, asn: 65111, port: a.port, passive: true }));
    await waitFor("both full tables", () => (a.s.rib.stats().ipv4Prefixes === 2 * N && b.s.rib.stats().ipv4Prefixes === 2 * N) || undefined, 60_000);
    expect(b.s.rib.peerCounters(b.s.neighbors.get(a.address)!.idx).received).toBe(N);
    expect(a.s.rib.peerCounters(a.s.neighbors.get(b.address)!.idx).received).toBe(N);
  });
});
