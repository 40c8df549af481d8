// The core's UPDATE builder (what the RIB uses in-core), through encodeUpdates:
// many prefixes sharing attributes packed into as few messages as fit.
import { describe, expect, test } from "bun:test";
import { decodeMessages, encodeUpdates } from "../../host/core/codec.ts";

const v4 = (n: number) => Array.from({ length: n }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
const v6 = (n: number) => Array.from({ length: n }, (_, i) => `2001:db8:${(i + 1).toString(16)}::/48`);
const attrs = { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [65001, 4200000001] }], nextHop: "192.0.2.1", communities: ["65000:1"] };

function decodeAll(msgs: Uint8Array[], opts = {}) {
  return msgs.map((m) => {
    expect(m.length).toBeLessThanOrEqual((opts as { extendedMessage?: boolean }).extendedMessage ? 65535 : 4096);
    const d = decodeMessages(m, opts);
    expect(d.length).toBe(1);
    expect(d[0].error).toBeUndefined();
    expect(d[0].treatAsWithdraw).toBeUndefined();
    return d[0];
  });
}

describe("encodeUpdates", () => {
  test("IPv4 announcements fill 4096-byte UPDATEs and keep every prefix in order", () => {
    const prefixes = v4(5000);
    const msgs = encodeUpdates(prefixes, attrs);
    expect(msgs.length).toBe(5);
    const decoded = decodeAll(msgs);
    expect(decoded.flatMap((m) => m.nlri)).toEqual(prefixes);
    for (const m of decoded) expect(m.attributes).toEqual(attrs);
    expect(msgs[0].length).toBeGreaterThan(4000);
  });

  test("IPv4 withdrawals", () => {
    const prefixes = v4(2000);
    const decoded = decodeAll(encodeUpdates(prefixes, undefined, { withdraw: true }));
    expect(decoded.flatMap((m) => m.withdrawn)).toEqual(prefixes);
    expect(decoded.every((m) => m.nlri!.length === 0)).toBe(true);
  });

  test("IPv6 announcements and withdrawals through MP_REACH / MP_UNREACH", () => {
    const prefixes = v6(1500);
    const ann = decodeAll(encodeUpdates(prefixes, { ...attrs, nextHop: ["2001:db8::1", "fe80::1"] }));
    expect(ann.flatMap((m) => m.nlri)).toEqual(prefixes);
    expect(ann[0].attributes!.nextHop).toEqual(["2001:db8::1", "fe80::1"]);
    expect(ann.length).toBeGreaterThan(1);
    const wd = decodeAll(encodeUpdates(prefixes, undefined, { withdraw: true }));
    expect(wd.flatMap((m) => m.withdrawn)).toEqual(prefixes);
  });

  test("RFC 8950: IPv4 prefixes with an IPv6 next hop", () => {
    const decoded = decodeAll(encodeUpdates(v4(10), { ...attrs, nextHop: "2001:db8::1" }));
    expect(decoded[0].mpReach).toEqual({ afi: 1, safi: 1 });
    expect(decoded[0].nlri).toEqual(v4(10));
  });

  test("add-path identifiers and extended messages", () => {
    const prefixes = v4(3000);
    const pathIds = prefixes.map((_, i) => i + 1);
    const opts = { addPath: ["ipv4-unicast"], extendedMessage: true };
    const decoded = decodeAll(encodeUpdates(prefixes, attrs, { ...opts, pathIds }), opts);
    expect(decoded.length).toBe(1);
    expect(decoded[0].pathIds).toEqual(pathIds);
  });

  test("a 2-octet AS session gets AS_TRANS and the attributes still decode", () => {
    const d = decodeAll(encodeUpdates(v4(3), { ...attrs, as4Path: [{ type: "AS_SEQUENCE", asns: [4200000001] }] }, { as4: false }), { as4: false });
    expect(d[0].attributes!.asPath).toEqual(attrs.asPath);
  });

  test("attributes too large for any prefix are an error", () => {
    const huge = { ...attrs, communities: Array.from({ length: 1100 }, (_, i) => `65000:${i}`) };
    expect(() => encodeUpdates(v4(1), huge)).toThrow();
  });
});
