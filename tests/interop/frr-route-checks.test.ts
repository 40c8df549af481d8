// Issue 8.1 and 8.2 against FRR 8.4: sart (hub, AS 65001) between an iBGP FRR
// (spoke 1), an eBGP FRR (spoke 2, AS 65002) and an eBGP raw peer (spoke 3, AS
// 65003), each in its own network namespace.
// - A `no-export` route from the iBGP FRR must not reach the eBGP FRR.
// - A route whose MP_REACH_NLRI next hop is 0.0.0.0 must not be passed on to the
//   iBGP FRR (which answers NOTIFICATION 3/8 and resets, over and over).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeMessage } from "../../host/core/codec.ts";
import { Frr, frrBgpConfig } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { Sart } from "../helpers/sart.ts";
import { NetnsRawPeer } from "./netns-raw-peer.ts";
import { type Star, star } from "./star.ts";

let net: Star;
let ibgp: Frr;
let ebgp: Frr;
let hub: Sart;
let raw: NetnsRawPeer;

beforeAll(async () => {
  net = await star(3, "sprc");
  const [a, b, r] = net.spokes;
  ibgp = await Frr.start(a.ns, frrBgpConfig({
    asn: 65001, routerId: a.v4, neighbor: a.hub.v4, remoteAs: 65001, neighborOptions: ["timers 3 9"],
    lines: [
      " address-family ipv4 unicast", "  network 198.51.100.0/25 route-map NO-EXPORT", "  network 198.51.100.128/25", " exit-address-family",
      " address-family ipv6 unicast", `  neighbor ${a.hub.v4} activate`, " exit-address-family",
    ],
    after: ["route-map NO-EXPORT permit 10", " set community no-export"],
  }));
  ebgp = await Frr.start(b.ns, frrBgpConfig({ asn: 65002, routerId: b.v4, neighbor: b.hub.v4, remoteAs: 65001, neighborOptions: ["timers 3 9"] }));
  hub = await Sart.startIn(net.hub, {
    asn: 65001, routerId: "192.0.2.1", listen: { address: "0.0.0.0", port: 179 },
    neighbors: [
      { address: a.v4, asn: 65001, holdTime: 9, export: "all", families: ["ipv4-unicast", "ipv6-unicast"] },
      { address: b.v4, asn: 65002, holdTime: 9, export: "all" },
      { address: r.v4, asn: 65003, holdTime: 30, passive: true, families: ["ipv4-unicast", "ipv6-unicast"] },
    ],
  });
  for (const s of [a, b]) await waitFor(`sart <-> FRR ${s.v4} Established`, async () => (await hub.neighborState(s.v4)) === "Established", 30000);
  raw = new NetnsRawPeer(r.ns, {
    host: r.hub.v4, port: 179, localAddress: r.v4, asn: 65003, routerId: r.v4,
    capabilities: [{ code: 1, afi: 1, safi: 1 }, { code: 1, afi: 2, safi: 1 }, { code: 65, asn: 65003 }],
  });
  await raw.established();
});

afterAll(async () => {
  await raw?.stop();
  await hub?.stop();
  await ibgp?.stop();
  await ebgp?.stop();
  await net?.delete();
});

describe("sart between FRRs", () => {
  test("a no-export route from the iBGP FRR stays in the AS: the eBGP FRR gets only the other one", async () => {
    const [a] = net.spokes;
    const atHub = await waitFor("both FRR routes at sart", async () => {
      const rib = await hub.rib();
      return rib.has("198.51.100.0/25") && rib.has("198.51.100.128/25") ? rib : undefined;
    });
    expect(atHub.get("198.51.100.0/25")![0]).toMatchObject({ communities: ["65535:65281"], peer: a.v4 });
    // A route of the hub's own, originated after both were in its RIB: once it is at the
    // eBGP FRR, anything the hub would have sent for the no-export route is there too.
    await hub.send("POST", "/v1/rib", { prefix: "203.0.113.248/29" });
    const routes = await waitFor("the hub's marker route at the eBGP FRR", async () => {
      const r = await ebgp.routes();
      return r.has("203.0.113.248/29") ? r : undefined;
    });
    expect(routes.has("198.51.100.128/25")).toBe(true);
    expect(routes.get("198.51.100.128/25")![0].path).toBe("65001");
    expect(routes.has("198.51.100.0/25")).toBe(false);
  });

  test("a route with MP_REACH_NLRI next hop 0.0.0.0 is not passed to the iBGP FRR, whose session stays up", async () => {
    const [a, , r] = net.spokes;
    const asPath = [{ type: "AS_SEQUENCE" as const, asns: [65003] }];
    raw.send(encodeMessage({ type: "UPDATE", nlri: ["203.0.113.0/26"], mpReach: { afi: 1, safi: 1 }, attributes: { origin: "IGP", asPath, nextHop: "0.0.0.0" } } as never));
    raw.send(encodeMessage({ type: "UPDATE", nlri: ["2001:db8:e1::/48"], attributes: { origin: "IGP", asPath, nextHop: "ff02::1" } }));
    raw.send(encodeMessage({ type: "UPDATE", nlri: ["203.0.113.64/26"], attributes: { origin: "IGP", asPath, nextHop: r.v4 } }));
    await waitFor("the good route at the iBGP FRR", async () => (await ibgp.routes()).has("203.0.113.64/26"));
    expect((await ibgp.routes()).has("203.0.113.0/26")).toBe(false);
    expect((await ibgp.routes("ipv6")).has("2001:db8:e1::/48")).toBe(false);
    expect((await hub.rib()).has("203.0.113.0/26")).toBe(false);
    const nb = await hub.neighbor(a.v4);
    expect(nb.state).toBe("Established");
    expect(nb.counters.establishedTransitions).toBe(1);
    expect(nb.lastNotificationReceived).toBeUndefined();
    expect(raw.closed).toBe(false);
  });
});
