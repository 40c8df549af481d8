// Collections paced to watch traffic, under Bun. A burst of events (10,000 Services are
// ~50,000 watch events per agent, each a parsed object) leaves garbage that JavaScriptCore
// collects late: its young budget grows with the heap (the core's WebAssembly memory counts
// in it), and what survives one young collection waits for a full one. While events arrive,
// a young collection runs at most every PACE_MS (~3 ms each), and a full one whenever the
// heap has grown FULL_STEP_BYTES since the lowest it was after one; with no events, none
// runs. Measured in bench/RESULTS.md (agent section). Under Node nothing is needed:
// build/bin/sart gives the agent a small V8 young generation.

/** At most one young collection this often while events arrive. */
const PACE_MS = 100;
/** A full collection when the heap grew this much since its low point. */
const FULL_STEP_BYTES = 8 * 1024 * 1024;

export interface Collector {
  young(): void;
  full(): void;
  heapBytes(): number;
}

export class GcPacer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The heap's size after the last full collection, or lower since. */
  private low: number;
  collections = 0;
  fullCollections = 0;

  constructor(private readonly gc: Collector) {
    this.low = gc.heapBytes();
  }

  /** A pacer for this runtime: Bun's collector; undefined under Node. */
  static async forRuntime(): Promise<GcPacer | undefined> {
    if (typeof (globalThis as { Bun?: unknown }).Bun === "undefined") return undefined;
    const { edenGC, fullGC } = await import("bun:jsc");
    // Not bun:jsc's heapSize(), which answers 0 (Bun 1.4); heapUsed is JavaScriptCore's heap size.
    return new GcPacer({ young: edenGC, full: fullGC, heapBytes: () => process.memoryUsage().heapUsed });
  }

  /** Something was allocated for an event: a collection follows within PACE_MS. */
  activity(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.collect();
    }, PACE_MS);
    this.timer.unref?.();
  }

  private collect(): void {
    this.gc.young();
    this.collections++;
    const size = this.gc.heapBytes();
    if (size < this.low) this.low = size;
    if (size - this.low < FULL_STEP_BYTES) return;
    this.gc.full();
    this.fullCollections++;
    this.low = this.gc.heapBytes();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
