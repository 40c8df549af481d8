// Ingest: framing, Adj-RIB-In semantics (implicit withdraw, add-path), loop
// detection, max-prefix, RFC 7606 outcomes, events handed to the host.
import { describe, expect, test } from "bun:test";
import type { Rib } from "../../host/core/rib.ts";
import { KEEPALIVE, attr, concat, freshRib, message, update } from "./wire.ts";

const P1 = "198.51.100.0/24";
const P2 = "203.0.113.0/24";

function session(opts: { asn?: number; addPath?: boolean; maxPrefix?: number; as4?: boolean; routerId?: string; address?: string } = {}) {
  const rib = freshRib();
  const a = rib.addPeer({ asn: opts.asn ?? 65001, address: opts.address ?? "192.0.2.11", routerId: opts.routerId ?? "10.0.0.11", maxPrefix: opts.maxPrefix });
  rib.peerUp(a, { as4: opts.as4 ?? true, ipv4: true, ipv6: true, addPathReceiveV4: opts.addPath, addPathReceiveV6: opts.addPath, nextHopV4: "192.0.2.1" });
  return { rib, a };
}

function paths(rib: Rib, prefix: string) {
  return rib.lookup(prefix)?.paths ?? [];
}

describe("Adj-RIB-In", () => {
  test("implicit withdraw: a new path from the same peer replaces the old one", () => {
    const { rib, a } = session();
    rib.feed(a, update({ nlri: [P1], asPath: [65001, 65010], med: 10 }));
    rib.feed(a, update({ nlri: [P1], asPath: [65001, 65020], med: 20 }));
    const ps = paths(rib, P1);
    expect(ps.length).toBe(1);
    expect(ps[0].asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001, 65020] }]);
    expect(ps[0].med).toBe(20);
    expect(rib.peerCounters(a).received).toBe(1);
    expect(rib.stats().attributeSets).toBe(1); // the replaced set was freed
  });

  test("an UPDATE with withdrawals and NLRI applies both", () => {
    const { rib, a } = session();
    rib.feed(a, update({ nlri: [P1] }));
    rib.feed(a, update({ withdrawn: [P1], nlri: [P2] }));
    expect(paths(rib, P1)).toEqual([]);
    expect(paths(rib, P2).length).toBe(1);
  });

  test("add-path receive keeps paths apart by path id", () => {
    const { rib, a } = session({ addPath: true });
    rib.feed(a, update({ nlri: [P1, P1], pathIds: [1, 2], asPath: [65001, 65010] }));
    rib.feed(a, update({ nlri: [P1], pathIds: [3], asPath: [65001] }));
    let ps = paths(rib, P1);
    expect(ps.map((p) => p.pathId).sort()).toEqual([1, 2, 3]);
    expect(ps.find((p) => p.best)!.pathId).toBe(3);
    // implicit withdraw is per path id
    rib.feed(a, update({ nlri: [P1], pathIds: [3], asPath: [65001, 65010, 65011] }));
    ps = paths(rib, P1);
    expect(ps.length).toBe(3);
    rib.feed(a, update({ withdrawn: [P1], withdrawnPathIds: [1] }));
    ps = paths(rib, P1);
    expect(ps.map((p) => p.pathId).sort()).toEqual([2, 3]);
    expect(ps.find((p) => p.best)!.pathId).toBe(2);
    expect(rib.peerCounters(a).received).toBe(2);
  });

  test("IPv6 through MP_REACH / MP_UNREACH, with add-path", () => {
    const { rib, a } = session({ addPath: true });
    rib.feed(a, update({ mpReach: { nextHop: "2001:db8::11", nlri: ["2001:db8:1::/48", "2001:db8:1::/48"], pathIds: [1, 2] }, asPath: [65001] }));
    expect(paths(rib, "2001:db8:1::/48").map((p) => p.nextHop)).toEqual(["2001:db8::11", "2001:db8::11"]);
    rib.feed(a, update({ mpUnreach: { nlri: ["2001:db8:1::/48"], pathIds: [2] } }));
    expect(paths(rib, "2001:db8:1::/48").map((p) => p.pathId)).toEqual([1]);
    expect(rib.stats().ipv6Prefixes).toBe(1);
  });

  test("a session going down withdraws its paths; the next best takes over", () => {
    const rib = freshRib();
    const a = rib.addPeer({ asn: 65001, address: "192.0.2.11", routerId: "10.0.0.11" });
    const b = rib.addPeer({ asn: 65002, address: "192.0.2.12", routerId: "10.0.0.12" });
    for (const p of [a, b]) rib.peerUp(p, { as4: true, ipv4: true, ipv6: false });
    rib.feed(a, update({ nlri: [P1, P2], asPath: [65001] }));
    rib.feed(b, update({ nlri: [P1], asPath: [65002, 65003] }));
    expect(paths(rib, P1).find((p) => p.best)!.peer).toBe("192.0.2.11");
    rib.peerDown(a);
    expect(paths(rib, P1).map((p) => [p.peer, p.best])).toEqual([["192.0.2.12", true]]);
    expect(paths(rib, P2)).toEqual([]);
    expect(rib.stats()).toMatchObject({ ipv4Prefixes: 1, paths: 1 });
  });
});

