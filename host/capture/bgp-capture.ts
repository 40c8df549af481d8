// BGP messages out of a packet capture: frames each reassembled TCP direction into
// messages, learns the session context (4-octet AS, ADD-PATH, extended message) from
// the two OPENs of each connection, and decodes every message with that context.
// Browser-safe (no node: imports): the decoder is passed in.

import { negotiatedOptions } from "../core/codec-negotiate.ts";
import type { CodecOptions, DecodedMessage } from "../core/codec-types.ts";
import { type Frame, isoTime, readCapture } from "./pcap.ts";
import { type Connection, type Direction, type PortTraffic, tcpConnections, tcpDataPorts } from "./tcp-flows.ts";

export type DecodeOptions = CodecOptions;

/** Decodes a byte string holding whole BGP messages into sart decode's JSON objects (docs/cli.md). */
export type DecodeFn = (bytes: Uint8Array, opts: DecodeOptions) => Record<string, unknown>[];

export interface CaptureOptions {
  /** TCP port BGP runs on (179 unless told otherwise). */
  port: number;
  /** Context for messages whose connection's OPENs were not captured. */
  defaults: DecodeOptions;
}

const HEADER = 19;
const MARKER = 16;
const OPEN = 1;
// The codec reports framing problems as a Message Header Error / Connection Not Synchronized.
const HEADER_ERROR = 1;
const NOT_SYNCHRONIZED = 1;
const BAD_LENGTH = 2;

interface Framed {
  bytes: Uint8Array;
  /** The frame whose segment completed the message (its capture time is the message's time). */
  frame: Frame;
  /** Set instead of bytes being decoded: a reassembly problem at this point of the stream. */
  problem?: { subcode: number; message: string };
}

export interface CaptureResult {
  messages: Record<string, unknown>[];
  /** Set when the file broke off or was corrupt: the messages before that point are still decoded. */
  problem?: string;
  /** Set when no TCP data went over the chosen port: the ports that did carry data (maybe none). */
  dataElsewhere?: PortTraffic[];
}

/**
 * "no TCP data on port 179; TCP data went over port 1790 (1 connection, 2345 bytes)", for a
 * result with dataElsewhere; `fix` says how to choose a port where the sentence is read.
 */
export function portHint(port: number, elsewhere: PortTraffic[], fix: (port: number) => string): string {
  if (elsewhere.length === 0) return `no TCP data in the capture (looked for BGP on port ${port})`;
  const shown = elsewhere.slice(0, 5).map((t) => `port ${t.port} (${t.connections} connection${t.connections === 1 ? "" : "s"}, ${t.bytes} bytes)`);
  const more = elsewhere.length > 5 ? ` and ${elsewhere.length - 5} more ports` : "";
  return `no TCP data on port ${port}; TCP data went over ${shown.join(", ")}${more}: ${fix(elsewhere[0].port)}`;
}

/** Every BGP message in a pcap/pcapng file, in capture order, each with `flow` and `time`. */
export function decodeCapture(file: Uint8Array, decode: DecodeFn, opts: CaptureOptions): CaptureResult {
  const { frames, problem } = readCapture(file);
  const conns = tcpConnections(frames, (s) => s.srcPort === opts.port || s.dstPort === opts.port);
  const out: { order: number; seq: number; obj: Record<string, unknown> }[] = [];
  let seq = 0;
  for (const conn of conns) {
    for (const { direction, messages, context } of decodeConnection(conn, decode, opts.defaults)) {
      for (const m of messages) {
        const meta: Record<string, unknown> = { flow: direction.flow };
        if (m.frame.timeNs !== undefined) meta.time = isoTime(m.frame.timeNs, m.frame.timeDigits);
        const objs = m.problem
          ? [{ error: { code: HEADER_ERROR, subcode: m.problem.subcode, message: m.problem.message } }]
          : decode(m.bytes, context);
        for (const obj of objs) out.push({ order: m.frame.index, seq: seq++, obj: { ...meta, ...obj } });
      }
    }
  }
  out.sort((a, b) => a.order - b.order || a.seq - b.seq);
  const result: CaptureResult = { messages: out.map((o) => o.obj), problem };
  if (conns.every((c) => c.directions.every((d) => d.chunks.length === 0))) result.dataElsewhere = tcpDataPorts(frames);
  return result;
}

