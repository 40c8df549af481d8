// TCP reassembly: groups segments into connections and puts each direction's payload in
// sequence order. Retransmitted and overlapping bytes are kept once (first copy wins);
// missing bytes become explicit gaps so a consumer never glues unrelated bytes together.
// Browser-safe (no node: imports).

import { type Frame } from "./pcap.ts";
import { endpoint, type TcpSegment, tcpSegment } from "./packets.ts";

/** New in-order payload contributed by one captured segment. */
export interface Chunk {
  /** Bytes missing from the stream right before this chunk (0 when contiguous). */
  gapBefore: number;
  bytes: Uint8Array;
  /**
   * The frame at which these bytes became readable in order: the latest-captured of this
   * chunk's segment and every segment before it in the stream (reordering delays delivery).
   */
  frame: Frame;
}

export interface Direction {
  /** "src:port -> dst:port" */
  flow: string;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  chunks: Chunk[];
  /** Bytes the segments announced beyond the last captured byte (snapshot length cut the tail). */
  missingTail: number;
}

export interface Connection {
  /** The directions in the order their first segment was captured (one, if the other side never sent). */
  directions: Direction[];
}

interface RawSegment {
  seg: TcpSegment;
  frame: Frame;
}

interface PendingDirection {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** Initial sequence number from a SYN in this direction, when captured. */
  isn?: number;
  segments: RawSegment[];
}

interface PendingConnection {
  directions: Map<string, PendingDirection>;
  /** Sequence number of the client SYN, to tell a retransmitted SYN from a new connection on the same ports. */
  synSeq?: number;
  used: boolean;
}

/** Reassembles every TCP connection whose segments `accept` selects (e.g. port 179). */
export function tcpConnections(frames: Frame[], accept: (seg: TcpSegment) => boolean): Connection[] {
  const done: PendingConnection[] = [];
  const open = new Map<string, PendingConnection>();
  for (const frame of frames) {
    const seg = tcpSegment(frame);
    if (!seg || !accept(seg)) continue;
    const here = endpoint(seg.src, seg.srcPort);
    const there = endpoint(seg.dst, seg.dstPort);
    const key = here < there ? `${here} ${there}` : `${there} ${here}`;
    let conn = open.get(key);
    const clientSyn = seg.syn && !seg.ack;
    if (conn && clientSyn && conn.used && conn.synSeq !== seg.seq) {
      // The same ports again after the previous connection ended: a new connection.
      open.delete(key);
      conn = undefined;
    }
    if (!conn) {
      conn = { directions: new Map(), used: false };
      open.set(key, conn);
      done.push(conn);
    }
    if (clientSyn) conn.synSeq = seg.seq;
    let dir = conn.directions.get(here);
    if (!dir) {
      dir = { src: seg.src, srcPort: seg.srcPort, dst: seg.dst, dstPort: seg.dstPort, segments: [] };
      conn.directions.set(here, dir);
    }
    if (seg.syn) dir.isn = seg.seq;
    if (seg.payloadLen > 0 || seg.fin || seg.rst) conn.used = true;
    if (seg.payloadLen > 0) dir.segments.push({ seg, frame });
  }
  return done.map((c) => ({ directions: [...c.directions.values()].map(reassemble) }));
}

/** Distance from `base` to `seq` in sequence space, signed (RFC 1982 style wrap-around). */
function seqDiff(seq: number, base: number): number {
  return ((seq - base) | 0);
}

function reassemble(d: PendingDirection): Direction {
  const flow = `${endpoint(d.src, d.srcPort)} -> ${endpoint(d.dst, d.dstPort)}`;
  const out: Direction = { flow, src: d.src, srcPort: d.srcPort, dst: d.dst, dstPort: d.dstPort, chunks: [], missingTail: 0 };
  if (d.segments.length === 0) return out;
  // Stream offset 0 is the byte after the SYN; without a captured SYN, the lowest sequence number seen.
  let base = d.isn !== undefined ? (d.isn + 1) >>> 0 : d.segments[0].seg.seq;
  if (d.isn === undefined) {
    for (const s of d.segments) if (seqDiff(s.seg.seq, base) < 0) base = s.seg.seq;
  }
  const ordered = d.segments
    .map((s) => ({ ...s, start: seqDiff(s.seg.seq, base) }))
    .filter((s) => s.start >= 0) // before the stream start: data from an earlier, unseen part
    .sort((x, y) => x.start - y.start || x.frame.index - y.frame.index);
  let next = 0;
  let announcedEnd = 0;
  let readable: Frame | undefined;
  for (const s of ordered) {
    announcedEnd = Math.max(announcedEnd, s.start + s.seg.payloadLen);
    const end = s.start + s.seg.payload.length;
    if (end <= next) continue; // retransmission of bytes we already have
    const skip = Math.max(0, next - s.start);
    if (!readable || s.frame.index > readable.index) readable = s.frame;
    out.chunks.push({ gapBefore: Math.max(0, s.start - next), bytes: s.seg.payload.subarray(skip), frame: readable });
    next = end;
  }
  out.missingTail = Math.max(0, announcedEnd - next);
  return out;
}

/** TCP payload seen on one service port (the port a connection was opened to). */
export interface PortTraffic {
  port: number;
  connections: number;
  bytes: number;
}

/**
 * Which ports carried TCP data, busiest first: for telling a user who picked the wrong port
 * where the data went. A connection counts for the port its SYN went to, or when the SYN
 * was not captured, the lower of its two ports (the other is usually ephemeral).
 */
export function tcpDataPorts(frames: Frame[]): PortTraffic[] {
  const conns = new Map<string, { service?: number; ports: [number, number]; bytes: number }>();
  for (const frame of frames) {
    const seg = tcpSegment(frame);
    if (!seg) continue;
    const here = endpoint(seg.src, seg.srcPort);
    const there = endpoint(seg.dst, seg.dstPort);
    const key = here < there ? `${here} ${there}` : `${there} ${here}`;
    let c = conns.get(key);
    if (!c) conns.set(key, (c = { ports: [seg.srcPort, seg.dstPort], bytes: 0 }));
    if (seg.syn && !seg.ack) c.service = seg.dstPort;
    c.bytes += seg.payloadLen;
  }
  const byPort = new Map<number, PortTraffic>();
  for (const c of conns.values()) {
    if (c.bytes === 0) continue;
    const port = c.service ?? Math.min(...c.ports);
    const t = byPort.get(port) ?? { port, connections: 0, bytes: 0 };
    t.connections++;
    t.bytes += c.bytes;
    byPort.set(port, t);
  }
  return [...byPort.values()].sort((a, b) => b.bytes - a.bytes || a.port - b.port);
}
