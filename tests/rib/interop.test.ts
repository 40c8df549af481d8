// The RIB's wire side against a real gobgpd on loopback: its UPDATEs are fed
// to the core as they arrive, and the core's exported UPDATEs are written back
// on the same session (a raw test peer does OPEN/KEEPALIVE; the speaker's FSM
// is not involved). Checks routes, attributes and withdrawals both ways.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Rib } from "../../host/core/rib.ts";
import { type GobgpPath, Gobgpd, gobgpAttr } from "../helpers/gobgpd.ts";
import { loopbackBlock, waitFor } from "../helpers/net.ts";
import { RawPeer } from "../helpers/raw-peer.ts";
import { freshRib } from "./wire.ts";

const ip = loopbackBlock();
const GOBGP = ip(1);
const SART = ip(2);
let g: Gobgpd | undefined;
let peer: RawPeer | undefined;
let rib: Rib;
let idx = 0;
const problems: string[] = [];

async function flush(): Promise<void> {
  for (const chunk of rib.exportFor(idx)) await peer!.write(chunk);
}

beforeAll(async () => {
  g = await Gobgpd.start({
    asn: 65001, routerId: "192.0.2.2", address: GOBGP,
    neighbors: [{ address: SART, asn: 65000, passive: true, families: ["ipv4-unicast", "ipv6-unicast"] }],
  });
  rib = freshRib({ asn: 65000, routerId: "192.0.2.1", multipath: false });
  idx = rib.addPeer({ asn: 65001, address: GOBGP, routerId: "192.0.2.2", export: "all" });
  // gobgpd treats a loopback NEXT_HOP as invalid (treat-as-withdraw): next hop self is a documentation address
  rib.peerUp(idx, { as4: true, ipv4: true, ipv6: true, nextHopV4: "192.0.2.1", nextHopV6: "2001:db8::a" });
  peer = new RawPeer({
    host: GOBGP, port: g.port, localAddress: SART, asn: 65000, routerId: "192.0.2.1",
    capabilities: [
      { code: 1, name: "multiprotocol", afi: 1, safi: 1 },
      { code: 1, name: "multiprotocol", afi: 2, safi: 1 },
      { code: 65, name: "4-octet-as", asn: 65000 },
    ],
    onMessage: (type, msg) => {
      if (type !== 2) return;
      for (const e of rib.feed(idx, msg)) if (e.kind === "notification") problems.push(`core asked for NOTIFICATION ${e.code}/${e.subcode}`);
    },
  });
  await Promise.race([peer.established, new Promise((_, rej) => setTimeout(() => rej(new Error("gobgpd session not established in 20 s")), 20000))]);
  await flush(); // End-of-RIB
}, 40000);

afterAll(async () => {
  await peer?.close().catch(() => {});
  await g?.stop();
});

const asPathOf = (p: GobgpPath) => (gobgpAttr(p, 2)?.as_paths as { asns: number[] }[] | undefined)?.flatMap((s) => s.asns);

describe("interop with gobgpd (core only)", () => {
  test("gobgpd's routes land in the RIB with their attributes, IPv4 and IPv6", async () => {
    await g!.cli(["global", "rib", "add", "198.51.100.0/24", "origin", "igp", "community", "65001:7", "-a", "ipv4"]);
    await g!.cli(["global", "rib", "add", "2001:db8:1::/48", "-a", "ipv6"]);
    const v4 = await waitFor("198.51.100.0/24 in the RIB", () => rib.lookup("198.51.100.0/24"), 15000);
    expect(v4.paths[0]).toMatchObject({ best: true, peer: GOBGP, nextHop: GOBGP, communities: ["65001:7"], origin: "IGP" });
    expect(v4.paths[0].asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001] }]);
    const v6 = await waitFor("2001:db8:1::/48 in the RIB", () => rib.lookup("2001:db8:1::/48"), 15000);
    expect(v6.paths[0].asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001] }]);
    expect(problems).toEqual([]);
  });

  test("routes originated in the core appear in gobgpd with AS_PATH, NEXT_HOP and communities", async () => {
    rib.originate({ prefix: "203.0.113.0/24", communities: ["65000:5"] });
    rib.originate({ prefix: "2001:db8:2::/48" });
    await flush();
    const v4 = await waitFor("203.0.113.0/24 in gobgpd", async () => (await g!.rib("ipv4"))["203.0.113.0/24"]?.[0], 15000);
    expect(asPathOf(v4)).toEqual([65000]);
    expect(gobgpAttr(v4, 3)?.nexthop).toBe("192.0.2.1");
    expect(gobgpAttr(v4, 8)?.communities).toEqual([65000 * 65536 + 5]);
    const v6 = await waitFor("2001:db8:2::/48 in gobgpd", async () => (await g!.rib("ipv6"))["2001:db8:2::/48"]?.[0], 15000);
    expect(asPathOf(v6)).toEqual([65000]);
    expect(JSON.stringify(gobgpAttr(v6, 14))).toContain("2001:db8::a");
    // the route learned from gobgpd is not sent back to it
    expect(rib.peerCounters(idx).advertised).toBe(2);
  });

  test("withdrawals propagate both ways", async () => {
    rib.withdrawLocal("203.0.113.0/24");
    await flush();
    await waitFor("203.0.113.0/24 gone from gobgpd", async () => !(await g!.rib("ipv4"))["203.0.113.0/24"], 15000);
    await g!.cli(["global", "rib", "del", "198.51.100.0/24", "-a", "ipv4"]);
    await waitFor("198.51.100.0/24 gone from the RIB", () => !rib.lookup("198.51.100.0/24"), 15000);
    expect(rib.lookup("2001:db8:1::/48")).toBeDefined();
    expect(problems).toEqual([]);
  });
});
