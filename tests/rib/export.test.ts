// Adj-RIB-Out: eBGP/iBGP rules, export policies, packing, withdrawals,
// End-of-RIB, IPv6, 2-octet peers. Exported bytes are decoded by the test's
// own decoder (tests/rib/wire.ts), not by the core.
import { describe, expect, test } from "bun:test";
import type { ExportPolicy, Rib } from "../../host/core/rib.ts";
import { type Decoded, attr, decodeUpdates, exportAll, freshRib, update } from "./wire.ts";

const OWN = 65000;
const P1 = "198.51.100.0/24";

interface PeerOpts { asn: number; n: number; export?: ExportPolicy; as4?: boolean; ipv6?: boolean; extended?: boolean }

function addPeer(rib: Rib, o: PeerOpts): number {
  const idx = rib.addPeer({ asn: o.asn, address: `192.0.2.${o.n}`, routerId: `10.0.0.${o.n}`, export: o.export ?? "all" });
  rib.peerUp(idx, {
    as4: o.as4 ?? true, ipv4: true, ipv6: o.ipv6 ?? true, extendedMessage: o.extended,
    nextHopV4: "192.0.2.1", nextHopV6: "2001:db8::1",
  });
  return idx;
}

/** Announcements (prefix -> message) in a decoded export, End-of-RIB markers left out. */
function announced(msgs: Decoded[]): Map<string, Decoded> {
  const m = new Map<string, Decoded>();
  for (const d of msgs) for (const p of [...d.nlri, ...(d.mpReach?.nlri ?? [])]) m.set(p, d);
  return m;
}

function withdrawnIn(msgs: Decoded[]): string[] {
  return msgs.flatMap((d) => [...d.withdrawn, ...(d.mpUnreach?.nlri ?? [])]);
}

const isEor = (d: Decoded) => d.nlri.length === 0 && d.withdrawn.length === 0 && !d.mpReach && (d.attrTypes.length === 0 || (d.mpUnreach !== undefined && d.mpUnreach.nlri.length === 0));

describe("initial export", () => {
  test("the whole table, then End-of-RIB for IPv4 and IPv6", () => {
    const rib = freshRib();
    rib.originate({ prefix: P1 });
    rib.originate({ prefix: "2001:db8:9::/48" });
    const b = addPeer(rib, { asn: 65002, n: 12 });
    const msgs = exportAll(rib, b);
    expect([...announced(msgs).keys()].sort()).toEqual(["198.51.100.0/24", "2001:db8:9::/48"]);
    const eors = msgs.filter(isEor);
    expect(eors.map((d) => d.length)).toEqual([23, 29]);
    expect(msgs.slice(-2)).toEqual(eors);
    expect(exportAll(rib, b)).toEqual([]);
    expect(rib.peerCounters(b).advertised).toBe(2);
  });

  test("a peer without IPv6 gets no IPv6 routes and no IPv6 End-of-RIB", () => {
    const rib = freshRib();
    rib.originate({ prefix: "2001:db8:9::/48" });
    const b = addPeer(rib, { asn: 65002, n: 12, ipv6: false });
    const msgs = exportAll(rib, b);
    expect(msgs.map((d) => d.length)).toEqual([23]);
  });
});

