// rtnetlink messages (rtnetlink(7), linux/rtnetlink.h, linux/if_link.h): the headers and
// attributes sart sends to make a pod's links, addresses and routes, and the parsing of what
// the kernel answers (ACKs, errors, link dumps). Host byte order, which is little-endian on
// every architecture sart runs on; addresses in network order.
import { isIPv4 } from "node:net";
import { parseIpv4, parseIpv6 } from "../core/codec-text.ts";
import { AF_INET, AF_INET6 } from "../sockopt/sockets.ts";

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
/** On an NLMSG_ERROR: the request's payload is left out, and TLVs follow. */
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;

const IFF_UP = 0x1;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_F_NODAD = 0x02;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;

const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
const RT_TABLE_MAIN = 254;
/** What `ip route add` marks its routes with unless told otherwise. */
export const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

const NLMSGERR_ATTR_MSG = 1;

const HEADER = 16;
const align = (n: number) => (n + 3) & ~3;

/** One attribute (struct rtattr + payload, padded to 4 bytes); nests are attributes of attributes. */
export function attr(type: number, payload: Uint8Array | Uint8Array[]): Uint8Array {
  const body = Array.isArray(payload) ? Buffer.concat(payload) : payload;
  const out = new Uint8Array(align(4 + body.length));
  const v = new DataView(out.buffer);
  v.setUint16(0, 4 + body.length, true);
  v.setUint16(2, type, true);
  out.set(body, 4);
  return out;
}

export const u32Attr = (type: number, value: number) => attr(type, new Uint8Array(Uint32Array.of(value).buffer));
/** A NUL-terminated string, as the kernel wants names, kinds and aliases. */
export const stringAttr = (type: number, value: string) => attr(type, new TextEncoder().encode(`${value}\0`));

export function macBytes(mac: string): Uint8Array {
  const bytes = mac.split(":").map((h) => parseInt(h, 16));
  if (bytes.length !== 6 || bytes.some((b) => !(b >= 0 && b <= 255))) throw new Error(`not a MAC address: ${JSON.stringify(mac)}`);
  return Uint8Array.from(bytes);
}

/** An IP address in network order (4 or 16 bytes) and its family. */
export function ipBytes(address: string): { family: number; bytes: Uint8Array } {
  const bytes = new Uint8Array(isIPv4(address) ? 4 : 16);
  const v = new DataView(bytes.buffer);
  if (bytes.length === 4) v.setUint32(0, parseIpv4(address, "netlink address"));
  else parseIpv6(address, "netlink address").forEach((w, i) => v.setUint32(4 * i, w));
  return { family: bytes.length === 4 ? AF_INET : AF_INET6, bytes };
}

/** struct ifinfomsg: which link (index 0: named by IFLA_IFNAME) and the flags to change. */
export function ifinfomsg(o: { index?: number; flags?: number; change?: number } = {}): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setInt32(4, o.index ?? 0, true);
  v.setUint32(8, o.flags ?? 0, true);
  v.setUint32(12, o.change ?? 0, true);
  return b;
}

/** struct ifaddrmsg */
export function ifaddrmsg(o: { family: number; prefixLength: number; flags?: number; scope?: number; index: number }): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  b[0] = o.family;
  b[1] = o.prefixLength;
  b[2] = o.flags ?? 0;
  b[3] = o.scope ?? RT_SCOPE_UNIVERSE;
  v.setUint32(4, o.index, true);
  return b;
}

/** struct rtmsg for a unicast route (the table also goes in RTA_TABLE: ids above 255 fit only there). */
export function rtmsg(o: { family: number; dstLength: number; table: number; protocol: number; scope: number }): Uint8Array {
  return Uint8Array.of(o.family, o.dstLength, 0, 0, Math.min(o.table, 255), o.protocol, o.scope, RTN_UNICAST, 0, 0, 0, 0);
}

/** A whole message: struct nlmsghdr, the family header, the attributes. */
export function message(type: number, flags: number, seq: number, header: Uint8Array, attrs: Uint8Array[] = []): Uint8Array {
  const body = Buffer.concat([header, ...attrs]);
  const out = new Uint8Array(HEADER + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  out.set(body, HEADER);
  return out;
}

export interface LinkSpec {
  name: string;
  mtu?: number;
  mac?: string;
  up?: boolean;
  alias?: string;
  /** A network namespace file's descriptor: the link goes there. */
  netnsFd?: number;
}

function linkAttrs(l: LinkSpec): Uint8Array[] {
  return [
    stringAttr(IFLA_IFNAME, l.name),
    ...(l.mtu !== undefined ? [u32Attr(IFLA_MTU, l.mtu)] : []),
    ...(l.mac !== undefined ? [attr(IFLA_ADDRESS, macBytes(l.mac))] : []),
    ...(l.alias !== undefined ? [stringAttr(IFLA_IFALIAS, l.alias)] : []),
    ...(l.netnsFd !== undefined ? [u32Attr(IFLA_NET_NS_FD, l.netnsFd)] : []),
  ];
}

const upFlags = (l: LinkSpec) => ifinfomsg(l.up ? { flags: IFF_UP, change: IFF_UP } : {});

/** RTM_NEWLINK that makes a veth pair, failing (and making nothing) when either name is taken. */
export function newVeth(seq: number, link: LinkSpec, peer: LinkSpec): Uint8Array {
  const info = attr(IFLA_LINKINFO, [
    stringAttr(IFLA_INFO_KIND, "veth"),
    attr(IFLA_INFO_DATA, [attr(VETH_INFO_PEER, [upFlags(peer), ...linkAttrs(peer)])]),
  ]);
  return message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, upFlags(link), [...linkAttrs(link), info]);
}

