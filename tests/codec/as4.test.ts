// 2-octet AS sessions: AS4_PATH / AS4_AGGREGATOR merging (RFC 6793 4.2.3) and re-encoding.
import { describe, expect, test } from "bun:test";
import { decodeMessages, encodeMessage } from "../../host/core/codec.ts";
import { attr, h4, h8, NEXT_HOP, NLRI_24, ORIGIN_IGP, update } from "./wire.ts";

const OLD = { as4: false };
const seq2 = (...asns: number[]) => "02" + asns.length.toString(16).padStart(2, "0") + asns.map(h4).join("");
const seq4 = (...asns: number[]) => "02" + asns.length.toString(16).padStart(2, "0") + asns.map(h8).join("");
const set2 = (...asns: number[]) => "01" + asns.length.toString(16).padStart(2, "0") + asns.map(h4).join("");
const set4 = (...asns: number[]) => "01" + asns.length.toString(16).padStart(2, "0") + asns.map(h8).join("");

describe("RFC 6793 on a 2-octet session", () => {
  test("AS_PATH with AS_TRANS + AS4_PATH merge into the 4-octet path, and re-encode to the same bytes", () => {
    const bytes = update("", ORIGIN_IGP + attr(0x40, 2, seq2(65001, 23456, 23456)) + NEXT_HOP + attr(0xc0, 17, seq4(4200000001, 4200000002)), NLRI_24);
    const m = decodeMessages(bytes, OLD)[0];
    expect(m.attributes!.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001, 4200000001, 4200000002] }]);
    expect(m.attributes!.as4Path).toEqual([{ type: "AS_SEQUENCE", asns: [4200000001, 4200000002] }]);
    expect(Buffer.from(encodeMessage(m, OLD)).toString("hex")).toBe(Buffer.from(bytes).toString("hex"));
  });

  test("AS_SET counts one when lining the paths up", () => {
    const bytes = update("", ORIGIN_IGP + attr(0x40, 2, seq2(65001, 65002) + set2(23456, 65003)) + NEXT_HOP + attr(0xc0, 17, seq4(4200000002) + set4(4200000009, 65003)), NLRI_24);
    const m = decodeMessages(bytes, OLD)[0];
    expect(m.attributes!.asPath).toEqual([
      { type: "AS_SEQUENCE", asns: [65001, 4200000002] },
      { type: "AS_SET", asns: [4200000009, 65003] },
    ]);
  });

  test("an AS4_PATH longer than AS_PATH is ignored", () => {
    const m = decodeMessages(update("", ORIGIN_IGP + attr(0x40, 2, seq2(65001)) + NEXT_HOP + attr(0xc0, 17, seq4(4200000001, 4200000002)), NLRI_24), OLD)[0];
    expect(m.attributes!.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001] }]);
  });

  test("AGGREGATOR AS_TRANS takes AS4_AGGREGATOR; a real 2-octet AGGREGATOR voids AS4_PATH and AS4_AGGREGATOR", () => {
    const as4agg = attr(0xc0, 18, h8(4200000005) + "c0000205");
    const path = attr(0x40, 2, seq2(65001, 23456)) + attr(0xc0, 17, seq4(4200000001));
    const trans = decodeMessages(update("", ORIGIN_IGP + path + NEXT_HOP + attr(0xc0, 7, h4(23456) + "c0000209") + as4agg, NLRI_24), OLD)[0];
    expect(trans.attributes!.aggregator).toEqual({ asn: 4200000005, address: "192.0.2.5" });
    expect(trans.attributes!.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001, 4200000001] }]);
    const real = decodeMessages(update("", ORIGIN_IGP + path + NEXT_HOP + attr(0xc0, 7, h4(65009) + "c0000209") + as4agg, NLRI_24), OLD)[0];
    expect(real.attributes!.aggregator).toEqual({ asn: 65009, address: "192.0.2.9" });
    expect(real.attributes!.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001, 23456] }]);
  });

  test("on a 4-octet session AS4_PATH is shown but not merged", () => {
    const m = decodeMessages(update("", ORIGIN_IGP + attr(0x40, 2, seq4(65001, 4200000001)) + NEXT_HOP + attr(0xc0, 17, seq4(4200000009)), NLRI_24))[0];
    expect(m.attributes!.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001, 4200000001] }]);
    expect(m.attributes!.as4Path).toEqual([{ type: "AS_SEQUENCE", asns: [4200000009] }]);
  });

  test("encoding a 4-octet path for a 2-octet session writes AS_TRANS", () => {
    const msg = { type: "UPDATE", withdrawn: [], nlri: ["198.51.100.0/24"], attributes: {
      origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [65001, 4200000001] }], nextHop: "192.0.2.1",
      aggregator: { asn: 4200000001, address: "192.0.2.1" },
      as4Path: [{ type: "AS_SEQUENCE", asns: [4200000001] }], as4Aggregator: { asn: 4200000001, address: "192.0.2.1" },
    } };
    const bytes = encodeMessage(msg, OLD);
    expect(Buffer.from(bytes).toString("hex")).toContain("4002060202fde95ba0"); // AS_PATH 65001, 23456
    const back = decodeMessages(bytes, OLD)[0];
    expect(back.attributes).toEqual(msg.attributes);
  });
});
