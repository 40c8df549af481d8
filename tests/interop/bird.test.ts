// Interop with a real BIRD 2 on loopback, both directions, with sart under Bun
// (the Node path is covered by gobgp.test.ts): capabilities, routes and their
// attributes each way, withdrawals, route refresh in both directions, IPv6 over
// MP-BGP, iBGP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Bird, birdBgpConfig } from "../helpers/bird.ts";
import { freePort, loopbackBlock, waitFor } from "../helpers/net.ts";
import { Sart, asPathNumbers } from "../helpers/sart.ts";

const SART_AS = 65001, BIRD_AS = 65002;

const STATICS = `protocol static s4 { ipv4; route 203.0.113.0/24 blackhole { bgp_community.add((65002,7)); bgp_origin = ORIGIN_EGP; }; }
protocol static extra4 { ipv4; route 203.0.113.128/25 blackhole; }
protocol static s6 { ipv6; route 2001:db8:2::/48 blackhole { bgp_community.add((65002,600)); }; }`;

describe("sart <-> BIRD, eBGP, IPv4 and IPv6", () => {
  const a = loopbackBlock();
  let b: Bird;
  let s: Sart;

  beforeAll(async () => {
    const sartPort = await freePort(a(1));
    const birdPort = await freePort(a(2));
    b = await Bird.start(
      birdBgpConfig({
        name: "sart", localAddress: a(2), localPort: birdPort, asn: BIRD_AS, neighbor: a(1), neighborPort: sartPort, neighborAs: SART_AS,
        families: ["ipv4", "ipv6"], gracefulRestart: true, extra: "  enable extended messages on;\n",
      }, STATICS),
    );
    s = await Sart.start({
      asn: SART_AS, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [{ address: a(2), asn: BIRD_AS, port: birdPort, families: ["ipv4-unicast", "ipv6-unicast"] }],
      routes: [
        { prefix: "198.51.100.0/24", communities: ["65001:100", "65001:200"] },
        { prefix: "2001:db8:1::/48", nextHop: "2001:db8::1", communities: ["65001:600"] },
      ],
    }, "bun");
    await waitFor("sart <-> BIRD Established", async () => (await s.neighborState(a(2))) === "Established", 30000);
  });

  afterAll(async () => {
    await s?.stop();
    await b?.stop();
  });

  test("the session negotiates route refresh, enhanced refresh, extended message, graceful restart, 4-octet AS, both families", async () => {
    const n = (await s.neighbor(a(2))).negotiated;
    expect(n.families).toEqual(["ipv4-unicast", "ipv6-unicast"]);
    expect(n.as4).toBe(true);
    expect(n.routeRefresh).toBe(true);
    expect(n.enhancedRouteRefresh).toBe(true);
    expect(n.extendedMessage).toBe(true);
    expect(n.gracefulRestart.families.map((f: { family: string }) => f.family)).toEqual(["ipv4-unicast", "ipv6-unicast"]);
    const all = await b.cli("show protocols all sart");
    const neighborCaps = all.slice(all.indexOf("Neighbor capabilities"), all.indexOf("Session:"));
    for (const cap of ["AF announced: ipv4 ipv6", "Route refresh", "Extended message", "Graceful restart", "4-octet AS numbers", "Enhanced refresh"]) {
      expect(neighborCaps).toContain(cap);
    }
    expect(all).toContain("Session:          external multihop AS4");
  });

  test("routes from sart (config and POST /v1/rib) reach BIRD with AS path, next hop, communities and origin", async () => {
    const [r] = await waitFor("198.51.100.0/24 in BIRD", async () => (await b.routes()).get("198.51.100.0/24"));
    expect(r.protocol).toBe("sart");
    expect(r.attrs["BGP.origin"]).toBe("IGP");
    expect(r.attrs["BGP.as_path"]).toBe(String(SART_AS));
    expect(r.attrs["BGP.next_hop"]).toBe(a(1));
    expect(r.attrs["BGP.community"]).toBe("(65001,100) (65001,200)");
    const [r6] = await waitFor("2001:db8:1::/48 in BIRD", async () => (await b.routes()).get("2001:db8:1::/48"));
    expect(r6.attrs["BGP.next_hop"]).toBe("2001:db8::1");
    expect(r6.attrs["BGP.community"]).toBe("(65001,600)");

    await s.send("POST", "/v1/rib", { prefix: "198.51.100.128/25", nextHop: "192.0.2.1", communities: ["65001:300"] });
    const [p] = await waitFor("198.51.100.128/25 in BIRD", async () => (await b.routes()).get("198.51.100.128/25"));
    expect(p.attrs["BGP.next_hop"]).toBe("192.0.2.1");
    expect(p.attrs["BGP.community"]).toBe("(65001,300)");
    await s.send("DELETE", "/v1/rib", { prefix: "198.51.100.128/25" });
    await waitFor("198.51.100.128/25 withdrawn from BIRD", async () => !(await b.routes()).has("198.51.100.128/25"));
    expect((await b.routes()).has("198.51.100.0/24")).toBe(true);
  });

  test("routes from BIRD appear in sart's RIB, and BIRD's withdrawal removes them", async () => {
    const [p] = await waitFor("203.0.113.0/24 in sart", async () => (await s.rib()).get("203.0.113.0/24"));
    expect(asPathNumbers(p.asPath)).toEqual([BIRD_AS]);
    expect(p.nextHop).toBe(a(2));
    expect(p.origin).toBe("EGP");
    expect(p.communities).toEqual(["65002:7"]);
    expect(p.best).toBe(true);
    const [p6] = await waitFor("2001:db8:2::/48 in sart", async () => (await s.rib("ipv6-unicast")).get("2001:db8:2::/48"));
    expect(p6.nextHop).toBe("2001:db8::2");
    expect(p6.communities).toEqual(["65002:600"]);

    await waitFor("203.0.113.128/25 in sart", async () => (await s.rib()).has("203.0.113.128/25"));
    await b.cli("disable extra4");
    await waitFor("203.0.113.128/25 withdrawn in sart", async () => !(await s.rib()).has("203.0.113.128/25"));
    expect((await s.rib()).has("203.0.113.0/24")).toBe(true);
  });

  test("route refresh: BIRD's `reload in` gets sart's routes re-sent; `reload out` re-sends BIRD's", async () => {
    const before = await s.neighbor(a(2));
    await b.cli("reload in sart");
    await waitFor("sart answers BIRD's ROUTE-REFRESH", async () => {
      const nb = await s.neighbor(a(2));
      return nb.counters.messagesIn.route_refresh > before.counters.messagesIn.route_refresh && nb.counters.messagesOut.update > before.counters.messagesOut.update;
    });
    expect((await b.routes()).has("198.51.100.0/24")).toBe(true);

    const updatesIn = (await s.neighbor(a(2))).counters.messagesIn.update;
    await b.cli("reload out sart");
    await waitFor("BIRD re-sends on reload out", async () => (await s.neighbor(a(2))).counters.messagesIn.update > updatesIn);
    const rib = await s.rib();
    expect(rib.has("203.0.113.0/24")).toBe(true);
    expect((await s.neighbor(a(2))).state).toBe("Established");

    const rr = (await s.neighbor(a(2))).counters.messagesIn.update;
    await s.send("POST", `/v1/neighbors/${a(2)}/refresh`);
    await waitFor("BIRD answers sart's ROUTE-REFRESH", async () => (await s.neighbor(a(2))).counters.messagesIn.update > rr);
    expect((await s.rib()).has("203.0.113.0/24")).toBe(true);
  });
});

