// Malformed input: every RFC 4271 section 6 / RFC 7606 error class gives the
// NOTIFICATION code/subcode (session reset), treat-as-withdraw or attribute discard.
import { describe, expect, test } from "bun:test";
import { checkRequiredCapabilities, decodeMessages, StreamDecoder } from "../../host/core/codec.ts";
import { AS_PATH_4, attr, BASE_ATTRS, cap, concat, h4, h8, message, NEXT_HOP, NLRI_24, open, ORIGIN_IGP, update } from "./wire.ts";

const one = (bytes: Uint8Array, opts = {}) => {
  const out = decodeMessages(bytes, opts);
  expect(out.length).toBeGreaterThanOrEqual(1);
  return out[0];
};

describe("message header (RFC 4271 6.1)", () => {
  test("1/1 marker not all ones ends the stream", () => {
    const bad = message(4, "");
    bad[3] = 0;
    const out = decodeMessages(concat(bad, message(4, "")));
    expect(out).toEqual([{ type: "KEEPALIVE", length: 19, error: { code: 1, subcode: 1, message: "marker is not all ones" } }]);
    const s = new StreamDecoder();
    expect(s.push(bad)[0].error!.subcode).toBe(1);
    expect(s.ended).toBe(true);
    expect(s.push(message(4, ""))).toEqual([]);
  });

  test("1/2 length below 19 or above 4096, data = the length field", () => {
    for (const len of [0, 18, 4097, 65535]) {
      const m = one(message(4, "", len));
      expect(m.error).toMatchObject({ code: 1, subcode: 2, data: h4(len) });
    }
    // Extended messages allow longer UPDATEs, never longer OPENs or KEEPALIVEs.
    const big = update("", BASE_ATTRS, NLRI_24.repeat(1100));
    expect(one(big).error).toMatchObject({ code: 1, subcode: 2 });
    expect(one(big, { extendedMessage: true }).nlri!.length).toBe(1100);
  });

  test("1/2 length wrong for the type: KEEPALIVE, OPEN, UPDATE, NOTIFICATION, ROUTE-REFRESH", () => {
    expect(one(message(4, "00")).error).toMatchObject({ code: 1, subcode: 2, data: "0014" });
    expect(one(message(1, "04fde9")).error).toMatchObject({ code: 1, subcode: 2 });
    expect(one(message(2, "00")).error).toMatchObject({ code: 1, subcode: 2 });
    expect(one(message(3, "06")).error).toMatchObject({ code: 1, subcode: 2 });
    expect(one(message(5, "000100")).error).toMatchObject({ code: 1, subcode: 2 });
    // A wrong type-specific length does not end the stream: the next message decodes.
    expect(decodeMessages(concat(message(4, "00"), message(4, ""))).map((m) => m.error?.code ?? "ok")).toEqual([1, "ok"]);
  });

  test("1/3 unknown type, data = the type", () => {
    expect(one(message(9, "")).error).toMatchObject({ code: 1, subcode: 3, data: "09" });
  });

  test("truncated input is reported, not thrown", () => {
    const m = update("", BASE_ATTRS, NLRI_24);
    const out = decodeMessages(m.subarray(0, m.length - 2));
    expect(out[0].error).toMatchObject({ code: 1, subcode: 2 });
    expect(out[0].type).toBe("UPDATE");
  });
});

describe("OPEN (RFC 4271 6.2, RFC 5492, RFC 7607)", () => {
  test("2/1 unsupported version, data = 4", () => {
    expect(one(open("", { version: 3 })).error).toMatchObject({ code: 2, subcode: 1, data: "0004" });
  });
  test("2/2 bad peer AS: 0 in My AS or in the 4-octet AS capability", () => {
    expect(one(open("", { myAs: 0 })).error).toMatchObject({ code: 2, subcode: 2 });
    expect(one(open(cap(65, h8(0)))).error).toMatchObject({ code: 2, subcode: 2 });
  });
  test("2/3 bad BGP identifier 0", () => {
    expect(one(open("", { id: "00000000" })).error).toMatchObject({ code: 2, subcode: 3 });
  });
  test("2/4 unsupported optional parameter (type 1, authentication)", () => {
    expect(one(open("0102abcd")).error).toMatchObject({ code: 2, subcode: 4, data: "0102abcd" });
  });
  test("2/6 unacceptable hold time 1 and 2 (0 and 3 are fine)", () => {
    expect(one(open("", { hold: 1 })).error).toMatchObject({ code: 2, subcode: 6 });
    expect(one(open("", { hold: 2 })).error).toMatchObject({ code: 2, subcode: 6 });
    expect(one(open("", { hold: 0 })).holdTime).toBe(0);
    expect(one(open("", { hold: 3 })).holdTime).toBe(3);
  });
  test("2/7 unsupported capability: a required capability the peer lacks", () => {
    const m = one(open(cap(1, "00010001")));
    expect(checkRequiredCapabilities(m, [1])).toBeUndefined();
    expect(checkRequiredCapabilities(m, [1, 65])).toMatchObject({ code: 2, subcode: 7, data: "4100" });
  });
  test("2/0 malformed known capability or parameter lengths", () => {
    expect(one(open(cap(1, "000101"))).error).toMatchObject({ code: 2, subcode: 0 }); // MP with 3 bytes
    expect(one(open(cap(65, "0001"))).error).toMatchObject({ code: 2, subcode: 0 });
    expect(one(open("0205" + "0104000100")).error).toMatchObject({ code: 2, subcode: 0 }); // capability overruns parameter
    expect(one(open("02")).error).toMatchObject({ code: 2, subcode: 0 });
    const params = "0204" + "0200";
    const bad = open(params);
    bad[28] = 9; // optional parameters length beyond the message
    expect(one(bad).error).toMatchObject({ code: 2, subcode: 0 });
  });
});

