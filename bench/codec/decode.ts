// Times sart's decode over the files bench/codec/gen.ts writes, in two modes, each
// reading the file as the speaker reads a socket (CHUNK bytes per read: 64 KiB, the
// speaker's READ_SIZE in host/bgp/neighbor.ts; a message cut at a chunk's end is carried
// into the next read):
//   count:   host/core/codec.ts decodeCounts: one copy per chunk into linear memory, one
//            core call per chunk, every message parsed and checked (RFC 4271 / RFC 7606),
//            prefixes written as compact records in core memory; no JS object per prefix.
//            What the speaker's ingest does before its RIB.
//   objects: host/core/codec.ts StreamDecoder: the same core decode, then the records read
//            into the "sart decode" JSON objects (prefix strings, attribute values), what
//            `sart decode` and the inspector hand a consumer. Beside GoBGP's objects mode.
// One line per file and mode, in the format of bench/codec/gobgp:
//   sart-<runtime>-<mode> <file> MB/s=.. messages/s=.. prefixes/s=.. runs=N messages=N prefixes=N bytes=N
// Usage: decode.ts RUNTIME FILE...   Environment: RUNS (default 7), CHUNK (bytes, default
// 65536), MODES (default "count,objects").
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { StreamDecoder, decodeCounts, sessionFlags } from "../../host/core/codec.ts";

const [runtime, ...files] = process.argv.slice(2);
const runs = Number(process.env.RUNS ?? 7);
const chunk = Number(process.env.CHUNK ?? 65536);
const modes = (process.env.MODES ?? "count,objects").split(",");
const flags = sessionFlags({ as4: true });

interface Run {
  seconds: number;
  messages: number;
  prefixes: number;
}

function countOnly(data: Uint8Array): Run {
  let messages = 0;
  let prefixes = 0;
  const t0 = performance.now();
  let off = 0;
  while (off < data.length) {
    const end = Math.min(data.length, off + chunk);
    const r = decodeCounts(data.subarray(off, end), flags);
    if (r.consumed === 0 && end === data.length) throw new Error(`stuck at byte ${off}`);
    off += r.consumed;
    messages += r.messages;
    prefixes += r.prefixes;
  }
  return { seconds: (performance.now() - t0) / 1000, messages, prefixes };
}

function objects(data: Uint8Array): Run {
  let messages = 0;
  let prefixes = 0;
  const t0 = performance.now();
  const dec = new StreamDecoder({ as4: true });
  for (let off = 0; off < data.length; off += chunk) {
    for (const m of dec.push(data.subarray(off, Math.min(data.length, off + chunk)))) {
      if (m.error) throw new Error(`message ${messages}: ${m.error.message}`);
      messages++;
      prefixes += (m.nlri?.length ?? 0) + (m.withdrawn?.length ?? 0);
    }
  }
  if (dec.end().length) throw new Error("truncated last message");
  return { seconds: (performance.now() - t0) / 1000, messages, prefixes };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const decoders: Record<string, (d: Uint8Array) => Run> = { count: countOnly, objects };

for (const file of files) {
  const data = new Uint8Array(readFileSync(file));
  for (const mode of modes) {
    const decode = decoders[mode];
    if (!decode) throw new Error(`decode.ts: unknown mode ${mode} (count, objects)`);
    decode(data); // warm-up: JIT tiers, memory growth
    const results = Array.from({ length: runs }, () => decode(data));
    const { messages, prefixes } = results[0];
    const secs = median(results.map((r) => r.seconds));
    console.log(
      `sart-${runtime}-${mode} ${basename(file)} MB/s=${(data.length / 1e6 / secs).toFixed(1)} messages/s=${Math.round(messages / secs)} ` +
        `prefixes/s=${Math.round(prefixes / secs)} runs=${runs} messages=${messages} prefixes=${prefixes} bytes=${data.length}`,
    );
  }
}
