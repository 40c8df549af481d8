// Wire-level constants and big-endian helpers shared by the decoder and the encoder.

// Message types (RFC 4271 4.1, RFC 2918).
export const MSG_OPEN: u32 = 1;
export const MSG_UPDATE: u32 = 2;
export const MSG_NOTIFICATION: u32 = 3;
export const MSG_KEEPALIVE: u32 = 4;
export const MSG_ROUTE_REFRESH: u32 = 5;

export const HEADER_LEN: u32 = 19;
export const MAX_MESSAGE: u32 = 4096; // RFC 4271
export const MAX_EXTENDED_MESSAGE: u32 = 65535; // RFC 8654

// Session flags passed to the decoder and encoder.
export const SF_AS4: u32 = 1; // 4-octet AS negotiated (RFC 6793)
export const SF_ADDPATH_V4: u32 = 2; // add-path receive (decode) / send (encode) for ipv4-unicast
export const SF_ADDPATH_V6: u32 = 4; // same for ipv6-unicast
export const SF_EXTENDED_MESSAGE: u32 = 8; // RFC 8654 negotiated

// Path attribute type codes.
export const A_ORIGIN: u32 = 1;
export const A_AS_PATH: u32 = 2;
export const A_NEXT_HOP: u32 = 3;
export const A_MED: u32 = 4;
export const A_LOCAL_PREF: u32 = 5;
export const A_ATOMIC_AGGREGATE: u32 = 6;
export const A_AGGREGATOR: u32 = 7;
export const A_COMMUNITIES: u32 = 8;
export const A_ORIGINATOR_ID: u32 = 9;
export const A_CLUSTER_LIST: u32 = 10;
export const A_MP_REACH: u32 = 14;
export const A_MP_UNREACH: u32 = 15;
export const A_EXT_COMMUNITIES: u32 = 16;
export const A_AS4_PATH: u32 = 17;
export const A_AS4_AGGREGATOR: u32 = 18;
export const A_LARGE_COMMUNITY: u32 = 32;

// Attribute flag bits.
export const F_OPTIONAL: u32 = 0x80;
export const F_TRANSITIVE: u32 = 0x40;
export const F_PARTIAL: u32 = 0x20;
export const F_EXTENDED: u32 = 0x10;

export const AS_TRANS: u32 = 23456;

// AS_PATH segment types.
export const SEG_SET: u32 = 1;
export const SEG_SEQUENCE: u32 = 2;
export const SEG_CONFED_SEQUENCE: u32 = 3;
export const SEG_CONFED_SET: u32 = 4;

export const AFI_IPV4: u32 = 1;
export const AFI_IPV6: u32 = 2;
export const SAFI_UNICAST: u32 = 1;

// Why a message failed. The host maps these to text (host/core/codec.ts REASONS);
// keep both lists in the same order.
export const R_NONE: u32 = 0;
export const R_MARKER: u32 = 1;
export const R_LENGTH: u32 = 2;
export const R_TYPE: u32 = 3;
export const R_OPEN_VERSION: u32 = 4;
export const R_OPEN_PEER_AS: u32 = 5;
export const R_OPEN_ROUTER_ID: u32 = 6;
export const R_OPEN_HOLD_TIME: u32 = 7;
export const R_OPEN_PARAMS_LENGTH: u32 = 8;
export const R_OPEN_UNSUPPORTED_PARAM: u32 = 9;
export const R_CAPABILITY: u32 = 10;
export const R_WITHDRAWN_LENGTH: u32 = 11;
export const R_ATTRIBUTES_LENGTH: u32 = 12;
export const R_WITHDRAWN_PREFIX: u32 = 13;
export const R_NLRI_PREFIX: u32 = 14;
export const R_ATTRIBUTE_OVERRUN: u32 = 15;
export const R_DUPLICATE_MP: u32 = 16;
export const R_DUPLICATE: u32 = 17;
export const R_FLAGS: u32 = 18;
export const R_UNRECOGNIZED_WELL_KNOWN: u32 = 19;
export const R_ATTRIBUTE_LENGTH: u32 = 20;
export const R_ORIGIN_VALUE: u32 = 21;
export const R_AS_PATH: u32 = 22;
export const R_NEXT_HOP: u32 = 23;
export const R_MISSING: u32 = 24;
export const R_MP_MALFORMED: u32 = 25;
export const R_MP_NEXT_HOP_LENGTH: u32 = 26;
export const R_MP_PREFIX: u32 = 27;
export const R_AS4_PATH: u32 = 28;
export const R_ROUTE_REFRESH_LENGTH: u32 = 29;
export const R_AS_ZERO: u32 = 30;
export const R_MP_NEXT_HOP: u32 = 31;

// Error kinds.
export const K_NOTIFICATION: u32 = 0; // session reset: send this NOTIFICATION
export const K_TREAT_AS_WITHDRAW: u32 = 1; // RFC 7606: routes in the UPDATE are withdrawn
export const K_DISCARD: u32 = 2; // RFC 7606 attribute discard
export const K_FRAMING: u32 = 3; // header error that ends the stream

@inline export function rd8(p: usize): u32 { return <u32>load<u8>(p); }
@inline export function rd16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
@inline export function rd32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
@inline export function wr8(p: usize, v: u32): void { store<u8>(p, <u8>v); }
@inline export function wr16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
@inline export function wr32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** The network mask of a prefix length 0..32 (branch-free: a 64-bit shift, since 32-bit shifts wrap at 32). */
@inline export function mask4(plen: u32): u32 {
  return <u32>((<u64>0xffffffff00000000) >> <u64>plen);
}

/** A growable byte buffer in linear memory. Unmanaged: hot paths pay no GC shadow-stack cost for it. */
@unmanaged export class Buf {
  ptr: usize = 0;
  cap: usize = 0;
  len: usize = 0;

  @inline ensure(n: usize): void {
    if (this.len + n > this.cap) this.grow(n);
  }

  grow(n: usize): void {
    let c = this.cap * 2;
    if (c < this.len + n + 65536) c = this.len + n + 65536;
    this.ptr = this.ptr == 0 ? heap.alloc(c) : heap.realloc(this.ptr, c);
    this.cap = c;
  }

  /** Appends a u32 (little-endian: records for the host). The caller ensured room. */
  @inline w(v: u32): void {
    store<u32>(this.ptr + this.len, v);
    this.len += 4;
  }
}

/** A fixed block that never moves (scratch arrays sized for the largest message). */
export function block(bytes: usize): usize {
  return heap.alloc(bytes);
}
