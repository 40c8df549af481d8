// Test-only writers for synthetic captures: IPv4/IPv6 TCP segments, the link layers sart
// reads (Ethernet with VLAN tags, Linux SLL and SLL2, raw IP, BSD loopback), and pcap /
// pcapng files in either byte order. Used to replay real fixture payloads under every
// file format, link type and TCP misbehaviour the reader must handle.

import { concat } from "../codec/bytes.ts";

export interface Segment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  flags?: { syn?: boolean; ack?: boolean; fin?: boolean };
  payload?: Uint8Array;
}

function be16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function be32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function tcpHeader(s: Segment): Uint8Array {
  const f = s.flags ?? { ack: true };
  const flags = (f.fin ? 1 : 0) | (f.syn ? 2 : 0) | (f.ack ? 0x10 : 0) | 0x08;
  // 20-byte header plus a 12-byte option block (NOP NOP timestamps), as Linux sends.
  return new Uint8Array([
    ...be16(s.sport), ...be16(s.dport), ...be32(s.seq), ...be32(1), (8 << 4), flags, ...be16(512), 0, 0, 0, 0,
    1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
  ]);
}

function ipv4Bytes(a: string): number[] {
  return a.split(".").map(Number);
}

function ipv6Bytes(a: string): number[] {
  const [head, tail] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.flatMap((g) => be16(parseInt(g, 16)));
}

/** An IPv4 or IPv6 packet carrying the segment. */
export function ipPacket(s: Segment, opts: { hopByHop?: boolean } = {}): Uint8Array {
  const tcp = concat(tcpHeader(s), s.payload ?? new Uint8Array(0));
  if (s.src.includes(":")) {
    // Optional hop-by-hop extension header (8 bytes of padding options) before TCP.
    const ext = opts.hopByHop ? new Uint8Array([6, 0, 1, 4, 0, 0, 0, 0]) : new Uint8Array(0);
    const header = new Uint8Array([
      0x60, 0, 0, 0, ...be16(ext.length + tcp.length), opts.hopByHop ? 0 : 6, 64, ...ipv6Bytes(s.src), ...ipv6Bytes(s.dst),
    ]);
    return concat(header, ext, tcp);
  }
  const total = 20 + tcp.length;
  return concat(
    new Uint8Array([0x45, 0, ...be16(total), 0, 0, 0x40, 0, 64, 6, 0, 0, ...ipv4Bytes(s.src), ...ipv4Bytes(s.dst)]),
    tcp,
  );
}

export const LINK = { NULL: 0, ETHERNET: 1, RAW: 101, LINUX_SLL: 113, LINUX_SLL2: 276 } as const;

/** Wraps an IP packet in the link-layer header of `linkType`. */
export function frame(ip: Uint8Array, linkType: number, opts: { vlan?: number[]; littleEndian?: boolean } = {}): Uint8Array {
  const etherType = (ip[0] >> 4) === 6 ? 0x86dd : 0x0800;
  switch (linkType) {
    case LINK.ETHERNET: {
      const tags = (opts.vlan ?? []).flatMap((id, i, all) => [...be16(i === 0 && all.length > 1 ? 0x88a8 : 0x8100), ...be16(id)]);
      // dst MAC, src MAC, one [TPID, TCI] per tag (outer 802.1ad when stacked), then the ethertype.
      const macs = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
      return concat(new Uint8Array([...macs, ...tags, ...be16(etherType)]), ip);
    }
    case LINK.LINUX_SLL:
      return concat(new Uint8Array([0, 0, 0, 772 >> 8, 772 & 0xff, 0, 6, 0, 0, 0, 0, 0, 0, 0, ...be16(etherType)]), ip);
    case LINK.LINUX_SLL2:
      return concat(new Uint8Array([...be16(etherType), 0, 0, 0, 0, 0, 1, 0, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]), ip);
    case LINK.RAW:
      return ip;
    case LINK.NULL: {
      const family = etherType === 0x0800 ? 2 : 24;
      const le = opts.littleEndian ?? true;
      const fam = le ? [family, 0, 0, 0] : [0, 0, 0, family];
      return concat(new Uint8Array(fam), ip);
    }
  }
  throw new Error(`capture-builder: link type ${linkType} not supported`);
}

export interface Record_ {
  data: Uint8Array;
  /** Nanoseconds since the epoch. */
  timeNs: bigint;
  origLen?: number;
}

