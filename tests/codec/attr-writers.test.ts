// The in-core attribute writers the RIB uses to build Adj-RIB-Out attribute
// sets (assembly/bgp/encode.ts write*Attr), reached through their test export
// codecWriteAttribute; the bytes are checked by decoding an UPDATE built from them.
import { describe, expect, test } from "bun:test";
import { decodeMessages } from "../../host/core/codec.ts";
import { nodeCore } from "../../host/core/node.ts";
import { update, NLRI_24 } from "./wire.ts";

const core = nodeCore();

/** Puts 32-bit words into the input region, runs the writer, returns the attribute's hex. */
function attribute(kind: number, a: number, b = 0, c = 0, d = 0, e = 0, words: number[] = []): string {
  const inPtr = core.exports.codecInputPtr(Math.max(4, words.length * 4)) as number;
  const dv = core.dv();
  words.forEach((w, i) => dv.setUint32(inPtr + 4 * i, w >>> 0, true));
  const n = core.exports.codecWriteAttribute(kind, a, b, c, d, e) as number;
  const out = core.exports.codecOutputPtr() as number;
  return Buffer.from(core.u8().slice(out, out + n)).toString("hex");
}

const segs = [2, 2, 65001, 4200000001, 1, 2, 65010, 65011]; // AS_SEQUENCE [65001 4200000001], AS_SET [65010 65011]

describe("in-core attribute writers", () => {
  test("ORIGIN, NEXT_HOP, MED, LOCAL_PREF, COMMUNITIES, AS_PATH decode back", () => {
    const attrs = attribute(1, 2) + attribute(2, 0, segs.length, 1, 0, 0, segs) + attribute(3, 0xc0000201) + attribute(4, 7) + attribute(5, 300)
      + attribute(8, 0, 2, 0, 0, 0, [0xfde80001, 0xffffff01]);
    const m = decodeMessages(update("", attrs, NLRI_24))[0];
    expect(m.treatAsWithdraw).toBeUndefined();
    expect(m.attributes).toEqual({
      origin: "INCOMPLETE",
      asPath: [{ type: "AS_SEQUENCE", asns: [65001, 4200000001] }, { type: "AS_SET", asns: [65010, 65011] }],
      nextHop: "192.0.2.1", med: 7, localPref: 300, communities: ["65000:1", "65535:65281"],
    });
  });

  test("AS_PATH prepending joins the leading AS_SEQUENCE; 2-octet sessions get AS_TRANS", () => {
    const asPath = (hex: string, opts = {}) => decodeMessages(update("", attribute(1, 0) + hex + attribute(3, 0xc0000201), NLRI_24), opts)[0].attributes!.asPath;
    expect(asPath(attribute(2, 0, segs.length, 1, 64512, 2, segs))).toEqual([
      { type: "AS_SEQUENCE", asns: [64512, 64512, 65001, 4200000001] }, { type: "AS_SET", asns: [65010, 65011] },
    ]);
    const setFirst = [1, 1, 65010];
    expect(asPath(attribute(2, 0, setFirst.length, 1, 4200000009, 1, setFirst))).toEqual([
      { type: "AS_SEQUENCE", asns: [4200000009] }, { type: "AS_SET", asns: [65010] },
    ]);
    expect(asPath(attribute(2, 0, 0, 1, 64512, 1, []))).toEqual([{ type: "AS_SEQUENCE", asns: [64512] }]);
    expect(asPath(attribute(2, 0, segs.length, 0, 4200000009, 1, segs), { as4: false })).toEqual([
      { type: "AS_SEQUENCE", asns: [23456, 65001, 23456] }, { type: "AS_SET", asns: [65010, 65011] },
    ]);
  });

  test("a long AS_PATH switches to the extended length form; raw attributes keep their flags", () => {
    const long = [2, 100, ...Array.from({ length: 100 }, (_, i) => 64512 + i)];
    const hex = attribute(2, 0, long.length, 1, 0, 0, long);
    expect(hex.slice(0, 8)).toBe("50020192"); // flags 0x50, type 2, length 402
    const raw = attribute(0, 0xc0, 99, 0, 4, 0, [0x04030201]);
    expect(raw).toBe("c0630401020304");
  });
});