describe("loop detection (rejected at ingest: kept, never eligible)", () => {
  test("own ASN in AS_PATH", () => {
    const { rib, a } = session();
    rib.feed(a, update({ nlri: [P1], asPath: [65001, 65000, 65010] }));
    const ps = paths(rib, P1);
    expect(ps.map((p) => [p.eligible, p.best])).toEqual([[false, false]]);
    expect(rib.peerCounters(a)).toMatchObject({ received: 1, accepted: 0 });
  });

  test("a rejected path withdrawn while peers follow the change log leaves no prefix record behind", () => {
    const { rib, a } = session();
    const b = rib.addPeer({ asn: 65002, address: "192.0.2.12" });
    rib.peerUp(b, { as4: true, ipv4: true, ipv6: false, nextHopV4: "192.0.2.1" });
    rib.feed(a, update({ nlri: [P1], asPath: [65001, 65000] }));
    rib.feed(a, update({ withdrawn: [P1] }));
    rib.exportFor(a);
    rib.exportFor(b);
    rib.peerDown(a);
    rib.peerDown(b);
    expect(rib.stats()).toMatchObject({ paths: 0, prefixRecords: 0, pendingChanges: 0 });
  });

  test("own ASN inside an AS_SET", () => {
    const { rib, a } = session();
    rib.feed(a, update({ nlri: [P1], asPath: [{ type: 2, asns: [65001] }, { type: 1, asns: [65005, 65000] }] }));
    expect(paths(rib, P1)[0].eligible).toBe(false);
  });

  test("ORIGINATOR_ID equal to our router id", () => {
    const { rib, a } = session({ asn: 65000 });
    rib.feed(a, update({ nlri: [P1], asPath: [], localPref: 100, originatorId: "192.0.2.1" }));
    expect(paths(rib, P1)[0].eligible).toBe(false);
  });

  test("our cluster id in CLUSTER_LIST", () => {
    const { rib, a } = session({ asn: 65000 });
    rib.feed(a, update({ nlri: [P1], asPath: [], localPref: 100, originatorId: "10.0.0.99", clusterList: ["10.1.1.1", "192.0.2.1"] }));
    expect(paths(rib, P1)[0].eligible).toBe(false);
    rib.feed(a, update({ nlri: [P1], asPath: [], localPref: 100, originatorId: "10.0.0.99", clusterList: ["10.1.1.1"] }));
    expect(paths(rib, P1)[0].eligible).toBe(true);
  });
});

describe("max-prefix", () => {
  test("exceeding the limit asks for Cease / Maximum Number of Prefixes Reached and stops input", () => {
    const { rib, a } = session({ maxPrefix: 3 });
    expect(rib.feed(a, update({ nlri: ["192.0.2.0/28", "192.0.2.16/28", "192.0.2.32/28"] }))).toEqual([]);
    const ev = rib.feed(a, update({ nlri: ["192.0.2.48/28"] }));
    expect(ev).toEqual([{ kind: "notification", code: 6, subcode: 1, data: new Uint8Array([0, 1, 1, 0, 0, 0, 3]) }]);
    expect(rib.feed(a, update({ nlri: ["192.0.2.64/28"] }))).toEqual([]);
    expect(rib.lookup("192.0.2.64/28")).toBeUndefined();
    rib.peerDown(a);
    expect(rib.stats().paths).toBe(0);
  });
});

