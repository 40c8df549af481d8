// `sart decode` as users run it: build/bin/sart under Bun and under Node (SART_RUNTIME=node,
// after `make build`) gives identical output for captures, raw streams and hex arguments;
// exit codes and error objects for malformed input and usage errors.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCapture } from "../../host/capture/pcap.ts";
import { tcpConnections } from "../../host/capture/tcp-flows.ts";
import { concat } from "../codec/bytes.ts";
import { frame, ipPacket, LINK, pcapFile } from "./capture-builder.ts";
import { decodeFixture, expected, type Msg, PCAPS, SART } from "./fixture-data.ts";

const RUNTIMES = ["bun", "node"] as const;
type Runtime = (typeof RUNTIMES)[number];

function sart(runtime: Runtime, args: string[], input?: Uint8Array): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(SART, ["decode", ...args], {
    env: { ...process.env, SART_RUNTIME: runtime },
    input,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), "sart-decode-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const KEEPALIVE = "ffffffffffffffffffffffffffffffff001304";
// ROUTE-REFRESH for IPv6 unicast.
const ROUTE_REFRESH = "ffffffffffffffffffffffffffffffff00170500020001";

/** The raw payload one side sent on one fixture connection, as a plain message stream. */
function rawStream(fixture: string, senderPrefix: string): Uint8Array {
  const { frames } = readCapture(readFileSync(join(PCAPS, fixture)));
  const port = expected[fixture].port;
  const conns = tcpConnections(frames, (s) => s.srcPort === port || s.dstPort === port);
  const dir = conns.flatMap((c) => c.directions).find((d) => d.flow.startsWith(senderPrefix))!;
  return concat(...dir.chunks.map((c) => c.bytes));
}

function withoutCaptureFields(messages: Msg[]): Msg[] {
  return messages.map(({ flow: _f, time: _t, ...rest }) => rest);
}

describe("captures", () => {
  for (const name of Object.keys(expected)) {
    test(`${name}: Bun and Node print the same JSON as the in-process decoder, exit 0`, () => {
      const args = ["--file", join(PCAPS, name), "--port", String(expected[name].port)];
      const bun = sart("bun", args);
      const node = sart("node", args);
      expect(bun.stderr).toBe("");
      expect(bun.status).toBe(0);
      expect(node.status).toBe(0);
      expect(node.stdout).toBe(bun.stdout);
      expect(bun.stdout).toBe(`${JSON.stringify(decodeFixture(name).messages, null, 2)}\n`);
    });
  }

  test("--file - reads the capture from standard input", () => {
    const bytes = readFileSync(join(PCAPS, "bird-exabgp.pcap"));
    const want = sart("bun", ["--file", join(PCAPS, "bird-exabgp.pcap")]).stdout;
    for (const runtime of RUNTIMES) {
      const r = sart(runtime, ["--file", "-"], bytes);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(want);
    }
  });

  test("BGP on another port: [] on stdout, stderr names the ports that carried data, exit 1", () => {
    for (const runtime of RUNTIMES) {
      const r = sart(runtime, ["--file", join(PCAPS, "gobgp-exabgp.pcapng")]);
      expect(JSON.parse(r.stdout)).toEqual([]);
      expect(r.stderr).toBe(`sart decode: ${join(PCAPS, "gobgp-exabgp.pcapng")}: no TCP data on port 179; TCP data went over port 1790 (3 connections, 1006 bytes): try --port 1790\n`);
      expect(r.status).toBe(1);
    }
  });

  test("the port a connection went to is its SYN's destination, else its lower port; no TCP data at all is not an error", () => {
    const seg = (sport: number, dport: number, seq: number, payload: number, flags?: { syn?: boolean; ack?: boolean }) =>
      frame(ipPacket({ src: sport === 22 || sport === 1790 ? "192.0.2.1" : "192.0.2.2", dst: dport === 22 || dport === 1790 ? "192.0.2.1" : "192.0.2.2", sport, dport, seq, flags, payload: new Uint8Array(payload) }), LINK.ETHERNET);
    const records = [
      seg(1000, 1790, 100, 0, { syn: true }), // opened from port 1000 to 1790: counts for 1790
      seg(1790, 1000, 500, 0, { syn: true, ack: true }),
      seg(1000, 1790, 101, 40),
      seg(50000, 22, 7, 10), // no SYN captured: the lower port, 22
      seg(22, 50000, 9, 500),
    ].map((data, i) => ({ data, timeNs: 1_700_000_000_000_000_000n + BigInt(i) }));
    const file = join(tmp, "other-ports.pcap");
    writeFileSync(file, pcapFile(records, LINK.ETHERNET));
    const r = sart("bun", ["--file", file]);
    expect(r.stderr).toBe(`sart decode: ${file}: no TCP data on port 179; TCP data went over port 22 (1 connection, 510 bytes), port 1790 (1 connection, 40 bytes): try --port 22\n`);
    expect(r.status).toBe(1);
    // Only handshakes: nothing to decode, nothing wrong.
    const quiet = join(tmp, "handshakes.pcap");
    writeFileSync(quiet, pcapFile(records.slice(0, 2), LINK.ETHERNET));
    const q = sart("bun", ["--file", quiet]);
    expect(JSON.parse(q.stdout)).toEqual([]);
    expect(q.stderr).toBe(`sart decode: ${quiet}: no TCP data in the capture (looked for BGP on port 179)\n`);
    expect(q.status).toBe(0);
  });

  test("a capture cut off mid-record keeps the messages before the cut, exit 1", () => {
    const whole = readFileSync(join(PCAPS, "gobgp-bird.pcap"));
    const cut = join(tmp, "cut.pcap");
    writeFileSync(cut, whole.subarray(0, whole.length - 30));
    for (const runtime of RUNTIMES) {
      const r = sart(runtime, ["--file", cut]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("cut.pcap");
      const messages = JSON.parse(r.stdout) as Msg[];
      expect(messages.length).toBeGreaterThan(10);
      expect(messages.slice(0, 4).map((m) => m.type)).toEqual(["OPEN", "OPEN", "KEEPALIVE", "KEEPALIVE"]);
    }
  });
});

describe("raw message streams", () => {
  test("gobgpd's side of gobgp-bird with --add-path ipv4-unicast equals the capture decoding", () => {
    const file = join(tmp, "gobgp.raw");
    writeFileSync(file, rawStream("gobgp-bird.pcap", "127.0.0.1:179 -> 127.0.0.2:"));
    const fromPcap = decodeFixture("gobgp-bird.pcap").messages.filter((m) => (m.flow as string).startsWith("127.0.0.1:179 -> 127.0.0.2:"));
    const want = withoutCaptureFields(fromPcap);
    for (const runtime of RUNTIMES) {
      const r = sart(runtime, ["--file", file, "--add-path", "ipv4-unicast"]);
      expect(r.status).toBe(0);
      const got = JSON.parse(r.stdout) as Msg[];
      expect(got).toEqual(want);
      expect(got.some((m) => Array.isArray(m.pathIds))).toBe(true);
    }
  });

  test("without --add-path the same stream does not decode as configured", () => {
    const file = join(tmp, "gobgp.raw");
    writeFileSync(file, rawStream("gobgp-bird.pcap", "127.0.0.1:179 -> 127.0.0.2:"));
    const r = sart("bun", ["--file", file]);
    const got = JSON.parse(r.stdout) as Msg[];
    // Every message is still there, but the path identifiers are read as prefix bytes: errors, exit 1.
    expect(got.map((m) => m.type)).toEqual(decodeFixture("gobgp-bird.pcap").messages.filter((m) => (m.flow as string).startsWith("127.0.0.1:179 -> 127.0.0.2:")).map((m) => m.type));
    expect(got.some((m) => m.error)).toBe(true);
    expect(r.status).toBe(1);
    expect(got.some((m) => (m.nlri ?? []).includes("192.0.2.0/24") && !m.pathIds)).toBe(false);
  });

  test("--no-as4 decodes the 2-octet session of bird-exabgp-as2 like the capture does", () => {
    const file = join(tmp, "bird-as2.raw");
    writeFileSync(file, rawStream("bird-exabgp-as2.pcap", "127.0.0.2:179 -> "));
    const want = withoutCaptureFields(decodeFixture("bird-exabgp-as2.pcap").messages.filter((m) => (m.flow as string).startsWith("127.0.0.2:179 -> ")));
    for (const runtime of RUNTIMES) {
      const r = sart(runtime, ["--file", file, "--no-as4"]);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(want);
    }
    const update = want.find((m) => m.type === "UPDATE" && m.nlri.length > 0)!;
    expect(update.attributes.as4Path).toBeDefined();
    expect(update.attributes.asPath.flatMap((s: Msg) => s.asns)).toEqual([4200000002, 4200000002]);
    // Read as 4-octet, the same bytes do not give that path.
    const as4 = JSON.parse(sart("bun", ["--file", file]).stdout) as Msg[];
    const misread = as4.find((m) => m.type === "UPDATE" && (m.nlri ?? []).includes("198.51.100.64/26"));
    expect(misread?.attributes?.asPath).not.toEqual(update.attributes.asPath);
  });
});

describe("hex arguments", () => {
  for (const runtime of RUNTIMES) {
    test(`${runtime}: one message per argument, several in one argument, separators allowed`, () => {
      const r = sart(runtime, [KEEPALIVE, `0x${KEEPALIVE}${ROUTE_REFRESH}`, KEEPALIVE.replace(/(..)(?!$)/g, "$1:")]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([
        { type: "KEEPALIVE", length: 19 },
        { type: "KEEPALIVE", length: 19 },
        { type: "ROUTE-REFRESH", length: 23, afi: 2, safi: 1, subtype: 0 },
        { type: "KEEPALIVE", length: 19 },
      ]);
      expect(r.stdout).toContain('\n  {\n    "type": "KEEPALIVE"'); // 2-space indent
    });

    test(`${runtime}: a malformed message gives the error object with its NOTIFICATION code, exit 1`, () => {
      const badMarker = `00${KEEPALIVE.slice(2)}`;
      const r1 = sart(runtime, [badMarker]);
      expect(r1.status).toBe(1);
      const [m1] = JSON.parse(r1.stdout) as Msg[];
      expect(m1.error).toMatchObject({ code: 1, subcode: 1 });
      expect(typeof m1.error.message).toBe("string");

      const badLength = `${KEEPALIVE.slice(0, 32)}001204`;
      const r2 = sart(runtime, [badLength]);
      expect(r2.status).toBe(1);
      expect((JSON.parse(r2.stdout) as Msg[])[0].error).toMatchObject({ code: 1, subcode: 2 });

      // An OPEN with version 3: OPEN Message Error / Unsupported Version Number.
      const open = `${"ff".repeat(16)}001d01 03 fdea 00b4 c0000201 00`.replace(/ /g, "");
      const r3 = sart(runtime, [open]);
      expect(r3.status).toBe(1);
      expect((JSON.parse(r3.stdout) as Msg[])[0].error).toMatchObject({ code: 2, subcode: 1 });
    });
  }

  test("--extended-message admits an UPDATE longer than 4096 octets", () => {
    // 1,100 /24s of 10.0.0.0/8 after ORIGIN, an empty AS_PATH and NEXT_HOP: 4,437 octets.
    const attrs = [0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1];
    const nlri = Array.from({ length: 1100 }, (_, i) => [24, 10, i >> 8, i & 255]).flat();
    const length = 19 + 4 + attrs.length + nlri.length;
    const bytes = [...Array(16).fill(0xff), length >> 8, length & 255, 2, 0, 0, 0, attrs.length, ...attrs, ...nlri];
    const hex = Buffer.from(bytes).toString("hex");
    const plain = sart("bun", [hex]);
    expect(plain.status).toBe(1);
    expect((JSON.parse(plain.stdout) as Msg[])[0].error).toMatchObject({ code: 1, subcode: 2 });
    const extended = sart("bun", ["--extended-message", hex]);
    expect(extended.status).toBe(0);
    const [m] = JSON.parse(extended.stdout) as Msg[];
    expect(m.length).toBe(length);
    expect(m.nlri.length).toBe(1100);
    expect(m.nlri[1099]).toBe("10.4.75.0/24");
  });

  test("the OPENs of a fixture, given as hex, decode as in the capture", () => {
    const { frames } = readCapture(readFileSync(join(PCAPS, "gobgp-bird.pcap")));
    const conns = tcpConnections(frames, (s) => s.srcPort === 179 || s.dstPort === 179);
    const hexOf = (prefix: string) => {
      const d = conns[0].directions.find((x) => x.flow.startsWith(prefix))!;
      const first = d.chunks[0].bytes;
      const len = (first[16] << 8) | first[17];
      return Buffer.from(first.subarray(0, len)).toString("hex");
    };
    const r = sart("bun", [hexOf("127.0.0.1:"), hexOf("127.0.0.2:")]);
    expect(r.status).toBe(0);
    const opens = decodeFixture("gobgp-bird.pcap").messages.filter((m) => m.type === "OPEN").slice(0, 2);
    const byAsn = (a: Msg, b: Msg) => a.asn - b.asn;
    expect((JSON.parse(r.stdout) as Msg[]).sort(byAsn)).toEqual(withoutCaptureFields(opens).sort(byAsn));
  });
});

describe("usage errors exit 2 with a message on stderr", () => {
  const cases: [string, string[], RegExp][] = [
    ["no input", [], /nothing to decode/],
    ["not hex", ["zz"], /not a hex digit/],
    ["odd digit count", ["fff"], /odd number/],
    ["unknown option", ["--frobnicate", KEEPALIVE], /unknown option/],
    ["unknown add-path family", ["--add-path", "ipv5-unicast", KEEPALIVE], /unknown family/],
    ["bad port", ["--port", "70000", "--file", "x"], /not a TCP port/],
    ["missing option value", ["--file"], /needs a value/],
    ["hex and --file together", ["--file", "x", KEEPALIVE], /not both/],
    ["unreadable file", ["--file", "/nonexistent/sart.pcap"], /cannot read/],
  ];
  for (const runtime of RUNTIMES) {
    // Every case under Bun; under Node a sample (argument parsing is the same code).
    for (const [what, args, message] of runtime === "bun" ? cases : cases.filter((_, i) => i % 3 === 0)) {
      test(`${runtime}: ${what}`, () => {
        const r = sart(runtime, args);
        expect(r.status).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(message);
      });
    }
  }

  test("--help prints usage, exit 0", () => {
    const r = sart("bun", ["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("--add-path");
  });
});
