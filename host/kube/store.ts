// The store interface the reconcilers are written against. Two implementations:
// KubeStore (host/kube/kube-store.ts, JSON over HTTP(S) to the API server) and
// LocalStore (host/kube/local-store.ts, CRD YAML in a directory + a state file).
// Leader election over either store: host/kube/leader.ts.
//
// Changes since the skeleton (all compatible; owner: the store helper):
// - `patch` / `patchStatus` take an optional `{ resourceVersion }`: the write then
//   fails with ConflictError unless the object is still at that version.
// - `patchStatus(kind, key, status)`: `status` is the merge patch of `.status`
//   (the store wraps it as `{status: ...}`). Kinds without a status subresource
//   (EndpointSlice, Event, Lease) answer 404, as the API server does.
// - `informer(kind, { labelSelector })` watches only matching objects; an object
//   that stops matching arrives as DELETED, one that starts matching as ADDED.
//   `transform` slims what KubeStore's caches keep.
// - Informer cache objects (`get`, `list`, event objects) are shared: treat them
//   as read-only and copy (structuredClone) before modifying and writing back.
// - StoreError carries `kind`, `key` and `reason` (the API's Status reason,
//   e.g. "NotFound", "AlreadyExists", "Conflict", "Invalid") besides `status`.
//   New subclass InvalidError (422). `isNotFound/isConflict/isAlreadyExists`.
// - Helpers: `retryOnConflict(fn, attempts)`, `matchesLabelSelector`,
//   `describeObject`, `microTime` (Lease/Event MicroTime), `rfc3339` (Time),
//   `mergePatch` (RFC 7386), `EventRecorder` (dedupes repeated Events by count).
// - Semantics both stores share (the API server's): create ignores `.status` of
//   kinds with a status subresource (Node keeps it, as the API server lets
//   kubelets do); update/patch of the main resource ignore `.status` of those
//   kinds; `patchStatus` changes only `.status`; a no-op write does not bump
//   resourceVersion; `metadata.generation` increments on spec changes only;
//   delete with finalizers sets `deletionTimestamp`, and the object goes away
//   when an update removes the last finalizer. Custom resources need
//   metadata.resourceVersion on update (422 without). tests/kube/store-contract.ts
//   runs these rules on both stores.
//
// Making a store:
// - `await LocalStore.open({ dir, stateFile?, component? })`, `close()`: one
//   store per state file (a pid lock file refuses a second writer).
// - `new KubeStore(kc, { component?, host?, backoffMs?, keepAlive? })` (kc: our
//   KubeConfigFile or client-node's KubeConfig) or `KubeStore.fromConfig({ kubeconfig?,
//   context? })`, `close()` stops its informers; `loadKubeConfig()` (./kubeconfig.ts)
//   finds the API server.
// - `new LeaderElector({ store, lease, identity, ... })` (./leader.ts).

import type { CustomKind, LabelSelector } from "./types.ts";

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

export interface KubeObject<Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
}

/** Every kind the store serves: our CRDs (CustomKind, ./types.ts) plus the core kinds the controller and agent read or write. */
export type Kind =
  | CustomKind
  | "Service"
  | "Node"
  | "Pod"
  | "Namespace"
  | "EndpointSlice"
  | "Event"
  | "Lease"
  | "Secret";

export interface ObjectKey {
  name: string;
  namespace?: string;
}

export interface ListOptions {
  namespace?: string;
  /** Label selector: "a=b,c!=d,e,!f,g in (x,y),h notin (z)". */
  labelSelector?: string;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** Field equalities, e.g. "spec.nodeName=node1" (comma-separated): sent to the API server; LocalStore matches the dotted paths. */
  fieldSelector?: string;
  /** Period of the resync (every cached object re-delivered as MODIFIED); 0 disables. Default 5 min. */
  resyncMs?: number;
  /**
   * What the cache keeps of each object, e.g. only the fields its reader uses (the agent holds
   * every BGPAdvertisement of the cluster). KubeStore applies it to every object it receives,
   * before handlers see it; LocalStore's informers hand out its own state and ignore it.
   */
  transform?: (obj: KubeObject) => KubeObject;
  /**
   * A new version of a cached object is written into the cached object (after the transform):
   * the object keeps its identity, and MODIFIED events carry the version before in `old`
   * (a young copy of what changed, sharing the rest). For a cache of many objects that change
   * often (the agent's BGPAdvertisements: ~5 events each): what an event leaves behind is what
   * changed, not a whole version. Handlers must not keep a cached object as a snapshot.
   * KubeStore only; LocalStore hands out its own state.
   */
  updateInPlace?: boolean;
}

export interface WriteOptions {
  /** Precondition: fail with ConflictError unless the object is at this resourceVersion. */
  resourceVersion?: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
  /** MODIFIED, from an informer with updateInPlace: the object as it was before this event. */
  old?: T;
}

