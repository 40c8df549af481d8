// Robustness: seeded mutations of valid messages (truncation, length fields,
// flags, random bytes). Every input decodes to messages or errors: nothing
// throws, nothing hangs, and a message never reads past its own length.
import { expect, test } from "bun:test";
import { type CodecOptions, type DecodedMessage, decodeMessages, encodeMessage, StreamDecoder } from "../../host/core/codec.ts";
import { attr, BASE_ATTRS, cap, concat, h8, message, NLRI_24, open, update } from "./wire.ts";
import { mulberry32 as rng, mutateMessage as mutate } from "./bytes.ts";

function seeds(): Uint8Array[] {
  const v6 = { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [65001] }], nextHop: ["2001:db8::1", "fe80::1"] };
  return [
    message(4, ""),
    open(cap(1, "00010001") + cap(2, "") + cap(65, h8(4200000001)) + cap(64, "4078" + "00010180") + cap(69, "00010103") + cap(5, "000100010002") + cap(73, "026e310165")),
    update("", BASE_ATTRS + attr(0x80, 4, "00000005") + attr(0x40, 5, "00000064") + attr(0x40, 6, "") + attr(0xc0, 7, h8(65001) + "c0000201")
      + attr(0xc0, 8, "fde80064ffffff01") + attr(0x80, 9, "c0000207") + attr(0x80, 10, "c0000208") + attr(0xc0, 16, "0002fde800000064")
      + attr(0xc0, 32, "000000010000000200000003") + attr(0xc0, 99, "abcd"), NLRI_24 + "20cb007101" + "10c633"),
    update("18cb0071", "", ""),
    encodeMessage({ type: "UPDATE", withdrawn: ["2001:db8:1::/48"], nlri: ["2001:db8::/32", "2001:db8:ffff::/48"], attributes: v6 }),
    encodeMessage({ type: "UPDATE", withdrawn: [], nlri: ["198.51.100.0/24", "203.0.113.0/25"], pathIds: [1, 2], attributes: { origin: "EGP", asPath: [], nextHop: "192.0.2.1" } }, { addPath: ["ipv4-unicast"] }),
    encodeMessage({ type: "UPDATE", withdrawn: [], nlri: ["198.51.100.0/24"], attributes: { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [65001, 4200000001] }], nextHop: "192.0.2.1", as4Path: [{ type: "AS_SEQUENCE", asns: [4200000001] }] } }, { as4: false }),
    encodeMessage({ type: "NOTIFICATION", code: 6, subcode: 2, communication: "bye" }),
    encodeMessage({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 1 }),
  ];
}

const OPTIONS: CodecOptions[] = [{}, { as4: false }, { addPath: ["ipv4-unicast", "ipv6-unicast"] }, { extendedMessage: true }];

function wellFormed(out: DecodedMessage[]): boolean {
  return out.length >= 1 && out.every((x) => typeof x.type === "string" || x.error !== undefined);
}

test("100,000 mutated messages decode to messages or errors, never past their own length", () => {
  const r = rng(0x5a47);
  const base = seeds();
  const keepalive = message(4, "");
  let inputs = 0;
  let errors = 0;
  let treatAsWithdraw = 0;
  for (let i = 0; i < 100_000; i++) {
    const input = mutate(base[i % base.length], r);
    const opts = OPTIONS[i % OPTIONS.length];
    let out: DecodedMessage[] = [];
    try {
      out = decodeMessages(input, opts);
    } catch (e) {
      throw new Error(`input ${i} (${Buffer.from(input).toString("hex")}) threw: ${e}`);
    }
    inputs++;
    if (input.length === 0) continue;
    if (!wellFormed(out)) throw new Error(`input ${i} (${Buffer.from(input).toString("hex")}) gave ${JSON.stringify(out)}`);
    if (out[0].error) errors++;
    if (out[0].treatAsWithdraw) treatAsWithdraw++;
    // A framed message reads only its own bytes: what follows does not change it.
    if (i % 10 === 0 && input.length >= 19 && ((input[16] << 8) | input[17]) === input.length) {
      const followed = decodeMessages(concat(input, keepalive), opts);
      expect(followed[0]).toEqual(out[0]);
    }
  }
  expect(inputs).toBe(100_000);
  // The mutations reach the error paths and the valid paths alike.
  expect(errors).toBeGreaterThan(10_000);
  expect(treatAsWithdraw).toBeGreaterThan(100);
});

test("mutated streams split at random points decode the same as whole buffers", () => {
  const r = rng(7);
  const base = seeds();
  for (let i = 0; i < 2_000; i++) {
    const parts: Uint8Array[] = [];
    for (let k = 0; k < 4; k++) parts.push(r() < 0.2 ? mutate(base[(i + k) % base.length], r) : base[(i + k) % base.length]);
    const all = concat(...parts);
    const whole = decodeMessages(all);
    const d = new StreamDecoder();
    const pieces: DecodedMessage[] = [];
    for (let at = 0; at < all.length; ) {
      const n = 1 + Math.floor(r() * 97);
      pieces.push(...d.push(all.subarray(at, at + n)));
      at += n;
    }
    pieces.push(...d.end());
    expect(pieces).toEqual(whole);
  }
});

test("every mutated message that decodes cleanly re-encodes to bytes that decode to the same JSON", () => {
  const r = rng(99);
  const base = seeds();
  let checked = 0;
  for (let i = 0; i < 30_000; i++) {
    const opts = OPTIONS[i % OPTIONS.length];
    for (const m of decodeMessages(mutate(base[i % base.length], r), opts)) {
      if (m.error || m.treatAsWithdraw || m.discardedAttributes || !m.type) continue;
      const again = decodeMessages(encodeMessage(m, opts), opts)[0];
      if (JSON.stringify(again) !== JSON.stringify(m)) expect(again).toEqual(m);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(5_000);
});
