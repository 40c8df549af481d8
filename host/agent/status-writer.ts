// Status patches to the store, coalesced per object: while a patch of an object waits
// or is in flight, later patches of it merge into the next one (the latest value of
// each field wins, a null still removes), so a burst of changes is a few writes. A
// failed write is retried with backoff; an object that is gone (404) is dropped.
// Deferred patches (per-advertisement marks, thousands in a burst) wait while the
// agent says it is busy (deferUntil), at most MAX_DEFER_MS: during a burst of new
// Services the API server's time goes to the controller, whose writes decide routes.
// They are kept by their owner in its own compact form and made when they are sent
// (DeferredPatches): ten thousand waiting patch objects were megabytes of an agent's peak.
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
}

/** Status patches an owner keeps until the writer asks for them (a burst's marks). */
export interface DeferredPatches {
  /** How many wait. */
  readonly waiting: number;
  /** The next patch to write, made now; undefined when none is left that still needs writing. */
  take(): Pending | undefined;
}

/** The longest a deferred patch waits for a quiet moment. */
const MAX_DEFER_MS = 30_000;

export interface StatusWriterOptions {
  store: Store;
  /** Writes the server refused (an unreachable server is the store's to report). */
  failures: FailureLog;
  /** Writes in flight at once. Default 16. */
  concurrency?: number;
}

const idOf = (kind: Kind, key: ObjectKey) => `${kind}/${key.namespace ?? ""}/${key.name}`;

export class StatusWriter {
  private readonly waiting = new Map<string, Pending>();
  private readonly deferred: DeferredPatches[] = [];
  /** Since when deferred patches have been waiting (0: none wait). */
  private deferredSince = 0;
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

  patch(kind: Kind, key: ObjectKey, status: unknown): void {
    if (this.stopped) return;
    this.queue({ kind, key, patch: status });
    this.pump();
  }

  /** An owner of deferred patches: asked for them once the wait is over (deferredAdded()). */
  addDeferred(source: DeferredPatches): void {
    this.deferred.push(source);
  }

  /** A deferred source has new patches: they go once the agent is not busy, or MAX_DEFER_MS after the first waited. */
  deferredAdded(): void {
    if (this.stopped) return;
    this.deferredSince ||= Date.now();
    this.pump();
  }

  private queue(p: Pending): void {
    const id = idOf(p.kind, p.key);
    const cur = this.waiting.get(id);
    this.waiting.set(id, cur ? { ...p, patch: composePatches(cur.patch, p.patch) } : p);
  }

  /** Deferred patches wait until then (the agent is busy with a burst); each call can push it further. */
  deferUntil(ms: number): void {
    this.deferUntilMs = Math.max(this.deferUntilMs, ms);
  }

  /** Resolves when nothing waits or is in flight. */
  idle(): Promise<void> {
    if (!this.waiting.size && !this.inFlight.size) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get pending(): number {
    return this.waiting.size + this.deferredWaiting() + this.inFlight.size;
  }

  private deferredWaiting(): number {
    let n = 0;
    for (const d of this.deferred) n += d.waiting;
    return n;
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.waiting.clear();
    this.deferred.length = 0;
    this.wakeIdle();
  }

  /** Whether deferred patches may go now; if not, a timer for when they may. */
  private deferralOver(): boolean {
    if (!this.deferredSince) return false;
    if (!this.deferredWaiting()) {
      this.deferredSince = 0;
      return false;
    }
    const now = Date.now();
    const until = Math.min(this.deferUntilMs, this.deferredSince + MAX_DEFER_MS);
    if (now >= until) return true;
    this.deferTimer ??= setTimeout(() => {
      this.deferTimer = undefined;
      this.pump();
    }, Math.max(1, until - now));
    return false;
  }

  private pump(): void {
    if (this.retryTimer) return; // backing off after a failure
    const limit = this.opts.concurrency ?? 16;
    for (const [id, p] of this.waiting) {
      if (this.inFlight.size >= limit) break;
      if (this.inFlight.has(id)) continue; // one write per object at a time: order is kept
      this.waiting.delete(id);
      this.start(id, p);
    }
    if (this.inFlight.size < limit && this.deferralOver()) {
      for (const d of this.deferred) {
        while (this.inFlight.size < limit) {
          const p = d.take();
          if (!p) break;
          const id = idOf(p.kind, p.key);
          if (this.inFlight.has(id) || this.waiting.has(id)) this.queue(p);
          else this.start(id, p);
        }
      }
      // All taken: the next mark starts a new wait.
      if (!this.deferredWaiting()) this.deferredSince = 0;
    }
    this.wakeIdle();
  }

  private start(id: string, p: Pending): void {
    this.inFlight.add(id);
    void this.write(id, p);
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
        this.waiting.set(id, newer ? { ...p, patch: composePatches(p.patch, newer.patch) } : p);
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
    if (this.waiting.size || this.inFlight.size || this.deferredWaiting()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
