// Strict IP and CIDR parsing with the rules of Go's net/netip, which the
// Kubernetes API server uses for `format: ipv4|ipv6|cidr` and its CEL ip/cidr
// libraries: no leading zeros in IPv4 octets, no zones, at most one "::".
// Not for hot paths (config and object validation only).

import { ipv6Bytes } from "../../core/codec-text.ts";

export interface IPAddr {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface CIDR {
  ip: IPAddr;
  prefixLength: number;
}

function parseIPv4Bytes(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseIPv6Bytes(s: string): Uint8Array | null {
  if (s.includes("%")) return null; // zones are not addresses
  let tail4: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(":");
  if (lastColon >= 0 && s.indexOf(".", lastColon) > lastColon) {
    tail4 = parseIPv4Bytes(s.slice(lastColon + 1));
    if (!tail4) return null;
    s = s.slice(0, lastColon + 1) + "0:0"; // stand-in groups, replaced below
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (h: string): string[] | null => (h === "" ? [] : h.split(":"));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !rest) return null;
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const groups = [...head, ...new Array<string>(8 - total).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parses an IPv4 or IPv6 address; null when it is not one. */
export function parseIP(s: string): IPAddr | null {
  if (s.includes(":")) {
    const bytes = parseIPv6Bytes(s);
    return bytes ? { family: 6, bytes } : null;
  }
  const bytes = parseIPv4Bytes(s);
  return bytes ? { family: 4, bytes } : null;
}

/** True for ::ffff:a.b.c.d, which Kubernetes refuses in ip()/cidr(). */
export function isIPv4Mapped(ip: IPAddr): boolean {
  if (ip.family !== 6) return false;
  for (let i = 0; i < 10; i++) if (ip.bytes[i] !== 0) return false;
  return ip.bytes[10] === 0xff && ip.bytes[11] === 0xff;
}

/** Parses "address/prefix-length"; host bits may be set (see `maskedCIDR`). */
export function parseCIDR(s: string): CIDR | null {
  const slash = s.indexOf("/");
  if (slash < 0) return null;
  const ip = parseIP(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(bits)) return null;
  const prefixLength = Number(bits);
  if (prefixLength > (ip.family === 4 ? 32 : 128)) return null;
  return { ip, prefixLength };
}

export function maskedCIDR(c: CIDR): CIDR {
  const bytes = c.ip.bytes.slice();
  for (let bit = c.prefixLength; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { ip: { family: c.ip.family, bytes }, prefixLength: c.prefixLength };
}

export function sameIP(a: IPAddr, b: IPAddr): boolean {
  return a.family === b.family && a.bytes.every((v, i) => v === b.bytes[i]);
}

export function sameCIDR(a: CIDR, b: CIDR): boolean {
  return a.prefixLength === b.prefixLength && sameIP(a.ip, b.ip);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run compressed; IPv4-mapped as ::ffff:a.b.c.d, as Go's netip prints it). */
export function formatIP(ip: IPAddr): string {
  return ip.family === 4 ? Array.from(ip.bytes).join(".") : ipv6Bytes(ip.bytes);
}

export function formatCIDR(c: CIDR): string {
  return `${formatIP(c.ip)}/${c.prefixLength}`;
}
