// Robustness and consistency: seeded random operations checked against a
// reference decision written in TypeScript, and mutated input that must never
// trap the core or leak RIB state.
import { expect, test } from "bun:test";
import type { Rib, RibPath } from "../../host/core/rib.ts";
import { KEEPALIVE, concat, freshRib, update } from "./wire.ts";
import { mulberry32 as prng } from "../codec/bytes.ts";

interface PeerInfo { idx: number; asn: number; address: string; routerId: number }

const ipNum = (s: string) => s.split(".").reduce((a, b) => a * 256 + Number(b), 0);

/** RFC 4271 9.1.2.2 by elimination, over the query's view of the paths. */
function referenceBest(paths: RibPath[], peers: Map<string, PeerInfo>, ownAs: number): RibPath | undefined {
  let c = paths.filter((p) => p.eligible);
  const keepMin = (f: (p: RibPath) => number) => {
    const m = Math.min(...c.map(f));
    c = c.filter((p) => f(p) === m);
  };
  const peerOf = (p: RibPath) => peers.get(p.peer)!;
  const asLen = (p: RibPath) => p.asPath.reduce((n, s) => n + (s.type === "AS_SEQUENCE" ? s.asns.length : s.type === "AS_SET" ? 1 : 0), 0);
  const neighbour = (p: RibPath) => (p.asPath[0]?.type === "AS_SEQUENCE" ? p.asPath[0].asns[0] : 0);
  if (!c.length) return undefined;
  keepMin((p) => -(p.localPref ?? 100));
  keepMin(asLen);
  keepMin((p) => ["IGP", "EGP", "INCOMPLETE"].indexOf(p.origin));
  c = c.filter((p) => !c.some((q) => neighbour(q) === neighbour(p) && (q.med ?? 0) < (p.med ?? 0)));
  keepMin((p) => (peerOf(p).asn === ownAs ? 1 : 0));
  keepMin((p) => (p.originatorId ? ipNum(p.originatorId) : peerOf(p).routerId));
  keepMin((p) => p.clusterList?.length ?? 0);
  keepMin((p) => ipNum(p.peer));
  keepMin((p) => p.pathId);
  return c[0];
}

