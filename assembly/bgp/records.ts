// The record stream between the core and host/core/codec.ts (decode output,
// encode input). Little-endian u32 words; each record starts with a header
// word (tag << 24 | payload word count). Offsets are relative to the input
// region's start. Layouts (payload words):
//   T_MSG    [type, length, offset]                       starts every message
//   T_ERR    [kind, code, subcode, reason, attr, dataLen, data bytes padded to words...]
//   T_OPEN   [version, myAs, holdTime, routerId, extendedParams, capsInOneParam]
//   T_CAP    [code, valueOffset, valueLength, parsed...]  parsed: MP [afi, safi]; 4-octet AS [asn];
//            graceful restart [flags, time, (afi, safi, flags)*]; add-path [(afi, safi, sendReceive)*];
//            extended next hop [(afi, safi, nextHopAfi)*]; FQDN [hostOff, hostLen, domainOff, domainLen]
//   T_UPD    [withdrawnLength, attributesLength, attributesOffset]
//   T_PFX    [section (0 withdrawn, 1 nlri, 2 mp-unreach, 3 mp-reach), afi, count, entries...]  (./nlri layouts)
//   T_ATTR   [code, flags, value...]  ORIGIN [v]; AS_PATH/AS4_PATH [(type, count, asn*)*]; NEXT_HOP [a];
//            MED/LOCAL_PREF/ORIGINATOR_ID [v]; ATOMIC_AGGREGATE []; AGGREGATOR/AS4_AGGREGATOR [asn, a];
//            COMMUNITIES/CLUSTER_LIST [v*]; LARGE_COMMUNITY [(g, l1, l2)*]; EXT_COMMUNITIES [offset, length];
//            MP_REACH [afi, safi, nextHopLength, next hop as big-endian words]; MP_UNREACH [afi, safi]
//   T_RAW    [code, flags, offset, length]               unknown attribute / unsupported MP family
//   T_NOTIF  [code, subcode, dataOffset, dataLength]
//   T_RR     [afi, safi, subtype, orfOffset, orfLength]
import { Buf } from "./wire";

export const T_MSG: u32 = 1;
export const T_ERR: u32 = 2;
export const T_OPEN: u32 = 3;
export const T_CAP: u32 = 4;
export const T_UPD: u32 = 5;
export const T_PFX: u32 = 6;
export const T_ATTR: u32 = 7;
export const T_RAW: u32 = 8;
export const T_NOTIF: u32 = 9;
export const T_RR: u32 = 10;

export const OUT = new Buf();
export const IN = new Buf();

/** Ensures room for the header and n payload words, and writes the header. */
@inline export function rec(tag: u32, n: u32): void {
  OUT.ensure(<usize>(n + 1) * 4);
  OUT.w((tag << 24) | n);
}

/** Writes an error record with its data bytes copied from dataPtr. */
export function recError(kind: u32, code: u32, subcode: u32, reason: u32, attr: u32, dataPtr: usize, dataLen: u32): void {
  const words = (dataLen + 3) >> 2;
  rec(T_ERR, 6 + words);
  OUT.w(kind);
  OUT.w(code);
  OUT.w(subcode);
  OUT.w(reason);
  OUT.w(attr);
  OUT.w(dataLen);
  if (words > 0) {
    store<u32>(OUT.ptr + OUT.len + (<usize>words - 1) * 4, 0);
    memory.copy(OUT.ptr + OUT.len, dataPtr, dataLen);
    OUT.len += <usize>words * 4;
  }
}