describe("UPDATE session reset (RFC 4271 6.3, RFC 7606 3, 5)", () => {
  test("3/1 withdrawn routes length or total attribute length beyond the message", () => {
    expect(one(message(2, "0010" + "0000")).error).toMatchObject({ code: 3, subcode: 1 });
    expect(one(message(2, "0000" + "0010" + "400101")).error).toMatchObject({ code: 3, subcode: 1 });
  });
  test("3/1 MP_REACH_NLRI or MP_UNREACH_NLRI twice", () => {
    const unreach = attr(0x80, 15, "000201");
    expect(one(update("", unreach + unreach, "")).error).toMatchObject({ code: 3, subcode: 1 });
    const reach = attr(0x80, 14, "000201" + "10" + "20010db8000000000000000000000001" + "00");
    expect(one(update("", ORIGIN_IGP + AS_PATH_4 + reach + reach, "")).error).toMatchObject({ code: 3, subcode: 1 });
  });
  test("3/2 unrecognized well-known attribute, data = the attribute", () => {
    const unknownWellKnown = attr(0x40, 99, "01");
    expect(one(update("", BASE_ATTRS + unknownWellKnown, NLRI_24)).error).toMatchObject({ code: 3, subcode: 2, data: "40630101" });
  });
  test("3/9 malformed MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 7606 7.11)", () => {
    const badNh = attr(0x80, 14, "000201" + "05" + "0102030405" + "00");
    expect(one(update("", ORIGIN_IGP + AS_PATH_4 + badNh, "")).error).toMatchObject({ code: 3, subcode: 9 });
    const badPrefix = attr(0x80, 14, "000201" + "10" + "20010db8000000000000000000000001" + "00" + "8120");
    expect(one(update("", ORIGIN_IGP + AS_PATH_4 + badPrefix, "")).error).toMatchObject({ code: 3, subcode: 9 });
    expect(one(update("", attr(0x80, 15, "0002"), "")).error).toMatchObject({ code: 3, subcode: 9 });
    expect(one(update("", attr(0x80, 15, "000201" + "4020010db8"), "")).error).toMatchObject({ code: 3, subcode: 9 });
  });
  test("3/10 invalid network field: prefix over 32 bits or past the end, in NLRI or withdrawn", () => {
    expect(one(update("", BASE_ATTRS, "21c6336400")).error).toMatchObject({ code: 3, subcode: 10 });
    expect(one(update("", BASE_ATTRS, "18c633")).error).toMatchObject({ code: 3, subcode: 10 });
    expect(one(update("18c633", "", "")).error).toMatchObject({ code: 3, subcode: 10 });
    expect(one(update("", BASE_ATTRS, "0000000118c63364"), { addPath: [] }).error).toMatchObject({ code: 3, subcode: 10 });
  });
});

