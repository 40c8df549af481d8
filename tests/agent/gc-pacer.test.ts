// The agent's collection pacing (host/agent/gc-pacer.ts): young collections follow watch
// events, at most one per pace; a full one when the heap grew 8 MiB over its low point.
import { describe, expect, test } from "bun:test";
import { type Collector, GcPacer } from "../../host/agent/gc-pacer.ts";

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bun's own collector, with the heap size it reports scripted: what the pacer decides from. */
function scripted(sizes: number[]) {
  const calls: string[] = [];
  const c: Collector = {
    young: () => calls.push("young"),
    full: () => calls.push("full"),
    heapBytes: () => sizes.shift() ?? 0,
  };
  return { c, calls };
}

describe("GcPacer", () => {
  test("events in one pace are one young collection", async () => {
    const { c, calls } = scripted([40 * MiB, 40 * MiB, 40 * MiB]);
    const p = new GcPacer(c);
    for (let i = 0; i < 1000; i++) p.activity();
    await sleep(250);
    // 1000 events within one pace: one collection, well after the pace's timer ran.
    expect(calls).toEqual(["young"]);
    p.stop();
  });

  test("a full collection once the heap grew 8 MiB over its lowest point, then from the new low", async () => {
    // Start 40; after young collections: 36 (new low), 43, 44.5 (8.5 over the low: full), after it 38, 45 (7 over 38).
    const { c, calls } = scripted([40 * MiB, 36 * MiB, 43 * MiB, 44.5 * MiB, 38 * MiB, 45 * MiB]);
    const p = new GcPacer(c);
    for (let round = 0; round < 4; round++) {
      p.activity();
      await sleep(150);
    }
    expect(calls).toEqual(["young", "young", "young", "full", "young"]);
    expect([p.collections, p.fullCollections]).toEqual([4, 1]);
    p.stop();
  });

  test("under Bun, forRuntime gives a pacer on JavaScriptCore's collector", async () => {
    const p = (await GcPacer.forRuntime())!;
    expect(p).toBeInstanceOf(GcPacer);
    p.activity();
    await sleep(250);
    expect(p.collections).toBe(1);
    p.stop();
  });
});
