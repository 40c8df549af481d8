// MRT files (RFC 6396, add-path subtypes RFC 8050): the BGP messages a collector or a speaker
// recorded in BGP4MP / BGP4MP_ET records, each with its peer and time. TABLE_DUMP_V2 (RIB
// snapshots) and state changes carry no BGP message: they are counted, not decoded.
// Browser-safe (no node: imports).
import { isoTime } from "../capture/pcap.ts";
import { ipv4, ipv6Bytes } from "../core/codec-text.ts";

const HEADER = 12;
const BGP4MP = 16;
const BGP4MP_ET = 17;
const KNOWN_TYPES: Record<number, string> = { 11: "OSPFv2", 12: "TABLE_DUMP", 13: "TABLE_DUMP_V2", 32: "ISIS", 33: "ISIS_ET", 48: "OSPFv3", 49: "OSPFv3_ET" };

// BGP4MP subtypes that carry a message: 4-octet AS header fields, sent by the local speaker, add-path NLRI.
const MESSAGE_SUBTYPES: Record<number, { as4: boolean; local: boolean; addPath: boolean }> = {
  1: { as4: false, local: false, addPath: false }, // BGP4MP_MESSAGE
  4: { as4: true, local: false, addPath: false }, // BGP4MP_MESSAGE_AS4
  6: { as4: false, local: true, addPath: false }, // BGP4MP_MESSAGE_LOCAL
  7: { as4: true, local: true, addPath: false }, // BGP4MP_MESSAGE_AS4_LOCAL
  8: { as4: false, local: false, addPath: true }, // BGP4MP_MESSAGE_ADDPATH
  9: { as4: true, local: false, addPath: true }, // BGP4MP_MESSAGE_AS4_ADDPATH
  10: { as4: false, local: true, addPath: true }, // BGP4MP_MESSAGE_LOCAL_ADDPATH
  11: { as4: true, local: true, addPath: true }, // BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH
};
const STATE_CHANGE_SUBTYPES = new Set([0, 5]);

export interface MrtMessage {
  /** One whole BGP message, marker included. */
  bytes: Uint8Array;
  /** "192.0.2.2 AS65002 -> 192.0.2.1 AS65001": sender first, as a capture's flow. */
  flow: string;
  time: string;
  /**
   * How to read the message: 4-octet AS paths with the *_AS4 subtypes (the AS size the
   * recorder used, as bgpdump reads them), path identifiers with the *_ADDPATH ones.
   */
  context: { as4: boolean; addPath: string[] };
}

export interface MrtFile {
  messages: MrtMessage[];
  /** Records without a BGP message, by kind, e.g. { "TABLE_DUMP_V2": 3, "BGP4MP state change": 2 }. */
  skipped: Record<string, number>;
  /** Why reading stopped early; the messages before it are kept. */
  problem?: string;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function isMarker(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (b[at + i] !== 0xff) return false;
  return true;
}

/**
 * MRT has no magic number: the first record header must name a known type whose length fits
 * the file. A raw BGP stream starts with the all-ones marker, which no MRT header does
 * (a timestamp of 0xffffffff and type 0xffff are not used).
 */
export function looksLikeMrt(b: Uint8Array): boolean {
  if (b.length < HEADER || (b.length >= 16 && isMarker(b, 0))) return false;
  const type = u16(b, 4);
  const subtype = u16(b, 6);
  const length = u32(b, 8);
  if (HEADER + length > b.length) return false;
  if (type === BGP4MP || type === BGP4MP_ET) return subtype <= 11;
  return type in KNOWN_TYPES;
}

/** Every BGP message in BGP4MP / BGP4MP_ET records, in file order. */
export function readMrt(b: Uint8Array): MrtFile {
  const messages: MrtMessage[] = [];
  const skipped: Record<string, number> = {};
  const skip = (kind: string) => (skipped[kind] = (skipped[kind] ?? 0) + 1);
  let off = 0;
  while (off < b.length) {
    if (off + HEADER > b.length) return { messages, skipped, problem: `file ends inside the record header at offset ${off}` };
    const seconds = u32(b, off);
    const type = u16(b, off + 4);
    const subtype = u16(b, off + 6);
    const length = u32(b, off + 8);
    const end = off + HEADER + length;
    if (end > b.length) {
      return { messages, skipped, problem: `record at offset ${off} is ${length} bytes long but the file ends after ${b.length - off - HEADER}` };
    }
    let body = b.subarray(off + HEADER, end);
    const at = off;
    off = end;
    if (type !== BGP4MP && type !== BGP4MP_ET) {
      skip(KNOWN_TYPES[type] ?? `MRT type ${type}`);
      continue;
    }
    let micros = -1;
    if (type === BGP4MP_ET) {
      if (body.length < 4) return { messages, skipped, problem: `BGP4MP_ET record at offset ${at} is too short for its microseconds` };
      micros = u32(body, 0);
      body = body.subarray(4);
    }
    const kind = MESSAGE_SUBTYPES[subtype];
    if (!kind) {
      skip(STATE_CHANGE_SUBTYPES.has(subtype) ? "BGP4MP state change" : `BGP4MP subtype ${subtype}`);
      continue;
    }
    const asLen = kind.as4 ? 4 : 2;
    const afiAt = 2 * asLen + 2;
    if (body.length < afiAt + 2) return { messages, skipped, problem: `BGP4MP record at offset ${at} is too short for its peer fields` };
    const afi = u16(body, afiAt);
    const ipLen = afi === 1 ? 4 : afi === 2 ? 16 : 0;
    if (!ipLen) return { messages, skipped, problem: `BGP4MP record at offset ${at}: unknown address family ${afi}` };
    const msgAt = afiAt + 2 + 2 * ipLen;
    if (body.length < msgAt) return { messages, skipped, problem: `BGP4MP record at offset ${at} is too short for its addresses` };
    const as = (i: number) => (kind.as4 ? u32(body, i * 4) : u16(body, i * 2));
    const ip = (i: number) => (ipLen === 4 ? ipv4(u32(body, afiAt + 2 + i * 4)) : ipv6Bytes(body, afiAt + 2 + i * 16));
    const peer = `${ip(0)} AS${as(0)}`;
    const local = `${ip(1)} AS${as(1)}`;
    const timeNs = BigInt(seconds) * 1_000_000_000n + BigInt(Math.max(micros, 0)) * 1000n;
    messages.push({
      bytes: body.subarray(msgAt),
      flow: kind.local ? `${local} -> ${peer}` : `${peer} -> ${local}`,
      time: isoTime(timeNs, micros >= 0 ? 6 : 0),
      context: { as4: kind.as4, addPath: kind.addPath ? ["ipv4-unicast", "ipv6-unicast"] : [] },
    });
  }
  return { messages, skipped };
}