/** RTM_NEWLINK that changes an existing link, named by `link.name`. */
export function setLink(seq: number, link: LinkSpec): Uint8Array {
  return message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, upFlags(link), linkAttrs(link));
}

/** RTM_GETLINK for one link by name; the answer is an RTM_NEWLINK (parseLink). */
export function getLink(seq: number, name: string): Uint8Array {
  return message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfomsg(), [stringAttr(IFLA_IFNAME, name)]);
}

/** RTM_NEWADDR for `address`/`prefixLength` on link `index` (IFA_LOCAL and IFA_ADDRESS, as `ip addr add` sends). */
export function newAddress(seq: number, o: { address: string; prefixLength: number; index: number; nodad?: boolean; scope?: number }): Uint8Array {
  const { family, bytes } = ipBytes(o.address);
  const header = ifaddrmsg({ family, prefixLength: o.prefixLength, flags: o.nodad ? IFA_F_NODAD : 0, scope: o.scope, index: o.index });
  return message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, header, [attr(IFA_LOCAL, bytes), attr(IFA_ADDRESS, bytes)]);
}

export interface RouteSpec {
  dst: string;
  dstLength: number;
  /** Output link index. */
  index: number;
  via?: string;
  table?: number;
  protocol?: number;
  scope?: number;
}

/** RTM_NEWROUTE, refused when the same route exists (as `ip route add`). */
export function newRoute(seq: number, r: RouteSpec): Uint8Array {
  const dst = ipBytes(r.dst);
  const table = r.table ?? RT_TABLE_MAIN;
  const header = rtmsg({ family: dst.family, dstLength: r.dstLength, table, protocol: r.protocol ?? RTPROT_BOOT, scope: r.scope ?? RT_SCOPE_UNIVERSE });
  return message(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, header, [
    ...(r.dstLength ? [attr(RTA_DST, dst.bytes)] : []),
    ...(r.via ? [attr(RTA_GATEWAY, ipBytes(r.via).bytes)] : []),
    u32Attr(RTA_OIF, r.index),
    u32Attr(RTA_TABLE, table),
  ]);
}

export interface Received {
  type: number;
  flags: number;
  seq: number;
  /** The message after its nlmsghdr. */
  body: Uint8Array;
}

/** The messages in one datagram; a truncated one ends the list. */
export function parseMessages(data: Uint8Array): Received[] {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Received[] = [];
  for (let at = 0; at + HEADER <= data.length; ) {
    const len = v.getUint32(at, true);
    if (len < HEADER || at + len > data.length) break;
    out.push({ type: v.getUint16(at + 4, true), flags: v.getUint16(at + 6, true), seq: v.getUint32(at + 8, true), body: data.subarray(at + HEADER, at + len) });
    at += align(len);
  }
  return out;
}

/** The attributes in `data` by type (the last one wins). */
export function parseAttrs(data: Uint8Array): Map<number, Uint8Array> {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Map<number, Uint8Array>();
  for (let at = 0; at + 4 <= data.length; ) {
    const len = v.getUint16(at, true);
    if (len < 4 || at + len > data.length) break;
    out.set(v.getUint16(at + 2, true) & 0x3fff, data.subarray(at + 4, at + len)); // without NLA_F_NESTED / NET_BYTEORDER
    at += align(len);
  }
  return out;
}

const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b).replace(/\0+$/, "") : undefined);

/** An NLMSG_ERROR's errno (0: an ACK) and the kernel's extended message (NETLINK_EXT_ACK), if any. */
export function parseError(m: Received): { errno: number; message?: string } {
  const v = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
  const errno = -v.getInt32(0, true);
  if (!(m.flags & NLM_F_ACK_TLVS)) return { errno };
  // After the errno: the request's header, and its payload unless NLM_F_CAPPED; then the TLVs.
  const echoed = m.flags & NLM_F_CAPPED ? HEADER : v.getUint32(4, true);
  return { errno, message: text(parseAttrs(m.body.subarray(Math.min(4 + align(echoed), m.body.length))).get(NLMSGERR_ATTR_MSG)) };
}

export interface LinkInfo {
  index: number;
  flags: number;
  name?: string;
  alias?: string;
  /** IFLA_LINK: a veth's peer's index (in the peer's namespace). */
  peerIndex?: number;
}

/** An RTM_NEWLINK (a GETLINK's answer or one message of a dump). */
export function parseLink(body: Uint8Array): LinkInfo {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const attrs = parseAttrs(body.subarray(16));
  const link = attrs.get(IFLA_LINK);
  return {
    index: v.getInt32(4, true),
    flags: v.getUint32(8, true),
    name: text(attrs.get(IFLA_IFNAME)),
    alias: text(attrs.get(IFLA_IFALIAS)),
    ...(link?.length === 4 ? { peerIndex: new DataView(link.buffer, link.byteOffset, 4).getUint32(0, true) } : {}),
  };
}
