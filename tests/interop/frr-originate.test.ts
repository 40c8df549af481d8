// Routes of our own with more attributes, as FRR 8.4 sees them (`show bgp ... json`):
// communities (well-known names included), large and extended communities, MED to
// every peer, LOCAL_PREF to the iBGP FRR only; re-originating a prefix with other
// attributes replaces the route at both FRRs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Frr, frrBgpConfig } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { Sart } from "../helpers/sart.ts";
import { type Star, star } from "./star.ts";

const PREFIX = "198.51.100.0/24";
let net: Star;
let ibgp: Frr;
let ebgp: Frr;
let hub: Sart;

interface FrrPathDetail {
  aspath?: { string: string };
  community?: { string: string };
  largeCommunity?: { string: string };
  extendedCommunity?: { string: string };
  metric?: number;
  locPrf?: number;
  bestpath?: { overall?: boolean };
}

/** FRR's detailed view of the prefix (paths with their attributes). */
async function detail(frr: Frr, prefix = PREFIX): Promise<FrrPathDetail[]> {
  const d = await frr.json<{ paths?: FrrPathDetail[] }>(`show bgp ipv4 unicast ${prefix}`);
  return d.paths ?? [];
}

beforeAll(async () => {
  net = await star(2, "spor");
  const [a, b] = net.spokes;
  ibgp = await Frr.start(a.ns, frrBgpConfig({ asn: 65001, routerId: a.v4, neighbor: a.hub.v4, remoteAs: 65001 }));
  ebgp = await Frr.start(b.ns, frrBgpConfig({ asn: 65002, routerId: b.v4, neighbor: b.hub.v4, remoteAs: 65001 }));
  hub = await Sart.startIn(net.hub, {
    asn: 65001, routerId: "192.0.2.1", listen: { address: "0.0.0.0", port: 179 },
    neighbors: [{ address: a.v4, asn: 65001 }, { address: b.v4, asn: 65002 }],
    routes: [{
      prefix: PREFIX, communities: ["65001:7", "no-export", "blackhole"], largeCommunities: ["65001:1:2"],
      extendedCommunities: ["rt:65001:100"], localPref: 200, med: 50,
    }],
  });
  for (const s of [a, b]) await waitFor(`sart <-> FRR ${s.v4} Established`, async () => (await hub.neighborState(s.v4)) === "Established", 30000);
});

afterAll(async () => {
  await hub?.stop();
  await ibgp?.stop();
  await ebgp?.stop();
  await net?.delete();
});

describe("originated routes with attributes, at FRR", () => {
  test("communities, large and extended communities and MED at both; LOCAL_PREF at the iBGP FRR only", async () => {
    const [atI] = await waitFor("the route at the iBGP FRR", () => detail(ibgp).then((p) => (p.length ? p : undefined)));
    expect(atI.community?.string).toBe("65001:7 blackhole no-export");
    expect(atI.largeCommunity?.string).toBe("65001:1:2");
    expect(atI.extendedCommunity?.string).toBe("RT:65001:100");
    expect(atI.metric).toBe(50);
    expect(atI.locPrf).toBe(200);
    const [atE] = await waitFor("the route at the eBGP FRR", () => detail(ebgp).then((p) => (p.length ? p : undefined)));
    expect(atE.aspath?.string).toBe("65001");
    expect(atE.community?.string).toBe("65001:7 blackhole no-export");
    expect(atE.largeCommunity?.string).toBe("65001:1:2");
    expect(atE.extendedCommunity?.string).toBe("RT:65001:100");
    expect(atE.metric).toBe(50);
    expect(atE.locPrf).toBeUndefined();
  });

  test("re-originating the prefix with other attributes replaces the route at both FRRs", async () => {
    await hub.send("POST", "/v1/rib", { prefix: PREFIX, communities: ["65001:8"], localPref: 150 });
    const [atI] = await waitFor("the new attributes at the iBGP FRR", () =>
      detail(ibgp).then((p) => (p.length === 1 && p[0].community?.string === "65001:8" ? p : undefined)));
    expect(atI.locPrf).toBe(150);
    expect(atI.metric).toBeUndefined();
    expect(atI.largeCommunity).toBeUndefined();
    expect(atI.extendedCommunity).toBeUndefined();
    const atE = await waitFor("the new attributes at the eBGP FRR", () =>
      detail(ebgp).then((p) => (p.length === 1 && p[0].community?.string === "65001:8" ? p : undefined)));
    expect(atE).toHaveLength(1);
    expect((await hub.get<any>("/v1/global")).originated).toBe(1);
  });
});
