// Times the core's decode (host/core/codec.ts decodeCounts: one copy per chunk
// into linear memory, one core call per chunk, records written in the core)
// over the files bench/codec/gen.ts writes. One line per file, in the format
// of bench/codec/gobgp:
//   <label> <file> MB/s=.. messages/s=.. prefixes/s=.. runs=N messages=N prefixes=N bytes=N
// Usage: decode.ts LABEL FILE...   Environment: RUNS (default 7), CHUNK (bytes, default 1 MiB).
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { decodeCounts, sessionFlags } from "../../host/core/codec.ts";

const [label, ...files] = process.argv.slice(2);
const runs = Number(process.env.RUNS ?? 7);
const chunk = Number(process.env.CHUNK ?? 1 << 20);
const flags = sessionFlags({ as4: true });

function once(data: Uint8Array): { seconds: number; messages: number; prefixes: number } {
  let messages = 0;
  let prefixes = 0;
  const t0 = performance.now();
  let off = 0;
  while (off < data.length) {
    // A socket read: up to `chunk` bytes starting at the first unconsumed byte.
    const end = Math.min(data.length, off + chunk);
    const r = decodeCounts(data.subarray(off, end), flags);
    if (r.consumed === 0 && end === data.length) throw new Error(`stuck at byte ${off}`);
    off += r.consumed;
    messages += r.messages;
    prefixes += r.prefixes;
  }
  return { seconds: (performance.now() - t0) / 1000, messages, prefixes };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const file of files) {
  const data = new Uint8Array(readFileSync(file));
  once(data); // warm-up: JIT tiers, memory growth
  const results = Array.from({ length: runs }, () => once(data));
  const { messages, prefixes } = results[0];
  const secs = median(results.map((r) => r.seconds));
  console.log(
    `${label} ${basename(file)} MB/s=${(data.length / 1e6 / secs).toFixed(1)} messages/s=${Math.round(messages / secs)} ` +
      `prefixes/s=${Math.round(prefixes / secs)} runs=${runs} messages=${messages} prefixes=${prefixes} bytes=${data.length}`,
  );
}