describe("eBGP and iBGP rules", () => {
  const learned = () => {
    const rib = freshRib();
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const e = addPeer(rib, { asn: 65002, n: 12 });
    const i = addPeer(rib, { asn: OWN, n: 13 });
    const i2 = addPeer(rib, { asn: OWN, n: 14 });
    for (const p of [e, i, i2]) exportAll(rib, p);
    rib.feed(a, update({ nlri: [P1], asPath: [65001, 65100], nextHop: "192.0.2.11", med: 7, communities: ["65001:5"] }));
    return { rib, a, e, i, i2 };
  };

  test("to eBGP: own ASN prepended, NEXT_HOP self, no LOCAL_PREF, MED not passed on, communities kept", () => {
    const { rib, e } = learned();
    const [d] = exportAll(rib, e);
    expect(d.nlri).toEqual([P1]);
    expect(d.asPath).toEqual([{ type: 2, asns: [OWN, 65001, 65100] }]);
    expect(d.nextHop).toBe("192.0.2.1");
    expect(d.localPref).toBeUndefined();
    expect(d.med).toBeUndefined();
    expect(d.communities).toEqual(["65001:5"]);
    expect(d.attrTypes).toEqual([1, 2, 3, 8]);
  });

  test("to iBGP: LOCAL_PREF (default 100), AS_PATH and NEXT_HOP unchanged, MED kept", () => {
    const { rib, i } = learned();
    const [d] = exportAll(rib, i);
    expect(d.asPath).toEqual([{ type: 2, asns: [65001, 65100] }]);
    expect(d.nextHop).toBe("192.0.2.11");
    expect(d.localPref).toBe(100);
    expect(d.med).toBe(7);
  });

  test("no iBGP-to-iBGP re-advertisement; iBGP-learned routes still go to eBGP", () => {
    const { rib, e, i, i2 } = learned();
    for (const p of [e, i, i2]) exportAll(rib, p);
    rib.feed(i, update({ nlri: ["203.0.113.0/24"], asPath: [65300], localPref: 300, nextHop: "192.0.2.13" }));
    expect(exportAll(rib, i2)).toEqual([]);
    expect(exportAll(rib, i)).toEqual([]); // not back to its source either
    const [d] = exportAll(rib, e);
    expect(d.nlri).toEqual(["203.0.113.0/24"]);
    expect(d.asPath).toEqual([{ type: 2, asns: [OWN, 65300] }]);
    expect(d.localPref).toBeUndefined();
  });

  test("a route is not sent back to the peer it came from, and is withdrawn there when that peer's path becomes best", () => {
    const rib = freshRib();
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const b = addPeer(rib, { asn: 65002, n: 12 });
    exportAll(rib, a);
    exportAll(rib, b);
    rib.feed(b, update({ nlri: [P1], asPath: [65002, 65003, 65004] }));
    expect(announced(exportAll(rib, a)).has(P1)).toBe(true);
    rib.feed(a, update({ nlri: [P1], asPath: [65001] }));
    expect(withdrawnIn(exportAll(rib, a))).toEqual([P1]);
    expect(announced(exportAll(rib, b)).get(P1)!.asPath).toEqual([{ type: 2, asns: [OWN, 65001] }]);
  });

  test("originated routes: NEXT_HOP self (or the explicit one), empty AS_PATH becomes our ASN on eBGP, communities", () => {
    const rib = freshRib();
    const e = addPeer(rib, { asn: 65002, n: 12 });
    const i = addPeer(rib, { asn: OWN, n: 13 });
    rib.originate({ prefix: P1, communities: ["65000:1", "65000:2"] });
    rib.originate({ prefix: "203.0.113.0/24", nextHop: "192.0.2.99" });
    const toE = announced(exportAll(rib, e));
    expect(toE.get(P1)).toMatchObject({ nextHop: "192.0.2.1", asPath: [{ type: 2, asns: [OWN] }], communities: ["65000:1", "65000:2"], origin: 0 });
    expect(toE.get("203.0.113.0/24")!.nextHop).toBe("192.0.2.99");
    const toI = announced(exportAll(rib, i));
    expect(toI.get(P1)).toMatchObject({ nextHop: "192.0.2.1", asPath: [], localPref: 100 });
  });
});

describe("export policy", () => {
  const table = (policy: ExportPolicy) => {
    const rib = freshRib();
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const m = addPeer(rib, { asn: 65002, n: 12, export: policy });
    rib.originate({ prefix: P1 });
    rib.feed(a, update({ nlri: ["203.0.113.0/24"], asPath: [65001] }));
    return [...announced(exportAll(rib, m)).keys()].sort();
  };
  test("local: only locally originated routes", () => expect(table("local")).toEqual([P1]));
  test("all: everything the rules allow", () => expect(table("all")).toEqual([P1, "203.0.113.0/24"]));
  test("none: nothing", () => expect(table("none")).toEqual([]));
});

