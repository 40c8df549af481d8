// The decision process (RFC 4271 9.1.2), one table per tie-breaker step. In
// each row the expected winner is worse than the loser at every later step
// where that is possible (higher router id, higher address), so only the step
// under test can pick it; every row runs in every insertion order.
import { describe, expect, test } from "bun:test";
import type { Rib } from "../../host/core/rib.ts";
import { type UpdateSpec, freshRib, update } from "./wire.ts";

const PFX = "198.51.100.0/24";
const OWN_AS = 65000;

interface PeerSpec { asn: number; address: string; routerId: string }
interface PathSpec { name: string; local?: boolean; peer?: PeerSpec; attrs?: Partial<UpdateSpec> }
interface Row { step: string; paths: PathSpec[]; best: string }

const ebgp = (n: number, asn: number, routerId = `10.0.0.${n}`): PeerSpec => ({ asn, address: `192.0.2.${n}`, routerId });
const ibgp = (n: number, routerId = `10.0.0.${n}`): PeerSpec => ({ asn: OWN_AS, address: `192.0.2.${n}`, routerId });

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

function install(rib: Rib, paths: PathSpec[], prefix = PFX): Map<string, string> {
  const names = new Map<string, string>();
  const peers = new Map<string, number>();
  for (const p of paths) {
    if (p.local) {
      rib.originate({ prefix });
      names.set("local", p.name);
      continue;
    }
    const peer = p.peer!;
    let idx = peers.get(peer.address);
    if (idx === undefined) {
      idx = rib.addPeer({ asn: peer.asn, address: peer.address, routerId: peer.routerId, export: "all" });
      rib.peerUp(idx, { as4: true, ipv4: true, ipv6: true, nextHopV4: "192.0.2.1" });
      peers.set(peer.address, idx);
    }
    const internal = peer.asn === OWN_AS;
    const spec: UpdateSpec = {
      nlri: [prefix],
      nextHop: peer.address,
      asPath: internal ? [] : [peer.asn],
      ...(internal ? { localPref: 100 } : {}),
      ...p.attrs,
    };
    const events = rib.feed(idx, update(spec));
    expect(events).toEqual([]);
    names.set(peer.address, p.name);
  }
  return names;
}

function winner(rib: Rib, names: Map<string, string>, prefix = PFX): string {
  const entry = rib.lookup(prefix);
  const best = entry?.paths.filter((p) => p.best) ?? [];
  expect(best.length).toBe(1);
  return names.get(best[0].peer)!;
}

function runRows(rows: Row[]): void {
  for (const row of rows) {
    test(row.step, () => {
      for (const order of permutations(row.paths)) {
        const rib = freshRib();
        const names = install(rib, order);
        expect({ order: order.map((p) => p.name), best: winner(rib, names) }).toEqual({ order: order.map((p) => p.name), best: row.best });
      }
    });
  }
}

describe("decision: highest LOCAL_PREF", () => {
  runRows([
    { step: "200 beats 100", best: "w", paths: [
      { name: "w", peer: ibgp(20), attrs: { localPref: 200, asPath: [65010] } },
      { name: "l", peer: ibgp(10), attrs: { localPref: 100, asPath: [65010] } },
    ] },
    { step: "a received LOCAL_PREF of 101 beats an eBGP path's default 100", best: "w", paths: [
      { name: "w", peer: ibgp(20), attrs: { localPref: 101, asPath: [65010] } },
      { name: "l", peer: ebgp(10, 65010), attrs: { asPath: [65010] } },
    ] },
    { step: "LOCAL_PREF from an eBGP peer is ignored", best: "w", paths: [
      { name: "w", peer: ebgp(10, 65010), attrs: { asPath: [65010] } },
      { name: "l", peer: ebgp(20, 65020), attrs: { asPath: [65020], localPref: 500 } },
    ] },
  ]);
});

describe("decision: locally originated", () => {
  runRows([
    { step: "local route beats an equal learned path", best: "w", paths: [
      { name: "w", local: true },
      // learned path with everything else equal and a lower router id than ours
      { name: "l", peer: { asn: OWN_AS, address: "192.0.2.10", routerId: "10.0.0.1" }, attrs: { asPath: [] } },
    ] },
  ]);
});

describe("decision: shortest AS_PATH", () => {
  runRows([
    { step: "1 beats 2", best: "w", paths: [
      { name: "w", peer: ebgp(20, 65020), attrs: { asPath: [65020] } },
      { name: "l", peer: ebgp(10, 65010), attrs: { asPath: [65010, 65011] } },
    ] },
    { step: "an AS_SET counts 1", best: "w", paths: [
      { name: "w", peer: ebgp(20, 65020), attrs: { asPath: [{ type: 2, asns: [65020] }, { type: 1, asns: [65030, 65031, 65032] }] } },
      { name: "l", peer: ebgp(10, 65010), attrs: { asPath: [65010, 65011, 65012] } },
    ] },
  ]);
});

