// What the inspector decodes: pasted hex or a file's bytes (a pcap/pcapng capture, an MRT
// file, or a raw stream of BGP messages), through the same codec and capture modules as `sart decode`,
// so the page shows exactly the objects the CLI prints. Browser-safe: no node: imports.
import { decodeCapture, portHint } from "../capture/bgp-capture.ts";
import { CaptureError, captureFormat } from "../capture/pcap.ts";
import { type CodecOptions, decodeMessages } from "../core/codec-portable.ts";
import type { Core } from "../core/wasm.ts";
import { looksLikeMrt, readMrt } from "./mrt.ts";

export class InputError extends Error {}

export interface DecodeSettings {
  /** Session context for hex and raw input, and for capture connections whose OPENs were not captured. */
  codec: CodecOptions;
  /** TCP port BGP runs on in a capture. */
  port: number;
}

export interface Decoded {
  messages: Record<string, unknown>[];
  /** "pcap", "pcapng", "mrt" or "raw" (a byte stream of whole messages). */
  format: string;
  /** Why a capture or MRT file broke off; the messages before that point are still decoded. */
  problem?: string;
  /** Records read but not shown (MRT RIB dumps, state changes), e.g. "2 TABLE_DUMP_V2". */
  skipped?: string;
  /** A capture with no TCP data on the chosen port: where the data went and what to change. */
  hint?: string;
}

/** Pasted hex to bytes: whitespace, ':' and ',' separators and 0x prefixes are allowed anywhere. */
export function parseHexText(text: string): Uint8Array {
  const clean = text.replace(/\b0x/gi, "").replace(/[\s:,]/g, "");
  if (clean.length === 0) throw new InputError("nothing to decode: paste BGP messages in hex");
  const bad = clean.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new InputError(`'${clean[bad]}' at hex digit ${bad + 1} is not a hex digit`);
  if (clean.length % 2 !== 0) throw new InputError(`odd number of hex digits (${clean.length})`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Decodes a capture (recognised by its magic number), an MRT file, or a raw message stream. */
export function decodeBytes(core: Core, bytes: Uint8Array, settings: DecodeSettings): Decoded {
  const format = captureFormat(bytes);
  const decode = (b: Uint8Array, o: CodecOptions) => decodeMessages(core, b, o) as Record<string, unknown>[];
  if (!format && looksLikeMrt(bytes)) return decodeMrt(bytes, decode, settings);
  if (!format) return { messages: decode(bytes, settings.codec), format: "raw" };
  try {
    const { messages, problem, dataElsewhere } = decodeCapture(bytes, decode, { port: settings.port, defaults: settings.codec });
    const hint = dataElsewhere && portHint(settings.port, dataElsewhere, (p) => `set the capture port to ${p}`);
    return { messages, format, problem, ...(hint ? { hint } : {}) };
  } catch (err) {
    if (err instanceof CaptureError) return { messages: [], format, problem: err.message };
    throw err;
  }
}

/**
 * MRT: each record's message decoded with what its subtype says (4-octet AS, add-path) and
 * the extended-message setting (records do not say), with flow and time as in a capture.
 */
function decodeMrt(bytes: Uint8Array, decode: (b: Uint8Array, o: CodecOptions) => Record<string, unknown>[], settings: DecodeSettings): Decoded {
  const { messages, skipped, problem } = readMrt(bytes);
  const out: Record<string, unknown>[] = [];
  for (const m of messages) {
    for (const obj of decode(m.bytes, { ...m.context, extendedMessage: settings.codec.extendedMessage })) {
      out.push({ flow: m.flow, time: m.time, ...obj });
    }
  }
  const kinds = Object.entries(skipped).map(([kind, n]) => `${n} ${kind}`);
  return { messages: out, format: "mrt", problem, skipped: kinds.length ? kinds.join(", ") : undefined };
}
