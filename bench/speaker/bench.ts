// bgperf-style propagation benchmark, all on loopback in one process: our tester
// sends N IPv4 prefixes to the device under test, which re-advertises them to our
// monitor; the time runs from the first UPDATE byte written to the monitor
// holding all N. Peak RSS is the device's VmHWM. One JSON line per run on stdout.
//
//   bun bench/speaker/bench.ts --device bird --n 100000 --per-update 4 --runs 5 [--timeout 300]
//     [--first-run K] [--cache DIR]   (run numbering; encoded stream kept in DIR between invocations)
// Next hop: a documentation address (gobgpd treats 127/8 next hops as invalid).
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { peakRss } from "../../tests/helpers/proc.ts";
import { loopbackBlock, sleep, waitFor } from "../../tests/helpers/net.ts";
import { RawPeer } from "../../tests/helpers/raw-peer.ts";
import { DEVICES, MONITOR_AS, TESTER_AS, TESTER_NEXT_HOP, startDevice, type DeviceName } from "./devices.ts";
import { PrefixCounter } from "./monitor.ts";
import { encodeStream } from "./updates.ts";

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (def === undefined) throw new Error(`bench: --${name} is required`);
  return def;
}

export interface RunResult {
  device: DeviceName;
  n: number;
  perUpdate: number;
  run: number;
  seconds: number | null;
  prefixesPerSecond: number | null;
  peakRssBytes: number;
  received: number;
  error?: string;
}

async function once(device: DeviceName, n: number, perUpdate: number, chunks: Uint8Array[], timeoutS: number, run: number): Promise<RunResult> {
  const a = loopbackBlock();
  const dut = await startDevice(device, a);
  const counter = new PrefixCounter();
  let done: () => void;
  const all = new Promise<void>((r) => (done = r));
  let monitor: RawPeer | undefined, tester: RawPeer | undefined;
  const base = { device, n, perUpdate, run };
  try {
    monitor = new RawPeer({
      host: a(2), port: dut.port, localAddress: a(3), asn: MONITOR_AS, routerId: "192.0.2.3",
      onMessage: (type, m) => {
        if (type !== 2) return;
        counter.update(m);
        if (counter.count >= n) done();
      },
    });
    await waitFor("monitor session", () => monitor!.isEstablished, 30000, 20);
    tester = new RawPeer({ host: a(2), port: dut.port, localAddress: a(1), asn: TESTER_AS, routerId: "192.0.2.1" });
    await waitFor("tester session", () => tester!.isEstablished, 30000, 20);
    await sleep(500); // let both sessions settle (End-of-RIB, first keepalives)
    const t0 = performance.now();
    const sending = (async () => {
      for (const c of chunks) await tester!.write(c);
    })();
    const timeout = sleep(timeoutS * 1000).then(() => "timeout");
    const outcome = await Promise.race([all.then(() => "done"), timeout, monitor.closed.then(() => "monitor closed"), tester.closed.then(() => "tester closed")]);
    const seconds = (performance.now() - t0) / 1000;
    await Promise.race([sending.catch(() => {}), sleep(1000)]);
    const rss = peakRss(dut.pid);
    if (outcome !== "done") {
      return { ...base, seconds: null, prefixesPerSecond: null, peakRssBytes: rss, received: counter.count, error: `${outcome} after ${seconds.toFixed(1)} s with ${counter.count}/${n}` };
    }
    return { ...base, seconds, prefixesPerSecond: n / seconds, peakRssBytes: rss, received: counter.count };
  } catch (err) {
    return { ...base, seconds: null, prefixesPerSecond: null, peakRssBytes: peakRss(dut.pid), received: counter.count, error: `${(err as Error).message}\n${dut.log().split("\n").slice(-15).join("\n")}` };
  } finally {
    await Promise.all([tester?.close(true), monitor?.close(true)]);
    await dut.stop();
  }
}

async function main(): Promise<void> {
  const device = arg("device") as DeviceName;
  if (!DEVICES.includes(device)) throw new Error(`bench: --device must be one of ${DEVICES.join(", ")}`);
  const n = Number(arg("n"));
  const perUpdate = Number(arg("per-update"));
  const runs = Number(arg("runs", "3"));
  const timeoutS = Number(arg("timeout", "120"));
  const firstRun = Number(arg("first-run", "1"));
  const cacheDir = arg("cache", "");
  const chunks = cacheDir ? cachedStream(cacheDir, n, perUpdate) : encodeStream(n, perUpdate, TESTER_NEXT_HOP, TESTER_AS);
  for (let r = firstRun; r < firstRun + runs; r++) {
    const res = await once(device, n, perUpdate, chunks, timeoutS, r);
    process.stdout.write(JSON.stringify(res) + "\n");
  }
}

/**
 * The encoded stream from `dir` when an earlier invocation left it there (so
 * interleaved single runs do not re-encode), else encoded now and saved.
 */
function cachedStream(dir: string, n: number, perUpdate: number): Uint8Array[] {
  const file = join(dir, `updates-${n}-${perUpdate}-${TESTER_NEXT_HOP}.bin`);
  if (!existsSync(file)) {
    const chunks = encodeStream(n, perUpdate, TESTER_NEXT_HOP, TESTER_AS);
    writeFileSync(`${file}.tmp`, Buffer.concat(chunks));
    renameSync(`${file}.tmp`, file);
    return chunks;
  }
  return splitMessages(new Uint8Array(readFileSync(file)));
}

/** Whole-message chunks of about `chunkBytes` from a byte stream of BGP messages. */
function splitMessages(all: Uint8Array, chunkBytes = 1 << 16): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0, off = 0;
  while (off < all.length) {
    off += (all[off + 16] << 8) | all[off + 17];
    if (off - start >= chunkBytes || off >= all.length) {
      out.push(all.subarray(start, off));
      start = off;
    }
  }
  return out;
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench/speaker: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