describe("decision: lowest ORIGIN", () => {
  runRows([
    { step: "IGP beats EGP", best: "w", paths: [
      { name: "w", peer: ebgp(20, 65020), attrs: { origin: 0 } },
      { name: "l", peer: ebgp(10, 65010), attrs: { origin: 1 } },
    ] },
    { step: "EGP beats INCOMPLETE", best: "w", paths: [
      { name: "w", peer: ebgp(20, 65020), attrs: { origin: 1 } },
      { name: "l", peer: ebgp(10, 65010), attrs: { origin: 2 } },
    ] },
  ]);
});

describe("decision: lowest MED within a neighbouring AS", () => {
  runRows([
    { step: "MED 10 beats MED 20 from the same AS", best: "w", paths: [
      { name: "w", peer: ebgp(20, 65001), attrs: { med: 10 } },
      { name: "l", peer: ebgp(10, 65001), attrs: { med: 20 } },
    ] },
    { step: "a missing MED counts 0", best: "w", paths: [
      { name: "w", peer: ebgp(20, 65001), attrs: {} },
      { name: "l", peer: ebgp(10, 65001), attrs: { med: 1 } },
    ] },
    { step: "MEDs from different neighbouring ASes are not compared", best: "w", paths: [
      { name: "w", peer: ebgp(10, 65010), attrs: { med: 50 } },
      { name: "l", peer: ebgp(20, 65020), attrs: { med: 0 } },
    ] },
    { step: "RFC 4271 9.1.2.2 elimination (pairwise comparison is not transitive)", best: "c", paths: [
      { name: "a", peer: ebgp(11, 65001, "10.0.0.3"), attrs: { med: 10 } },
      { name: "b", peer: ebgp(12, 65001, "10.0.0.1"), attrs: { med: 20 } },
      { name: "c", peer: ebgp(13, 65002, "10.0.0.2"), attrs: { med: 5 } },
    ] },
  ]);
});

describe("decision: eBGP over iBGP", () => {
  runRows([
    { step: "eBGP beats iBGP", best: "w", paths: [
      { name: "w", peer: ebgp(20, 65020), attrs: { asPath: [65020] } },
      { name: "l", peer: ibgp(10), attrs: { asPath: [65020] } },
    ] },
  ]);
});

describe("decision: lowest router ID", () => {
  runRows([
    { step: "lower BGP identifier wins", best: "w", paths: [
      { name: "w", peer: ebgp(20, 65020, "10.0.0.1"), attrs: {} },
      { name: "l", peer: ebgp(10, 65010, "10.0.0.2"), attrs: {} },
    ] },
    { step: "ORIGINATOR_ID replaces the router id (and is decided before CLUSTER_LIST)", best: "w", paths: [
      { name: "w", peer: ibgp(20, "10.0.0.9"), attrs: { asPath: [65010], originatorId: "10.0.0.1", clusterList: ["10.9.9.9"] } },
      { name: "l", peer: ibgp(10, "10.0.0.5"), attrs: { asPath: [65010] } },
    ] },
  ]);
});

describe("decision: shortest CLUSTER_LIST", () => {
  runRows([
    { step: "1 beats 2", best: "w", paths: [
      { name: "w", peer: ibgp(20), attrs: { asPath: [65010], originatorId: "10.0.0.1", clusterList: ["10.9.9.1"] } },
      { name: "l", peer: ibgp(10), attrs: { asPath: [65010], originatorId: "10.0.0.1", clusterList: ["10.9.9.1", "10.9.9.2"] } },
    ] },
  ]);
});

describe("decision: lowest neighbour address", () => {
  runRows([
    { step: "lower address wins when everything else ties", best: "w", paths: [
      { name: "w", peer: ibgp(10, "10.0.0.7"), attrs: { asPath: [65010], originatorId: "10.0.0.1", clusterList: ["10.9.9.1"] } },
      { name: "l", peer: ibgp(20, "10.0.0.3"), attrs: { asPath: [65010], originatorId: "10.0.0.1", clusterList: ["10.9.9.2"] } },
    ] },
  ]);
});

