// KubeInformer: one kind's cache kept current by list+watch over KubeStore's transport
// (plain HTTP(S), ./kube-http.ts), with the semantics client-go's reflector has and the
// Store interface promises (./store.ts):
// - the first list is delivered as ADDED; start() resolves once it has been;
// - then a watch from the list's resourceVersion, with bookmarks requested and a bounded
//   server-side timeout (idle watches keep a fresh resourceVersion and cycle); a watch the
//   server ends is resumed from the last resourceVersion seen, without a list;
// - 410 Gone (an ERROR event in the stream, or the HTTP status) means the history to
//   resume from is gone: list again, and deliver the difference (DELETED for objects that
//   went, ADDED for new ones, MODIFIED for changed ones);
// - any other failure, or a watch ended within a second with no event, restarts with
//   bounded exponential backoff (an unreachable server is reported once per outage by the
//   store's OutageLog); a list, or a watch's first event, resets the backoff;
// - label and field selectors go to the server; resync re-delivers the cache as MODIFIED.
// Cached objects are the server's JSON minus metadata.managedFields (nothing in sart
// reads them; they are often the larger part of an object from a real API server), and
// what the informer's `transform` makes of them; with `updateInPlace`, a new version is
// written into the cached object (events then carry the previous version in `old`).
import type { WatchStream } from "./kube-http.ts";
import {
  StoreError,
  deepEqual,
  isUnreachable,
  matchesLabelSelector,
  type Informer,
  type InformerOptions,
  type Kind,
  type KubeObject,
  type ListOptions,
  type ObjectKey,
  type WatchEvent,
  type WatchEventType,
} from "./store.ts";
import { KINDS, keyNamespace } from "./types.ts";

/** What an informer needs of its store. */
export interface InformerSource {
  readonly opts: { backoffMs?: { initial: number; max: number }; watchTimeoutSeconds?: [number, number] };
  readonly outage: { failed(err: unknown): void };
  listWithVersion(kind: Kind, namespace: string | undefined, labelSelector: string | undefined, fieldSelector?: string): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  /** Opens a watch (the query has watch=true, resourceVersion, selectors); fails with a StoreError (status 410: expired). */
  watch(kind: Kind, namespace: string | undefined, query: URLSearchParams, onLine: (line: string) => void, idleMs: number): Promise<WatchStream>;
  forgetInformer(inf: KubeInformer<KubeObject>): void;
  log(message: string): void;
}

/** The watch was told its resourceVersion is too old (410 Gone): list again. */
class Expired extends Error {}

/** A watch that ends sooner than this with no event is a failure (as client-go's "very short watch"). */
const SHORT_WATCH_MS = 1000;

export class KubeInformer<T extends KubeObject> implements Informer<T> {
  private readonly handlers: ((e: WatchEvent<T>) => void)[] = [];
  /** Namespace ("" for cluster-scoped kinds) -> name -> object: no key strings built per lookup. */
  private readonly cache = new Map<string, Map<string, T>>();
  private resourceVersion = "";
  private running = false;
  private synced?: Promise<void>;
  private resolveSynced?: () => void;
  private rejectSynced?: (e: Error) => void;
  private backoffMs: number;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private wakeRestart?: () => void;
  private resyncTimer?: ReturnType<typeof setInterval>;
  private stream?: WatchStream;
  private readonly namespace: string | undefined;
  /** Errors seen since the informer was made (restarts), for logs and tests. */
  errors = 0;

  constructor(
    private readonly store: InformerSource,
    private readonly kind: Kind,
    private readonly opts: InformerOptions,
  ) {
    this.backoffMs = this.firstBackoffMs;
    this.namespace = KINDS[kind].namespaced ? opts.namespace : undefined;
  }

  private get firstBackoffMs(): number {
    return this.store.opts.backoffMs?.initial ?? 200;
  }

  on(handler: (event: WatchEvent<T>) => void): void {
    this.handlers.push(handler);
  }

