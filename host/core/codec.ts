// The BGP codec for Node and Bun: sart decode's JSON (docs/cli.md) <-> wire
// bytes through the core (assembly/bgp), on the process-wide core instance.
// The record layout is known only to ./codec-decode.ts and ./codec-encode.ts;
// browsers import ./codec-portable.ts and pass their own Core.
import { nodeCore } from "./node.ts";
import type { Core } from "./wasm.ts";
import * as dec from "./codec-decode.ts";
import * as enc from "./codec-encode.ts";
import type { CodecOptions, DecodedMessage } from "./codec-types.ts";

export type { AsPathSegment, Capability, CodecError, CodecOptions, DecodedMessage, UpdateAttributes } from "./codec-types.ts";
export { checkRequiredCapabilities } from "./codec-decode.ts";
export { sessionFlags } from "./codec-names.ts";
export { negotiatedOptions } from "./codec-negotiate.ts";

/**
 * Decodes a buffer of whole BGP messages. Never throws on malformed input: a
 * message that fails carries `error`; a framing error (bad marker or length)
 * or a truncated last message ends the list.
 */
export function decodeMessages(bytes: Uint8Array, opts: CodecOptions = {}, core: Core = nodeCore()): DecodedMessage[] {
  return dec.decodeMessages(core, bytes, opts);
}

/**
 * Encodes one message from its JSON (the shape decodeMessages returns), so
 * JSON -> bytes -> JSON round-trips. Throws on JSON that cannot be encoded, or
 * a message over the size limit (4096, or 65535 with extendedMessage).
 */
export function encodeMessage(msg: DecodedMessage, opts: CodecOptions = {}, core: Core = nodeCore()): Uint8Array {
  return enc.encodeMessage(core, msg, opts);
}

/**
 * Packs many prefixes sharing one set of attributes into as few UPDATEs as the
 * message size allows (announcements, or withdrawals with `withdraw`). IPv4
 * prefixes go in the NLRI field (or MP_REACH when nextHop is IPv6, RFC 8950),
 * IPv6 ones in MP_REACH_NLRI / MP_UNREACH_NLRI. One family per call.
 */
export function encodeUpdates(
  prefixes: string[],
  attributes: DecodedMessage["attributes"],
  opts: CodecOptions & { withdraw?: boolean; pathIds?: number[] } = {},
  core: Core = nodeCore(),
): Uint8Array[] {
  return enc.encodeUpdates(core, prefixes, attributes, opts);
}

/** The hot path without JSON (benchmarks): bytes consumed, messages and prefixes decoded in the core. */
export function decodeCounts(bytes: Uint8Array, flags: number, core: Core = nodeCore()): { consumed: number; messages: number; prefixes: number } {
  return dec.decodeCounts(core, bytes, flags);
}

/**
 * Incremental decoding of a byte stream (a TCP session, a pcap's reassembled
 * payload): keeps a partial message between pushes. Options can change
 * between pushes (e.g. 4-octet AS / add-path once both OPENs are seen).
 */
export class StreamDecoder extends dec.StreamDecoder {
  constructor(options: CodecOptions = {}, core: Core = nodeCore()) {
    super(core, options);
  }
}
