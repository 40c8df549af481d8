// Memory at a full table: 1,000,000 IPv4 prefixes from two peers (one with a
// distinct AS_PATH per 4 prefixes, one with a single attribute set), exported
// to a third. Reports linear-memory bytes per prefix; asserts a generous bound
// (no timing assertions).
import { expect, test } from "bun:test";
import { Rib } from "../../host/core/rib.ts";
import { freshCore } from "./wire.ts";

const N = 1_000_000;

/** UPDATEs for N /32s in 100.64.0.0/10, `perMessage` each; distinctPaths: one AS_PATH per message. */
function stream(perMessage: number, firstAs: number, distinctPaths: boolean, nextHop: number): Uint8Array {
  const attrLen = 4 + (3 + 2 + 8) + 7;
  const msgLen = 23 + attrLen + 5 * perMessage;
  const messages = Math.ceil(N / perMessage);
  const buf = new Uint8Array(messages * msgLen);
  const dv = new DataView(buf.buffer);
  let o = 0;
  let k = 0;
  for (let m = 0; m < messages; m++) {
    const count = Math.min(perMessage, N - k);
    const len = 23 + attrLen + 5 * count;
    buf.fill(0xff, o, o + 16);
    dv.setUint16(o + 16, len);
    buf[o + 18] = 2;
    dv.setUint16(o + 19, 0);
    dv.setUint16(o + 21, attrLen);
    let a = o + 23;
    buf.set([0x40, 1, 1, 0], a);
    a += 4;
    buf.set([0x40, 2, 10, 2, 2], a);
    dv.setUint32(a + 5, firstAs);
    dv.setUint32(a + 9, distinctPaths ? 4200000000 + m : 4200000000);
    a += 13;
    buf.set([0x40, 3, 4], a);
    dv.setUint32(a + 3, nextHop);
    a += 7;
    for (let i = 0; i < count; i++, k++) {
      buf[a] = 32;
      dv.setUint32(a + 1, (0x64400000 + k) >>> 0);
      a += 5;
    }
    o += len;
  }
  return buf.subarray(0, o);
}

function feedAll(rib: Rib, peer: number, bytes: Uint8Array): void {
  const CHUNK = 65536; // one call per TCP read
  for (let i = 0; i < bytes.length; i += CHUNK) {
    const events = rib.feed(peer, bytes.subarray(i, i + CHUNK));
    if (events.length) throw new Error(`unexpected events: ${JSON.stringify(events)}`);
  }
}

test("1,000,000 prefixes from two peers plus an Adj-RIB-Out stay compact", () => {
  const core = freshCore();
  const rib = new Rib(core);
  rib.setGlobal({ asn: 65000, routerId: "192.0.2.1" });
  const a = rib.addPeer({ asn: 65001, address: "192.0.2.11", routerId: "10.0.0.11" });
  const b = rib.addPeer({ asn: 65002, address: "192.0.2.12", routerId: "10.0.0.12" });
  const monitor = rib.addPeer({ asn: 65003, address: "192.0.2.13", routerId: "10.0.0.13", export: "all" });
  for (const p of [a, b, monitor]) rib.peerUp(p, { as4: true, ipv4: true, ipv6: false, nextHopV4: "192.0.2.1" });
  rib.exportFor(monitor); // End-of-RIB of the empty table: the monitor is now following changes
  const fromA = stream(4, 65001, true, 0xc000020b);
  const fromB = stream(500, 65002, false, 0xc000020c);
  const before = core.memory.buffer.byteLength;

  feedAll(rib, a, fromA);
  feedAll(rib, b, fromB);
  let exported = 0;
  let messages = 0;
  for (let c = rib.exportChunk(monitor); c; c = rib.exportChunk(monitor)) {
    exported += c.length;
    for (let p = 0; p < c.length; p += (c[p + 16] << 8) | c[p + 17]) messages++;
  }
  const after = core.memory.buffer.byteLength;
  const stats = rib.stats();
  expect(stats.ipv4Prefixes).toBe(N);
  expect(stats.paths).toBe(2 * N);
  expect(stats.attributeSets).toBe(N / 4 + 1);
  expect(rib.peerCounters(monitor).advertised).toBe(N);
  expect(rib.peerCounters(a).accepted).toBe(N);
  const perPrefix = (after - before) / N;
  console.log(
    `rib scale: ${N} prefixes, ${stats.paths} paths, ${stats.attributeSets} attribute sets; ` +
      `linear memory ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB = ${perPrefix.toFixed(1)} bytes/prefix ` +
      `(${(perPrefix / 2).toFixed(1)} per path incl. Adj-RIB-Out); RIB structures ${(stats.bytes / 2 ** 20).toFixed(1)} MiB; ` +
      `export ${messages} UPDATEs, ${(exported / 2 ** 20).toFixed(1)} MiB; process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
  // two paths per prefix plus an Adj-RIB-Out entry: well under 400 MB for the whole process
  expect(after).toBeLessThan(300 * 2 ** 20);
  expect(perPrefix).toBeLessThan(200);
});
