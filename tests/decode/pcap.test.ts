// Capture reading and TCP reassembly: the real gobgpd <-> BIRD session of gobgp-bird.pcap,
// replayed into synthetic captures of every file format (pcap/pcapng, both byte orders,
// micro/nanoseconds), link type (Ethernet + VLANs, SLL, SLL2, raw IP, BSD loopback), IPv4
// and IPv6, and TCP misbehaviour (reordering, retransmission, overlap, gaps, snap length),
// must decode to the same messages as the original capture, or report the damage.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CaptureResult, decodeCapture } from "../../host/capture/bgp-capture.ts";
import { isoTime, readCapture } from "../../host/capture/pcap.ts";
import { tcpConnections } from "../../host/capture/tcp-flows.ts";
import { decodeMessages } from "../../host/core/codec.ts";
import { concat } from "../codec/bytes.ts";
import { frame, ipPacket, LINK, type NgPacket, pcapFile, pcapngSection, type Record_, type Segment, segmentsOf } from "./capture-builder.ts";
import { decodeFixture, type Msg, PCAPS } from "./fixture-data.ts";

// The first connection of the fixture: each side's byte stream and sart's decoding of it.
const original = readCapture(readFileSync(join(PCAPS, "gobgp-bird.pcap")));
const conn = tcpConnections(original.frames, (s) => s.srcPort === 179 || s.dstPort === 179)[0];
const streams = conn.directions.map((d) => concat(...d.chunks.map((c) => c.bytes)));
const reference = conn.directions.map((d) =>
  decodeFixture("gobgp-bird.pcap").messages.filter((m) => m.flow === d.flow).map(strip),
);
const senderIsServer = conn.directions[0].srcPort === 179;

function strip(m: Msg): Msg {
  const { flow: _f, time: _t, ...rest } = m;
  return rest;
}

interface Replay {
  a: string;
  b: string;
  /** Segments of direction 0 and 1 (after the handshake), to be mangled by a test. */
  seg: [Segment[], Segment[]];
  handshake: Segment[];
}

const ISN = [0xfffffe00, 1000]; // direction 0 wraps around 2^32 mid-stream

function replay(a: string, b: string, sizes: [number, number] = [100, 37]): Replay {
  const ports = senderIsServer ? [179, 40000] : [40000, 179];
  const base0 = { src: a, dst: b, sport: ports[0], dport: ports[1] };
  const base1 = { src: b, dst: a, sport: ports[1], dport: ports[0] };
  return {
    a,
    b,
    handshake: [
      { ...base0, seq: ISN[0], flags: { syn: true, ack: senderIsServer } },
      { ...base1, seq: ISN[1], flags: { syn: true, ack: !senderIsServer } },
    ],
    seg: [segmentsOf(streams[0], sizes[0], base0, ISN[0]), segmentsOf(streams[1], sizes[1], base1, ISN[1])],
  };
}

/** Alternates the two directions' segments (after the handshake), one per frame. */
function interleave(r: Replay, seg = r.seg): Segment[] {
  const out = [...r.handshake];
  for (let i = 0; i < Math.max(seg[0].length, seg[1].length); i++) {
    if (seg[0][i]) out.push(seg[0][i]);
    if (seg[1][i]) out.push(seg[1][i]);
  }
  return out;
}

const T0 = 1_795_588_123_000_000_000n; // 2026-11-25T06:28:43Z

function records(segs: Segment[], link: number, opts: { vlan?: number[]; littleEndian?: boolean; hopByHop?: boolean } = {}): Record_[] {
  return segs.map((s, i) => ({ data: frame(ipPacket(s, opts), link, opts), timeNs: T0 + BigInt(i) * 1_000_123n }));
}

function decode(file: Uint8Array, defaults = {}): CaptureResult {
  return decodeCapture(file, (b, o) => decodeMessages(b, o) as Msg[], { port: 179, defaults: { as4: true, ...defaults } });
}

