// Robustness of capture reading: seeded mutations of the real fixtures (byte flips,
// truncation, zeroed and duplicated ranges) never crash the reader, the reassembly or the
// BGP framing: every input gives messages (with a flow each) or a named CaptureError.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeCapture } from "../../host/capture/bgp-capture.ts";
import { CaptureError } from "../../host/capture/pcap.ts";
import { decodeMessages } from "../../host/core/codec.ts";
import { expected, type Msg, PCAPS } from "./fixture-data.ts";
import { mulberry32 as prng } from "../codec/bytes.ts";

function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  const b = new Uint8Array(input);
  const at = () => Math.floor(rand() * b.length);
  switch (Math.floor(rand() * 4)) {
    case 0: // flip a few bytes
      for (let i = 0, n = 1 + Math.floor(rand() * 8); i < n; i++) b[at()] ^= 1 + Math.floor(rand() * 255);
      return b;
    case 1: // truncate
      return b.subarray(0, at());
    case 2: { // zero a range
      const from = at();
      b.fill(0, from, from + Math.floor(rand() * 64));
      return b;
    }
    default: { // duplicate a range in place of another
      const from = at();
      const len = Math.floor(rand() * 200);
      const to = at();
      const out = new Uint8Array(b.length + len);
      out.set(b.subarray(0, to));
      out.set(b.subarray(from, from + len), to);
      out.set(b.subarray(to), to + Math.min(len, b.length - from));
      return out.subarray(0, b.length + Math.min(len, b.length - from));
    }
  }
}

test("3,000 mutated captures: messages or a CaptureError, never a crash", () => {
  const rand = prng(0x5a27);
  const inputs = Object.entries(expected).map(([name, f]) => ({ bytes: readFileSync(join(PCAPS, name)), port: f.port }));
  let decoded = 0;
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const { bytes, port } = inputs[i % inputs.length];
    let input: Uint8Array = bytes;
    for (let k = 0, n = 1 + Math.floor(rand() * 3); k < n; k++) input = mutate(input, rand);
    try {
      const result = decodeCapture(input, (b, o) => decodeMessages(b, o) as Msg[], { port, defaults: { as4: true } });
      for (const m of result.messages) expect(typeof m.flow).toBe("string");
      decoded++;
    } catch (err) {
      if (!(err instanceof CaptureError)) throw new Error(`input ${i}: ${(err as Error).stack}`);
      rejected++;
    }
  }
  expect(decoded).toBeGreaterThan(2000);
  expect(decoded + rejected).toBe(3000);
});
