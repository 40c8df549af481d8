// A work queue of reconcile keys, in the manner of client-go's workqueue: a key is queued at
// most once; a key that changes while it is being reconciled runs once more afterwards (never
// twice at the same time); failures retry with exponential backoff a bounded number of times
// (the informers' periodic resync brings a given-up key back later).

export interface QueueOptions {
  /** Keys reconciled at the same time. */
  concurrency?: number;
  /** Retries after a failure before the key is dropped until its next event. */
  maxRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Reports a key given up after maxRetries (with the last error). */
  onGiveUp?: (key: string, err: unknown) => void;
  /**
   * Failures that say nothing about the key (the API server unreachable): retried with the
   * same backoff but never given up, so every key runs again once the outage ends.
   */
  isTransient?: (err: unknown) => boolean;
}

/** What a reconcile returns: nothing, or a request to run again later (no error, no retry count). */
export type ReconcileResult = void | { requeueAfterMs: number };

export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  /** Keys that were added while running: re-queued when their run ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private active = 0;
  private stopped = true;
  private idleWaiters: Array<() => void> = [];
  private readonly concurrency: number;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    readonly name: string,
    private readonly reconcile: (key: string) => Promise<ReconcileResult>,
    private readonly opts: QueueOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 4;
    this.maxRetries = opts.maxRetries ?? 8;
    this.baseDelayMs = opts.baseDelayMs ?? 50;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
  }

  start(): void {
    this.stopped = false;
    this.pump();
  }

  /** Stops taking keys and forgets everything queued (running reconciles finish on their own). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.head = 0;
    this.queued.clear();
    this.dirty.clear();
    this.failures.clear();
    this.notifyIdle();
  }

  add(key: string): void {
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after a delay; an earlier pending delay for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      if (!this.stopped) this.add(key);
    }, ms);
    (t as { unref?: () => void }).unref?.();
    this.timers.set(key, t);
  }

  /** Resolves once no reconcile is running (after stop(): the last writes have landed), or after timeoutMs. */
  async drain(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.active > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  /** True when nothing is queued, running, or waiting for a retry. */
  isIdle(): boolean {
    return this.length === 0 && this.active === 0 && this.timers.size === 0;
  }

  /** Resolves when the queue next becomes idle (tests and the benchmark use it). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    if (!this.isIdle() && !this.stopped) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.concurrency && this.head < this.queue.length) {
      const key = this.queue[this.head++];
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.queued.delete(key);
      this.running.add(key);
      this.active++;
      void this.runOne(key);
    }
  }

  private async runOne(key: string): Promise<void> {
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result && !this.stopped) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      if (n > this.maxRetries && !this.opts.isTransient?.(err)) {
        this.failures.delete(key);
        this.opts.onGiveUp?.(key, err);
      } else {
        this.failures.set(key, n);
        if (!this.stopped) this.addAfter(key, Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1)));
      }
    } finally {
      this.running.delete(key);
      this.active--;
      if (this.dirty.delete(key) && !this.stopped) this.add(key);
      this.pump();
      this.notifyIdle();
    }
  }
}