describe("RFC 7606 outcomes", () => {
  const established = () => {
    const s = session();
    s.rib.feed(s.a, update({ nlri: [P1] }));
    expect(paths(s.rib, P1).length).toBe(1);
    return s;
  };

  test("malformed MED length: treat-as-withdraw", () => {
    const { rib, a } = established();
    expect(rib.feed(a, update({ nlri: [P1], extra: attr(0x80, 4, [0, 0, 1]) }))).toEqual([]);
    expect(paths(rib, P1)).toEqual([]);
  });

  test("missing NEXT_HOP: treat-as-withdraw", () => {
    const { rib, a } = established();
    rib.feed(a, update({ nlri: [P1], omit: ["nextHop"] }));
    expect(paths(rib, P1)).toEqual([]);
  });

  test("missing LOCAL_PREF from an iBGP peer: treat-as-withdraw", () => {
    const { rib, a } = session({ asn: 65000 });
    rib.feed(a, update({ nlri: [P1], asPath: [] }));
    expect(paths(rib, P1)).toEqual([]);
  });

  test("bad ORIGIN value: treat-as-withdraw", () => {
    const { rib, a } = established();
    rib.feed(a, update({ nlri: [P1], origin: 7 }));
    expect(paths(rib, P1)).toEqual([]);
  });

  test("malformed ATOMIC_AGGREGATE: attribute discard, route kept", () => {
    const { rib, a } = established();
    rib.feed(a, update({ nlri: [P2], extra: attr(0x40, 6, [1]) }));
    expect(paths(rib, P2).length).toBe(1);
  });

  test("unknown optional transitive attribute is kept (Partial set on the way out), non-transitive dropped", () => {
    const { rib, a } = established();
    rib.feed(a, update({ nlri: [P2], extra: [...attr(0xc0, 99, [1, 2, 3]), ...attr(0x80, 98, [4])] }));
    expect(paths(rib, P2).length).toBe(1);
  });

  test("unrecognised well-known attribute: NOTIFICATION 3/2 with the attribute as data", () => {
    const { rib, a } = established();
    const ev = rib.feed(a, update({ nlri: [P2], extra: attr(0x40, 99, [9]) }));
    expect(ev).toEqual([{ kind: "notification", code: 3, subcode: 2, data: new Uint8Array([0x40, 99, 1, 9]) }]);
  });

  test("prefix length over 32: NOTIFICATION 3/10 (no crash)", () => {
    const { rib, a } = established();
    const bad = update({ nlri: [P2] });
    bad[bad.length - 4] = 33;
    expect(rib.feed(a, bad)[0]).toMatchObject({ kind: "notification", code: 3, subcode: 10 });
  });

  test("duplicate MP_REACH_NLRI: NOTIFICATION 3/1", () => {
    const { rib, a } = established();
    const mp = attr(0x90, 14, [0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, ...new Array(12).fill(0), 0, 32, 0x20, 1, 0x0d, 0xb8]);
    const ev = rib.feed(a, update({ mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8::/32"] }, extra: mp }));
    expect(ev[0]).toMatchObject({ kind: "notification", code: 3, subcode: 1 });
  });

  test("duplicate non-MP attribute: later copies discarded", () => {
    const { rib, a } = established();
    rib.feed(a, update({ nlri: [P2], med: 5, extra: attr(0x80, 4, [0, 0, 0, 9]) }));
    expect(paths(rib, P2)[0].med).toBe(5);
  });
});

describe("framing and events", () => {
  test("bad marker: NOTIFICATION 1/1; bad length: 1/2 with the length as data; unknown type: 1/3", () => {
    let s = session();
    const m = update({ nlri: [P1] });
    m[3] = 0;
    expect(s.rib.feed(s.a, m)).toEqual([{ kind: "notification", code: 1, subcode: 1, data: new Uint8Array() }]);
    s = session();
    expect(s.rib.feed(s.a, new Uint8Array([...new Array(16).fill(255), 0x10, 0x01, 2]))).toEqual([
      { kind: "notification", code: 1, subcode: 2, data: new Uint8Array([0x10, 0x01]) },
    ]);
    s = session();
    expect(s.rib.feed(s.a, message(9, []))).toEqual([{ kind: "notification", code: 1, subcode: 3, data: new Uint8Array([9]) }]);
  });

  test("a stream split at every byte gives the same RIB and the same events", () => {
    const stream = concat(
      update({ nlri: [P1, "192.0.2.0/25"], asPath: [65001, 65010] }),
      KEEPALIVE,
      update({ nlri: [P2], asPath: [65001], communities: ["65001:7"] }),
      update({ withdrawn: ["192.0.2.0/25"] }),
      update({ mpReach: { nextHop: "2001:db8::11", nlri: ["2001:db8:5::/48"] }, asPath: [65001] }),
      KEEPALIVE,
    );
    const whole = session();
    const wholeEvents = whole.rib.feed(whole.a, stream);
    expect(wholeEvents.map((e) => e.kind)).toEqual(["message", "message"]);
    const expected = [whole.rib.query({ family: "ipv4-unicast" }), whole.rib.query({ family: "ipv6-unicast" })];
    for (const size of [1, 2, 3, 7, 18, 19, 20, 33]) {
      const s = session();
      const events = [];
      for (let i = 0; i < stream.length; i += size) events.push(...s.rib.feed(s.a, stream.subarray(i, i + size)));
      expect(events).toEqual(wholeEvents);
      expect([s.rib.query({ family: "ipv4-unicast" }), s.rib.query({ family: "ipv6-unicast" })]).toEqual(expected);
    }
  });

  test("before Established every message goes to the host, one at a time; resume continues", () => {
    const rib = freshRib();
    const a = rib.addPeer({ asn: 65001, address: "192.0.2.11" });
    const open = message(1, [4, 0xfd, 0xe9, 0, 90, 10, 0, 0, 11, 0]);
    const ev = rib.feed(a, concat(open, KEEPALIVE, update({ nlri: [P1] })));
    expect(ev.map((e) => e.kind === "message" && e.type)).toEqual([1]);
    expect((ev[0] as any).bytes).toEqual(open);
    expect(rib.resume(a).map((e) => e.kind === "message" && e.type)).toEqual([4]);
    rib.peerUp(a, { as4: true, ipv4: true, ipv6: false });
    expect(rib.resume(a)).toEqual([]);
    expect(paths(rib, P1).length).toBe(1);
  });

  test("a NOTIFICATION from the peer pauses input", () => {
    const { rib, a } = session();
    const notification = message(3, [6, 2]);
    const ev = rib.feed(a, concat(notification, update({ nlri: [P1] })));
    expect(ev.map((e) => e.kind === "message" && e.type)).toEqual([3]);
    expect(paths(rib, P1)).toEqual([]);
  });

  test("End-of-RIB markers for IPv4 and IPv6", () => {
    const { rib, a } = session();
    expect(rib.feed(a, update({}))).toEqual([{ kind: "end-of-rib", afi: 1, safi: 1 }]);
    expect(rib.feed(a, update({ mpUnreach: { nlri: [] } }))).toEqual([{ kind: "end-of-rib", afi: 2, safi: 1 }]);
  });
});

describe("4-octet AS (RFC 6793)", () => {
  test("a 2-octet peer's AS_PATH is merged with AS4_PATH", () => {
    const { rib, a } = session({ as4: false });
    rib.feed(a, update({ nlri: [P1], as2: true, asPath: [65001, 4200000001, 4200000002], as4Path: [{ type: 2, asns: [4200000001, 4200000002] }] }));
    expect(paths(rib, P1)[0].asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001, 4200000001, 4200000002] }]);
  });

  test("AS4_PATH from a 4-octet peer is ignored", () => {
    const { rib, a } = session();
    rib.feed(a, update({ nlri: [P1], asPath: [65001], as4Path: [{ type: 2, asns: [4200000001, 4200000002] }] }));
    expect(paths(rib, P1)[0].asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001] }]);
  });
});

