// Hand-built wire bytes for the codec tests (independent of the encoder).

export function hexBytes(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from(Buffer.from(clean, "hex"));
}

/** A whole message: marker, length, type, then the body given as hex. */
export function message(type: number, bodyHex: string, lengthOverride?: number): Uint8Array {
  const body = hexBytes(bodyHex);
  const out = new Uint8Array(19 + body.length);
  out.fill(0xff, 0, 16);
  const len = lengthOverride ?? out.length;
  out[16] = len >> 8;
  out[17] = len & 255;
  out[18] = type;
  out.set(body, 19);
  return out;
}

const h2 = (n: number) => n.toString(16).padStart(2, "0");
const h4 = (n: number) => n.toString(16).padStart(4, "0");
const h8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
export { h2, h4, h8 };

/** A path attribute (flags, code, value hex), with the extended length form when flags ask for it. */
export function attr(flags: number, code: number, valueHex: string): string {
  const len = valueHex.replace(/\s+/g, "").length / 2;
  return h2(flags) + h2(code) + (flags & 0x10 ? h4(len) : h2(len)) + valueHex.replace(/\s+/g, "");
}

/** An UPDATE body from withdrawn-routes hex, attribute hex and NLRI hex. */
export function update(withdrawnHex: string, attrsHex: string, nlriHex: string): Uint8Array {
  return message(2, h4(withdrawnHex.length / 2) + withdrawnHex + h4(attrsHex.length / 2) + attrsHex + nlriHex);
}

export const ORIGIN_IGP = attr(0x40, 1, "00");
export const AS_PATH_4 = attr(0x40, 2, "0201" + h8(65001));
export const NEXT_HOP = attr(0x40, 3, "c0000201");
export const BASE_ATTRS = ORIGIN_IGP + AS_PATH_4 + NEXT_HOP;
export const NLRI_24 = "18c63364"; // 198.51.100.0/24

/** An OPEN body: version 4, AS, hold time, router id, then optional parameters hex. */
export function open(paramsHex: string, opts: { version?: number; myAs?: number; hold?: number; id?: string } = {}): Uint8Array {
  const p = paramsHex.replace(/\s+/g, "");
  return message(1, h2(opts.version ?? 4) + h4(opts.myAs ?? 65001) + h4(opts.hold ?? 90) + (opts.id ?? "c0000201") + h2(p.length / 2) + p);
}

export function cap(code: number, valueHex: string): string {
  return "02" + h2(2 + valueHex.length / 2) + h2(code) + h2(valueHex.length / 2) + valueHex;
}

export { concat } from "./bytes.ts";
