// RFC 9072 extended optional parameters (issue 8.6). FRR 8.4 with
// `neighbor X extended-optional-parameters` sends its OPEN in the extended format
// and reads the peer's OPEN as extended too: a peer sending the standard format
// gets NOTIFICATION 2/0 from it. sart decodes both formats and, with the
// neighbour option `extendedOptionalParameters`, sends the extended one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeMessages } from "../../host/core/codec.ts";
import { Frr, frrBgpConfig } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { Sart } from "../helpers/sart.ts";
import { NetnsRawPeer } from "./netns-raw-peer.ts";
import { type Star, star } from "./star.ts";

let net: Star;
let frr: Frr;
let hub: Sart;
let raw: NetnsRawPeer;

beforeAll(async () => {
  net = await star(2, "spxo");
  const [f, r] = net.spokes;
  frr = await Frr.start(f.ns, frrBgpConfig({
    asn: 65010, routerId: f.v4, neighbor: f.hub.v4, remoteAs: 65001, neighborOptions: ["extended-optional-parameters"],
    lines: [" address-family ipv4 unicast", "  network 203.0.113.0/24", " exit-address-family"],
  }));
  hub = await Sart.startIn(net.hub, {
    asn: 65001, routerId: "192.0.2.1", listen: { address: "0.0.0.0", port: 179 },
    neighbors: [
      { address: f.v4, asn: 65010, extendedOptionalParameters: true },
      { address: r.v4, asn: 65020, passive: true, extendedOptionalParameters: true },
    ],
    routes: [{ prefix: "198.51.100.0/24" }],
  });
  raw = new NetnsRawPeer(r.ns, { host: r.hub.v4, port: 179, localAddress: r.v4, asn: 65020, routerId: r.v4 });
});

afterAll(async () => {
  await raw?.stop();
  await hub?.stop();
  await frr?.stop();
  await net?.delete();
});

describe("RFC 9072 extended optional parameters", () => {
  test("sart and an FRR that requires the extended format reach Established and exchange routes", async () => {
    const [f] = net.spokes;
    await waitFor("sart <-> FRR Established", async () => (await hub.neighborState(f.v4)) === "Established", 30000);
    await waitFor("FRR's route at sart", async () => (await hub.rib()).has("203.0.113.0/24"));
    await waitFor("sart's route at FRR", async () => (await frr.routes()).has("198.51.100.0/24"));
    const n = await hub.neighbor(f.v4);
    expect(n.extendedOptionalParameters).toBe(true);
    expect(n.lastNotificationReceived).toBeUndefined();
  });

  test("sart's OPEN is in the extended format, and a standard OPEN from the peer is accepted", async () => {
    await raw.established();
    const [open] = decodeMessages(raw.peerOpen!);
    expect(open).toMatchObject({ type: "OPEN", asn: 65001, extendedOptionalParameters: true });
    expect(open.capabilities!.map((c) => c.name)).toContain("4-octet-as");
    const r = net.spokes[1];
    await waitFor("sart -> raw peer Established", async () => (await hub.neighborState(r.v4)) === "Established");
  });
});
