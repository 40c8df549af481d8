// Capability sets other than the full one, against a real BIRD: a peer without
// 4-octet AS or route refresh and graceful restart for no family (2-octet AS_PATHs
// on the wire), and a peer sending ADD-PATH (two paths for one prefix, kept apart
// in sart's RIB).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Bird, birdBgpConfig } from "../helpers/bird.ts";
import { freePort, loopbackBlock, waitFor } from "../helpers/net.ts";
import { Sart, asPathNumbers } from "../helpers/sart.ts";

async function pair(extra: string, statics: string, channelExtra = "") {
  const a = loopbackBlock();
  const sartPort = await freePort(a(1));
  const birdPort = await freePort(a(2));
  let config = birdBgpConfig({ name: "sart", localAddress: a(2), localPort: birdPort, asn: 65002, neighbor: a(1), neighborPort: sartPort, neighborAs: 65001, extra }, statics);
  if (channelExtra) config = config.replace("ipv4 { import all; export all;", `ipv4 { import all; export all; ${channelExtra}`);
  const b = await Bird.start(config);
  let s: Sart | undefined;
  try {
    s = await Sart.start({
      asn: 65001, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [{ address: a(2), asn: 65002, port: birdPort }],
      routes: [{ prefix: "198.51.100.0/24", communities: ["65001:1"] }],
    });
    await waitFor("sart <-> BIRD Established", async () => (await s!.neighborState(a(2))) === "Established", 30000);
  } catch (err) {
    await s?.stop();
    await b.stop();
    throw err;
  }
  return { a, b, s: s! };
}

describe("a BIRD without 4-octet AS and route refresh", () => {
  let p: Awaited<ReturnType<typeof pair>>;
  beforeAll(async () => {
    p = await pair("  enable as4 off;\n  enable route refresh off;\n", "protocol static s4 { ipv4; route 203.0.113.0/24 blackhole; }");
  });
  afterAll(async () => {
    await p?.s.stop();
    await p?.b.stop();
  });

  test("the session comes up with just those capabilities and routes flow both ways", async () => {
    const { a, b, s } = p;
    const n = (await s.neighbor(a(2))).negotiated;
    expect(n.as4).toBe(false);
    expect(n.routeRefresh).toBe(false);
    expect(n.gracefulRestart?.families ?? []).toEqual([]); // BIRD is only restart-aware: no families
    expect(n.capabilities).not.toContain("4-octet-as");
    const proto = await b.cli("show protocols all sart");
    expect(proto).toContain("Session:          external multihop");
    expect(proto).not.toContain("Session:          external multihop AS4");

    const [r] = await waitFor("198.51.100.0/24 in BIRD", async () => (await b.routes()).get("198.51.100.0/24"));
    expect(r.attrs["BGP.as_path"]).toBe("65001");
    expect(r.attrs["BGP.community"]).toBe("(65001,1)");
    const [q] = await waitFor("203.0.113.0/24 in sart", async () => (await s.rib()).get("203.0.113.0/24"));
    expect(asPathNumbers(q.asPath)).toEqual([65002]);
    await expect(s.send("POST", `/v1/neighbors/${a(2)}/refresh`)).rejects.toThrow(/409/);
  });
});

describe("a BIRD sending ADD-PATH", () => {
  let p: Awaited<ReturnType<typeof pair>>;
  beforeAll(async () => {
    p = await pair(
      "",
      `protocol static p1 { ipv4; route 203.0.113.0/24 blackhole { bgp_community.add((65002,1)); }; }
protocol static p2 { ipv4; route 203.0.113.0/24 blackhole { bgp_community.add((65002,2)); }; }`,
      "add paths tx;",
    );
  });
  afterAll(async () => {
    await p?.s.stop();
    await p?.b.stop();
  });

  test("both paths for one prefix arrive with their own path ids", async () => {
    const { a, b, s } = p;
    expect((await s.neighbor(a(2))).negotiated.addPath).toEqual(["ipv4-unicast"]);
    expect(await b.cli("show protocols all sart")).toMatch(/ADD-PATH\s+RX: ipv4/);
    const paths = await waitFor("two paths for 203.0.113.0/24 in sart", async () => {
      const ps = (await s.rib()).get("203.0.113.0/24");
      return ps && ps.length === 2 ? ps : undefined;
    });
    expect(paths.map((x) => x.communities).sort()).toEqual([["65002:1"], ["65002:2"]]);
    expect(new Set(paths.map((x) => x.pathId)).size).toBe(2);
    expect(paths.filter((x) => x.best)).toHaveLength(1);

    await b.cli("disable p2");
    await waitFor("one path left after BIRD withdraws one", async () => (await s.rib()).get("203.0.113.0/24")?.length === 1);
    expect((await s.rib()).get("203.0.113.0/24")![0].communities).toEqual(["65002:1"]);
  });
});
