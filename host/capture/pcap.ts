// Reads capture files (classic pcap and pcapng, either byte order) into link-layer frames.
// Browser-safe: works on a Uint8Array, no node: imports, so the inspector can reuse it.

/** One captured frame; `data` may be shorter than `origLen` when the snapshot length cut it. */
export interface Frame {
  /** Position in the file (0-based), for stable ordering and messages. */
  index: number;
  /** Link type of the interface that captured it (LINKTYPE_* numbers). */
  linkType: number;
  /** Capture time as nanoseconds since the Unix epoch, or undefined (pcapng simple packet blocks). */
  timeNs?: bigint;
  /** Digits after the decimal point worth printing for `timeNs` (6 for microsecond files, 9 for nanosecond). */
  timeDigits: number;
  /** Byte order of the writing host (BSD loopback headers use it). */
  littleEndian: boolean;
  origLen: number;
  data: Uint8Array;
}

export class CaptureError extends Error {}

const PCAP_USEC = 0xa1b2c3d4;
const PCAP_NSEC = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER = 0x1a2b3c4d;

export type CaptureFormat = "pcap" | "pcapng";

/** Recognises a capture file by its magic number; undefined for anything else (e.g. a raw BGP stream). */
export function captureFormat(bytes: Uint8Array): CaptureFormat | undefined {
  if (bytes.length < 4) return undefined;
  const dv = view(bytes);
  const be = dv.getUint32(0, false);
  const le = dv.getUint32(0, true);
  if (be === PCAPNG_SHB) return "pcapng";
  if ([PCAP_USEC, PCAP_NSEC].includes(be) || [PCAP_USEC, PCAP_NSEC].includes(le)) return "pcap";
  return undefined;
}

export interface Capture {
  format: CaptureFormat;
  frames: Frame[];
  /** Why reading stopped early (a file cut off mid-record, a corrupt block); the frames before it are kept. */
  problem?: string;
}

/**
 * All frames of a pcap or pcapng file. A file that breaks off (tcpdump killed mid-write)
 * keeps the frames before the break and names the problem; an unknown magic number throws.
 */
export function readCapture(bytes: Uint8Array): Capture {
  const format = captureFormat(bytes);
  if (!format) throw new CaptureError("not a pcap or pcapng file (unknown magic number)");
  const frames: Frame[] = [];
  try {
    if (format === "pcap") readPcap(bytes, frames);
    else readPcapng(bytes, frames);
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err;
    return { format, frames, problem: err.message };
  }
  return { format, frames };
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readPcap(bytes: Uint8Array, frames: Frame[]): void {
  const dv = view(bytes);
  if (bytes.length < 24) throw new CaptureError("pcap: file shorter than its 24-byte header");
  const magicBE = dv.getUint32(0, false);
  const littleEndian = !(magicBE === PCAP_USEC || magicBE === PCAP_NSEC);
  const nano = dv.getUint32(0, littleEndian) === PCAP_NSEC;
  // The upper bits of the link type field may carry FCS information (LINKTYPE_FCS flags).
  const linkType = dv.getUint32(20, littleEndian) & 0x0fffffff;
  let off = 24;
  while (off < bytes.length) {
    if (off + 16 > bytes.length) throw new CaptureError(`pcap: record header truncated at byte ${off}`);
    const sec = dv.getUint32(off, littleEndian);
    const frac = dv.getUint32(off + 4, littleEndian);
    const capLen = dv.getUint32(off + 8, littleEndian);
    const origLen = dv.getUint32(off + 12, littleEndian);
    off += 16;
    if (off + capLen > bytes.length) throw new CaptureError(`pcap: record ${frames.length} claims ${capLen} bytes, file ends first`);
    frames.push({
      index: frames.length,
      linkType,
      timeNs: BigInt(sec) * 1_000_000_000n + BigInt(frac) * (nano ? 1n : 1000n),
      timeDigits: nano ? 9 : 6,
      littleEndian,
      origLen,
      data: bytes.subarray(off, off + capLen),
    });
    off += capLen;
  }
}

// Fixed part of each packet-related block body (SHB: byte-order magic, versions, section length).
const MIN_BODY: Record<number, number> = { 0x0a0d0d0a: 16, 1: 8, 2: 20, 3: 4, 6: 20 };

interface Interface {
  linkType: number;
  snapLen: number;
  /** Nanoseconds per timestamp unit as a rational: units * num / den. */
  num: bigint;
  den: bigint;
  digits: number;
  offsetNs: bigint;
}

function readPcapng(bytes: Uint8Array, frames: Frame[]): void {
  const dv = view(bytes);
  let littleEndian = true;
  let interfaces: Interface[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) throw new CaptureError(`pcapng: block header truncated at byte ${off}`);
    const typeBE = dv.getUint32(off, false);
    if (typeBE === PCAPNG_SHB) {
      // A section header sets the byte order of every block until the next one.
      const order = dv.getUint32(off + 8, false);
      if (order === PCAPNG_BYTE_ORDER) littleEndian = false;
      else if (dv.getUint32(off + 8, true) === PCAPNG_BYTE_ORDER) littleEndian = true;
      else throw new CaptureError(`pcapng: bad byte-order magic in section header at byte ${off}`);
      interfaces = [];
    }
    const type = dv.getUint32(off, littleEndian);
    const total = dv.getUint32(off + 4, littleEndian);
    if (total < 12 || total % 4 !== 0 || off + total > bytes.length) {
      throw new CaptureError(`pcapng: block at byte ${off} has bad length ${total}`);
    }
    const body = off + 8;
    const bodyEnd = off + total - 4;
    const need = MIN_BODY[type] ?? 0;
    if (bodyEnd - body < need) throw new CaptureError(`pcapng: block type ${type} at byte ${off} is too short (${bodyEnd - body} < ${need} bytes)`);
    switch (type) {
      case 1: // Interface Description Block
        interfaces.push(readInterface(dv, body, bodyEnd, littleEndian));
        break;
      case 6: // Enhanced Packet Block
      case 2: {
        // (Obsolete) Packet Block: 16-bit interface id and drop count instead of a 32-bit id.
        const ifId = type === 6 ? dv.getUint32(body, littleEndian) : dv.getUint16(body, littleEndian);
        const iface = interfaces[ifId];
        if (!iface) throw new CaptureError(`pcapng: packet at byte ${off} names interface ${ifId}, which was not described`);
        const units = (BigInt(dv.getUint32(body + 4, littleEndian)) << 32n) | BigInt(dv.getUint32(body + 8, littleEndian));
        const capLen = dv.getUint32(body + 12, littleEndian);
        const origLen = dv.getUint32(body + 16, littleEndian);
        const dataStart = body + 20;
        if (dataStart + capLen > bodyEnd) throw new CaptureError(`pcapng: packet at byte ${off} overruns its block`);
        frames.push({
          index: frames.length,
          linkType: iface.linkType,
          timeNs: (units * iface.num) / iface.den + iface.offsetNs,
          timeDigits: iface.digits,
          littleEndian,
          origLen,
          data: bytes.subarray(dataStart, dataStart + capLen),
        });
        break;
      }
      case 3: {
        // Simple Packet Block: interface 0, no timestamp, captured length implied by the snap length.
        const iface = interfaces[0];
        if (!iface) throw new CaptureError(`pcapng: simple packet at byte ${off} before any interface description`);
        const origLen = dv.getUint32(body, littleEndian);
        let capLen = Math.min(origLen, bodyEnd - (body + 4));
        if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
        frames.push({
          index: frames.length,
          linkType: iface.linkType,
          timeDigits: iface.digits,
          littleEndian,
          origLen,
          data: bytes.subarray(body + 4, body + 4 + capLen),
        });
        break;
      }
      default: // name resolution, statistics, custom and unknown blocks carry no packets
        break;
    }
    off += total;
  }
}

