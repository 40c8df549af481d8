// Round trips: JSON -> bytes -> JSON, and bytes -> JSON -> identical bytes,
// for every message type, capability and attribute.
import { describe, expect, test } from "bun:test";
import { type CodecOptions, type DecodedMessage, decodeMessages, encodeMessage } from "../../host/core/codec.ts";
import { attr, BASE_ATTRS, h8, hexBytes, message, NLRI_24, open, cap, update } from "./wire.ts";

function jsonRoundTrip(msg: DecodedMessage, opts: CodecOptions = {}): DecodedMessage {
  const bytes = encodeMessage(msg, opts);
  const decoded = decodeMessages(bytes, opts);
  expect(decoded.length).toBe(1);
  expect(decoded[0].error).toBeUndefined();
  expect(decoded[0].length).toBe(bytes.length);
  // Bytes -> JSON -> bytes is the identity too.
  expect(Buffer.from(encodeMessage(decoded[0], opts)).toString("hex")).toBe(Buffer.from(bytes).toString("hex"));
  return decoded[0];
}

function bytesRoundTrip(bytes: Uint8Array, opts: CodecOptions = {}): DecodedMessage {
  const decoded = decodeMessages(bytes, opts);
  expect(decoded.length).toBe(1);
  expect(decoded[0].error).toBeUndefined();
  expect(Buffer.from(encodeMessage(decoded[0], opts)).toString("hex")).toBe(Buffer.from(bytes).toString("hex"));
  return decoded[0];
}

const withoutLength = (m: DecodedMessage) => {
  const { length, ...rest } = m;
  void length;
  return rest;
};

describe("message types", () => {
  test("KEEPALIVE", () => {
    expect(jsonRoundTrip({ type: "KEEPALIVE" })).toEqual({ type: "KEEPALIVE", length: 19 });
  });

  test("NOTIFICATION with data, names, and an RFC 9003 shutdown communication", () => {
    const m = jsonRoundTrip({ type: "NOTIFICATION", code: 3, subcode: 5, data: "400102" });
    expect(m).toMatchObject({ code: 3, subcode: 5, codeName: "UPDATE Message Error", subcodeName: "Attribute Length Error", data: "400102" });
    const s = jsonRoundTrip({ type: "NOTIFICATION", code: 6, subcode: 4, communication: "upgrade to 2.1 ✓" });
    expect(s.communication).toBe("upgrade to 2.1 ✓");
    expect(s.subcodeName).toBe("Administrative Reset");
    expect(jsonRoundTrip({ type: "NOTIFICATION", code: 4, subcode: 0 }).codeName).toBe("Hold Timer Expired");
  });

  test("ROUTE-REFRESH with every enhanced route refresh subtype, and an ORF", () => {
    for (const subtype of [0, 1, 2]) {
      expect(jsonRoundTrip({ type: "ROUTE-REFRESH", afi: 2, safi: 1, subtype })).toEqual({ type: "ROUTE-REFRESH", length: 23, afi: 2, safi: 1, subtype });
    }
    expect(jsonRoundTrip({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 0, orf: "01400005" }).orf).toBe("01400005");
  });

  test("OPEN with every capability", () => {
    const msg: DecodedMessage = {
      type: "OPEN", version: 4, myAs: 23456, asn: 4200000001, holdTime: 90, routerId: "192.0.2.1",
      capabilities: [
        { code: 1, name: "multiprotocol", afi: 1, safi: 1, family: "ipv4-unicast" },
        { code: 1, name: "multiprotocol", afi: 2, safi: 1, family: "ipv6-unicast" },
        { code: 2, name: "route-refresh" },
        { code: 128, name: "route-refresh" },
        { code: 70, name: "enhanced-route-refresh" },
        { code: 65, name: "4-octet-as", asn: 4200000001 },
        { code: 64, name: "graceful-restart", flags: 12, restartTime: 120, restarting: true, notification: true, families: [
          { afi: 1, safi: 1, family: "ipv4-unicast", forwarding: true, flags: 128 },
          { afi: 2, safi: 1, family: "ipv6-unicast", forwarding: false, flags: 0 },
        ] },
        { code: 69, name: "add-path", families: [
          { afi: 1, safi: 1, family: "ipv4-unicast", sendReceive: "both" },
          { afi: 2, safi: 1, family: "ipv6-unicast", sendReceive: "receive" },
        ] },
        { code: 5, name: "extended-nexthop", families: [{ afi: 1, safi: 1, family: "ipv4-unicast", nextHopAfi: 2 }] },
        { code: 6, name: "extended-message" },
        { code: 73, name: "fqdn", hostname: "node-1", domain: "example.com" },
        { code: 71, name: "long-lived-graceful-restart", families: [
          { afi: 1, safi: 1, family: "ipv4-unicast", forwarding: true, flags: 128, staleTime: 60 },
          { afi: 2, safi: 1, family: "ipv6-unicast", forwarding: false, flags: 0, staleTime: 16777215 },
        ] },
      ],
    };
    expect(withoutLength(jsonRoundTrip(msg))).toEqual(msg);
  });

  test("OPEN layouts: all capabilities in one parameter; RFC 9072 extended parameters; none", () => {
    const one = jsonRoundTrip({ type: "OPEN", myAs: 65001, holdTime: 180, routerId: "192.0.2.2", singleCapabilityParameter: true,
      capabilities: [{ code: 2, name: "route-refresh" }, { code: 65, name: "4-octet-as", asn: 65001 }] });
    expect(one.singleCapabilityParameter).toBe(true);
    const ext = jsonRoundTrip({ type: "OPEN", myAs: 65001, holdTime: 180, routerId: "192.0.2.2", extendedOptionalParameters: true,
      capabilities: [{ code: 99, name: "unknown", hex: "ab".repeat(250) }, { code: 98, name: "unknown", hex: "cd".repeat(100) }] });
    expect(ext.extendedOptionalParameters).toBe(true);
    expect(ext.capabilities!.length).toBe(2);
    const none = jsonRoundTrip({ type: "OPEN", myAs: 65001, holdTime: 0, routerId: "192.0.2.2", capabilities: [] });
    expect(none).toMatchObject({ asn: 65001, holdTime: 0, capabilities: [] });
  });

  test("OPEN from wire bytes (BIRD-style single parameter) re-encodes identically", () => {
    const params = "02" + "0e" + "0104" + "00010001" + "0200" + "4104" + h8(65001);
    const m = bytesRoundTrip(open(params));
    expect(m.capabilities!.map((c) => c.name)).toEqual(["multiprotocol", "route-refresh", "4-octet-as"]);
  });
});

