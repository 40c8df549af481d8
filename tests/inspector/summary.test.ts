// The inspector's pure parts without a browser: hex parsing, input detection (capture or raw
// stream, the same objects as `sart decode`), and the table's wording for each message kind.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeCapture } from "../../host/capture/bgp-capture.ts";
import { decodeMessages } from "../../host/core/codec.ts";
import { nodeCore } from "../../host/core/node.ts";
import { decodeBytes, InputError, parseHexText } from "../../host/inspector/input.ts";
import { formatAsPath, shortTime, summarize } from "../../host/inspector/summary.ts";

const PCAPS = join(import.meta.dir, "..", "fixtures", "pcap");
const KEEPALIVE = "ffffffffffffffffffffffffffffffff001304";
const settings = { codec: { as4: true }, port: 179 };

test("hex text: separators, 0x prefixes and line breaks are accepted; bad input names the problem", () => {
  expect(parseHexText(`0x${KEEPALIVE}\n ${KEEPALIVE.replace(/(..)/g, "$1:")}`)).toEqual(
    new Uint8Array([...Array(16).fill(0xff), 0, 19, 4, ...Array(16).fill(0xff), 0, 19, 4]),
  );
  expect(() => parseHexText("  \n")).toThrow(InputError);
  expect(() => parseHexText("ff fg")).toThrow("'g' at hex digit 4 is not a hex digit");
  expect(() => parseHexText("fff")).toThrow("odd number of hex digits (3)");
});

test("a capture decodes as `sart decode --file` does; other bytes as a raw message stream", () => {
  const file = readFileSync(join(PCAPS, "bird-exabgp.pcap"));
  const capture = decodeBytes(nodeCore(), file, settings);
  expect(capture.format).toBe("pcap");
  expect(capture.messages).toEqual(decodeCapture(file, (b, o) => decodeMessages(b, o) as Record<string, unknown>[], { port: 179, defaults: { as4: true } }).messages);
  const raw = decodeBytes(nodeCore(), parseHexText(KEEPALIVE + KEEPALIVE), settings);
  expect(raw).toEqual({ format: "raw", messages: [{ type: "KEEPALIVE", length: 19 }, { type: "KEEPALIVE", length: 19 }] });
  // A capture on another port has no BGP messages on 179: the page says where the data went.
  const wrongPort = decodeBytes(nodeCore(), readFileSync(join(PCAPS, "gobgp-exabgp.pcapng")), settings);
  expect(wrongPort.messages).toEqual([]);
  expect(wrongPort.hint).toBe("no TCP data on port 179; TCP data went over port 1790 (3 connections, 1006 bytes): set the capture port to 1790");
  const rightPort = decodeBytes(nodeCore(), readFileSync(join(PCAPS, "gobgp-exabgp.pcapng")), { ...settings, port: 1790 });
  expect(rightPort.messages.length).toBeGreaterThan(5);
  expect(rightPort.hint).toBeUndefined();
});

test("AS paths in the usual notation, confederation segments included", () => {
  expect(formatAsPath([
    { type: "AS_CONFED_SEQUENCE", asns: [64512] },
    { type: "AS_CONFED_SET", asns: [64513, 64514] },
    { type: "AS_SEQUENCE", asns: [65001, 4200000001] },
    { type: "AS_SET", asns: [65010] },
  ])).toBe("(64512) [64513 64514] 65001 4200000001 {65010}");
  expect(formatAsPath(undefined)).toBe("");
  expect(shortTime("2026-11-25T06:33:18.245331045Z")).toBe("06:33:18.245331045");
});

test("every fixture message gets a row summary; problems carry their code/subcode", () => {
  const file = readFileSync(join(PCAPS, "gobgp-bird.pcap"));
  const { messages } = decodeBytes(nodeCore(), file, settings);
  const rows = messages.map(summarize);
  expect(rows.every((r) => r.severity === "ok")).toBe(true);
  const open = rows[messages.findIndex((m) => m.type === "OPEN")];
  expect(open.details).toMatch(/^AS \d+ id [\d.]+ hold \d+s; multiprotocol ipv4-unicast/);
  const n = messages.findIndex((m) => m.type === "NOTIFICATION");
  expect(rows[n].details).toBe(`6/2 Cease / Administrative Shutdown: "${messages[n].communication}"`);
  const refresh = rows[messages.findIndex((m) => m.type === "ROUTE-REFRESH")];
  expect(refresh.details).toMatch(/^afi \d safi \d subtype \d$/);

  const [bad] = decodeMessages(parseHexText("ffffffffffffffffffffffffffffffff0017020005" + "0000")) as Record<string, unknown>[];
  const row = summarize(bad);
  expect(row.severity).toBe("error");
  expect(row.details).toStartWith("NOTIFICATION 3/1 UPDATE Message Error / Malformed Attribute List: ");
  // A header that does not frame: no type or length, still a row.
  const [framing] = decodeMessages(parseHexText("00".repeat(19))) as Record<string, unknown>[];
  expect(summarize(framing)).toMatchObject({ severity: "error", details: expect.stringMatching(/^NOTIFICATION 1\/1 /) });
});

test("End-of-RIB UPDATEs are labelled with their family in the JSON and the row", () => {
  const { messages } = decodeBytes(nodeCore(), readFileSync(join(PCAPS, "gobgp-bird.pcap")), settings);
  const eors = messages.filter((m) => m.endOfRib !== undefined);
  expect(new Set(eors.map((m) => m.endOfRib))).toEqual(new Set(["ipv4-unicast", "ipv6-unicast"]));
  for (const m of eors) expect(summarize(m).details).toBe(`End-of-RIB ${m.endOfRib}`);
  const routes = messages.find((m) => m.type === "UPDATE" && (m.nlri as string[]).length > 0)!;
  expect(routes.endOfRib).toBeUndefined();
  expect(summarize(routes).details).not.toContain("End-of-RIB");
});