describe("decision: lexicographic order", () => {
  runRows([
    { step: "LOCAL_PREF outranks a much shorter AS_PATH, ORIGIN and MED", best: "w", paths: [
      { name: "w", peer: ibgp(20, "10.0.0.9"), attrs: { localPref: 150, asPath: [65010, 65011, 65012], origin: 2, med: 1000 } },
      { name: "l", peer: ibgp(10, "10.0.0.1"), attrs: { localPref: 100, asPath: [65010], origin: 0, med: 0 } },
    ] },
    { step: "ORIGIN outranks eBGP over iBGP and router id", best: "w", paths: [
      { name: "w", peer: ibgp(20, "10.0.0.9"), attrs: { asPath: [65010], origin: 0 } },
      { name: "l", peer: ebgp(10, 65010, "10.0.0.1"), attrs: { asPath: [65010], origin: 1 } },
    ] },
  ]);
});

describe("multipath (ECMP)", () => {
  const setup = (multipath: boolean) => {
    const rib = freshRib({ asn: OWN_AS, routerId: "192.0.2.1", multipath });
    rib.enableChanges(true);
    const names = install(rib, [
      { name: "a", peer: ebgp(11, 65001), attrs: { asPath: [65001, 65100] } },
      { name: "b", peer: ebgp(12, 65001), attrs: { asPath: [65001, 65200] } },
      { name: "c", peer: ebgp(13, 65001), attrs: { asPath: [65001, 65300], med: 5 } }, // worse MED: not equal
      { name: "d", peer: ebgp(14, 65002), attrs: { asPath: [65002, 65100] } }, // other neighbouring AS
      { name: "e", peer: ebgp(15, 65001), attrs: { asPath: [65001, 65100, 65101] } }, // longer AS_PATH
    ]);
    return { rib, names };
  };

  test("paths equal up to the MED step from the same neighbouring AS share the route", () => {
    const { rib, names } = setup(true);
    const entry = rib.lookup(PFX)!;
    expect(names.get(entry.paths.find((p) => p.best)!.peer)).toBe("a");
    expect(entry.paths.filter((p) => p.multipath).map((p) => names.get(p.peer))).toEqual(["b"]);
    const changes = rib.drainChanges();
    const last = changes.filter((c) => c.prefix === PFX).at(-1)!;
    expect(last.nextHops).toEqual(["192.0.2.11", "192.0.2.12"]);
  });

  test("a third equal path joins, and leaves on withdraw", () => {
    const { rib } = setup(true);
    const f = rib.addPeer({ asn: 65001, address: "192.0.2.16", routerId: "10.0.0.16", export: "all" });
    rib.peerUp(f, { as4: true, ipv4: true, ipv6: false, nextHopV4: "192.0.2.1" });
    rib.drainChanges();
    rib.feed(f, update({ nlri: [PFX], nextHop: "192.0.2.16", asPath: [65001, 65400] }));
    const joined = rib.drainChanges();
    expect(joined.length).toBe(1);
    expect(joined[0].nextHops.sort()).toEqual(["192.0.2.11", "192.0.2.12", "192.0.2.16"]);
    rib.feed(f, update({ withdrawn: [PFX] }));
    const after = rib.drainChanges();
    expect(after.length).toBe(1);
    expect(after[0].nextHops.sort()).toEqual(["192.0.2.11", "192.0.2.12"]);
  });

  test("one path per neighbour: add-path duplicates from one peer do not multiply the set", () => {
    const rib = freshRib({ asn: OWN_AS, routerId: "192.0.2.1", multipath: true });
    const a = rib.addPeer({ asn: 65001, address: "192.0.2.11", routerId: "10.0.0.11" });
    const b = rib.addPeer({ asn: 65001, address: "192.0.2.12", routerId: "10.0.0.12" });
    rib.peerUp(a, { as4: true, ipv4: true, ipv6: false, addPathReceiveV4: true });
    rib.peerUp(b, { as4: true, ipv4: true, ipv6: false });
    rib.feed(a, update({ nlri: [PFX, PFX], pathIds: [1, 2], nextHop: "192.0.2.11", asPath: [65001] }));
    rib.feed(b, update({ nlri: [PFX], nextHop: "192.0.2.12", asPath: [65001] }));
    const entry = rib.lookup(PFX)!;
    expect(entry.paths.length).toBe(3);
    expect(entry.paths.filter((p) => p.best || p.multipath).map((p) => p.peer).sort()).toEqual(["192.0.2.11", "192.0.2.12"]);
  });

  test("disabled: only the best path", () => {
    const { rib } = setup(false);
    const entry = rib.lookup(PFX)!;
    expect(entry.paths.filter((p) => p.multipath)).toEqual([]);
    const last = rib.drainChanges().filter((c) => c.prefix === PFX).at(-1)!;
    expect(last.nextHops).toEqual(["192.0.2.11"]);
  });
});