describe("UPDATE attributes", () => {
  test("every IPv4 attribute", () => {
    const msg: DecodedMessage = {
      type: "UPDATE",
      withdrawn: ["203.0.113.0/24", "203.0.113.128/25", "0.0.0.0/0"],
      nlri: ["198.51.100.0/24", "198.51.100.255/32", "192.0.2.0/23"],
      attributes: {
        origin: "INCOMPLETE",
        asPath: [
          { type: "AS_CONFED_SEQUENCE", asns: [64512] },
          { type: "AS_CONFED_SET", asns: [64513, 64514] },
          { type: "AS_SEQUENCE", asns: [65001, 4200000001] },
          { type: "AS_SET", asns: [65010, 65011] },
        ],
        nextHop: "192.0.2.1",
        med: 4294967295,
        localPref: 200,
        atomicAggregate: true,
        aggregator: { asn: 4200000002, address: "192.0.2.9" },
        communities: ["65000:100", "65535:65281", "0:0"],
        largeCommunities: ["4200000001:1:2", "65000:0:4294967295"],
        extendedCommunities: ["0002fde800000064", "0102c000020100c8"],
        originatorId: "192.0.2.7",
        clusterList: ["192.0.2.8", "198.51.100.1"],
        unknown: [{ code: 99, flags: 0xc0, hex: "abcd" }, { code: 200, flags: 0x80, hex: "" }],
      },
    };
    expect(withoutLength(jsonRoundTrip(msg))).toEqual(msg);
  });

  test("IPv6: MP_REACH with global + link-local next hop, MP_UNREACH", () => {
    const msg: DecodedMessage = {
      type: "UPDATE",
      withdrawn: ["2001:db8:1::/48", "::/0"],
      nlri: ["2001:db8::/32", "2001:db8:ffff::1/128", "2001:db8:0:1::/64"],
      attributes: { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [65001] }], nextHop: ["2001:db8::1", "fe80::1"], med: 0 },
      mpReach: { afi: 2, safi: 1 },
      mpUnreach: { afi: 2, safi: 1 },
    };
    expect(withoutLength(jsonRoundTrip(msg))).toEqual(msg);
    const one = jsonRoundTrip({ type: "UPDATE", withdrawn: [], nlri: ["2001:db8::/32"], attributes: { origin: "IGP", asPath: [], nextHop: "2001:db8::1" } });
    expect(one.attributes!.nextHop).toBe("2001:db8::1");
  });

  test("RFC 8950: IPv4 NLRI with an IPv6 next hop; IPv6 End-of-RIB", () => {
    const m = jsonRoundTrip({ type: "UPDATE", withdrawn: [], nlri: ["198.51.100.0/24"], attributes: { origin: "IGP", asPath: [], nextHop: "2001:db8::5" } });
    expect(m.mpReach).toEqual({ afi: 1, safi: 1 });
    expect(m.nlri).toEqual(["198.51.100.0/24"]);
    const eor = jsonRoundTrip({ type: "UPDATE", withdrawn: [], nlri: [], attributes: {}, mpUnreach: { afi: 2, safi: 1 } });
    expect(eor.mpUnreach).toEqual({ afi: 2, safi: 1 });
    expect(jsonRoundTrip({ type: "UPDATE", withdrawn: [], nlri: [], attributes: {} }).length).toBe(23);
  });

  test("add-path path identifiers, IPv4 and IPv6", () => {
    const opts = { addPath: ["ipv4-unicast", "ipv6-unicast"] };
    const v4 = jsonRoundTrip({ type: "UPDATE", withdrawn: ["203.0.113.0/24"], withdrawnPathIds: [7], nlri: ["198.51.100.0/24", "198.51.100.0/24"], pathIds: [1, 2],
      attributes: { origin: "IGP", asPath: [], nextHop: "192.0.2.1" } }, opts);
    expect(v4.pathIds).toEqual([1, 2]);
    expect(v4.withdrawnPathIds).toEqual([7]);
    const v6 = jsonRoundTrip({ type: "UPDATE", withdrawn: [], nlri: ["2001:db8::/32"], pathIds: [4294967295],
      attributes: { origin: "IGP", asPath: [], nextHop: "2001:db8::1" } }, opts);
    expect(v6.pathIds).toEqual([4294967295]);
    // Without add-path negotiated, the same bytes are a different (malformed) message.
    const bytes = encodeMessage(v4, opts);
    expect(decodeMessages(bytes)[0].error ?? decodeMessages(bytes)[0].treatAsWithdraw).toBeDefined();
  });

  test("wire order, extended-length flags and MP family of unknown families survive a round trip", () => {
    const mp = attr(0x90, 14, "0002" + "01" + "10" + "20010db8000000000000000000000001" + "00" + "2020010db8");
    const attrs = mp + attr(0x40, 1, "00") + attr(0x50, 2, "0201" + h8(65001)) + attr(0x80, 15, "0019460102");
    const m = bytesRoundTrip(update("", attrs, ""));
    expect(m.attributeOrder).toEqual([14, 1, 2, 15]);
    expect(m.extendedLength).toEqual([14, 2]);
    expect(m.attributes!.unknown).toEqual([{ code: 15, flags: 0x80, hex: "0019460102" }]);
    expect(m.mpUnreach).toEqual({ afi: 25, safi: 70 });
    expect(m.nlri).toEqual(["2001:db8::/32"]);
  });

  test("the Partial bit on a known optional transitive attribute survives a round trip", () => {
    const m = bytesRoundTrip(update("", BASE_ATTRS + attr(0xe0, 8, "fde80064") + attr(0xe0, 32, "000000010000000200000003"), NLRI_24));
    expect(m.partial).toEqual([8, 32]);
  });

  test("hand-built IPv4 UPDATE decodes to the expected JSON and re-encodes identically", () => {
    const m = bytesRoundTrip(update("", BASE_ATTRS + attr(0xc0, 8, "fde80064"), NLRI_24 + "20cb007101" + "00"));
    expect(m).toEqual({
      type: "UPDATE", length: m.length, withdrawn: [], nlri: ["198.51.100.0/24", "203.0.113.1/32", "0.0.0.0/0"],
      attributes: { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [65001] }], nextHop: "192.0.2.1", communities: ["65000:100"] },
    });
  });

  test("host bits beyond the prefix length are cleared", () => {
    const m = decodeMessages(update("", BASE_ATTRS, "17c63365"))[0]; // 198.51.101.x/23
    expect(m.nlri).toEqual(["198.51.100.0/23"]);
    // IPv6, both with whole words readable and at the very end of the message.
    const reach = (nlri: string) => attr(0x80, 14, "000201" + "10" + "20010db8000000000000000000000001" + "00" + nlri);
    const v6 = decodeMessages(update("", BASE_ATTRS + reach("3120010db8ffffff" + "2120010db8ff"), ""))[0];
    expect(v6.nlri).toEqual(["2001:db8:ffff:8000::/49", "2001:db8:8000::/33"]);
    const tail = decodeMessages(update("", BASE_ATTRS + reach("8020010db8000000000000000000000009"), ""))[0];
    expect(tail.nlri).toEqual(["2001:db8::9/128"]);
  });

  test("an UPDATE filling an extended message", () => {
    const nlri = Array.from({ length: 3000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
    const msg: DecodedMessage = { type: "UPDATE", withdrawn: [], nlri, attributes: { origin: "IGP", asPath: [], nextHop: "192.0.2.1" } };
    expect(() => encodeMessage(msg)).toThrow(/maximum message size/);
    const m = jsonRoundTrip(msg, { extendedMessage: true });
    expect(m.nlri!.length).toBe(3000);
    expect(m.length).toBeGreaterThan(4096);
  });

  test("encoding errors name the field and the bad value", () => {
    const attrs = { origin: "IGP", asPath: [], nextHop: "192.0.2.1" };
    const msg = (a: object): DecodedMessage => ({ type: "UPDATE", withdrawn: [], nlri: ["192.0.2.0/24"], attributes: { ...attrs, ...a } });
    expect(() => encodeMessage(msg({ extendedCommunities: ["0002fde800000064", "0102c0"] }))).toThrow('extendedCommunities: "0102c0" is not 8 bytes');
    expect(() => encodeMessage(msg({ extendedCommunities: ["0002fde80000006z"] }))).toThrow(/extendedCommunities: not a hex string/);
    expect(() => encodeMessage(msg({ communities: ["65001:70000"] }))).toThrow(/community 65001:70000/);
  });
});

