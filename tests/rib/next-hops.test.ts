// Next hops in the core (issue 8.2), where a loopback session cannot reach:
// our own IPv6 address as next hop (ineligible), no address of a family to use
// as next hop self (nothing sent rather than 0.0.0.0 or ::), and the codec's
// verdict on MP_REACH_NLRI next hops as `sart decode` reports it.
import { describe, expect, test } from "bun:test";
import { decodeMessages, encodeMessage } from "../../host/core/codec.ts";
import { exportAll, freshRib, update } from "./wire.ts";

describe("received next hops", () => {
  test("our own IPv6 address on the session makes the route ineligible; another address is fine", () => {
    const rib = freshRib();
    const a = rib.addPeer({ asn: 65001, address: "2001:db8::11", routerId: "10.0.0.11" });
    rib.peerUp(a, { as4: true, ipv4: true, ipv6: true, nextHopV4: "192.0.2.1", nextHopV6: "2001:db8::1" });
    rib.feed(a, update({ mpReach: { nextHop: "2001:db8::1", nlri: ["2001:db8:1::/48"] } }));
    rib.feed(a, update({ mpReach: { nextHop: "2001:db8::11", nlri: ["2001:db8:2::/48"] } }));
    expect(rib.lookup("2001:db8:1::/48")!.paths[0]).toMatchObject({ nextHop: "2001:db8::1", eligible: false, best: false });
    expect(rib.lookup("2001:db8:2::/48")!.paths[0]).toMatchObject({ nextHop: "2001:db8::11", eligible: true, best: true });
    expect(rib.peerCounters(a)).toMatchObject({ received: 2, accepted: 1 });
  });
});

describe("next hop self", () => {
  test("a family without an address of ours towards the peer: its routes are not sent (no 0.0.0.0 or ::)", () => {
    const rib = freshRib();
    rib.originate({ prefix: "2001:db8:9::/48" });
    rib.originate({ prefix: "2001:db8:8::/48", nextHop: "2001:db8::8" });
    rib.originate({ prefix: "198.51.100.0/24" });
    const b = rib.addPeer({ asn: 65002, address: "192.0.2.12", routerId: "10.0.0.12", export: "all" });
    rib.peerUp(b, { as4: true, ipv4: true, ipv6: true, nextHopV4: "192.0.2.1" });
    const msgs = exportAll(rib, b);
    const sent = msgs.flatMap((d) => [...d.nlri, ...(d.mpReach?.nlri ?? [])]).sort();
    expect(sent).toEqual(["198.51.100.0/24", "2001:db8:8::/48"]);
    expect(msgs.find((d) => d.mpReach?.nlri.length)!.mpReach!.nextHop).toBe("2001:db8::8");
  });
});

describe("sart decode: MP_REACH_NLRI next hops", () => {
  const asPath = [{ type: "AS_SEQUENCE" as const, asns: [65001] }];
  const verdict = (nextHop: string | string[], mpIpv4 = false) =>
    decodeMessages(encodeMessage({
      type: "UPDATE", nlri: [mpIpv4 ? "198.51.100.0/24" : "2001:db8:5::/48"], attributes: { origin: "IGP", asPath, nextHop },
      ...(mpIpv4 ? { mpReach: { afi: 1, safi: 1 } } : {}),
    } as never))[0].treatAsWithdraw;

  test("unspecified, loopback, multicast, reserved and link-local-only next hops are treat-as-withdraw 3/8", () => {
    for (const nh of ["::", "::1", "ff02::1", "fe80::1", ["fe80::1", "fe80::2"]]) {
      expect(verdict(nh)).toMatchObject({ code: 3, subcode: 8, message: expect.stringContaining("next hop is not a usable unicast address") });
    }
    for (const nh of ["0.0.0.0", "0.1.2.3", "224.0.0.5", "240.0.0.1", "255.255.255.255"]) expect(verdict(nh, true)).toMatchObject({ code: 3, subcode: 8 });
  });

  test("global addresses are accepted, with or without a link-local one; 127/8 stays usable for labs", () => {
    for (const nh of ["2001:db8::1", ["2001:db8::1", "fe80::1"], "::ffff:192.0.2.1"]) expect(verdict(nh)).toBeUndefined();
    for (const nh of ["192.0.2.1", "127.0.0.1"]) expect(verdict(nh, true)).toBeUndefined();
  });
});
