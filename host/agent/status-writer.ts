// Status patches to the store, coalesced per object: while a patch of an object waits
// or is in flight, later patches of it merge into the next one (the latest value of
// each field wins, a null still removes), so a burst of changes is a few writes. A
// failed write is retried with backoff; an object that is gone (404) is dropped.
// Deferrable patches (per-advertisement marks, thousands in a burst) wait while the
// agent says it is busy (deferUntil), at most MAX_DEFER_MS: during a burst of new
// Services the API server's time goes to the controller, whose writes decide routes.
import { type Kind, type ObjectKey, type Store, type StoreError, isNotFound } from "../kube/store.ts";
import type { FailureLog } from "./log.ts";

/** Merge patch `b` applied after `a`, as one patch: nulls are kept (they delete on the server). */
export function composePatches(a: unknown, b: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out && isObj(v) ? composePatches(out[k], v) : v;
  return out;
}

const SOURCE = "status writes";

interface Pending {
  kind: Kind;
  key: ObjectKey;
  patch: unknown;
  /** When it was first queued (deferrable ones wait at most MAX_DEFER_MS). */
  since: number;
}

/** The longest a deferrable patch waits for a quiet moment. */
const MAX_DEFER_MS = 30_000;

export interface StatusWriterOptions {
  store: Store;
  /** Writes the server refused (an unreachable server is the store's to report). */
  failures: FailureLog;
  /** Writes in flight at once. Default 16. */
  concurrency?: number;
}

export class StatusWriter {
  private readonly waiting = new Map<string, Pending>();
  /** Deferrable patches, oldest first. */
  private readonly deferred = new Map<string, Pending>();
  private deferUntilMs = 0;
  private deferTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly inFlight = new Set<string>();
  private readonly idleWaiters: (() => void)[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private backoffMs = 0;
  private stopped = false;
  writes = 0;
  failures = 0;

  constructor(private readonly opts: StatusWriterOptions) {}

  patch(kind: Kind, key: ObjectKey, status: unknown, opts: { deferrable?: boolean } = {}): void {
    if (this.stopped) return;
    const id = `${kind}/${key.namespace ?? ""}/${key.name}`;
    const queue = opts.deferrable && !this.waiting.has(id) ? this.deferred : this.waiting;
    const cur = queue.get(id);
    queue.set(id, { kind, key, patch: cur ? composePatches(cur.patch, status) : status, since: cur?.since ?? Date.now() });
    this.pump();
  }

  /** Deferrable patches wait until then (the agent is busy with a burst); each call can push it further. */
  deferUntil(ms: number): void {
    this.deferUntilMs = Math.max(this.deferUntilMs, ms);
  }

  /** Resolves when nothing waits or is in flight. */
  idle(): Promise<void> {
    if (!this.waiting.size && !this.inFlight.size) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get pending(): number {
    return this.waiting.size + this.deferred.size + this.inFlight.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.waiting.clear();
    this.deferred.clear();
    this.wakeIdle();
  }

  /** Moves deferrable patches whose wait is over to the queue; arms a timer for the next. */
  private release(): void {
    const now = Date.now();
    for (const [id, p] of this.deferred) {
      if (now < this.deferUntilMs && now - p.since < MAX_DEFER_MS) {
        if (!this.deferTimer) {
          this.deferTimer = setTimeout(() => {
            this.deferTimer = undefined;
            this.pump();
          }, Math.max(1, Math.min(this.deferUntilMs, p.since + MAX_DEFER_MS) - now));
        }
        return;
      }
      this.deferred.delete(id);
      const cur = this.waiting.get(id);
      this.waiting.set(id, cur ? { ...p, patch: composePatches(p.patch, cur.patch) } : p);
    }
  }

  private pump(): void {
    if (this.retryTimer) return; // backing off after a failure
    if (this.deferred.size) this.release();
    const limit = this.opts.concurrency ?? 16;
    for (const [id, p] of this.waiting) {
      if (this.inFlight.size >= limit) break;
      if (this.inFlight.has(id)) continue; // one write per object at a time: order is kept
      this.waiting.delete(id);
      this.inFlight.add(id);
      void this.write(id, p);
    }
    this.wakeIdle();
  }

  private async write(id: string, p: Pending): Promise<void> {
    try {
      await this.opts.store.patchStatus(p.kind, p.key, p.patch);
      this.writes++;
      this.backoffMs = 0;
      this.opts.failures.ok(SOURCE);
    } catch (e) {
      if (!isNotFound(e) && !this.stopped) {
        this.failures++;
        // No answer at all (status 0): the store's outage log says so, once.
        if ((e as StoreError).status !== 0) this.opts.failures.fail(SOURCE, `${p.kind} ${p.key.namespace ? `${p.key.namespace}/` : ""}${p.key.name}: ${(e as Error).message}`);
        // Put it back under anything newer, and retry after a while.
        const newer = this.waiting.get(id);
        this.waiting.set(id, { ...p, patch: newer ? composePatches(p.patch, newer.patch) : p.patch });
        this.backoffMs = Math.min(30_000, this.backoffMs ? this.backoffMs * 2 : 200);
        if (!this.retryTimer) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.pump();
          }, this.backoffMs);
        }
      }
    } finally {
      this.inFlight.delete(id);
      this.pump();
    }
  }

  private wakeIdle(): void {
    if (this.waiting.size || this.deferred.size || this.inFlight.size) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
