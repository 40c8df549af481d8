// Link layer -> IPv4/IPv6 -> TCP: pulls the TCP segment out of one captured frame.
// Browser-safe (no node: imports).

import { ipv6Bytes } from "../core/codec-text.ts";
import type { Frame } from "./pcap.ts";

export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  ack: boolean;
  /** Payload bytes present in the capture. */
  payload: Uint8Array;
  /** Payload length the IP header announced; larger than payload.length when the snapshot cut the frame. */
  payloadLen: number;
}

// LINKTYPE_* numbers (https://www.tcpdump.org/linktypes.html).
const LINK_NULL = 0; // BSD loopback, host byte order family
const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_LOOP = 108; // OpenBSD loopback, network byte order family
const LINK_LINUX_SLL = 113;
const LINK_IPV4 = 228;
const LINK_IPV6 = 229;
const LINK_LINUX_SLL2 = 276;
// DLT_RAW on some platforms is 12 or 14 in pcap headers written there.
const LINK_RAW_ALIASES = [12, 14];

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = [0x8100, 0x88a8, 0x9100];

/** The TCP segment carried by a frame, or undefined for anything else (ARP, UDP, fragments, unknown link types). */
export function tcpSegment(frame: Frame): TcpSegment | undefined {
  const ip = networkLayer(frame);
  if (!ip) return undefined;
  return ip.version === 4 ? ipv4(ip.bytes) : ipv6(ip.bytes);
}

function networkLayer(frame: Frame): { version: 4 | 6; bytes: Uint8Array } | undefined {
  const d = frame.data;
  let etherType: number | undefined;
  let off = 0;
  switch (frame.linkType) {
    case LINK_ETHERNET: {
      if (d.length < 14) return undefined;
      etherType = be16(d, 12);
      off = 14;
      while (ETH_VLAN.includes(etherType) && off + 4 <= d.length) {
        etherType = be16(d, off + 2);
        off += 4;
      }
      break;
    }
    case LINK_LINUX_SLL:
      if (d.length < 16) return undefined;
      etherType = be16(d, 14);
      off = 16;
      break;
    case LINK_LINUX_SLL2:
      if (d.length < 20) return undefined;
      etherType = be16(d, 0);
      off = 20;
      break;
    case LINK_NULL:
    case LINK_LOOP: {
      if (d.length < 4) return undefined;
      const dv = new DataView(d.buffer, d.byteOffset, 4);
      const family = dv.getUint32(0, frame.linkType === LINK_NULL ? frame.littleEndian : false);
      // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
      if (family === 2) etherType = ETH_IPV4;
      else if ([10, 24, 28, 30].includes(family)) etherType = ETH_IPV6;
      off = 4;
      break;
    }
    default:
      if (!isRawIp(frame.linkType) || d.length < 1) return undefined;
      etherType = d[0] >> 4 === 4 ? ETH_IPV4 : d[0] >> 4 === 6 ? ETH_IPV6 : undefined;
      break;
  }
  if (etherType === ETH_IPV4) return { version: 4, bytes: d.subarray(off) };
  if (etherType === ETH_IPV6) return { version: 6, bytes: d.subarray(off) };
  return undefined;
}

function isRawIp(linkType: number): boolean {
  return linkType === LINK_RAW || linkType === LINK_IPV4 || linkType === LINK_IPV6 || LINK_RAW_ALIASES.includes(linkType);
}

function ipv4(p: Uint8Array): TcpSegment | undefined {
  if (p.length < 20 || p[0] >> 4 !== 4) return undefined;
  const ihl = (p[0] & 0x0f) * 4;
  const total = be16(p, 2);
  const fragment = be16(p, 6);
  // Fragments (more-fragments set or a non-zero offset) cannot be parsed alone; BGP peers do not fragment on loopback.
  if (p[9] !== 6 || ihl < 20 || (fragment & 0x3fff) !== 0) return undefined;
  const src = `${p[12]}.${p[13]}.${p[14]}.${p[15]}`;
  const dst = `${p[16]}.${p[17]}.${p[18]}.${p[19]}`;
  // Total length 0 happens with TCP segmentation offload; fall back to what was captured.
  const end = total >= ihl ? total : p.length;
  return tcp(p.subarray(ihl), end - ihl, src, dst);
}

// IPv6 extension headers that may sit between the fixed header and TCP.
const V6_HOP_BY_HOP = 0;
const V6_ROUTING = 43;
const V6_FRAGMENT = 44;
const V6_DEST_OPTS = 60;

function ipv6(p: Uint8Array): TcpSegment | undefined {
  if (p.length < 40 || p[0] >> 4 !== 6) return undefined;
  let next = p[6];
  let payloadLen = be16(p, 4);
  let off = 40;
  while (next !== 6) {
    if (next === V6_FRAGMENT) return undefined;
    if (![V6_HOP_BY_HOP, V6_ROUTING, V6_DEST_OPTS].includes(next) || off + 8 > p.length) return undefined;
    const len = (p[off + 1] + 1) * 8;
    next = p[off];
    off += len;
    payloadLen -= len;
  }
  return tcp(p.subarray(off), payloadLen, ipv6Bytes(p, 8), ipv6Bytes(p, 24));
}

function tcp(t: Uint8Array, segmentLen: number, src: string, dst: string): TcpSegment | undefined {
  if (t.length < 20) return undefined;
  const dataOff = (t[12] >> 4) * 4;
  if (dataOff < 20 || dataOff > t.length) return undefined;
  const flags = t[13];
  const payloadLen = Math.max(0, segmentLen - dataOff);
  return {
    src,
    dst,
    srcPort: be16(t, 0),
    dstPort: be16(t, 2),
    seq: ((t[4] << 24) | (t[5] << 16) | (t[6] << 8) | t[7]) >>> 0,
    fin: (flags & 0x01) !== 0,
    syn: (flags & 0x02) !== 0,
    rst: (flags & 0x04) !== 0,
    ack: (flags & 0x10) !== 0,
    payload: t.subarray(dataOff, Math.min(t.length, dataOff + payloadLen)),
    payloadLen,
  };
}

function be16(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

/** "addr:port", with IPv6 addresses in brackets. */
export function endpoint(addr: string, port: number): string {
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}