describe("streams", () => {
  test("StreamDecoder keeps partial messages across pushes and switches options", async () => {
    const { StreamDecoder } = await import("../../host/core/codec.ts");
    const ka = message(4, "");
    const upd = update("", BASE_ATTRS, NLRI_24);
    const all = new Uint8Array([...ka, ...upd, ...ka]);
    const d = new StreamDecoder();
    const out: DecodedMessage[] = [];
    for (let i = 0; i < all.length; i += 7) out.push(...d.push(all.subarray(i, i + 7)));
    expect(out.map((m) => m.type)).toEqual(["KEEPALIVE", "UPDATE", "KEEPALIVE"]);
    expect(out[1].nlri).toEqual(["198.51.100.0/24"]);
    expect(d.pending).toBe(0);
    d.options = { addPath: ["ipv4-unicast"] };
    const withId = update("", BASE_ATTRS, "0000000518c63364");
    expect(d.push(withId)[0].pathIds).toEqual([5]);
    expect(d.push(ka.subarray(0, 10))).toEqual([]);
    expect(d.end()[0].error!.subcode).toBe(2);
  });

  test("decodeMessages of hex from the contract", () => {
    expect(decodeMessages(hexBytes("ffffffffffffffffffffffffffffffff001304"))).toEqual([{ type: "KEEPALIVE", length: 19 }]);
    void cap;
  });
});