/**
 * A cache of one kind kept current by list+watch. `start()` resolves once the
 * initial list has been delivered (as ADDED events) and the cache is synced.
 * Handlers also receive periodic resyncs as MODIFIED events for every cached object.
 */
export interface Informer<T extends KubeObject = KubeObject> {
  on(handler: (event: WatchEvent<T>) => void): void;
  start(): Promise<void>;
  stop(): void;
  get(key: ObjectKey): T | undefined;
  list(opts?: ListOptions): T[];
}

export interface Store {
  get<T extends KubeObject>(kind: Kind, key: ObjectKey): Promise<T | undefined>;
  list<T extends KubeObject>(kind: Kind, opts?: ListOptions): Promise<T[]>;
  /** Creates; metadata.generateName is honoured. Throws AlreadyExistsError. */
  create<T extends KubeObject>(obj: T): Promise<T>;
  /** Replaces spec/metadata with optimistic concurrency on metadata.resourceVersion. Throws ConflictError. */
  update<T extends KubeObject>(obj: T): Promise<T>;
  /** JSON merge patch of the main resource. */
  patch<T extends KubeObject>(kind: Kind, key: ObjectKey, mergePatch: unknown, opts?: WriteOptions): Promise<T>;
  /** JSON merge patch of the status subresource: `status` is merged into `.status`. */
  patchStatus<T extends KubeObject>(kind: Kind, key: ObjectKey, status: unknown, opts?: WriteOptions): Promise<T>;
  /** Deletes (sets deletionTimestamp first when finalizers remain). Missing objects are not an error. */
  delete(kind: Kind, key: ObjectKey): Promise<void>;
  informer<T extends KubeObject>(kind: Kind, opts?: InformerOptions): Informer<T>;
  /** Records a core/v1 Event about an object (reason + message), as kubectl describe shows. */
  recordEvent(about: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

// ---- errors ----

export class StoreError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly kind?: Kind,
    readonly key?: ObjectKey,
    /** The API's Status reason ("NotFound", "AlreadyExists", "Conflict", "Invalid", ...). */
    readonly reason?: string,
  ) {
    super(message);
  }
}
export class NotFoundError extends StoreError {
  constructor(what: string, kind?: Kind, key?: ObjectKey) {
    super(`${what} not found`, 404, kind, key, "NotFound");
  }
}
export class AlreadyExistsError extends StoreError {
  constructor(what: string, kind?: Kind, key?: ObjectKey) {
    super(`${what} already exists`, 409, kind, key, "AlreadyExists");
  }
}
export class ConflictError extends StoreError {
  constructor(what: string, kind?: Kind, key?: ObjectKey) {
    super(
      `${what}: the object has been modified; apply your changes to the latest version and try again`,
      409,
      kind,
      key,
      "Conflict",
    );
  }
}
export class InvalidError extends StoreError {
  constructor(what: string, details: string, kind?: Kind, key?: ObjectKey) {
    super(`${what} is invalid: ${details}`, 422, kind, key, "Invalid");
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof StoreError && e.status === 404;
export const isAlreadyExists = (e: unknown): boolean => e instanceof StoreError && e.reason === "AlreadyExists";
/** A 409 that a re-read can fix (a stale resourceVersion), not AlreadyExists. */
export const isConflict = (e: unknown): boolean =>
  e instanceof StoreError && e.status === 409 && e.reason !== "AlreadyExists";

/**
 * True when a request got no HTTP answer (refused, reset, timed out, DNS, TLS): the API server
 * is unreachable. Such failures are reported once by the store (OutageLog), not per request.
 */
export const isUnreachable = (e: unknown): boolean => e instanceof StoreError && e.status === 0;

/** `AddressPool "default-lb"` / `Service "default/web"`: how errors and logs name an object. */
export function describeObject(kind: string, key: ObjectKey): string {
  return `${kind} "${key.namespace ? `${key.namespace}/` : ""}${key.name}"`;
}

// ---- helpers shared by both stores and the reconcilers ----

/**
 * Runs a read-modify-write until it stops hitting 409 Conflict: `fn` must re-read
 * the object on every attempt. Other errors, and the last conflict, propagate.
 */
export async function retryOnConflict<R>(fn: (attempt: number) => Promise<R>, attempts = 5): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isConflict(e) || attempt + 1 >= attempts) throw e;
      // Jittered, bounded backoff so that contending writers spread out.
      const ms = Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, ms));
    }
  }
}

interface Requirement {
  key: string;
  op: "=" | "!=" | "in" | "notin" | "exists" | "!exists";
  values: string[];
}

const selectorCache = new Map<string, Requirement[]>();