function flowOf(r: Replay, dir: 0 | 1): string {
  const [src, dst] = dir === 0 ? [r.a, r.b] : [r.b, r.a];
  const ends = senderIsServer === (dir === 0) ? [179, 40000] : [40000, 179];
  const ep = (addr: string, port: number) => (addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`);
  return `${ep(src, ends[0])} -> ${ep(dst, ends[1])}`;
}

function byFlow(result: CaptureResult, flow: string): Msg[] {
  return result.messages.filter((m) => m.flow === flow).map(strip);
}

function expectSameAsReference(result: CaptureResult, r: Replay): void {
  expect(result.problem).toBeUndefined();
  expect(byFlow(result, flowOf(r, 0))).toEqual(reference[0]);
  expect(byFlow(result, flowOf(r, 1))).toEqual(reference[1]);
  expect(result.messages.length).toBe(reference[0].length + reference[1].length);
}

test("the reference session has both OPENs, ADD-PATH UPDATEs and a shutdown", () => {
  const all = [...reference[0], ...reference[1]];
  expect(all.filter((m) => m.type === "OPEN").length).toBe(2);
  expect(all.some((m) => Array.isArray(m.pathIds))).toBe(true);
  expect(all.some((m) => m.communication)).toBe(true);
  expect(all.every((m) => !m.error)).toBe(true);
});

describe("link types, IPv4 and IPv6", () => {
  const links: [string, number, { vlan?: number[]; littleEndian?: boolean; hopByHop?: boolean }][] = [
    ["Ethernet", LINK.ETHERNET, {}],
    ["Ethernet with 802.1ad + 802.1Q tags", LINK.ETHERNET, { vlan: [100, 200] }],
    ["Ethernet with one VLAN tag", LINK.ETHERNET, { vlan: [7] }],
    ["Linux SLL", LINK.LINUX_SLL, {}],
    ["Linux SLL2", LINK.LINUX_SLL2, {}],
    ["raw IP", LINK.RAW, {}],
    ["BSD loopback, little-endian", LINK.NULL, { littleEndian: true }],
    ["BSD loopback, big-endian", LINK.NULL, { littleEndian: false }],
  ];
  for (const [name, link, opts] of links) {
    for (const [a, b] of [["192.0.2.10", "192.0.2.20"], ["2001:db8::a", "2001:db8::b"]]) {
      test(`${name} over ${a.includes(":") ? "IPv6" : "IPv4"}`, () => {
        const r = replay(a, b);
        const littleEndian = opts.littleEndian ?? true;
        const file = pcapFile(records(interleave(r), link, opts), link, { littleEndian });
        const result = decode(file);
        expectSameAsReference(result, r);
        expect(result.messages[0].flow).toBe(flowOf(r, 0));
      });
    }
  }

  test("IPv6 with a hop-by-hop extension header", () => {
    const r = replay("2001:db8::a", "2001:db8::b");
    expectSameAsReference(decode(pcapFile(records(interleave(r), LINK.RAW, { hopByHop: true }), LINK.RAW)), r);
  });

  test("other ports and non-TCP link types are ignored", () => {
    const r = replay("192.0.2.10", "192.0.2.20");
    const other = { src: "192.0.2.1", dst: "192.0.2.2", sport: 5000, dport: 5001, seq: 1, payload: streams[0].subarray(0, 50) };
    const recs = records([other, ...interleave(r)], LINK.ETHERNET);
    expectSameAsReference(decode(pcapFile(recs, LINK.ETHERNET)), r);
    expect(decode(pcapFile(recs, 147 /* LINKTYPE_USER0 */)).messages).toEqual([]);
  });
});

describe("file formats and timestamps", () => {
  for (const littleEndian of [true, false]) {
    for (const nano of [false, true]) {
      test(`pcap, ${littleEndian ? "little" : "big"}-endian, ${nano ? "nano" : "micro"}seconds`, () => {
        const r = replay("192.0.2.10", "192.0.2.20");
        const recs = records(interleave(r), LINK.ETHERNET);
        const result = decode(pcapFile(recs, LINK.ETHERNET, { littleEndian, nano }));
        expectSameAsReference(result, r);
        // The first OPEN completes in frame 2 (after two handshake frames).
        const t = T0 + 2n * 1_000_123n;
        expect(result.messages[0].time).toBe(nano ? "2026-11-25T06:28:43.002000246Z" : "2026-11-25T06:28:43.002000Z");
        expect(isoTime(t, nano ? 9 : 6)).toBe(result.messages[0].time as string);
      });
    }
  }

  for (const littleEndian of [true, false]) {
    test(`pcapng, ${littleEndian ? "little" : "big"}-endian: per-interface link types and resolutions, EPB, SPB, skipped blocks`, () => {
      const r = replay("192.0.2.10", "192.0.2.20");
      // Direction 0 on an Ethernet interface with microseconds, direction 1 on a raw-IP one with nanoseconds.
      const dir0 = new Set(r.seg[0]);
      const packets: NgPacket[] = interleave(r).map((s, i) => {
        const onEth = dir0.has(s) || (i === 0 && s.src === r.a);
        const ip = ipPacket(s);
        const ns = T0 + BigInt(i) * 1_000_123n;
        return onEth
          ? { iface: 0, data: frame(ip, LINK.ETHERNET), units: ns / 1000n }
          : { iface: 1, data: frame(ip, LINK.RAW), units: ns };
      });
      // The last frame of direction 0 as a simple packet block: no timestamp.
      const lastEth = packets.map((p) => p.iface).lastIndexOf(0);
      packets[lastEth] = { iface: 0, data: packets[lastEth].data };
      const file = pcapngSection([{ linkType: LINK.ETHERNET }, { linkType: LINK.RAW, tsresol: 9 }], packets, { littleEndian });
      const result = decode(file);
      expectSameAsReference(result, r);
      const d0 = result.messages.filter((m) => m.flow === flowOf(r, 0));
      const d1 = result.messages.filter((m) => m.flow === flowOf(r, 1));
      expect(d0[0].time).toMatch(/\.\d{6}Z$/);
      expect(d1[0].time).toMatch(/\.\d{9}Z$/);
      // Messages completed by the simple packet block (the last frame of direction 0) have no time.
      expect(d0.at(-1)!.time).toBeUndefined();
      const untimed = d0.filter((m) => m.time === undefined).length;
      expect(untimed).toBeLessThanOrEqual(3);
      expect(d0.slice(0, -untimed).every((m) => typeof m.time === "string")).toBe(true);
    });
  }

  test("pcapng with two sections of different byte order", () => {
    const r = replay("192.0.2.10", "192.0.2.20");
    const segs = interleave(r);
    const half = Math.floor(segs.length / 2);
    const pk = (s: Segment, i: number): NgPacket => ({ iface: 0, data: frame(ipPacket(s), LINK.LINUX_SLL2), units: T0 / 1000n + BigInt(i) });
    const file = concat(
      pcapngSection([{ linkType: LINK.LINUX_SLL2 }], segs.slice(0, half).map(pk), { littleEndian: true }),
      pcapngSection([{ linkType: LINK.LINUX_SLL2 }], segs.slice(half).map((s, i) => pk(s, half + i)), { littleEndian: false }),
    );
    expectSameAsReference(decode(file), r);
  });

  test("a file cut mid-record keeps the frames before the cut and names the problem", () => {
    const r = replay("192.0.2.10", "192.0.2.20");
    const file = pcapFile(records(interleave(r), LINK.ETHERNET), LINK.ETHERNET);
    const cut = readCapture(file.subarray(0, file.length - 5));
    expect(cut.frames.length).toBe(readCapture(file).frames.length - 1);
    expect(cut.problem).toMatch(/record/);
  });

  test("an unknown magic number is rejected", () => {
    expect(() => readCapture(new Uint8Array(64))).toThrow(/magic/);
  });
});

describe("TCP reassembly", () => {
  test("reordered segments are put back in sequence order; a message's time is when its last byte arrived", () => {
    const r = replay("192.0.2.10", "192.0.2.20", [30, 30]);
    // Swap every pair of direction-0 segments.
    const swapped = r.seg[0].map((_, i, all) => all[i % 2 === 0 ? Math.min(i + 1, all.length - 1) : i - 1]);
    const segs = interleave(r, [swapped, r.seg[1]]);
    const result = decode(pcapFile(records(segs, LINK.ETHERNET), LINK.ETHERNET));
    expectSameAsReference(result, r);
  });

  test("retransmitted and overlapping segments are kept once", () => {
    const r = replay("192.0.2.10", "192.0.2.20", [40, 40]);
    const mangled = r.seg[0].flatMap((s, i, all) => {
      const out = [s, s]; // every segment twice
      const next = all[i + 1];
      if (next?.payload && s.payload) {
        // and a segment overlapping this one's second half and the next one's first half
        const both = concat(s.payload, next.payload);
        out.push({ ...s, seq: (s.seq + 20) >>> 0, payload: both.subarray(20, 60) });
      }
      return out;
    });
    expectSameAsReference(decode(pcapFile(records(interleave(r, [mangled, r.seg[1]]), LINK.ETHERNET), LINK.ETHERNET)), r);
  });

  test("a missing segment gives one error object; decoding resumes at the next message", () => {
    const r = replay("192.0.2.10", "192.0.2.20", [60, 60]);
    const drop = Math.floor(r.seg[0].length / 2);
    const seg0 = r.seg[0].filter((_, i) => i !== drop);
    const result = decode(pcapFile(records(interleave(r, [seg0, r.seg[1]]), LINK.ETHERNET), LINK.ETHERNET));
    const got = byFlow(result, flowOf(r, 0));
    const errors = got.filter((m) => m.error);
    expect(errors.length).toBe(1);
    expect(errors[0].error).toMatchObject({ code: 1, subcode: 1 });
    expect(errors[0].error.message).toMatch(/gap: 60 bytes missing/);
    const at = got.indexOf(errors[0]);
    const before = got.slice(0, at);
    const after = got.slice(at + 1);
    expect(before).toEqual(reference[0].slice(0, before.length));
    expect(after.length).toBeGreaterThan(0);
    expect(after).toEqual(reference[0].slice(reference[0].length - after.length));
    // At most the messages that overlapped the missing bytes are lost.
    expect(before.length + after.length).toBeGreaterThanOrEqual(reference[0].length - 3);
    expect(byFlow(result, flowOf(r, 1))).toEqual(reference[1]);
  });

  test("a frame cut by the snapshot length is a gap, not a misparse", () => {
    const r = replay("192.0.2.10", "192.0.2.20", [60, 60]);
    const recs = records(interleave(r), LINK.ETHERNET);
    const victim = recs.findIndex((rec, i) => i > 6 && rec.data.length > 100);
    const full = recs[victim].data;
    recs[victim] = { ...recs[victim], data: full.subarray(0, full.length - 25), origLen: full.length };
    const result = decode(pcapFile(recs, LINK.ETHERNET));
    const errors = result.messages.filter((m) => m.error);
    expect(errors.length).toBe(1);
    expect(errors[0].error.message).toMatch(/gap: 25 bytes missing/);
  });

  test("a capture that ends inside a message reports it", () => {
    const r = replay("192.0.2.10", "192.0.2.20", [10, 10]);
    const seg0 = r.seg[0].slice(0, -1);
    const got = byFlow(decode(pcapFile(records(interleave(r, [seg0, r.seg[1]]), LINK.ETHERNET), LINK.ETHERNET)), flowOf(r, 0));
    expect(got.slice(0, -1)).toEqual(reference[0].slice(0, got.length - 1));
    expect(got.at(-1)!.error).toMatchObject({ code: 1, subcode: 2 });
    expect(got.at(-1)!.error.message).toMatch(/capture ends inside a message/);
  });

  test("a new SYN on the same ports starts a new connection with its own OPENs", () => {
    const r = replay("192.0.2.10", "192.0.2.20");
    const first = interleave(r);
    const fin = { ...r.seg[0].at(-1)!, seq: (r.seg[0].at(-1)!.seq + r.seg[0].at(-1)!.payload!.length) >>> 0, flags: { fin: true, ack: true }, payload: undefined };
    // The same session again, with other initial sequence numbers.
    const shift = (s: Segment): Segment => ({ ...s, seq: (s.seq + 0x10000) >>> 0 });
    const second = interleave({ ...r, handshake: r.handshake.map(shift), seg: [r.seg[0].map(shift), r.seg[1].map(shift)] });
    const result = decode(pcapFile(records([...first, fin, ...second], LINK.ETHERNET), LINK.ETHERNET));
    expect(result.problem).toBeUndefined();
    expect(byFlow(result, flowOf(r, 0))).toEqual([...reference[0], ...reference[0]]);
    expect(byFlow(result, flowOf(r, 1))).toEqual([...reference[1], ...reference[1]]);
  });
});

describe("session context from the two OPENs", () => {
  // In the reference session ADD-PATH is negotiated for ipv4-unicast in both directions.

  test("with only one side captured, the OPEN context is unknown and the defaults apply", () => {
    const r = replay("192.0.2.10", "192.0.2.20");
    const oneSided = pcapFile(records(interleave(r, [r.seg[0], []]), LINK.ETHERNET), LINK.ETHERNET);
    const plain = byFlow(decode(oneSided), flowOf(r, 0));
    expect(plain.some((m) => m.pathIds)).toBe(false);
    expect(plain).not.toEqual(reference[0]);
    // --add-path ipv4-unicast supplies what the missing OPEN would have said.
    expect(byFlow(decode(oneSided, { addPath: ["ipv4-unicast"] }), flowOf(r, 0))).toEqual(reference[0]);
  });

  test("the negotiated context wins over the defaults when both OPENs are captured", () => {
    const r = replay("192.0.2.10", "192.0.2.20");
    const file = pcapFile(records(interleave(r), LINK.ETHERNET), LINK.ETHERNET);
    expectSameAsReference(decode(file, { addPath: [], as4: false }), r);
  });
});

test("the capture modules stay browser-safe (no node: imports) for the inspector", () => {
  for (const file of ["pcap.ts", "packets.ts", "tcp-flows.ts", "bgp-capture.ts"]) {
    const source = readFileSync(join(import.meta.dir, "..", "..", "host", "capture", file), "utf8");
    expect({ file, nodeImports: source.match(/from\s+["']node:[^"']+["']/g) ?? [] }).toEqual({ file, nodeImports: [] });
    expect({ file, process: /\bprocess\./.test(source) }).toEqual({ file, process: false });
  }
});
