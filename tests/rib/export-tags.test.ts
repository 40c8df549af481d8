// Export tags: a locally originated route can be restricted to some peers (the agent
// announces a LoadBalancer address only to the BGPPeers its BGPAdvertisement names).
// A tagged route goes to the peers sharing one of its tags; untagged routes go to every
// peer; re-originating with other tags announces to the peers that gained it and
// withdraws from the ones that lost it (and sends nothing again to the ones that keep
// it); a peer's tags changing while it is up
// re-evaluates its Adj-RIB-Out. advertisedTo() answers from the Adj-RIB-Out.
import { describe, expect, test } from "bun:test";
import type { Rib } from "../../host/core/rib.ts";
import { type Decoded, exportAll, freshRib } from "./wire.ts";

function addPeer(rib: Rib, n: number, tags: number): number {
  const idx = rib.addPeer({ asn: 65000 + n, address: `192.0.2.${n}`, routerId: `10.0.0.${n}`, export: "local" });
  rib.setPeerTags(idx, tags);
  rib.peerUp(idx, { as4: true, ipv4: true, ipv6: true, nextHopV4: "192.0.2.1", nextHopV6: "2001:db8::1" });
  return idx;
}

const announced = (msgs: Decoded[]) => msgs.flatMap((d) => [...d.nlri, ...(d.mpReach?.nlri ?? [])]).sort();
const withdrawn = (msgs: Decoded[]) => msgs.flatMap((d) => [...d.withdrawn, ...(d.mpUnreach?.nlri ?? [])]).sort();

describe("export tags on originated routes", () => {
  test("a tagged route goes only to peers sharing a tag; untagged ones to every peer", () => {
    const rib = freshRib();
    const a = addPeer(rib, 11, 0b01);
    const b = addPeer(rib, 12, 0b10);
    const c = addPeer(rib, 13, 0);
    for (const p of [a, b, c]) exportAll(rib, p);
    rib.originate({ prefix: "198.51.100.1/32", tags: 0b01 });
    rib.originate({ prefix: "198.51.100.2/32", tags: 0b11 });
    rib.originate({ prefix: "198.51.100.0/24" });
    rib.originate({ prefix: "2001:db8:5::1/128", tags: 0b10 });
    expect(announced(exportAll(rib, a))).toEqual(["198.51.100.0/24", "198.51.100.1/32", "198.51.100.2/32"]);
    expect(announced(exportAll(rib, b))).toEqual(["198.51.100.0/24", "198.51.100.2/32", "2001:db8:5::1/128"]);
    expect(announced(exportAll(rib, c))).toEqual(["198.51.100.0/24"]);
    expect(rib.advertisedTo(a, "198.51.100.1/32")).toBe(true);
    expect(rib.advertisedTo(b, "198.51.100.1/32")).toBe(false);
    expect(rib.advertisedTo(b, "2001:db8:5::1/128")).toBe(true);
    expect(rib.advertisedTo(c, "203.0.113.0/24")).toBe(false);
  });

  test("re-originating with other tags announces to the new peers and withdraws from the old", () => {
    const rib = freshRib();
    const a = addPeer(rib, 11, 0b01);
    const b = addPeer(rib, 12, 0b10);
    for (const p of [a, b]) exportAll(rib, p);
    rib.originate({ prefix: "198.51.100.7/32", tags: 0b01 });
    expect(announced(exportAll(rib, a))).toEqual(["198.51.100.7/32"]);
    expect(exportAll(rib, b)).toEqual([]);
    rib.originate({ prefix: "198.51.100.7/32", tags: 0b10 });
    expect(withdrawn(exportAll(rib, a))).toEqual(["198.51.100.7/32"]);
    expect(announced(exportAll(rib, b))).toEqual(["198.51.100.7/32"]);
    expect(rib.advertisedTo(a, "198.51.100.7/32")).toBe(false);
    expect(rib.advertisedTo(b, "198.51.100.7/32")).toBe(true);
    // Same tags again: nothing to send to anyone.
    rib.originate({ prefix: "198.51.100.7/32", tags: 0b10 });
    expect(exportAll(rib, a)).toEqual([]);
    expect(exportAll(rib, b)).toEqual([]);
  });

  test("re-originating for more peers sends nothing again to the peers that had it", () => {
    const rib = freshRib();
    const a = addPeer(rib, 11, 0b01);
    const b = addPeer(rib, 12, 0b10);
    for (const p of [a, b]) exportAll(rib, p);
    rib.originate({ prefix: "198.51.100.8/32", tags: 0b01, communities: ["65000:1"] });
    expect(announced(exportAll(rib, a))).toEqual(["198.51.100.8/32"]);
    rib.originate({ prefix: "198.51.100.8/32", tags: 0b11, communities: ["65000:1"] });
    expect(exportAll(rib, a)).toEqual([]);
    expect(announced(exportAll(rib, b))).toEqual(["198.51.100.8/32"]);
    rib.originate({ prefix: "198.51.100.8/32", tags: 0b10, communities: ["65000:1"] });
    expect(withdrawn(exportAll(rib, a))).toEqual(["198.51.100.8/32"]);
    expect(exportAll(rib, b)).toEqual([]);
    // New attributes still reach the peer that keeps the route.
    rib.originate({ prefix: "198.51.100.8/32", tags: 0b10, communities: ["65000:2"] });
    expect(announced(exportAll(rib, b))).toEqual(["198.51.100.8/32"]);
  });

  test("routes with the same attributes and different tags are distinct sets", () => {
    const rib = freshRib();
    const a = addPeer(rib, 11, 0b01);
    exportAll(rib, a);
    rib.originate({ prefix: "198.51.100.1/32", tags: 0b01, communities: ["65000:1"] });
    rib.originate({ prefix: "198.51.100.2/32", tags: 0b10, communities: ["65000:1"] });
    expect(announced(exportAll(rib, a))).toEqual(["198.51.100.1/32"]);
    expect(rib.stats().attributeSets).toBe(2);
  });

  test("a peer's tags changing while up re-evaluates what it was sent", () => {
    const rib = freshRib();
    const a = addPeer(rib, 11, 0b01);
    exportAll(rib, a);
    rib.originate({ prefix: "198.51.100.1/32", tags: 0b01 });
    rib.originate({ prefix: "198.51.100.2/32", tags: 0b10 });
    expect(announced(exportAll(rib, a))).toEqual(["198.51.100.1/32"]);
    rib.setPeerTags(a, 0b10);
    const msgs = exportAll(rib, a);
    expect(announced(msgs)).toEqual(["198.51.100.2/32"]);
    expect(withdrawn(msgs)).toEqual(["198.51.100.1/32"]);
    rib.setPeerTags(a, 0b10);
    expect(exportAll(rib, a)).toEqual([]);
  });

  test("a failed originate does not leave its tags to the next one", () => {
    const rib = freshRib();
    const a = addPeer(rib, 11, 0b01);
    exportAll(rib, a);
    expect(() => rib.originate({ prefix: "198.51.100.1/32", nextHop: "2001:db8::9", tags: 0b10 })).toThrow("not of the prefix's family");
    rib.originate({ prefix: "198.51.100.3/32" });
    expect(announced(exportAll(rib, a))).toEqual(["198.51.100.3/32"]);
  });
});
