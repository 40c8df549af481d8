// GET /v1/rib shows every attribute the RIB keeps for a path: extended communities (hex,
// as `sart decode` shows them), optional transitive attributes it does not know (passed on
// with the Partial bit), ATOMIC_AGGREGATE and AGGREGATOR, learned over a live session from
// a raw peer (read once its End-of-RIB says the RIB has everything).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type SpeakerProc, cleanupTmp, loopbackAddress, ribEntry, sartBgp, speakerConfig, startSpeaker, waitEstablished, waitFor } from "./harness.ts";
import { END_OF_RIB, RawPeer, announce, handshake } from "./raw-peer.ts";

let x: SpeakerProc;
let cx: Record<string, any>;
let peer: RawPeer | undefined;

beforeAll(async () => {
  cx = await speakerConfig(65000, "192.0.2.50");
  x = await startSpeaker("x", cx);
});

afterAll(async () => {
  peer?.close();
  await x.stop("SIGKILL");
  cleanupTmp();
});

test("extended communities, unknown transitive attributes, atomic aggregate and aggregator are in the RIB JSON and the CLI's", async () => {
  const address = loopbackAddress();
  expect((await x.call("POST", "/v1/neighbors", { address, asn: 65020, passive: true })).status).toBe(201);
  peer = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
  await handshake(peer, { asn: 65020, routerId: "192.0.2.80" });
  await waitEstablished(x, address);
  const extendedCommunities = ["0002fde800000064", "0102c000020a0007"]; // route target 65000:100, route origin 192.0.2.10:7
  peer.sendMessage(announce(["203.0.113.0/24"], [65020, 65021], address, {
    extendedCommunities,
    atomicAggregate: true,
    aggregator: { asn: 65021, address: "192.0.2.81" },
    // Optional transitive (0xc0), and optional non-transitive (0x80): the RIB keeps only the first.
    unknown: [{ code: 99, flags: 0xc0, hex: "0102030405" }, { code: 98, flags: 0x80, hex: "aa" }],
  }));
  peer.sendMessage(announce(["203.0.113.128/25"], [65020], address));
  peer.sendMessage(END_OF_RIB);
  await waitFor("End-of-RIB from the peer", async () => (await x.get(`/v1/neighbors/${address}`)).endOfRibReceived.includes("ipv4-unicast") || undefined);

  const entry = await ribEntry(x, "203.0.113.0/24");
  expect(entry.paths).toHaveLength(1);
  expect(entry.paths[0]).toMatchObject({
    extendedCommunities,
    atomicAggregate: true,
    aggregator: { asn: 65021, address: "192.0.2.81" },
    unknownAttributes: [{ code: 99, flags: 0xe0, hex: "0102030405" }], // the Partial bit set: passed on unrecognised
  });
  // A path without them has empty lists and no optional fields.
  const plain = (await ribEntry(x, "203.0.113.128/25")).paths[0];
  expect(plain.extendedCommunities).toEqual([]);
  expect(plain.unknownAttributes).toBeUndefined();
  expect(plain.atomicAggregate).toBeUndefined();
  // The CLI prints the API's objects.
  const cli = sartBgp(x.api, ["rib", "get", "203.0.113.0/24", "-o", "json"]);
  expect(cli.json[0].paths[0].extendedCommunities).toEqual(extendedCommunities);
  expect(cli.json[0].paths[0].unknownAttributes).toEqual([{ code: 99, flags: 0xe0, hex: "0102030405" }]);
});
