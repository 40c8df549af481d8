// Interop with a real gobgpd on loopback, both directions, with sart under Node
// (the Bun path is covered by bird.test.ts): capabilities, routes and their
// attributes each way, withdrawals, route refresh, IPv6 over MP-BGP, iBGP.
// gobgpd treats 127/8 next hops as invalid, so sart's routes name a documentation
// next hop (192.0.2.1) instead of "self".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Gobgpd, gobgpAttr, type GobgpPath } from "../helpers/gobgpd.ts";
import { freePort, loopbackBlock, waitFor } from "../helpers/net.ts";
import { Sart, asPathNumbers } from "../helpers/sart.ts";

const SART_AS = 65001, GOBGP_AS = 65002;

const capNames = (caps: { type_url?: string }[] | undefined) =>
  (caps ?? []).map((c) => String(c.type_url ?? "").replace(/^.*\/apipb\./, "")).sort();

async function gobgpPath(g: Gobgpd, family: "ipv4" | "ipv6", prefix: string): Promise<GobgpPath | undefined> {
  return (await g.rib(family))[prefix]?.[0];
}

describe("sart <-> gobgpd, eBGP, IPv4 and IPv6", () => {
  const a = loopbackBlock();
  let g: Gobgpd;
  let s: Sart;

  beforeAll(async () => {
    const sartPort = await freePort(a(1));
    g = await Gobgpd.start({
      asn: GOBGP_AS, routerId: "192.0.2.2", address: a(2),
      neighbors: [{ address: a(1), asn: SART_AS, port: sartPort, families: ["ipv4-unicast", "ipv6-unicast"], gracefulRestart: true }],
    });
    s = await Sart.start({
      asn: SART_AS, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [{ address: a(2), asn: GOBGP_AS, port: g.port, families: ["ipv4-unicast", "ipv6-unicast"] }],
      routes: [
        { prefix: "198.51.100.0/24", nextHop: "192.0.2.1", communities: ["65001:100", "65001:200"] },
        { prefix: "2001:db8:1::/48", nextHop: "2001:db8::1", communities: ["65001:600"] },
      ],
    }, "node");
    await waitFor("sart <-> gobgpd Established", async () => (await s.neighborState(a(2))) === "Established", 30000);
  });

  afterAll(async () => {
    await s?.stop();
    await g?.stop();
  });

  test("the session negotiates 4-octet AS, both families, route refresh and graceful restart", async () => {
    const nb = await s.neighbor(a(2));
    expect(nb.negotiated.as4).toBe(true);
    expect(nb.negotiated.families).toEqual(["ipv4-unicast", "ipv6-unicast"]);
    expect(nb.negotiated.routeRefresh).toBe(true);
    expect(nb.negotiated.capabilities).toEqual(expect.arrayContaining(["4-octet-as", "multiprotocol", "route-refresh", "graceful-restart"]));
    expect(nb.routerId).toBe("192.0.2.2");
    const gn = await g.neighbor(a(1));
    expect(Number(gn.state.session_state)).toBe(6); // ESTABLISHED
    expect(capNames(gn.state.remote_cap as { type_url?: string }[])).toEqual(
      expect.arrayContaining(["FourOctetASNCapability", "MultiProtocolCapability", "RouteRefreshCapability"]),
    );
  });

  test("routes from sart's config reach gobgpd with AS path, next hop, communities and origin", async () => {
    const p = await waitFor("198.51.100.0/24 in gobgpd", () => gobgpPath(g, "ipv4", "198.51.100.0/24"));
    expect(gobgpAttr(p, 1)?.value).toBe(0); // IGP
    expect(gobgpAttr(p, 2)?.as_paths).toEqual([{ segment_type: 2, num: 1, asns: [SART_AS] }]);
    expect(gobgpAttr(p, 3)?.nexthop).toBe("192.0.2.1");
    expect(gobgpAttr(p, 8)?.communities).toEqual([(65001 << 16) + 100, (65001 << 16) + 200].map((x) => x >>> 0));
    const p6 = await waitFor("2001:db8:1::/48 in gobgpd", () => gobgpPath(g, "ipv6", "2001:db8:1::/48"));
    expect(gobgpAttr(p6, 14)?.nexthop).toBe("2001:db8::1");
    expect(gobgpAttr(p6, 2)?.as_paths).toEqual([{ segment_type: 2, num: 1, asns: [SART_AS] }]);
  });

  test("a route added through POST /v1/rib reaches gobgpd; DELETE withdraws it", async () => {
    await s.send("POST", "/v1/rib", { prefix: "198.51.100.128/25", nextHop: "192.0.2.1", communities: ["65001:300"] });
    const p = await waitFor("198.51.100.128/25 in gobgpd", () => gobgpPath(g, "ipv4", "198.51.100.128/25"));
    expect(gobgpAttr(p, 8)?.communities).toEqual([((65001 << 16) + 300) >>> 0]);
    await s.send("DELETE", "/v1/rib", { prefix: "198.51.100.128/25" });
    await waitFor("198.51.100.128/25 withdrawn from gobgpd", async () => !(await gobgpPath(g, "ipv4", "198.51.100.128/25")));
    expect(await gobgpPath(g, "ipv4", "198.51.100.0/24")).toBeDefined();
  });

  test("routes from gobgpd appear in sart's RIB with their attributes, and withdrawals propagate", async () => {
    await g.cli(["global", "rib", "add", "-a", "ipv4", "203.0.113.0/24", "origin", "egp", "community", "65002:7", "med", "30"]);
    await g.cli(["global", "rib", "add", "-a", "ipv6", "2001:db8:2::/48", "nexthop", "2001:db8::2"]);
    const [p] = await waitFor("203.0.113.0/24 in sart", async () => (await s.rib()).get("203.0.113.0/24"));
    expect(asPathNumbers(p.asPath)).toEqual([GOBGP_AS]);
    expect(p.nextHop).toBe(a(2));
    expect(p.origin).toBe("EGP");
    expect(p.communities).toEqual(["65002:7"]);
    expect(p.med).toBe(30);
    expect(p.best).toBe(true);
    expect(p.peer).toBe(a(2));
    const [p6] = await waitFor("2001:db8:2::/48 in sart", async () => (await s.rib("ipv6-unicast")).get("2001:db8:2::/48"));
    expect(p6.nextHop).toBe("2001:db8::2");
    expect(asPathNumbers(p6.asPath)).toEqual([GOBGP_AS]);

    await g.cli(["global", "rib", "del", "-a", "ipv4", "203.0.113.0/24"]);
    await g.cli(["global", "rib", "del", "-a", "ipv6", "2001:db8:2::/48"]);
    await waitFor("203.0.113.0/24 withdrawn in sart", async () => !(await s.rib()).has("203.0.113.0/24"));
    await waitFor("2001:db8:2::/48 withdrawn in sart", async () => !(await s.rib("ipv6-unicast")).has("2001:db8:2::/48"));
  });

  // gobgpd's `softresetin` re-applies policy to its Adj-RIB-In without sending a
  // ROUTE-REFRESH, so sart answering one is tested against BIRD (bird.test.ts).
  test("route refresh: sart's ROUTE-REFRESH makes gobgpd re-send; gobgpd's soft reset out keeps sart's RIB", async () => {
    await g.cli(["global", "rib", "add", "-a", "ipv4", "203.0.113.64/26"]);
    await waitFor("203.0.113.64/26 in sart", async () => (await s.rib()).has("203.0.113.64/26"));
    const refreshIn = async () => Number(((await g.neighbor(a(1))).state as any).messages?.received?.refresh ?? 0);
    const gBefore = await refreshIn();
    const updatesBefore = (await s.neighbor(a(2))).counters.messagesIn.update;
    await s.send("POST", `/v1/neighbors/${a(2)}/refresh`);
    await waitFor("gobgpd re-sends after sart's ROUTE-REFRESH", async () => {
      const nb = await s.neighbor(a(2));
      return nb.counters.messagesIn.update > updatesBefore && (await refreshIn()) > gBefore;
    });
    expect((await s.rib()).has("203.0.113.64/26")).toBe(true);

    const again = (await s.neighbor(a(2))).counters.messagesIn.update;
    await g.cli(["neighbor", a(1), "softresetout", "-a", "ipv4"]);
    await waitFor("gobgpd re-sends on soft reset out", async () => (await s.neighbor(a(2))).counters.messagesIn.update > again);
    expect((await s.neighbor(a(2))).state).toBe("Established");
    expect((await s.rib()).has("203.0.113.64/26")).toBe(true);
    await g.cli(["global", "rib", "del", "-a", "ipv4", "203.0.113.64/26"]);
    await waitFor("203.0.113.64/26 withdrawn in sart", async () => !(await s.rib()).has("203.0.113.64/26"));
  });
});