describe("UPDATE treat-as-withdraw (RFC 7606 3, 4, 7)", () => {
  const taw = (attrs: string, nlri = NLRI_24, opts = {}) => {
    const m = one(update("", attrs, nlri), opts);
    expect(m.error).toBeUndefined();
    expect(m.nlri!.length).toBeGreaterThan(0);
    return m.treatAsWithdraw;
  };
  test("3/3 missing ORIGIN, AS_PATH, NEXT_HOP", () => {
    expect(taw(AS_PATH_4 + NEXT_HOP)).toMatchObject({ code: 3, subcode: 3, message: "ORIGIN: missing well-known mandatory attribute" });
    expect(taw(ORIGIN_IGP + NEXT_HOP)).toMatchObject({ code: 3, subcode: 3, message: "AS_PATH: missing well-known mandatory attribute" });
    expect(taw(ORIGIN_IGP + AS_PATH_4)).toMatchObject({ code: 3, subcode: 3, message: "NEXT_HOP: missing well-known mandatory attribute" });
    // No reachable NLRI: nothing is mandatory.
    expect(one(update("18c63364", "", "")).treatAsWithdraw).toBeUndefined();
  });
  test("3/4 flags conflicting with the attribute type", () => {
    expect(taw(attr(0xc0, 1, "00") + AS_PATH_4 + NEXT_HOP)).toMatchObject({ code: 3, subcode: 4 });
    expect(taw(BASE_ATTRS + attr(0x40, 4, "00000001"))).toMatchObject({ code: 3, subcode: 4 }); // MED as well-known
    expect(taw(BASE_ATTRS + attr(0x80, 8, "fde80001"))).toMatchObject({ code: 3, subcode: 4 }); // COMMUNITIES non-transitive
    expect(taw(attr(0x60, 1, "00") + AS_PATH_4 + NEXT_HOP)).toMatchObject({ code: 3, subcode: 4 }); // partial on well-known
  });
  test("3/5 attribute length errors: ORIGIN, NEXT_HOP, MED, LOCAL_PREF", () => {
    expect(taw(attr(0x40, 1, "0000") + AS_PATH_4 + NEXT_HOP)).toMatchObject({ code: 3, subcode: 5 });
    expect(taw(ORIGIN_IGP + AS_PATH_4 + attr(0x40, 3, "c00002"))).toMatchObject({ code: 3, subcode: 5 });
    expect(taw(BASE_ATTRS + attr(0x80, 4, "000001"))).toMatchObject({ code: 3, subcode: 5 });
    expect(taw(BASE_ATTRS + attr(0x40, 5, "0000000001"))).toMatchObject({ code: 3, subcode: 5 });
  });
  test("3/6 undefined ORIGIN value", () => {
    expect(taw(attr(0x40, 1, "03") + AS_PATH_4 + NEXT_HOP)).toMatchObject({ code: 3, subcode: 6 });
  });
  test("3/8 NEXT_HOP not a valid host address", () => {
    for (const nh of ["00000000", "e0000001", "ffffffff"]) {
      expect(taw(ORIGIN_IGP + AS_PATH_4 + attr(0x40, 3, nh))).toMatchObject({ code: 3, subcode: 8 });
    }
  });
  test("3/5 length errors in optional attributes (RFC 4271 6.3): COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST, extended and large communities", () => {
    expect(taw(BASE_ATTRS + attr(0xc0, 8, "fde800"))).toMatchObject({ code: 3, subcode: 5 });
    expect(taw(BASE_ATTRS + attr(0xc0, 8, ""))).toMatchObject({ code: 3, subcode: 5 });
    expect(taw(BASE_ATTRS + attr(0x80, 9, "c000"))).toMatchObject({ code: 3, subcode: 5 });
    expect(taw(BASE_ATTRS + attr(0x80, 10, "c0000201c0"))).toMatchObject({ code: 3, subcode: 5 });
    expect(taw(BASE_ATTRS + attr(0xc0, 16, "0002fde8000000"))).toMatchObject({ code: 3, subcode: 5 });
    expect(taw(BASE_ATTRS + attr(0xc0, 32, "000000010000000200000003ff"))).toMatchObject({ code: 3, subcode: 5 });
  });
  test("3/11 malformed AS_PATH: bad segment type, empty segment, overrun, 2-octet path on a 4-octet session", () => {
    expect(taw(ORIGIN_IGP + attr(0x40, 2, "0501" + h8(65001)) + NEXT_HOP)).toMatchObject({ code: 3, subcode: 11 });
    expect(taw(ORIGIN_IGP + attr(0x40, 2, "0200") + NEXT_HOP)).toMatchObject({ code: 3, subcode: 11 });
    expect(taw(ORIGIN_IGP + attr(0x40, 2, "0202" + h8(65001)) + NEXT_HOP)).toMatchObject({ code: 3, subcode: 11 });
    expect(taw(ORIGIN_IGP + attr(0x40, 2, "0203fde9fdea") + NEXT_HOP)).toMatchObject({ code: 3, subcode: 11 });
    expect(taw(ORIGIN_IGP + attr(0x40, 2, "0202" + h8(65001) + h8(0)) + NEXT_HOP)).toMatchObject({ code: 3, subcode: 11 }); // RFC 7607
  });
  test("3/1 an attribute overrunning the attribute section: the NLRI is still located (RFC 7606 4)", () => {
    const attrs = BASE_ATTRS + "c0080c" + "fde80001"; // says 12 bytes, has 4
    const m = one(message(2, "0000" + h4(attrs.length / 2) + attrs + NLRI_24));
    expect(m.treatAsWithdraw).toMatchObject({ code: 3, subcode: 1 });
    expect(m.nlri).toEqual(["198.51.100.0/24"]);
    const short = BASE_ATTRS + "c008"; // fewer than 3 bytes left
    expect(one(message(2, "0000" + h4(short.length / 2) + short + NLRI_24)).treatAsWithdraw).toMatchObject({ code: 3, subcode: 1 });
  });
  test("an MP_REACH_NLRI with conflicting flags is still parsed so its prefixes can be withdrawn", () => {
    const reach = attr(0xc0, 14, "000201" + "10" + "20010db8000000000000000000000001" + "00" + "2020010db8"); // transitive: wrong
    const m = one(update("", ORIGIN_IGP + AS_PATH_4 + reach, ""));
    expect(m.treatAsWithdraw).toMatchObject({ code: 3, subcode: 4, message: "MP_REACH_NLRI: attribute flags conflict with the attribute type" });
    expect(m.nlri).toEqual(["2001:db8::/32"]);
  });
  test("MP_REACH prefixes are withdrawn too when another attribute is malformed", () => {
    const reach = attr(0x80, 14, "000201" + "10" + "20010db8000000000000000000000001" + "00" + "2020010db8");
    const m = one(update("", attr(0x40, 1, "07") + AS_PATH_4 + reach, ""));
    expect(m.nlri).toEqual(["2001:db8::/32"]);
    expect(m.treatAsWithdraw).toMatchObject({ code: 3, subcode: 6 });
  });
});