describe("withdrawals", () => {
  test("withdrawn routes are packed; IPv6 ones go in MP_UNREACH_NLRI", () => {
    const rib = freshRib();
    const b = addPeer(rib, { asn: 65002, n: 12 });
    const v4 = Array.from({ length: 50 }, (_, k) => `198.51.${k}.0/24`);
    const v6 = Array.from({ length: 20 }, (_, k) => `2001:db8:${k + 1}::/48`);
    for (const p of [...v4, ...v6]) rib.originate({ prefix: p });
    exportAll(rib, b);
    for (const p of [...v4, ...v6]) rib.withdrawLocal(p);
    const msgs = exportAll(rib, b);
    expect(msgs.length).toBe(2);
    expect(msgs[0].withdrawn.sort()).toEqual([...v4].sort());
    expect(msgs[1].mpUnreach).toEqual({ afi: 2, nlri: v6 });
    expect(rib.peerCounters(b).advertised).toBe(0);
    expect(rib.stats()).toMatchObject({ ipv4Prefixes: 0, ipv6Prefixes: 0, paths: 0, attributeSets: 0 });
  });

  test("announce then withdraw before the export: nothing is sent", () => {
    const rib = freshRib();
    const b = addPeer(rib, { asn: 65002, n: 12 });
    exportAll(rib, b);
    rib.originate({ prefix: P1 });
    rib.withdrawLocal(P1);
    expect(exportAll(rib, b)).toEqual([]);
  });
});

describe("UPDATE packing", () => {
  const pack = (n: number, extended: boolean) => {
    const rib = freshRib();
    const b = addPeer(rib, { asn: 65002, n: 12, extended });
    const prefixes = Array.from({ length: n }, (_, k) => `10.${k >> 8}.${k & 255}.0/24`);
    for (const p of prefixes) rib.originate({ prefix: p, communities: ["65000:1"] });
    const chunks = rib.exportFor(b);
    const msgs = chunks.flatMap((c) => decodeUpdates(c)).filter((d) => !isEor(d));
    return { prefixes, msgs };
  };

  for (const [n, extended, max] of [[3000, false, 4096], [40000, true, 65535]] as const) {
    test(`${n} prefixes with one attribute set fill ${max}-byte messages`, () => {
      const { prefixes, msgs } = pack(n, extended);
      // attributes: ORIGIN 4 + AS_PATH 9 + NEXT_HOP 7 + COMMUNITIES 7 = 27 bytes; a /24 takes 4 bytes
      const perMessage = Math.floor((max - 23 - 27) / 4);
      expect(msgs.length).toBe(Math.ceil(n / perMessage));
      for (const d of msgs) expect(d.length).toBeLessThanOrEqual(max);
      expect(msgs.slice(0, -1).every((d) => d.nlri.length === perMessage)).toBe(true);
      expect(msgs.flatMap((d) => d.nlri).sort()).toEqual([...prefixes].sort());
    });
  }

  test("IPv6 prefixes sharing attributes share MP_REACH_NLRI messages", () => {
    const rib = freshRib();
    const b = addPeer(rib, { asn: 65002, n: 12 });
    const prefixes = Array.from({ length: 1000 }, (_, k) => `2001:db8:${(k + 1).toString(16)}::/48`);
    for (const p of prefixes) rib.originate({ prefix: p });
    const msgs = exportAll(rib, b).filter((d) => !isEor(d));
    // 23 header + 20 attributes + MP_REACH header 4 + 21 = 68 bytes before NLRI; a /48 takes 7 bytes
    expect(msgs.length).toBe(Math.ceil(1000 / Math.floor((4096 - 68) / 7)));
    expect(msgs.every((d) => d.mpReach?.nextHop === "2001:db8::1")).toBe(true);
    expect(msgs.flatMap((d) => d.mpReach!.nlri).sort()).toEqual([...prefixes].sort());
  });

  test("different attribute sets go in different messages", () => {
    const rib = freshRib();
    const b = addPeer(rib, { asn: 65002, n: 12 });
    for (let k = 0; k < 10; k++) rib.originate({ prefix: `198.51.100.${k * 16}/28`, communities: [`65000:${k % 2}`] });
    const msgs = exportAll(rib, b).filter((d) => !isEor(d));
    expect(msgs.map((d) => [d.communities, d.nlri.length])).toEqual([[["65000:0"], 5], [["65000:1"], 5]]);
  });
});