/** Parses a label selector (equality- and set-based). Throws on syntax errors, naming the selector. */
export function parseLabelSelector(selector: string): Requirement[] {
  const cached = selectorCache.get(selector);
  if (cached) return cached;
  const reqs: Requirement[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const part = raw.trim();
    if (!part) continue;
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      reqs.push({ key: m[1], op: m[2] as "in" | "notin", values: m[3].split(",").map((v) => v.trim()) });
    } else if ((m = part.match(/^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/))) {
      reqs.push({ key: m[1], op: m[2] === "!=" ? "!=" : "=", values: [m[3]] });
    } else if ((m = part.match(/^!\s*([^\s!=()]+)$/))) {
      reqs.push({ key: m[1], op: "!exists", values: [] });
    } else if ((m = part.match(/^([^\s!=()]+)$/))) {
      reqs.push({ key: m[1], op: "exists", values: [] });
    } else {
      throw new Error(`label selector "${selector}": cannot parse "${part}"`);
    }
  }
  if (selectorCache.size > 256) selectorCache.clear();
  selectorCache.set(selector, reqs);
  return reqs;
}

export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  return !selector || matchesRequirements(labels, parseLabelSelector(selector));
}

const OPERATORS: Record<NonNullable<LabelSelector["matchExpressions"]>[number]["operator"], Requirement["op"]> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!exists",
};

/** A metav1.LabelSelector (matchLabels and matchExpressions, all must hold); an empty one matches everything. */
export function matchesSelector(labels: Record<string, string> | undefined, selector: LabelSelector): boolean {
  const reqs: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, v]) => ({ key, op: "=", values: [v] }));
  for (const e of selector.matchExpressions ?? []) reqs.push({ key: e.key, op: OPERATORS[e.operator], values: e.values ?? [] });
  return matchesRequirements(labels, reqs);
}

function matchesRequirements(labels: Record<string, string> | undefined, reqs: Requirement[]): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        if (!has || v !== r.values[0]) return false;
        break;
      case "!=":
        if (has && v === r.values[0]) return false;
        break;
      case "in":
        if (!has || !r.values.includes(v)) return false;
        break;
      case "notin":
        if (has && r.values.includes(v)) return false;
        break;
      case "exists":
        if (!has) return false;
        break;
      case "!exists":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Whether every "path=value" (or "path!=value") of a field selector holds for the object. */
export function matchesFieldSelector(obj: unknown, selector: string | undefined): boolean {
  if (!selector) return true;
  for (const part of selector.split(",")) {
    const m = /^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) throw new Error(`field selector "${selector}": cannot parse "${part}"`);
    let v: unknown = obj;
    for (const k of m[1]!.split(".")) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
    const equal = String(v ?? "") === m[3];
    if (equal !== (m[2] !== "!=")) return false;
  }
  return true;
}

/** metav1.Time: RFC 3339, whole seconds. */
export function rfc3339(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits (the API server rejects other forms). */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Deep equality of JSON values; a member set to undefined counts as absent. `skip` names a
 * member of the top object left out of the comparison.
 */
export function deepEqual(a: unknown, b: unknown, skip?: string): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => k !== skip && ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => k !== skip && bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}

// ---- Events ----

/** The core/v1 Event fields sart writes. */
export interface EventObject extends KubeObject {
  involvedObject: {
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
  };
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

/**
 * Writes Events as kubectl describe shows them. A repeat of the same
 * (object, type, reason, message) bumps `count` and `lastTimestamp` of the Event
 * written before instead of creating another one.
 */
export class EventRecorder {
  private seen = new Map<string, { name: string; namespace: string; count: number }>();
  private seq = 0;

  constructor(
    private readonly store: Pick<Store, "create" | "patch">,
    private readonly component: string,
    private readonly host?: string,
    private readonly maxRemembered = 4096,
  ) {}

  async record(about: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const meta = about.metadata;
    // Events about cluster-scoped objects live in "default", as client-go puts them.
    const namespace = meta.namespace || "default";
    const dedupeKey = JSON.stringify([about.kind, meta.namespace ?? "", meta.name, meta.uid ?? "", type, reason, message]);
    const now = rfc3339();
    const prior = this.seen.get(dedupeKey);
    if (prior) {
      try {
        prior.count++;
        await this.store.patch("Event", { name: prior.name, namespace: prior.namespace }, {
          count: prior.count,
          lastTimestamp: now,
        });
        // Refresh its place in the insertion-ordered map (least recently used goes first).
        this.seen.delete(dedupeKey);
        this.seen.set(dedupeKey, prior);
        return;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        this.seen.delete(dedupeKey); // expired or deleted: write a new one
      }
    }
    const name = `${meta.name}.${(BigInt(Date.now()) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16)}`;
    const event: EventObject = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: about.apiVersion,
        kind: about.kind,
        name: meta.name,
        ...(meta.namespace ? { namespace: meta.namespace } : {}),
        ...(meta.uid ? { uid: meta.uid } : {}),
        ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component, ...(this.host ? { host: this.host } : {}) },
      reportingComponent: this.component,
      ...(this.host ? { reportingInstance: this.host } : {}),
    };
    await this.store.create(event);
    this.seen.set(dedupeKey, { name, namespace, count: 1 });
    if (this.seen.size > this.maxRemembered) this.seen.delete(this.seen.keys().next().value as string);
  }
}
