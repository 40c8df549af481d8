// Socket options the runtimes do not expose, on file descriptors: TTL / hop
// limit (RFC 4271 eBGP TTL 1, ebgp-multihop, BFD's 255), TCP MD5 signatures
// (RFC 2385), and a kernel filter keeping only datagrams that arrived with
// TTL 255 (GTSM, RFC 5082, as BFD single hop requires, RFC 5881 5).
import { constants } from "node:os";
import { isIPv4, isIPv6 } from "node:net";
import { parseIpv4, parseIpv6 } from "../core/codec-text.ts";
import { syscalls } from "./syscalls.ts";

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_ERROR = 4;
const IPPROTO_IP = 0;
const IPPROTO_TCP = 6;
const IPPROTO_IPV6 = 41;
const IP_TTL = 2;
const IPV6_UNICAST_HOPS = 16;
const IPV6_V6ONLY = 26;
const TCP_MD5SIG = 14;
/** TCP_MD5SIG_MAXKEYLEN */
export const MD5_KEY_MAX = 80;

export type Family = typeof AF_INET | typeof AF_INET6;

export function familyOf(address: string): Family {
  if (isIPv4(address)) return AF_INET;
  if (isIPv6(address)) return AF_INET6;
  throw new Error(`not an IP address: ${JSON.stringify(address)}`);
}

const errnoNames = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** A failed call: `what` says what was being done, `errno` the cause. */
export class SyscallError extends Error {
  constructor(readonly what: string, readonly errno: number) {
    super(`${what}: ${errnoNames.get(errno) ?? `errno ${errno}`}`);
  }
}

/** The result of a raw call, or a SyscallError naming `what`. */
export function check(result: number, what: string): number {
  if (result < 0) throw new SyscallError(what, -result);
  return result;
}

function int32(v: number): Uint8Array {
  return new Uint8Array(Int32Array.of(v).buffer);
}

/**
 * struct sockaddr_in / sockaddr_in6 for `address` (an IPv4 address on an IPv6
 * socket becomes ::ffff:a.b.c.d).
 */
export function sockaddr(address: string, port: number, socketFamily: Family = familyOf(address)): Uint8Array {
  if (socketFamily === AF_INET) {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port);
    v.setUint32(4, parseIpv4(address, "sockaddr"));
    return b;
  }
  const b = new Uint8Array(28);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port);
  const words = isIPv4(address) ? [0, 0, 0xffff, parseIpv4(address, "sockaddr")] : parseIpv6(address, "sockaddr");
  words.forEach((w, i) => v.setUint32(8 + 4 * i, w));
  return b;
}

/** TTL (IPv4) or hop limit (IPv6) of the packets `fd` sends to `peer`. */
export function setTtl(fd: number, peer: string, ttl: number): void {
  const sys = syscalls();
  if (isIPv4(peer)) check(sys.setsockopt(fd, IPPROTO_IP, IP_TTL, int32(ttl)), `setsockopt IP_TTL ${ttl}`);
  else check(sys.setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, int32(ttl)), `setsockopt IPV6_UNICAST_HOPS ${ttl}`);
}

export function getTtl(fd: number, peer: string): number {
  const out = new Int32Array(1);
  const [level, name] = isIPv4(peer) ? [IPPROTO_IP, IP_TTL] : [IPPROTO_IPV6, IPV6_UNICAST_HOPS];
  check(syscalls().getsockopt(fd, level, name, new Uint8Array(out.buffer)), "getsockopt TTL");
  return out[0];
}

/**
 * The TCP MD5 key (RFC 2385) for segments to and from `peer` on `fd`, a socket
 * of `socketFamily`; an empty key removes it. On a listening socket the key
 * applies to connections from `peer`, and accepted sockets inherit it.
 */
export function setMd5Key(fd: number, socketFamily: Family, peer: string, key: string): void {
  const bytes = new TextEncoder().encode(key);
  if (bytes.length > MD5_KEY_MAX) throw new Error(`TCP MD5 key for ${peer}: at most ${MD5_KEY_MAX} bytes, not ${bytes.length}`);
  // struct tcp_md5sig { sockaddr_storage addr (128); u8 flags; u8 prefixlen; u16 keylen; int ifindex; u8 key[80]; }
  const sig = new Uint8Array(128 + 8 + MD5_KEY_MAX);
  sig.set(sockaddr(peer, 0, socketFamily), 0);
  new DataView(sig.buffer).setUint16(130, bytes.length, true);
  sig.set(bytes, 136);
  check(syscalls().setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, sig), `setsockopt TCP_MD5SIG for ${peer}`);
}

/** SO_ERROR: the pending error of a socket (0 when none). */
export function socketError(fd: number): number {
  const out = new Int32Array(1);
  check(syscalls().getsockopt(fd, SOL_SOCKET, SO_ERROR, new Uint8Array(out.buffer)), "getsockopt SO_ERROR");
  return out[0];
}

/** A new non-blocking socket; with `v6Only` an IPv6 socket takes no IPv4. */
export function openSocket(family: Family, type: typeof SOCK_STREAM | typeof SOCK_DGRAM, v6Only = false): number {
  const sys = syscalls();
  const fd = check(sys.socket(family, type, 0), `socket(${family === AF_INET ? "AF_INET" : "AF_INET6"})`);
  if (family === AF_INET6 && v6Only) {
    const r = sys.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, int32(1));
    if (r < 0) {
      sys.close(fd);
      check(r, "setsockopt IPV6_V6ONLY");
    }
  }
  return fd;
}

export function bindSocket(fd: number, address: string, port: number): void {
  check(syscalls().bind(fd, sockaddr(address, port)), `bind ${address}:${port}`);
}

export function closeSocket(fd: number): void {
  syscalls().close(fd);
}

// Classic BPF, run by the kernel on each datagram before it is queued: accept only TTL / hop limit 255.
const SKF_NET_OFF = -0x100000;
const BPF_LD_B_ABS = 0x30;
const BPF_JEQ_K = 0x15;
const BPF_RET_K = 0x06;

function insn(code: number, jt: number, jf: number, k: number): number[] {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint16(0, code, true);
  b[2] = jt;
  b[3] = jf;
  v.setInt32(4, k, true);
  return [...b];
}

/** Drops, in the kernel, every datagram for `fd` whose IPv4 TTL (or IPv6 hop limit) is not 255. */
export function acceptOnlyTtl255(fd: number, family: Family): void {
  const ttlOffset = family === AF_INET ? 8 : 7; // IPv4 TTL byte; IPv6 hop limit byte
  const program = Uint8Array.from([
    ...insn(BPF_LD_B_ABS, 0, 0, SKF_NET_OFF + ttlOffset),
    ...insn(BPF_JEQ_K, 0, 1, 255),
    ...insn(BPF_RET_K, 0, 0, 0xffff), // accept (up to 64 KiB)
    ...insn(BPF_RET_K, 0, 0, 0), // drop
  ]);
  check(syscalls().attachFilter(fd, program), "SO_ATTACH_FILTER (TTL 255 only)");
}

/** The file descriptor under a node:net socket or server (both runtimes keep it at `_handle.fd`). */
export function fdOf(s: object): number {
  const fd = (s as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("the socket's file descriptor is not reachable in this runtime");
  return fd;
}
