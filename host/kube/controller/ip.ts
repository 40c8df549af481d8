// Address and CIDR arithmetic for the controller (control-plane rates: bigint is fine here;
// per-address bitmaps live in the wasm core).
import { ipv4, ipv6 } from "../../core/codec-text.ts";

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
}

export interface Cidr {
  family: Family;
  network: bigint;
  prefix: number;
  /** Address width: 32 or 128. */
  bits: number;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    const items = h.split(":");
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.includes(".")) {
        if (i !== items.length - 1) return undefined; // embedded IPv4 only at the end
        const v4 = parseV4(it);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return undefined;
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  let v = 0n;
  for (const g of all) v = (v << 16n) | BigInt(g);
  return v;
}

export function parseIp(s: string): Ip | undefined {
  const t = s.trim();
  if (t.includes(":")) {
    const v = parseV6(t);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseV4(t);
  return v === undefined ? undefined : { family: 4, value: v };
}

/**
 * Canonical text (RFC 5952 for IPv6, IPv4-mapped in hex like IPAM's addresses), so names and
 * comparisons never depend on how a user wrote an address.
 */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) return ipv4(Number(ip.value));
  const words: number[] = [];
  for (let i = 3; i >= 0; i--) words.push(Number((ip.value >> BigInt(i * 32)) & 0xffffffffn));
  return ipv6(words, false);
}

/** The canonical form of an address string, or undefined when it is not an address. */
export function canonicalIp(s: string): string | undefined {
  const ip = parseIp(s);
  return ip ? formatIp(ip) : undefined;
}

/** Parses "addr/len"; host bits must be zero (a pool's CIDR names a network). */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (!ip || !/^[0-9]{1,3}$/.test(lenText)) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  const prefix = Number(lenText);
  if (prefix > bits) return undefined;
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((ip.value & hostMask) !== 0n) return undefined;
  return { family: ip.family, network: ip.value, prefix, bits };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.network })}/${c.prefix}`;
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(c.bits - c.prefix);
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  return c.family === ip.family && ip.value >= c.network && ip.value < c.network + cidrSize(c);
}

export function familyName(f: Family): "IPv4" | "IPv6" {
  return f === 4 ? "IPv4" : "IPv6";
}

/** The network of `length` bits holding `ip` (an aggregate route), e.g. 198.51.100.7, 24 -> 198.51.100.0/24. */
export function aggregateCidr(ip: Ip, length: number): string {
  const bits = ip.family === 4 ? 32 : 128;
  const host = (1n << BigInt(bits - length)) - 1n;
  return formatCidr({ family: ip.family, network: ip.value & ~host, prefix: length, bits });
}

/** A host route for one address: /32 or /128. */
export function hostCidr(ip: Ip): string {
  return `${formatIp(ip)}/${ip.family === 4 ? 32 : 128}`;
}

/**
 * An address as it may appear in an object name: IPv4 as is; IPv6 as its eight groups joined
 * by dashes, uncompressed ("2001-db8-1-0-0-0-0-0"), since names allow neither ":" nor a
 * trailing "-" (which "::" would give).
 */
export function ipForName(ip: Ip): string {
  if (ip.family === 4) return formatIp(ip);
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((ip.value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return g.join("-");
}
