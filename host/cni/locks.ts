// Ordering of CNI calls inside the server: calls for one attachment run one at a time (a
// runtime should never overlap them, but a retry may arrive while the first is still
// running), calls for different attachments run concurrently, and GC runs alone, as the
// spec asks of runtimes: no ADD or DEL in flight while it runs.
export class CallLocks {
  private readonly tails = new Map<string, Promise<unknown>>();
  private inflight = 0;
  private exclusiveRun: Promise<unknown> | undefined;
  private drained: (() => void)[] = [];

  /** Runs `fn` after every earlier call for `key` (and any GC) has finished. */
  async forKey<T>(key: string, fn: () => Promise<T>): Promise<T> {
    while (this.exclusiveRun) await this.exclusiveRun.catch(() => {});
    this.inflight++;
    const prior = this.tails.get(key) ?? Promise.resolve();
    const run = prior.catch(() => {}).then(fn);
    this.tails.set(key, run);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === run) this.tails.delete(key);
      if (--this.inflight === 0) for (const d of this.drained.splice(0)) d();
    }
  }

  /** Runs `fn` once no keyed call is in flight; keyed calls arriving meanwhile wait for it. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.exclusiveRun) await this.exclusiveRun.catch(() => {});
    const run = (async () => {
      while (this.inflight > 0) await new Promise<void>((r) => this.drained.push(r));
      return await fn();
    })();
    this.exclusiveRun = run;
    try {
      return await run;
    } finally {
      this.exclusiveRun = undefined;
    }
  }
}
