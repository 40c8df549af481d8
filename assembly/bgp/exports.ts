// bgp ABI exports (wasm names prefixed `codec`). host/core/codec.ts is the only caller.
import { IN, OUT } from "./records";
import { decodeChunk, decodedMessages, decodedPrefixes } from "./decode";
import { encodeRecords } from "./encode";

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