describe("2-octet peers (RFC 6793)", () => {
  test("AS_TRANS in AS_PATH and the real path in AS4_PATH", () => {
    const rib = freshRib({ asn: 4200000000, routerId: "192.0.2.1", multipath: false });
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const old = addPeer(rib, { asn: 65002, n: 12, as4: false });
    exportAll(rib, old, false);
    rib.feed(a, update({ nlri: [P1], asPath: [65001, 4200000005] }));
    const [d] = exportAll(rib, old, false);
    expect(d.asPath).toEqual([{ type: 2, asns: [23456, 65001, 23456] }]);
    expect(d.as4Path).toEqual([{ type: 2, asns: [4200000000, 65001, 4200000005] }]);
  });

  test("AGGREGATOR with a 4-octet ASN becomes AS_TRANS plus AS4_AGGREGATOR", async () => {
    const { decodeMessages } = await import("../../host/core/codec.ts");
    const rib = freshRib();
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const old = addPeer(rib, { asn: 65002, n: 12, as4: false });
    exportAll(rib, old, false);
    // AGGREGATOR 4200000007 / 192.0.2.77 from a 4-octet peer
    rib.feed(a, update({ nlri: [P1], asPath: [65001], extra: attr(0xc0, 7, [0xfa, 0x56, 0xea, 0x07, 192, 0, 2, 77]) }));
    const bytes = rib.exportFor(old);
    const [d] = decodeUpdates(bytes[0], false);
    expect(d.attrTypes).toEqual([1, 2, 3, 7, 18]);
    const [m] = decodeMessages(bytes[0], { as4: false }) as any[];
    expect(m.attributes.aggregator).toEqual({ asn: 4200000007, address: "192.0.2.77" });
  });

  test("no AS4_PATH when every ASN fits in 2 octets", () => {
    const rib = freshRib();
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const old = addPeer(rib, { asn: 65002, n: 12, as4: false });
    exportAll(rib, old, false);
    rib.feed(a, update({ nlri: [P1], asPath: [65001] }));
    const [d] = exportAll(rib, old, false);
    expect(d.asPath).toEqual([{ type: 2, asns: [OWN, 65001] }]);
    expect(d.as4Path).toBeUndefined();
  });
});

describe("IPv6 learned routes", () => {
  test("to eBGP: MP_REACH with our IPv6 next hop; to iBGP: the learned next hop", () => {
    const rib = freshRib();
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const e = addPeer(rib, { asn: 65002, n: 12 });
    const i = addPeer(rib, { asn: OWN, n: 13 });
    for (const p of [e, i]) exportAll(rib, p);
    rib.feed(a, update({ mpReach: { nextHop: "2001:db8::11", nlri: ["2001:db8:77::/48"] }, asPath: [65001] }));
    expect(exportAll(rib, e)[0].mpReach).toEqual({ afi: 2, nextHop: "2001:db8::1", nlri: ["2001:db8:77::/48"] });
    expect(exportAll(rib, i)[0].mpReach).toEqual({ afi: 2, nextHop: "2001:db8::11", nlri: ["2001:db8:77::/48"] });
  });
});