describe("attribute discard (RFC 7606 3.g, 7.6, 7.7; RFC 6793)", () => {
  test("ATOMIC_AGGREGATE and AGGREGATOR with bad lengths are discarded; the UPDATE stands", () => {
    const m = one(update("", BASE_ATTRS + attr(0x40, 6, "00") + attr(0xc0, 7, "fde9c00002"), NLRI_24));
    expect(m.treatAsWithdraw).toBeUndefined();
    expect(m.discardedAttributes).toEqual([
      { code: 6, message: "ATOMIC_AGGREGATE: bad attribute length" },
      { code: 7, message: "AGGREGATOR: bad attribute length" },
    ]);
    expect(m.attributes!.atomicAggregate).toBeUndefined();
    expect(m.nlri).toEqual(["198.51.100.0/24"]);
  });
  test("duplicate attributes: the first is kept", () => {
    const m = one(update("", BASE_ATTRS + attr(0x40, 1, "02") + attr(0x80, 4, "00000005") + attr(0x80, 4, "00000006"), NLRI_24));
    expect(m.attributes!.origin).toBe("IGP");
    expect(m.attributes!.med).toBe(5);
    expect(m.discardedAttributes!.map((d) => d.code)).toEqual([1, 4]);
    expect(m.treatAsWithdraw).toBeUndefined();
  });
  test("RFC 7607: AS 0 in AGGREGATOR, AS4_AGGREGATOR or AS4_PATH discards that attribute", () => {
    const m = one(update("", BASE_ATTRS + attr(0xc0, 7, h8(0) + "c0000201") + attr(0xc0, 17, "0201" + h8(0)) + attr(0xc0, 18, h8(0) + "c0000201"), NLRI_24));
    expect(m.discardedAttributes!.map((d) => d.code)).toEqual([7, 17, 18]);
    expect(m.discardedAttributes![0].message).toBe("AGGREGATOR: AS 0 (RFC 7607)");
    expect(m.treatAsWithdraw).toBeUndefined();
  });
  test("malformed AS4_PATH and AS4_AGGREGATOR are discarded", () => {
    const m = one(update("", BASE_ATTRS + attr(0xc0, 17, "0200") + attr(0xc0, 18, "0001"), NLRI_24));
    expect(m.discardedAttributes!.map((d) => d.code)).toEqual([17, 18]);
    expect(m.treatAsWithdraw).toBeUndefined();
  });
});

describe("ROUTE-REFRESH (RFC 7313)", () => {
  test("7/1 BoRR / EoRR with a length other than 23, data = the message", () => {
    const m = message(5, "0001" + "01" + "01" + "00");
    expect(one(m).error).toMatchObject({ code: 7, subcode: 1, data: Buffer.from(m).toString("hex") });
    expect(one(message(5, "00010101")).subtype).toBe(1);
  });
});