describe("sart <-> BIRD, iBGP", () => {
  const a = loopbackBlock();
  let b: Bird;
  let s: Sart;

  beforeAll(async () => {
    const sartPort = await freePort(a(1));
    const birdPort = await freePort(a(2));
    b = await Bird.start(
      birdBgpConfig(
        { name: "sart", localAddress: a(2), localPort: birdPort, asn: SART_AS, neighbor: a(1), neighborPort: sartPort, neighborAs: SART_AS },
        "protocol static s4 { ipv4; route 203.0.113.0/24 blackhole { bgp_local_pref = 150; }; }",
      ),
    );
    s = await Sart.start({
      asn: SART_AS, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [{ address: a(2), asn: SART_AS, port: birdPort }],
      routes: [{ prefix: "198.51.100.0/24", communities: ["65001:1"] }],
    }, "bun");
    await waitFor("iBGP Established", async () => (await s.neighborState(a(2))) === "Established", 30000);
  });

  afterAll(async () => {
    await s?.stop();
    await b?.stop();
  });

  test("sart's route arrives with an empty AS path and LOCAL_PREF; BIRD's keeps its LOCAL_PREF", async () => {
    const [r] = await waitFor("198.51.100.0/24 in BIRD", async () => (await b.routes()).get("198.51.100.0/24"));
    expect(r.attrs["BGP.as_path"]).toBe("");
    expect(r.attrs["BGP.local_pref"]).toBe("100");
    expect(r.attrs["BGP.next_hop"]).toBe(a(1));
    expect(await b.cli("show protocols all sart")).toContain("Session:          internal multihop AS4");

    const [p] = await waitFor("203.0.113.0/24 in sart", async () => (await s.rib()).get("203.0.113.0/24"));
    expect(asPathNumbers(p.asPath)).toEqual([]);
    expect(p.localPref).toBe(150);
    expect(p.nextHop).toBe(a(2));
  });
});