describe("sart <-> gobgpd, iBGP", () => {
  const a = loopbackBlock();
  let g: Gobgpd;
  let s: Sart;

  beforeAll(async () => {
    const sartPort = await freePort(a(1));
    g = await Gobgpd.start({ asn: SART_AS, routerId: "192.0.2.2", address: a(2), neighbors: [{ address: a(1), asn: SART_AS, port: sartPort }] });
    s = await Sart.start({
      asn: SART_AS, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [{ address: a(2), asn: SART_AS, port: g.port }],
      routes: [{ prefix: "198.51.100.0/24", nextHop: "192.0.2.1", communities: ["65001:1"] }],
    }, "node");
    await waitFor("iBGP Established", async () => (await s.neighborState(a(2))) === "Established", 30000);
  });

  afterAll(async () => {
    await s?.stop();
    await g?.stop();
  });

  test("an IPv4-only session without graceful restart comes up with just that", async () => {
    const nb = await s.neighbor(a(2));
    expect(nb.negotiated.families).toEqual(["ipv4-unicast"]);
    expect(nb.negotiated.capabilities).not.toContain("graceful-restart");
    expect(nb.negotiated.as4).toBe(true);
  });

  test("sart's route arrives with an empty AS path and LOCAL_PREF; gobgpd's arrives without prepend", async () => {
    const p = await waitFor("198.51.100.0/24 in gobgpd", () => gobgpPath(g, "ipv4", "198.51.100.0/24"));
    expect(gobgpAttr(p, 2)?.as_paths ?? []).toEqual([]);
    expect(gobgpAttr(p, 5)?.value).toBe(100); // LOCAL_PREF
    expect(gobgpAttr(p, 3)?.nexthop).toBe("192.0.2.1");

    await g.cli(["global", "rib", "add", "-a", "ipv4", "203.0.113.0/24", "nexthop", "192.0.2.2", "local-pref", "150"]);
    const [q] = await waitFor("203.0.113.0/24 in sart", async () => (await s.rib()).get("203.0.113.0/24"));
    expect(asPathNumbers(q.asPath)).toEqual([]);
    expect(q.localPref).toBe(150);
    expect(q.nextHop).toBe("192.0.2.2");
  });
});