function decodeConnection(conn: Connection, decode: DecodeFn, defaults: DecodeOptions) {
  const framed = conn.directions.map((d) => ({ direction: d, messages: frameMessages(d) }));
  const opens = framed.map(({ messages }) => {
    const open = messages.find((m) => !m.problem && m.bytes[18] === OPEN);
    return open ? (decode(open.bytes, defaults)[0] as DecodedMessage | undefined) : undefined;
  });
  return framed.map((f, i) => {
    const mine = opens[i];
    const theirs = opens[1 - i];
    const context = mine && theirs && !mine.error && !theirs.error ? negotiatedOptions(mine, theirs) : defaults;
    return { ...f, context };
  });
}

/**
 * Splits one direction's byte stream into whole messages by the header length field.
 * After a gap (or a header that does not frame), skips to the next 16-byte marker and
 * reports the skip, so bytes from two different messages are never decoded as one.
 */
function frameMessages(d: Direction): Framed[] {
  const out: Framed[] = [];
  let buf = new Uint8Array(0);
  // Frame that delivered each buffered byte range: [endOffsetInBuf, frame].
  let owners: [number, Frame][] = [];
  let resync = false;
  const ownerOf = (end: number): Frame => {
    for (const [e, f] of owners) if (end <= e) return f;
    return owners[owners.length - 1][1];
  };
  const consume = (n: number) => {
    buf = buf.subarray(n);
    owners = owners.map(([e, f]) => [e - n, f] as [number, Frame]).filter(([e]) => e > 0);
  };
  for (let i = 0; i < d.chunks.length; i++) {
    const chunk = d.chunks[i];
    if (chunk.gapBefore > 0) {
      if (buf.length > 0 || !resync) {
        out.push({
          bytes: new Uint8Array(0),
          frame: chunk.frame,
          problem: {
            subcode: NOT_SYNCHRONIZED,
            message: `TCP stream gap: ${chunk.gapBefore} bytes missing (not captured); ${buf.length} buffered bytes dropped, resynchronising at the next marker`,
          },
        });
      }
      buf = new Uint8Array(0);
      owners = [];
      resync = true;
    }
    buf = concat(buf, chunk.bytes);
    owners.push([buf.length, chunk.frame]);
    for (;;) {
      if (resync) {
        const at = findMarker(buf);
        if (at < 0) {
          // Keep the last 15 bytes: a marker may straddle the next chunk.
          consume(Math.max(0, buf.length - (MARKER - 1)));
          break;
        }
        consume(at);
        resync = false;
      }
      if (buf.length < HEADER) break;
      const len = (buf[16] << 8) | buf[17];
      if (!isMarker(buf, 0) || len < HEADER) {
        // Not a message boundary: let the codec name the header error, then look for the next marker.
        out.push({ bytes: buf.slice(0, HEADER), frame: ownerOf(HEADER) });
        consume(1);
        resync = true;
        continue;
      }
      if (buf.length < len) break;
      out.push({ bytes: buf.slice(0, len), frame: ownerOf(len) });
      consume(len);
    }
  }
  const last = d.chunks[d.chunks.length - 1]?.frame;
  if (last && (buf.length > 0 || d.missingTail > 0) && !(resync && buf.length < MARKER)) {
    const want = buf.length >= HEADER ? (buf[16] << 8) | buf[17] : undefined;
    out.push({
      bytes: new Uint8Array(0),
      frame: last,
      problem: {
        subcode: BAD_LENGTH,
        message: `capture ends inside a message: ${buf.length} bytes captured${want ? ` of ${want}` : ""}${d.missingTail ? `, ${d.missingTail} more sent but not captured` : ""}`,
      },
    });
  }
  return out;
}

function isMarker(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < MARKER; i++) if (b[at + i] !== 0xff) return false;
  return true;
}

function findMarker(b: Uint8Array): number {
  for (let i = 0; i + MARKER <= b.length; i++) if (isMarker(b, i)) return i;
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