test("random announcements and withdrawals: the core's best path matches the reference decision", () => {
  const rand = prng(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const rib = freshRib({ asn: 65000, routerId: "192.0.2.1", multipath: true });
  const peers = new Map<string, PeerInfo>();
  const list: PeerInfo[] = [];
  for (let i = 0; i < 6; i++) {
    const asn = i < 2 ? 65000 : pick([65001, 65002, 65003]);
    const address = `192.0.2.${10 + i}`;
    const routerId = `10.0.0.${pick([1, 2, 3])}`;
    const idx = rib.addPeer({ asn, address, routerId, export: "all" });
    rib.peerUp(idx, { as4: true, ipv4: true, ipv6: false, addPathReceiveV4: true });
    const info = { idx, asn, address, routerId: ipNum(routerId) };
    peers.set(address, info);
    list.push(info);
  }
  const prefixes = Array.from({ length: 20 }, (_, k) => `198.51.100.${k * 8}/29`);
  for (let step = 0; step < 3000; step++) {
    const peer = pick(list);
    const prefix = pick(prefixes);
    const pathId = pick([1, 2]);
    if (rand() < 0.3) {
      rib.feed(peer.idx, update({ withdrawn: [prefix], withdrawnPathIds: [pathId] }));
      continue;
    }
    const internal = peer.asn === 65000;
    const first = internal ? pick([65001, 65002, 65003]) : peer.asn;
    const asPath = [first, ...Array.from({ length: Math.floor(rand() * 3) }, () => pick([65100, 65200, 65000]))];
    rib.feed(peer.idx, update({
      nlri: [prefix], pathIds: [pathId], asPath, nextHop: peer.address, origin: pick([0, 0, 1, 2]),
      med: rand() < 0.5 ? pick([0, 10, 20]) : undefined,
      localPref: internal ? pick([100, 100, 200]) : undefined,
      originatorId: internal && rand() < 0.3 ? pick(["10.0.0.1", "10.0.0.2", "192.0.2.1"]) : undefined,
      clusterList: internal && rand() < 0.3 ? pick([["10.9.9.9"], ["10.9.9.9", "10.9.9.8"]]) : undefined,
    }));
    if (step % 100 === 99) {
      for (const entry of rib.query({ family: "ipv4-unicast", limit: 100 })) {
        const best = entry.paths.filter((p) => p.best);
        const ref = referenceBest(entry.paths, peers, 65000);
        expect({ prefix: entry.prefix, best: best.map((p) => [p.peer, p.pathId]) }).toEqual({ prefix: entry.prefix, best: ref ? [[ref.peer, ref.pathId]] : [] });
        // best is first in the list, multipath members share its neighbouring AS, one per peer
        if (ref) expect(entry.paths[0].best).toBe(true);
        const mp = entry.paths.filter((p) => p.multipath);
        expect(new Set(mp.map((p) => p.peer)).size).toBe(mp.length);
        expect(mp.some((p) => p.peer === best[0]?.peer)).toBe(false);
      }
    }
  }
  for (const p of list) rib.peerDown(p.idx);
  expect(rib.stats()).toMatchObject({ ipv4Prefixes: 0, paths: 0, attributeSets: 0, prefixRecords: 0, pendingChanges: 0 });
});

test("mutated UPDATE streams never trap the core and leave nothing behind", () => {
  const rand = prng(7);
  const base = concat(
    update({ nlri: ["198.51.100.0/24", "203.0.113.0/25"], asPath: [65001, 65002], med: 5, communities: ["65001:1"] }),
    update({ withdrawn: ["198.51.100.0/24"], nlri: ["192.0.2.0/26"], asPath: [{ type: 1, asns: [65010, 65011] }] }),
    update({ mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8:1::/48", "2001:db8:2::/64"] }, asPath: [65001], localPref: 5 }),
    update({ mpUnreach: { nlri: ["2001:db8:1::/48"] } }),
    KEEPALIVE,
  );
  let notifications = 0;
  for (let round = 0; round < 400; round++) {
    const rib = freshRib();
    const peer = rib.addPeer({ asn: rand() < 0.2 ? 65000 : 65001, address: "192.0.2.11", maxPrefix: rand() < 0.1 ? 2 : 0 });
    rib.peerUp(peer, { as4: rand() < 0.7, ipv4: true, ipv6: true, addPathReceiveV4: rand() < 0.2, addPathReceiveV6: rand() < 0.2 });
    const m = base.slice();
    const mutations = 1 + Math.floor(rand() * 6);
    for (let k = 0; k < mutations; k++) {
      const at = Math.floor(rand() * m.length);
      const kind = rand();
      if (kind < 0.6) m[at] = Math.floor(rand() * 256);
      else if (kind < 0.8) m[at] ^= 1 << Math.floor(rand() * 8);
      else m[at] = rand() < 0.5 ? 0 : 255;
    }
    const cut = rand() < 0.3 ? Math.floor(rand() * m.length) : m.length;
    const stream = m.subarray(0, cut);
    for (let i = 0; i < stream.length; ) {
      const n = 1 + Math.floor(rand() * 200);
      for (const e of rib.feed(peer, stream.subarray(i, i + n))) {
        if (e.kind === "notification") {
          notifications++;
          expect(e.code).toBeGreaterThanOrEqual(1);
          expect(e.code).toBeLessThanOrEqual(6);
        }
      }
      i += n;
    }
    rib.query({ family: "ipv4-unicast" });
    rib.query({ family: "ipv6-unicast" });
    rib.peerDown(peer);
    expect(rib.stats()).toMatchObject({ ipv4Prefixes: 0, ipv6Prefixes: 0, paths: 0, attributeSets: 0, prefixRecords: 0, pendingChanges: 0 });
  }
  expect(notifications).toBeGreaterThan(0);
});