class Writer {
  private parts: number[] = [];
  constructor(private littleEndian: boolean) {}
  u8(...b: number[]) {
    this.parts.push(...b);
  }
  u16(n: number) {
    const b = be16(n);
    this.parts.push(...(this.littleEndian ? b.reverse() : b));
  }
  u32(n: number) {
    const b = be32(n);
    this.parts.push(...(this.littleEndian ? b.reverse() : b));
  }
  bytes(b: Uint8Array) {
    for (const x of b) this.parts.push(x);
  }
  pad4() {
    while (this.parts.length % 4) this.parts.push(0);
  }
  get length() {
    return this.parts.length;
  }
  result(): Uint8Array {
    return new Uint8Array(this.parts);
  }
}

/** A classic pcap file. */
export function pcapFile(records: Record_[], linkType: number, opts: { littleEndian?: boolean; nano?: boolean; snapLen?: number } = {}): Uint8Array {
  const w = new Writer(opts.littleEndian ?? true);
  w.u32(opts.nano ? 0xa1b23c4d : 0xa1b2c3d4);
  w.u16(2);
  w.u16(4);
  w.u32(0);
  w.u32(0);
  w.u32(opts.snapLen ?? 262144);
  w.u32(linkType);
  for (const r of records) {
    const sec = r.timeNs / 1_000_000_000n;
    const ns = r.timeNs % 1_000_000_000n;
    w.u32(Number(sec));
    w.u32(Number(opts.nano ? ns : ns / 1000n));
    w.u32(r.data.length);
    w.u32(r.origLen ?? r.data.length);
    w.bytes(r.data);
  }
  return w.result();
}

export interface NgInterface {
  linkType: number;
  /** if_tsresol option value (default: none, meaning microseconds). */
  tsresol?: number;
  snapLen?: number;
}

export interface NgPacket {
  iface: number;
  data: Uint8Array;
  /** Timestamp in the interface's units; omitted = simple packet block (interface 0, no time). */
  units?: bigint;
}

/** A pcapng section (SHB, IDBs, an ignored name resolution block, EPBs / SPBs). */
export function pcapngSection(interfaces: NgInterface[], packets: NgPacket[], opts: { littleEndian?: boolean } = {}): Uint8Array {
  const le = opts.littleEndian ?? true;
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: (w: Writer) => void) => {
    const inner = new Writer(le);
    body(inner);
    inner.pad4();
    const w = new Writer(le);
    const total = inner.length + 12;
    w.u32(type);
    w.u32(total);
    w.bytes(inner.result());
    w.u32(total);
    blocks.push(w.result());
  };
  block(0x0a0d0d0a, (w) => {
    w.u32(0x1a2b3c4d);
    w.u16(1);
    w.u16(0);
    w.u32(0xffffffff);
    w.u32(0xffffffff);
  });
  for (const i of interfaces) {
    block(1, (w) => {
      w.u16(i.linkType);
      w.u16(0);
      w.u32(i.snapLen ?? 0);
      // if_name, then if_tsresol, then opt_endofopt
      const name = new TextEncoder().encode("lo");
      w.u16(2);
      w.u16(name.length);
      w.bytes(name);
      w.pad4();
      if (i.tsresol !== undefined) {
        w.u16(9);
        w.u16(1);
        w.u8(i.tsresol);
        w.pad4();
      }
      w.u16(0);
      w.u16(0);
    });
  }
  block(4, (w) => {
    // Name resolution block with just the end record: readers must skip it.
    w.u16(0);
    w.u16(0);
  });
  for (const p of packets) {
    if (p.units === undefined) {
      block(3, (w) => {
        w.u32(p.data.length);
        w.bytes(p.data);
      });
      continue;
    }
    block(6, (w) => {
      w.u32(p.iface);
      w.u32(Number(p.units >> 32n));
      w.u32(Number(p.units & 0xffffffffn));
      w.u32(p.data.length);
      w.u32(p.data.length);
      w.bytes(p.data);
      w.pad4();
      // an epb_flags option, then end of options
      w.u16(2);
      w.u16(4);
      w.u32(1);
      w.u16(0);
      w.u16(0);
    });
  }
  return concat(...blocks);
}

/** Splits `bytes` into TCP segments of at most `size` bytes, numbering from `isn + 1`. */
export function segmentsOf(bytes: Uint8Array, size: number, base: Omit<Segment, "seq" | "payload">, isn: number): Segment[] {
  const out: Segment[] = [];
  for (let off = 0; off < bytes.length; off += size) {
    out.push({ ...base, seq: (isn + 1 + off) >>> 0, payload: bytes.subarray(off, Math.min(bytes.length, off + size)) });
  }
  return out;
}
