// bgp ABI exports (wasm names prefixed `codec`). host/core/codec.ts is the only caller.
import { IN, OUT } from "./records";
import { decodeChunk, decodedMessages, decodedPrefixes } from "./decode";
import {
  buildUpdateMp, buildUpdateV4, encodeRecords, lastMessageLength, writeAsPathAttr, writeCommunitiesAttr,
  writeLocalPrefAttr, writeMedAttr, writeNextHopAttr, writeOriginAttr, writeRawAttr,
} from "./encode";
import { AFI_IPV4, MAX_EXTENDED_MESSAGE, MAX_MESSAGE, SF_ADDPATH_V4, SF_ADDPATH_V6, SF_EXTENDED_MESSAGE } from "./wire";

/** Returns the input region, grown to hold at least len bytes (contents are not kept across growth). */
export function codecInputPtr(len: u32): usize {
  if (<usize>len + 8 > IN.cap) {
    if (IN.ptr != 0) heap.free(IN.ptr);
    const cap = <usize>len + 8 + (<usize>len >> 1);
    IN.ptr = heap.alloc(cap);
    IN.cap = cap;
  }
  return IN.ptr;
}

/** Decodes the whole messages in input[0, len); returns the bytes consumed. Records: codecOutputPtr/Len. */
export function codecDecode(len: u32, sessionFlags: u32): u32 {
  if (<usize>len > IN.cap) return 0;
  return decodeChunk(len, sessionFlags);
}

export function codecOutputPtr(): usize { return OUT.ptr; }
export function codecOutputLen(): u32 { return <u32>OUT.len; }

/** Encodes one message from the records at input[recOffset, +recLen); returns its length (bytes at codecOutputPtr) or < 0. */
export function codecEncode(recOffset: u32, recLen: u32, sessionFlags: u32): i32 {
  if (<usize>recOffset + <usize>recLen > IN.cap) return -2;
  return encodeRecords(recOffset, recLen, sessionFlags);
}

/** Messages and prefixes (announced + withdrawn) in the last codecDecode call. */
export function codecDecodedMessages(): u32 { return decodedMessages; }
export function codecDecodedPrefixes(): u32 { return decodedPrefixes; }

/**
 * Packs entries (./nlri layout) at input[entriesOff] sharing the attribute
 * bytes at input[attrOff, +attrLen) into one UPDATE at codecOutputPtr (IPv4
 * without a next hop: NLRI / Withdrawn Routes fields; otherwise MP_REACH_NLRI
 * with the next hop at input[nhOff, +nhLen) or MP_UNREACH_NLRI). Returns the
 * entries consumed (0: the attributes leave no room); codecBuiltLength() is the size.
 */
export function codecBuildUpdate(afi: u32, withdraw: u32, attrOff: u32, attrLen: u32, nhOff: u32, nhLen: u32, entriesOff: u32, count: u32, sessionFlags: u32): u32 {
  const max = (sessionFlags & SF_EXTENDED_MESSAGE) != 0 ? MAX_EXTENDED_MESSAGE : MAX_MESSAGE;
  const entryBytes: usize = afi == AFI_IPV4 ? 12 : 24;
  if (<usize>attrOff + attrLen > IN.cap || <usize>nhOff + nhLen > IN.cap || <usize>entriesOff + <usize>count * entryBytes > IN.cap || nhLen > 32) return 0;
  OUT.len = 0;
  OUT.ensure(<usize>max + 64);
  const addPath = (sessionFlags & (afi == AFI_IPV4 ? SF_ADDPATH_V4 : SF_ADDPATH_V6)) != 0;
  if (afi == AFI_IPV4 && (nhLen == 0 || withdraw != 0)) {
    return buildUpdateV4(OUT.ptr, max, IN.ptr + attrOff, attrLen, IN.ptr + entriesOff, count, addPath, withdraw != 0);
  }
  return buildUpdateMp(OUT.ptr, max, afi, IN.ptr + nhOff, nhLen, IN.ptr + attrOff, attrLen, IN.ptr + entriesOff, count, addPath, withdraw != 0);
}

export function codecBuiltLength(): u32 { return lastMessageLength(); }

/**
 * One whole attribute from the in-core writers the RIB uses (./encode
 * write*Attr), written at codecOutputPtr; returns its length. kind = type
 * code: 1 ORIGIN(a), 2 AS_PATH(segments at input[a], b words, as4 c,
 * prepend d, e times), 3 NEXT_HOP(a), 4 MED(a), 5 LOCAL_PREF(a),
 * 8 COMMUNITIES(values at input[a], b of them); 0 raw(flags a, code b, value at input[c], d bytes).
 */
export function codecWriteAttribute(kind: u32, a: u32, b: u32, c: u32, d: u32, e: u32): u32 {
  if ((kind == 2 || kind == 8) && <usize>a + <usize>b * 4 > IN.cap) return 0;
  if (kind == 2 && e > 255) return 0;
  if (kind == 0 && (<usize>c + <usize>d > IN.cap || d > 0xffff)) return 0;
  OUT.len = 0;
  OUT.ensure(kind == 0 ? <usize>d + 8 : <usize>b * 8 + <usize>(kind == 2 ? e : <u32>0) * 4 + 64);
  const p = OUT.ptr;
  switch (kind) {
    case 1: return writeOriginAttr(p, a);
    case 2: return writeAsPathAttr(p, IN.ptr + a, b, c != 0, d, e);
    case 3: return writeNextHopAttr(p, a);
    case 4: return writeMedAttr(p, a);
    case 5: return writeLocalPrefAttr(p, a);
    case 8: return writeCommunitiesAttr(p, IN.ptr + a, b);
    case 0: return writeRawAttr(p, a, b, IN.ptr + c, d);
  }
  return 0;
}