describe("graceful restart (helper) and route refresh", () => {
  test("a restarting peer's routes stay in use as stale; re-sent ones are fresh; the rest go on sweep", () => {
    const rib = freshRib();
    const a = rib.addPeer({ asn: 65001, address: "192.0.2.11", routerId: "10.0.0.11" });
    rib.peerUp(a, { as4: true, ipv4: true, ipv6: true });
    rib.feed(a, update({ nlri: [P1, P2], asPath: [65001] }));
    rib.feed(a, update({ mpReach: { nextHop: "2001:db8::11", nlri: ["2001:db8:5::/48"] }, asPath: [65001] }));
    rib.enableChanges(true);
    rib.drainChanges();
    rib.peerDown(a, { keepStale: true });
    expect(paths(rib, P1).map((p) => [p.best, p.stale])).toEqual([[true, true]]);
    expect(rib.drainChanges()).toEqual([]); // forwarding unchanged
    rib.peerUp(a, { as4: true, ipv4: true, ipv6: true });
    rib.feed(a, update({ nlri: [P1], asPath: [65001] }));
    expect(paths(rib, P1)[0].stale).toBe(false);
    expect(paths(rib, P2)[0].stale).toBe(true);
    expect(rib.sweepStale(a, ["ipv4-unicast"])).toBe(1);
    expect(paths(rib, P2)).toEqual([]);
    expect(paths(rib, "2001:db8:5::/48")[0].stale).toBe(true);
    expect(rib.drainChanges().map((c) => [c.prefix, c.withdrawn])).toEqual([[P2, true]]);
    expect(rib.sweepStale(a)).toBe(1);
    expect(rib.stats()).toMatchObject({ ipv4Prefixes: 1, ipv6Prefixes: 0 });
  });

  test("route refresh re-advertises the whole Adj-RIB-Out, then End-of-RIB", () => {
    const rib = freshRib();
    const b = rib.addPeer({ asn: 65002, address: "192.0.2.12" });
    rib.peerUp(b, { as4: true, ipv4: true, ipv6: false, nextHopV4: "192.0.2.1" });
    rib.originate({ prefix: P1 });
    const first = rib.exportFor(b);
    expect(rib.exportFor(b)).toEqual([]);
    rib.refresh(b);
    expect(rib.exportFor(b)).toEqual(first);
  });
});
