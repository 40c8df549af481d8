// bgperf-style propagation benchmark, all on loopback: our testers send IPv4 prefixes to the
// device under test, which re-advertises them to our monitors; the time runs from the first
// UPDATE byte written to every monitor holding every prefix. Scenarios:
//   single: 1 tester -> device -> 1 monitor, N prefixes (--mix worst|table)
//   peers:  T testers x N prefixes each -> device -> 1 monitor (bgperf2's many neighbours)
//   fanout: 1 tester, N prefixes -> device -> M monitors
// Memory: the device's VmRSS with its sessions up before and after the scenario's group of
// peers (the testers in `peers`, the monitors in `fanout`) connects, before any route: the
// difference per peer is the memory per extra peer; and its peak (VmHWM) at the end.
// One JSON line per run on stdout.
//
//   bun bench/speaker/bench.ts --device bird --scenario single --mix table --n 1000000
//     [--per-update 4] [--testers 100] [--monitors 50] [--timeout 300] [--run K] [--cache DIR]
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loopbackBlock, sleep } from "../../tests/helpers/net.ts";
import { peakRss, rss } from "../../tests/helpers/proc.ts";
import { RawPeer } from "../../tests/helpers/raw-peer.ts";
import { DEVICES, TESTER_NEXT_HOP, monitor, startDevice, tester, type DeviceName } from "./devices.ts";
import { PrefixCounter } from "./monitor.ts";
import { encodeStream, type Mix } from "./updates.ts";

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (def === undefined) throw new Error(`bench: --${name} is required`);
  return def;
}