  start(): Promise<void> {
    if (this.synced) return this.synced;
    this.synced = new Promise<void>((resolve, reject) => {
      this.resolveSynced = resolve;
      this.rejectSynced = reject;
    });
    this.synced.catch(() => {}); // stop() before the first list must not become an unhandled rejection
    this.running = true;
    void this.run();
    const resyncMs = this.opts.resyncMs ?? 300_000;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        for (const byName of this.cache.values()) for (const o of byName.values()) this.deliver("MODIFIED", o);
      }, resyncMs);
      this.resyncTimer.unref?.();
    }
    return this.synced;
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.wakeRestart?.();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.stream?.abort();
    this.rejectSynced?.(new Error(`informer ${this.kind} stopped before its first list`));
    this.store.forgetInformer(this as unknown as KubeInformer<KubeObject>);
  }

  get(key: ObjectKey): T | undefined {
    return this.cache.get(keyNamespace(this.kind, key.namespace) ?? "")?.get(key.name);
  }

  list(opts: ListOptions = {}): T[] {
    const out: T[] = [];
    const maps = opts.namespace ? [this.cache.get(opts.namespace)] : this.cache.values();
    for (const byName of maps) {
      for (const o of byName?.values() ?? []) {
        if (!opts.labelSelector || matchesLabelSelector(o.metadata.labels, opts.labelSelector)) out.push(o);
      }
    }
    return out;
  }

  /** List (when there is no resourceVersion to resume from), watch, again, until stopped. */
  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (!this.resourceVersion) await this.relist();
        await this.watchOnce();
      } catch (e) {
        if (!this.running) return;
        if (e instanceof Expired) {
          this.resourceVersion = "";
          continue;
        }
        await this.backoffAfter(e);
      }
    }
  }

  private async relist(): Promise<void> {
    const list = await this.store.listWithVersion(this.kind, this.namespace, this.opts.labelSelector, this.opts.fieldSelector);
    if (!this.running) return;
    this.backoffMs = this.firstBackoffMs; // a list got through: the server is back
    const items = list.items.map((o) => this.prepare(o));
    // As client-node's ListWatch: what went first (DELETED), then what is new or changed.
    const listed = new Map<string, Set<string>>();
    for (const o of items) {
      const ns = o.metadata.namespace ?? "";
      let names = listed.get(ns);
      if (!names) listed.set(ns, (names = new Set()));
      names.add(o.metadata.name);
    }
    for (const [ns, byName] of this.cache) {
      for (const [name, o] of byName) {
        if (listed.get(ns)?.has(name)) continue;
        this.remove(o);
        this.deliver("DELETED", o);
      }
    }
    for (const o of items) this.upsert(o);
    this.resourceVersion = list.resourceVersion;
    this.resolveSynced?.();
  }

  /** One watch from the current resourceVersion, until the server ends it (or 410, or a failure). */
  private async watchOnce(): Promise<void> {
    const [lo, hi] = this.store.opts.watchTimeoutSeconds ?? [300, 600];
    const timeoutSeconds = lo + Math.floor(Math.random() * (hi - lo + 1));
    const q = new URLSearchParams({ watch: "true", resourceVersion: this.resourceVersion, allowWatchBookmarks: "true", timeoutSeconds: String(timeoutSeconds) });
    if (this.opts.labelSelector) q.set("labelSelector", this.opts.labelSelector);
    if (this.opts.fieldSelector) q.set("fieldSelector", this.opts.fieldSelector);
    let failure: Error | undefined;
    let events = 0;
    const openedAt = performance.now();
    let stream: WatchStream;
    try {
      stream = await this.store.watch(this.kind, this.namespace, q, (line) => {
        if (failure || !this.running) return;
        try {
          this.onLine(line);
          // The server answers with events again: the next failure starts from the first delay.
          if (!events++) this.backoffMs = this.firstBackoffMs;
        } catch (e) {
          failure = e as Error;
          stream?.abort();
        }
      }, (timeoutSeconds + 30) * 1000);
    } catch (e) {
      if (e instanceof StoreError && e.status === 410) throw new Expired();
      throw e;
    }
    this.stream = stream;
    // Lines may arrive before the stream is handed over: a failure among them, or a stop, ends it now.
    if (!this.running || failure) stream.abort();
    try {
      await stream.done;
    } finally {
      this.stream = undefined;
    }
    if (failure) throw failure;
    // Ended at once with nothing in it (a server shutting down, a proxy cutting streams):
    // resuming right away would loop as fast as the server answers.
    if (!events && this.running && performance.now() - openedAt < SHORT_WATCH_MS) {
      throw new StoreError(`watch ${this.kind}: ended at once with no event`, 200, this.kind);
    }
  }

  private onLine(line: string): void {
    let ev: { type?: string; object?: KubeObject & { code?: number; message?: string } };
    try {
      ev = JSON.parse(line);
    } catch {
      throw new Error(`watch ${this.kind}: not a JSON event: ${line.slice(0, 120)}`);
    }
    const obj = ev.object;
    if (!obj) return;
    switch (ev.type) {
      case "ADDED":
      case "MODIFIED":
        this.upsert(this.prepare(obj));
        break;
      case "DELETED": {
        const o = this.prepare(obj);
        this.remove(o);
        this.deliver("DELETED", o);
        break;
      }
      case "BOOKMARK":
        break;
      case "ERROR":
        if (obj.code === 410) throw new Expired();
        throw new StoreError(`watch ${this.kind}: ${obj.message ?? "error event"}`, obj.code ?? 500, this.kind);
      default:
        return;
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
  }

  /** Into the cache: a new object is ADDED, a changed one (another resourceVersion) MODIFIED. */
  private upsert(o: T): void {
    const ns = o.metadata.namespace ?? "";
    let byName = this.cache.get(ns);
    if (!byName) this.cache.set(ns, (byName = new Map()));
    const old = byName.get(o.metadata.name);
    if (old && old.metadata.resourceVersion === o.metadata.resourceVersion) return;
    if (old && this.opts.updateInPlace) {
      const before = updateInPlace(old as unknown as Json, o as unknown as Json);
      this.deliver("MODIFIED", old, before as unknown as T);
      return;
    }
    byName.set(o.metadata.name, o);
    this.deliver(old ? "MODIFIED" : "ADDED", o);
  }

  private remove(o: T): void {
    const ns = o.metadata.namespace ?? "";
    const byName = this.cache.get(ns);
    if (byName?.delete(o.metadata.name) && !byName.size) this.cache.delete(ns);
  }

  /** The object as the cache keeps it: kind and apiVersion set (list items lack them), no managedFields, transformed. */
  private prepare(o: KubeObject): T {
    // Always the kind's own strings: one copy for the whole cache.
    o.kind = this.kind;
    o.apiVersion = KINDS[this.kind].apiVersion;
    const meta = o.metadata as KubeObject["metadata"] & { managedFields?: unknown };
    if (meta?.managedFields) delete meta.managedFields;
    return (this.opts.transform ? this.opts.transform(o) : o) as T;
  }

  private async backoffAfter(err: unknown): Promise<void> {
    this.errors++;
    const delay = this.backoffMs;
    const max = this.store.opts.backoffMs?.max ?? 30_000;
    this.backoffMs = Math.min(max, this.backoffMs * 2);
    const status = err instanceof StoreError ? err.status : undefined;
    if (status === undefined || isUnreachable(err)) {
      // No answer (a failed list, or a watch that could not connect or broke): one line per outage for every informer.
      this.store.outage.failed(err);
    } else {
      this.store.log(`informer ${this.kind}: ${(err as Error)?.message ?? String(err)}${typeof status === "number" ? ` (HTTP ${status})` : ""}; restarting in ${delay} ms`);
    }
    await new Promise<void>((resolve) => {
      this.wakeRestart = resolve;
      this.restartTimer = setTimeout(resolve, delay * (0.8 + Math.random() * 0.4));
    });
    this.restartTimer = this.wakeRestart = undefined;
  }

  private deliver(type: WatchEventType, object: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(old ? { type, object, old } : { type, object });
      } catch (e) {
        console.error(`informer ${this.kind}: handler failed on ${type} ${object.metadata?.name}:`, e);
      }
    }
  }
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Writes `next` (a new version of a cached object, fresh from JSON.parse) into `cur`, the
 * cached object, member by member, keeping `cur`'s members where they are equal
 * (InformerOptions.updateInPlace). Returns what `cur` was before: `cur` itself when nothing
 * changed, else a copy of each container that changed, sharing the unchanged members.
 * Why: most events change a few fields (a status entry, the resourceVersion); a cache that
 * replaces whole objects keeps each version until the object's next event, long enough to
 * outlive a young collection, and piles them up as old garbage (10,000 Services: ~50,000
 * events per agent). Here the new parse and the returned copy die young.
 */
export function updateInPlace(cur: Json, next: Json): Json {
  let before: Json | undefined;
  // The shallow copy is taken before the first write to `cur`'s own members.
  const copy = () => (before ??= { ...cur });
  // for-in, not Object.keys: no arrays made for the two objects of every member, every event.
  for (const k in next) {
    const n = next[k];
    const c = cur[k];
    if (n === c) continue;
    if (isRecord(n) && isRecord(c)) {
      const was = updateInPlace(c, n);
      if (was !== c) copy()[k] = was;
      continue;
    }
    if (deepEqual(n, c)) continue;
    copy();
    cur[k] = n;
  }
  for (const k in cur) {
    if (Object.hasOwn(next, k)) continue;
    copy();
    delete cur[k];
  }
  return before ?? cur;
}
