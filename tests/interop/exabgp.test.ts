// Interop with a real exabgp (a third implementation, active side, 4-octet AS):
// a route carrying most path attributes reaches sart's RIB intact, and exabgp's
// withdrawal removes it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Exabgp } from "../helpers/exabgp.ts";
import { freePort, loopbackBlock, waitFor } from "../helpers/net.ts";
import { Sart, asPathNumbers } from "../helpers/sart.ts";

const EXA_AS = 4200000003;

describe("exabgp -> sart", () => {
  const a = loopbackBlock();
  let s: Sart;
  let x: Exabgp;

  beforeAll(async () => {
    const sartPort = await freePort(a(1));
    s = await Sart.start({
      asn: 65001, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [{ address: a(3), asn: EXA_AS, passive: true }],
    });
    x = Exabgp.start({
      peerAddress: a(1),
      neighbor: `  router-id 192.0.2.3;
  local-address ${a(3)};
  local-as ${EXA_AS};
  peer-as 65001;
  connect ${sartPort};
  hold-time 30;
  group-updates false;
  family { ipv4 unicast; }
  static {
    route 203.0.113.128/25 next-hop 192.0.2.3 origin egp med 40 as-path [ ${EXA_AS} 65300 ] community [ 65535:65281 4200:1 ] large-community [ ${EXA_AS}:1:2 ] extended-community [ target:65010:5 ] atomic-aggregate aggregator ( ${EXA_AS}:192.0.2.3 );
  }`,
    });
    await waitFor("sart <-> exabgp Established", async () => (await s.neighborState(a(3))) === "Established", 40000).catch((err) => {
      throw new Error(`${err.message}\n${x.log().split("\n").slice(-20).join("\n")}`);
    });
  });

  afterAll(async () => {
    await x?.stop();
    await s?.stop();
  });

  test("a 4-octet AS path, communities, large communities and MED arrive intact; the withdrawal removes them", async () => {
    const nb = await s.neighbor(a(3));
    expect(nb.asn).toBe(EXA_AS);
    expect(nb.negotiated.as4).toBe(true);
    const [p] = await waitFor("203.0.113.128/25 in sart", async () => (await s.rib()).get("203.0.113.128/25"));
    expect(asPathNumbers(p.asPath)).toEqual([EXA_AS, 65300]);
    expect(p.nextHop).toBe("192.0.2.3");
    expect(p.origin).toBe("EGP");
    expect(p.med).toBe(40);
    expect(p.communities).toEqual(["65535:65281", "4200:1"]);
    expect(p.largeCommunities).toEqual([`${EXA_AS}:1:2`]);

    x.command("withdraw route 203.0.113.128/25 next-hop 192.0.2.3");
    await waitFor("203.0.113.128/25 withdrawn in sart", async () => !(await s.rib()).has("203.0.113.128/25"));
    expect(await s.neighborState(a(3))).toBe("Established");
  });
});
