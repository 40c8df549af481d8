// A --preload for an agent under Bun (bench/agent/bench.ts with AGENT_CMD): every 250 ms,
// one line of the process's RSS, JavaScriptCore's heap (size, capacity, extra memory:
// array buffers, WebAssembly memory, large strings) and cell count, appended to
// $HEAP_LOG_DIR/agent-PID.log (default /tmp). Where an agent's memory goes during a burst:
//   AGENT_CMD="node_modules/.bin/bun --preload bench/agent/heap-log.ts host/cli/main.ts" \
//     bun bench/agent/bench.ts --services 10000 --samples 30
import { heapStats } from "bun:jsc";
import { appendFileSync } from "node:fs";
import { join } from "node:path";

const file = join(process.env.HEAP_LOG_DIR ?? "/tmp", `agent-${process.pid}.log`);
const t0 = performance.now();
const mib = (n: number) => (n / 1048576).toFixed(1);
setInterval(() => {
  const h = heapStats();
  const m = process.memoryUsage();
  appendFileSync(file, `${((performance.now() - t0) / 1000).toFixed(1)} s rss=${mib(m.rss)} heap=${mib(h.heapSize)} capacity=${mib(h.heapCapacity)} extra=${mib(h.extraMemorySize)} arrayBuffers=${mib(m.arrayBuffers)} cells=${h.objectCount}\n`);
}, 250).unref();
