// BFD in the Speaker as the agent embeds it: two speakers in one process on
// loopback (each with its own core and BFD ports). A profile changed with
// setBfd reaches the peer by a Poll and leaves BGP alone; BFD removed from one
// side sends AdminDown, which the other side's BGP ignores (RFC 5882 3.2).
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { checkConfig, neighborFromJson } from "../../host/bgp/config.ts";
import { Speaker, SpeakerError } from "../../host/bgp/speaker.ts";
import dgram from "node:dgram";
import { locateWasm } from "../../host/core/node.ts";
import { instantiateCore } from "../../host/core/wasm.ts";
import { freePort, loopbackBlock, waitFor } from "../helpers/net.ts";
import { freeUdpPort } from "./raw-peer.ts";

const wasm = readFileSync(locateWasm());
const speakers: Speaker[] = [];

afterAll(async () => {
  await Promise.all(speakers.map((s) => s.stop()));
});

async function embedded(asn: number, address: string, bfd: { port: number; peerPort: number }, events: string[]): Promise<{ s: Speaker; port: number }> {
  const port = await freePort(address);
  const config = checkConfig({ asn, routerId: address, listen: { address, port }, api: { listen: "" } }, "embedded");
  const s = new Speaker(config, {
    core: instantiateCore(wasm),
    bfd,
    log: () => undefined,
    onSessionChange: (peer, up, reason) => events.push(`${peer} ${up ? "up" : `down: ${reason}`}`),
  });
  speakers.push(s);
  await s.start();
  return { s, port };
}

describe("BFD in embedded speakers", () => {
  test("setBfd changes timers by a Poll and removes BFD with AdminDown, BGP untouched", async () => {
    const ip = loopbackBlock();
    const [pa, pb] = [await freeUdpPort("0.0.0.0"), await freeUdpPort("0.0.0.0")];
    const ea: string[] = [];
    const eb: string[] = [];
    const a = await embedded(65101, ip(1), { port: pa, peerPort: pb }, ea);
    const b = await embedded(65102, ip(2), { port: pb, peerPort: pa }, eb);
    // 300 ms x 5: the two speakers share this process, and a loaded machine stalls it for a few hundred ms.
    const profile = { receiveInterval: 300, transmitInterval: 300, detectMultiplier: 5 };
    a.s.addNeighbor(neighborFromJson({ address: ip(2), asn: 65102, port: b.port, holdTime: 3, bfd: profile }));
    b.s.addNeighbor(neighborFromJson({ address: ip(1), asn: 65101, port: a.port, holdTime: 3, passive: true, bfd: profile }));
    const bfdA = () => a.s.bfd!.get(ip(2))!;
    const bfdB = () => b.s.bfd!.get(ip(1))!;
    await waitFor("BGP and BFD up on both", () => ea.length === 1 && eb.length === 1 && bfdA().stateName === "Up" && bfdB().stateName === "Up");

    a.s.setBfd(ip(2), { receiveInterval: 400, transmitInterval: 600, detectMultiplier: 6 });
    await waitFor("B sees A's new timers", () => bfdB().remoteDesiredMinTx === 600_000 && bfdB().remoteDetectMult === 6);
    await waitFor("A's Poll confirmed", () => bfdA().txInterval === 600_000);
    expect(b.s.neighbors.get(ip(1))!.config.bfd).toEqual(profile);
    expect(a.s.neighbors.get(ip(2))!.config.bfd).toEqual({ receiveInterval: 400, transmitInterval: 600, detectMultiplier: 6 });

    b.s.setBfd(ip(1), undefined);
    await waitFor("A's BFD Down by AdminDown", () => bfdA().stateName === "Down" && bfdA().remoteState === 0);
    expect(b.s.bfd!.get(ip(1))).toBeUndefined();
    // Hold time 3 s: two KEEPALIVEs from B (1 s apart) after the AdminDown prove the session lived on.
    const nbA = a.s.neighbors.get(ip(2))!;
    const seen = nbA.messagesIn.keepalive;
    await waitFor("two more KEEPALIVEs from B", () => nbA.messagesIn.keepalive >= seen + 2, 10000);
    expect(nbA.state).toBe("Established");
    expect([ea, eb]).toEqual([[`${ip(2)} up`], [`${ip(1)} up`]]);
  }, 30000);

  test("a BFD port another daemon holds: the neighbour is refused (409) naming the port, and not added", async () => {
    const ip = loopbackBlock();
    const port = await freeUdpPort("0.0.0.0");
    const squatter = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => squatter.bind(port, "0.0.0.0", resolve));
    try {
      const { s } = await embedded(65101, ip(1), { port, peerPort: port }, []);
      let err: unknown;
      try {
        s.addNeighbor(neighborFromJson({ address: ip(2), asn: 65102, bfd: {} }));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SpeakerError);
      expect((err as SpeakerError).status).toBe(409);
      expect((err as Error).message).toBe(`neighbor ${ip(2)}: BFD: UDP port ${port} (IPv4) is in use: another BFD daemon (e.g. FRR's bfdd) on this host?`);
      expect(s.neighbors.has(ip(2))).toBe(false);
    } finally {
      squatter.close();
    }
  });
});