export const SCENARIOS = ["single", "peers", "fanout"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** What a run is: the same in its setup and its result. */
interface RunKey {
  device: DeviceName;
  scenario: Scenario;
  mix: Mix;
  perUpdate: number;
  testers: number;
  monitors: number;
  run: number;
}

export interface RunResult extends RunKey {
  /** Prefixes in all (testers x prefixes each). */
  n: number;
  seconds: number | null;
  prefixesPerSecond: number | null;
  peakRssBytes: number;
  /** VmRSS before and after the scenario's group of peers came up (no routes yet). */
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** (after - before) / the group's size: testers for `peers`, monitors for `fanout`. */
  bytesPerPeer: number | null;
  /** The fewest prefixes any monitor held at the end. */
  received: number;
  load: string;
  error?: string;
}

interface Setup extends RunKey {
  /** Prefixes per tester. */
  n: number;
  timeoutS: number;
}

const loadAvg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** Waits (bounded) until every peer is Established; a session closed before that fails at once. */
async function connect(peers: RawPeer[], what: string): Promise<void> {
  const up = await Promise.race([Promise.all(peers.map((p) => p.established)).then(() => true), sleep(120000).then(() => false)]);
  if (!up) throw new Error(`${what}: not all Established within 120 s`);
}

async function once(s: Setup, streams: Uint8Array[][]): Promise<RunResult> {
  const a = loopbackBlock();
  const dut = await startDevice(s.device, a, s.testers, s.monitors);
  const total = s.n * s.testers;
  const counters = Array.from({ length: s.monitors }, () => new PrefixCounter());
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const peers: RawPeer[] = [];
  const base = { device: s.device, scenario: s.scenario, mix: s.mix, n: total, perUpdate: s.perUpdate, testers: s.testers, monitors: s.monitors, run: s.run };
  let before = 0, after = 0;
  const received = () => Math.min(...counters.map((c) => c.count));
  try {
    // A RawPeer connects as it is made: each group is made when its turn comes.
    const startMonitors = () => counters.map((counter, j) => {
      const m = monitor(j);
      return new RawPeer({
        host: a(2), port: dut.port, localAddress: a(m.host), asn: m.asn, routerId: m.routerId,
        onMessage: (type, msg) => {
          if (type !== 2) return;
          counter.update(msg);
          if (counter.count >= total && received() >= total) done();
        },
      });
    });
    const startTesters = () => streams.map((_, i) => {
      const t = tester(i);
      return new RawPeer({ host: a(2), port: dut.port, localAddress: a(t.host), asn: t.asn, routerId: t.routerId });
    });
    // The group whose memory is measured comes up last, after a settled baseline.
    // End-of-RIBs, first KEEPALIVEs, the runtime's own settling; longer where memory is read.
    const settle = () => sleep(s.scenario === "single" ? 300 : 1000);
    let testers: RawPeer[];
    if (s.scenario === "fanout") {
      testers = startTesters();
      peers.push(...testers);
      await connect(testers, "tester");
      await settle();
      before = rss(dut.pid);
      const monitors = startMonitors();
      peers.push(...monitors);
      await connect(monitors, `${monitors.length} monitors`);
    } else {
      const monitors = startMonitors();
      peers.push(...monitors);
      await connect(monitors, "monitor");
      await settle();
      before = rss(dut.pid);
      testers = startTesters();
      peers.push(...testers);
      await connect(testers, `${testers.length} testers`);
    }
    await settle();
    after = rss(dut.pid);
    const t0 = performance.now();
    const sending = Promise.all(testers.map(async (t, i) => {
      for (const c of streams[i]) await t.write(c);
    }));
    const outcome = await Promise.race([
      all.then(() => "done"),
      sleep(s.timeoutS * 1000).then(() => "timeout"),
      ...peers.map((p) => p.closed.then(() => "a session closed")),
    ]);
    const seconds = (performance.now() - t0) / 1000;
    await Promise.race([sending.catch(() => {}), sleep(1000)]);
    const groupSize = s.scenario === "fanout" ? s.monitors : s.scenario === "peers" ? s.testers : 0;
    const mem = { peakRssBytes: peakRss(dut.pid), rssBeforeBytes: before, rssAfterBytes: after, bytesPerPeer: groupSize ? (after - before) / groupSize : null, received: received(), load: loadAvg() };
    if (outcome !== "done") {
      return { ...base, ...mem, seconds: null, prefixesPerSecond: null, error: `${outcome} after ${seconds.toFixed(1)} s with ${received()}/${total} at the slowest monitor` };
    }
    return { ...base, ...mem, seconds, prefixesPerSecond: total / seconds };
  } catch (err) {
    return {
      ...base, seconds: null, prefixesPerSecond: null, peakRssBytes: peakRss(dut.pid), rssBeforeBytes: before, rssAfterBytes: after, bytesPerPeer: null,
      received: received(), load: loadAvg(), error: `${(err as Error).message}\n${dut.log().split("\n").slice(-15).join("\n")}`,
    };
  } finally {
    await Promise.all(peers.map((p) => p.close(true)));
    await dut.stop();
  }
}

/** Tester i's encoded stream, from `dir` when an earlier invocation left it there (interleaved rounds do not re-encode). */
function stream(dir: string, i: number, n: number, mix: Mix, perUpdate: number): Uint8Array[] {
  const spec = { first: i * n, n, mix, perUpdate, nextHop: TESTER_NEXT_HOP, testerAs: tester(i).asn };
  if (!dir) return encodeStream(spec);
  const file = join(dir, `updates-${mix}-${spec.first}-${n}-${perUpdate}-${spec.testerAs}.bin`);
  if (!existsSync(file)) {
    const chunks = encodeStream(spec);
    mkdirSync(dir, { recursive: true });
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

async function main(): Promise<void> {
  const device = arg("device") as DeviceName;
  if (!DEVICES.includes(device)) throw new Error(`bench: --device must be one of ${DEVICES.join(", ")}`);
  const scenario = arg("scenario", "single") as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`bench: --scenario must be one of ${SCENARIOS.join(", ")}`);
  const mix = arg("mix", "table") as Mix;
  if (mix !== "worst" && mix !== "table") throw new Error("bench: --mix must be worst or table");
  const setup: Setup = {
    device, scenario, mix,
    n: Number(arg("n")),
    perUpdate: Number(arg("per-update", "4")),
    testers: scenario === "peers" ? Number(arg("testers", "100")) : 1,
    monitors: scenario === "fanout" ? Number(arg("monitors", "50")) : 1,
    timeoutS: Number(arg("timeout", "120")),
    run: Number(arg("run", "1")),
  };
  const cache = arg("cache", "");
  const streams = Array.from({ length: setup.testers }, (_, i) => stream(cache, i, setup.n, mix, setup.perUpdate));
  process.stdout.write(JSON.stringify(await once(setup, streams)) + "\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench/speaker: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
