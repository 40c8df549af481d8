// MRT input (RFC 6396, RFC 8050) without a browser: BGP4MP and BGP4MP_ET records of each
// message subtype give the messages decodeMessages gives for the recorded bytes, read with
// the subtype's AS size and add-path use, with flow and time; records without a BGP message
// are counted; a file that breaks off keeps the messages before the break.
import { expect, test } from "bun:test";
import { type DecodedMessage, decodeMessages, encodeMessage } from "../../host/core/codec.ts";
import { nodeCore } from "../../host/core/node.ts";
import { decodeBytes } from "../../host/inspector/input.ts";
import { looksLikeMrt } from "../../host/inspector/mrt.ts";
import { bgp4mp, record } from "./mrt-builder.ts";

const settings = { codec: { as4: true }, port: 179 };
const KEEPALIVE = new Uint8Array([...Array(16).fill(0xff), 0, 19, 4]);
const v6 = (last: number) => [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), last];

test("BGP4MP / BGP4MP_ET records: each message subtype decodes as its recorded bytes do", () => {
  const update = (asns: number[], nlri: string[]): DecodedMessage => ({
    type: "UPDATE",
    nlri,
    attributes: { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns }], nextHop: "192.0.2.2" },
  });
  const as4Update = encodeMessage(update([4200000002, 65010], ["198.51.100.0/24"]), { as4: true });
  const as2Update = encodeMessage(update([65002, 65010], ["203.0.113.0/24"]), { as4: false });
  const addPathUpdate = encodeMessage({ ...update([4200000002], ["198.51.100.128/25"]), pathIds: [7] }, { as4: true, addPath: ["ipv4-unicast"] });
  const file = new Uint8Array([
    ...record(17, 4, bgp4mp(true, 4200000002, 65001, [192, 0, 2, 2], [192, 0, 2, 1], as4Update), 123456),
    ...record(13, 1, [0, 0, 0, 0]), // TABLE_DUMP_V2 PEER_INDEX_TABLE: not a message
    ...record(16, 5, bgp4mp(true, 4200000002, 65001, [192, 0, 2, 2], [192, 0, 2, 1], new Uint8Array([0, 1, 0, 2]))), // state change
    ...record(16, 1, bgp4mp(false, 65002, 65001, v6(2), v6(1), as2Update)),
    ...record(17, 9, bgp4mp(true, 4200000002, 65001, [192, 0, 2, 2], [192, 0, 2, 1], addPathUpdate), 5),
    ...record(16, 7, bgp4mp(true, 4200000002, 65001, [192, 0, 2, 2], [192, 0, 2, 1], KEEPALIVE)),
  ]);
  expect(looksLikeMrt(file)).toBe(true);
  const result = decodeBytes(nodeCore(), file, settings);
  const v4flow = "192.0.2.2 AS4200000002 -> 192.0.2.1 AS65001";
  expect(result).toEqual({
    format: "mrt",
    skipped: "1 TABLE_DUMP_V2, 1 BGP4MP state change",
    problem: undefined,
    messages: [
      { flow: v4flow, time: "2025-11-25T06:33:18.123456Z", ...decodeMessages(as4Update, { as4: true })[0] },
      { flow: "2001:db8::2 AS65002 -> 2001:db8::1 AS65001", time: "2025-11-25T06:33:18Z", ...decodeMessages(as2Update, { as4: false })[0] },
      { flow: v4flow, time: "2025-11-25T06:33:18.000005Z", ...decodeMessages(addPathUpdate, { as4: true, addPath: ["ipv4-unicast"] })[0] },
      { flow: "192.0.2.1 AS65001 -> 192.0.2.2 AS4200000002", time: "2025-11-25T06:33:18Z", type: "KEEPALIVE", length: 19 },
    ],
  });
  const [m1, m2, m3] = result.messages as any[];
  expect(m1.attributes.asPath[0].asns).toEqual([4200000002, 65010]);
  expect(m2.attributes.asPath[0].asns).toEqual([65002, 65010]);
  expect([m3.nlri, m3.pathIds]).toEqual([["198.51.100.128/25"], [7]]);
});

test("a file that breaks off inside a record keeps the messages before it", () => {
  const whole = record(16, 4, bgp4mp(true, 65002, 65001, [192, 0, 2, 2], [192, 0, 2, 1], KEEPALIVE));
  const file = new Uint8Array([...whole, ...whole.slice(0, 20)]);
  // The first record fits: recognised as MRT even though the second is cut.
  const result = decodeBytes(nodeCore(), file, settings);
  expect(result.format).toBe("mrt");
  expect(result.messages).toHaveLength(1);
  expect(result.problem).toBe(`record at offset ${whole.length} is ${whole.length - 12} bytes long but the file ends after 8`);
});

test("raw BGP streams and unrelated bytes are not taken for MRT", () => {
  expect(looksLikeMrt(KEEPALIVE)).toBe(false);
  expect(decodeBytes(nodeCore(), KEEPALIVE, settings).format).toBe("raw");
  const text = new TextEncoder().encode("hello, this is not a capture");
  expect(looksLikeMrt(text)).toBe(false);
  const raw = decodeBytes(nodeCore(), text, settings);
  expect(raw.format).toBe("raw");
  expect((raw.messages[0] as any).error.code).toBe(1);
});
