// Kernel routes for the speaker's best paths, written through `ip -batch`:
// one `ip` process per burst of changes, never one per route. Every route
// carries our own protocol id, so we only ever replace, delete or flush
// routes we added ourselves.
import { spawn } from "node:child_process";

/**
 * Our rtnetlink protocol id (rt_protos): unused by the well-known daemons (zebra 11, bird 12,
 * babel 42, openr 99, and FRR's 186-197: 196 is FRR's "static", so a sart on an FRR host must
 * never flush it).
 */
export const SART_RT_PROTO = 83;

export interface FibRoute {
  /** "198.51.100.0/24" or "2001:db8::/48". */
  prefix: string;
  /** Empty: remove the route. More than one: an ECMP (multipath) route. */
  nextHops: string[];
}

export interface FibOptions {
  /** Kernel table id (254 is main). */
  table: number;
  protocol?: number;
  /** Run in this network namespace (`ip -n NS`). */
  netns?: string;
  /** Coalesce changes arriving within this many milliseconds into one batch. */
  batchDelayMs?: number;
  ipCommand?: string;
  /** Where failures are reported (default: stderr). */
  log?: (line: string) => void;
}

export interface FibCounters {
  batches: number;
  operations: number;
  failures: number;
}

interface BatchResult {
  failedLines: number[];
  stderr: string;
}

export class FibWriter {
  readonly counters: FibCounters = { batches: 0, operations: 0, failures: 0 };
  /** Latest wanted state per prefix since the last flush (later changes win). */
  private pending = new Map<string, string[]>();
  private installed = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly protocol: number;

  constructor(private readonly opts: FibOptions) {
    if (!Number.isInteger(opts.table) || opts.table < 1 || opts.table > 0xfffffffe) {
      throw new Error(`fib.table: must be a kernel table id between 1 and 4294967294, not ${opts.table}`);
    }
    this.protocol = opts.protocol ?? SART_RT_PROTO;
  }

  /** Removes routes a previous run left behind (crash, kill -9) before installing anything. */
  async start(): Promise<void> {
    await this.flushOurs();
  }

  /** Queues route changes; they reach the kernel in the next batch. */
  apply(routes: Iterable<FibRoute>): void {
    for (const r of routes) this.pending.set(r.prefix, r.nextHops);
    if (this.pending.size && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.opts.batchDelayMs ?? 10);
    }
  }

  /** Writes every queued change now; resolves when the kernel has them. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.pending;
    this.pending = new Map();
    this.running = this.running.then(() => this.write(batch));
    return this.running;
  }

  /** Removes every route we installed (on shutdown). */
  async stop(): Promise<void> {
    this.pending.clear();
    await this.flush();
    await this.flushOurs();
    this.installed.clear();
  }

  /** Prefixes currently installed by us, as far as the kernel accepted them. */
  routes(): string[] {
    return [...this.installed];
  }

  /** Deletes every route of our protocol in our table; `ip route flush` covers one family per process. */
  private async flushOurs(): Promise<void> {
    const line = `route flush table ${this.opts.table} proto ${this.protocol}`;
    await this.runBatch([line], "-4");
    await this.runBatch([line], "-6");
  }

  private async write(batch: Map<string, string[]>): Promise<void> {
    if (!batch.size) return;
    const prefixes: string[] = [];
    const lines: string[] = [];
    for (const [prefix, nextHops] of batch) {
      if (nextHops.length === 0) {
        if (!this.installed.has(prefix)) continue;
        lines.push(`route del ${prefix} table ${this.opts.table} proto ${this.protocol}`);
      } else {
        const via = nextHops.length === 1 ? `via ${nextHops[0]}` : nextHops.map((nh) => `nexthop via ${nh} weight 1`).join(" ");
        lines.push(`route replace ${prefix} table ${this.opts.table} proto ${this.protocol} ${via}`);
      }
      prefixes.push(prefix);
    }
    if (!lines.length) return;
    const result = await this.runBatch(lines);
    const failed = new Set(result.failedLines);
    prefixes.forEach((prefix, i) => {
      if (failed.has(i + 1)) return;
      if (batch.get(prefix)!.length) this.installed.add(prefix);
      else this.installed.delete(prefix);
    });
    this.counters.operations += lines.length;
    this.counters.failures += failed.size;
    if (failed.size) {
      const log = this.opts.log ?? ((line: string) => process.stderr.write(line + "\n"));
      log(`fib: ${failed.size} of ${lines.length} route changes failed in table ${this.opts.table}: ${result.stderr.trim().split("\n").slice(0, 3).join("; ")}`);
    }
  }

  /** Runs `ip -force -batch -` (keeps going past a failed line) and reports which lines failed. */
  private runBatch(lines: string[], family?: "-4" | "-6"): Promise<BatchResult> {
    this.counters.batches++;
    const args = [...(this.opts.netns ? ["-n", this.opts.netns] : []), ...(family ? [family] : []), "-force", "-batch", "-"];
    return new Promise((resolve, reject) => {
      const child = spawn(this.opts.ipCommand ?? "ip", args, { stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (d: string) => (stderr += d));
      child.on("error", (err) => reject(new Error(`fib: cannot run ip: ${err.message}`)));
      child.on("close", () => {
        // iproute2 reports a failed batch line as "Command failed -:N".
        const failedLines = [...stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1]));
        resolve({ failedLines, stderr });
      });
      child.stdin.end(lines.join("\n") + "\n");
    });
  }
}
