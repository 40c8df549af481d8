// The BGP codec without Node or Bun APIs (the browser inspector): the same
// functions as ./codec.ts, each taking the Core first (see loadCoreFrom in ./wasm.ts).
export type { AsPathSegment, Capability, CodecError, CodecOptions, DecodedMessage, UpdateAttributes } from "./codec-types.ts";
export { checkRequiredCapabilities, decodeCounts, decodeMessages, StreamDecoder } from "./codec-decode.ts";
export { encodeMessage, encodeUpdates } from "./codec-encode.ts";
export { sessionFlags } from "./codec-names.ts";
export { negotiatedOptions } from "./codec-negotiate.ts";