function readInterface(dv: DataView, body: number, end: number, le: boolean): Interface {
  const iface: Interface = {
    linkType: dv.getUint16(body, le),
    snapLen: dv.getUint32(body + 4, le),
    num: 1000n, // default resolution: microseconds
    den: 1n,
    digits: 6,
    offsetNs: 0n,
  };
  let opt = body + 8;
  while (opt + 4 <= end) {
    const code = dv.getUint16(opt, le);
    const len = dv.getUint16(opt + 2, le);
    const value = opt + 4;
    if (code === 0 || value + len > end) break; // opt_endofopt
    if (code === 9 && len >= 1) {
      // if_tsresol: high bit clear = 10^-n seconds, set = 2^-n seconds.
      const r = dv.getUint8(value);
      const n = BigInt(r & 0x7f);
      if (r & 0x80) {
        iface.num = 1_000_000_000n;
        iface.den = 1n << n;
        iface.digits = 9;
      } else {
        const perSecond = 10n ** n;
        iface.num = 1_000_000_000n;
        iface.den = perSecond;
        iface.digits = Math.min(9, Number(n));
      }
    } else if (code === 14 && len >= 8) {
      // if_tsoffset: seconds added to every timestamp of this interface.
      const hi = BigInt(dv.getUint32(value + (le ? 4 : 0), le));
      const lo = BigInt(dv.getUint32(value + (le ? 0 : 4), le));
      iface.offsetNs = BigInt.asIntN(64, (hi << 32n) | lo) * 1_000_000_000n;
    }
    opt = value + ((len + 3) & ~3);
  }
  return iface;
}

/** ISO 8601 UTC with the file's sub-second precision, e.g. 2026-11-25T06:21:27.123456Z. */
export function isoTime(timeNs: bigint, digits: number): string {
  const sec = timeNs >= 0n ? timeNs / 1_000_000_000n : (timeNs - 999_999_999n) / 1_000_000_000n;
  const nanos = timeNs - sec * 1_000_000_000n;
  const whole = new Date(Number(sec) * 1000).toISOString().replace(/\.\d+Z$/, "");
  if (digits <= 0) return `${whole}Z`;
  return `${whole}.${nanos.toString().padStart(9, "0").slice(0, digits)}Z`;
}