describe("session down and up", () => {
  test("after a flap the peer gets the full table again", () => {
    const rib = freshRib();
    const b = addPeer(rib, { asn: 65002, n: 12 });
    rib.originate({ prefix: P1 });
    expect(announced(exportAll(rib, b)).has(P1)).toBe(true);
    rib.peerDown(b);
    expect(rib.peerCounters(b).advertised).toBe(0);
    rib.peerUp(b, { as4: true, ipv4: true, ipv6: false, nextHopV4: "192.0.2.1" });
    expect(announced(exportAll(rib, b)).has(P1)).toBe(true);
  });
});

describe("export policy changes at run time", () => {
  test("switching a peer from all to local withdraws learned routes, and back re-advertises them (no extra End-of-RIB)", () => {
    const rib = freshRib();
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const m = addPeer(rib, { asn: 65002, n: 12, export: "all" });
    rib.originate({ prefix: P1 });
    rib.feed(a, update({ nlri: ["203.0.113.0/24"], asPath: [65001] }));
    expect([...announced(exportAll(rib, m)).keys()].sort()).toEqual([P1, "203.0.113.0/24"]);
    rib.configurePeer(m, { asn: 65002, address: "192.0.2.12", routerId: "10.0.0.12", export: "local" });
    expect(exportAll(rib, m).map((d) => [d.withdrawn, d.nlri])).toEqual([[["203.0.113.0/24"], []]]);
    rib.configurePeer(m, { asn: 65002, address: "192.0.2.12", routerId: "10.0.0.12", export: "all" });
    expect(exportAll(rib, m).map((d) => [d.withdrawn, d.nlri])).toEqual([[[], ["203.0.113.0/24"]]]);
  });
});

describe("exported bytes decode with the codec (a second, independent decoder)", () => {
  test("eBGP, iBGP, 2-octet and IPv6 exports decode without errors to the expected attributes", async () => {
    const { decodeMessages } = await import("../../host/core/codec.ts");
    const rib = freshRib({ asn: 4200000000, routerId: "192.0.2.1", multipath: false });
    const a = addPeer(rib, { asn: 65001, n: 11 });
    const e = addPeer(rib, { asn: 65002, n: 12 });
    const old = addPeer(rib, { asn: 65003, n: 13, as4: false });
    const i = addPeer(rib, { asn: 4200000000, n: 14 });
    rib.feed(a, update({ nlri: [P1], asPath: [65001, 4200000009], med: 3, communities: ["65001:9"] }));
    rib.feed(a, update({ mpReach: { nextHop: "2001:db8::11", nlri: ["2001:db8:77::/48"] }, asPath: [65001] }));
    rib.originate({ prefix: "203.0.113.0/24", communities: ["64512:1"] });
    const decode = (peer: number, as4 = true) => rib.exportFor(peer).flatMap((c) => decodeMessages(c, { as4 })) as any[];
    for (const msgs of [decode(e), decode(old, false), decode(i)]) {
      expect(msgs.filter((m) => m.error || m.type !== "UPDATE")).toEqual([]);
    }
    const toOld = decode(old, false);
    expect(toOld.length).toBe(0); // everything was already exported above; re-check after a refresh
    rib.refresh(old);
    const again = decode(old, false).filter((m) => m.nlri.includes(P1));
    expect(again[0].attributes.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [4200000000, 65001, 4200000009] }]);
    expect(again[0].attributes.nextHop).toBe("192.0.2.1");
    expect(again[0].attributes.communities).toEqual(["65001:9"]);
    expect(again[0].attributes.med).toBeUndefined();
    rib.refresh(i);
    const toI = decode(i);
    const v6 = toI.find((m) => m.nlri.includes("2001:db8:77::/48"));
    expect(v6.attributes.nextHop).toBe("2001:db8::11");
    expect(v6.attributes.localPref).toBe(100);
    const local = toI.find((m) => m.nlri.includes("203.0.113.0/24"));
    expect(local.attributes).toMatchObject({ origin: "IGP", asPath: [], nextHop: "192.0.2.1", localPref: 100, communities: ["64512:1"] });
  });
});
