// The object store behind the test API server: one global resourceVersion counter (like etcd's
// revision), one collection per resource (Map namespace -> Map name -> record), a bounded event
// history per collection for watch resumption, and the watch fan-out. Stored objects are never
// mutated: every write builds a new object, so records can cache their JSON text and watch
// events share it (one JSON.stringify per object version, whatever the number of watchers).
import { randomUUID } from "node:crypto";
import { ApiError, alreadyExists, badRequest, conflict, expired, forbidden, invalid, notFound, type StatusCause } from "./errors.ts";
import { crdStatus, defaultService, initialStatus, nameError, ServiceAllocator, validateBuiltin } from "./defaults.ts";
import { deepEqual, specEqual } from "./equal.ts";
import { applyPatch, type PatchKind } from "./patch.ts";
import type { FieldSelector, LabelSelector } from "./selectors.ts";
import { builtinTypes, storageKey, typesFromCrd, type ResourceType } from "./types.ts";

export interface Rec {
  obj: any;
  json?: string;
}

export function recJson(r: Rec): string {
  return (r.json ??= JSON.stringify(r.obj));
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

interface HistEvent {
  rv: number;
  type: EventType;
  rec: Rec;
  /** The version this event replaced (MODIFIED, DELETED). */
  oldRec?: Rec;
  line?: string;
}

/** Where a watcher's lines go (an HTTP response in the server). */
export interface WatchSink {
  write(line: string): void;
  end(): void;
}

export interface WatchOptions {
  namespace?: string;
  label?: LabelSelector;
  field?: FieldSelector;
  /** undefined or "0": synthetic ADDED events for the current objects first. */
  resourceVersion?: string;
  bookmarks: boolean;
  sendInitialEvents?: boolean;
  /** Renders an event's line for this watcher (e.g. as a Table); default: the shared JSON line. */
  render?: (type: EventType, obj: any) => string;
}

export interface ListOptions {
  namespace?: string;
  label?: LabelSelector;
  field?: FieldSelector;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  limit?: number;
  continueToken?: string;
}

export interface ListResult {
  rv: number;
  recs: Rec[];
  continueToken?: string;
  remaining?: number;
}

/** What a validator says about a custom resource: errors naming fields, and optionally the object to store (pruned and defaulted) with the unknown fields it pruned. */
export interface Admission {
  causes: StatusCause[];
  object?: any;
  unknownFields?: string[];
}

/** Validates a custom resource against its CRD (empty causes: valid). */
export type CustomResourceValidator = (obj: any, crd: any, old: any | undefined) => StatusCause[] | Admission | Promise<StatusCause[] | Admission>;

/** The fieldValidation query parameter: unknown fields fail the request (Strict) or are pruned (Warn, Ignore). */
export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface StoreOptions {
  /** Events kept per resource for watch resumption; older ones are compacted away. */
  historyLimit: number;
  validator?: CustomResourceValidator;
  /** Service node port range (default 30000-32767). */
  nodePortRange?: { min: number; max: number };
  /** Delay before a deleted namespace is emptied (default 200 ms). */
  namespaceDrainDelayMs?: number;
}

export class Watcher {
  closed = false;
  constructor(
    readonly coll: Collection,
    readonly opts: WatchOptions,
    private readonly sink: WatchSink,
  ) {}

  matches(obj: any): boolean {
    if (this.opts.namespace !== undefined && obj.metadata.namespace !== this.opts.namespace) return false;
    if (this.opts.label && !this.opts.label(obj.metadata.labels)) return false;
    if (this.opts.field && !this.opts.field(obj)) return false;
    return true;
  }

  send(line: string): void {
    if (!this.closed) this.sink.write(line);
  }

  /** Sends an event of `type` about `rec`; `ev` (when `type` is its own) caches the shared line. */
  sendEvent(type: EventType, rec: Rec, ev?: HistEvent): void {
    if (this.opts.render) this.send(this.opts.render(type, rec.obj));
    else if (ev && ev.type === type) this.send((ev.line ??= eventLine(type, rec)));
    else this.send(eventLine(type, rec));
  }

  /** Delivers one event, turning MODIFIED into ADDED/DELETED when the object enters/leaves the filter. */
  deliver(ev: HistEvent): void {
    const obj = ev.rec.obj;
    if (this.opts.namespace !== undefined && obj.metadata.namespace !== this.opts.namespace) return;
    if (!this.opts.label && !this.opts.field) return this.sendEvent(ev.type, ev.rec, ev);
    const now = this.matches(obj);
    if (ev.type !== "MODIFIED") {
      if (now) this.sendEvent(ev.type, ev.rec, ev);
      return;
    }
    const was = ev.oldRec ? this.matches(ev.oldRec.obj) : false;
    if (now && was) this.sendEvent("MODIFIED", ev.rec, ev);
    else if (now) this.sendEvent("ADDED", ev.rec);
    else if (was) this.sendEvent("DELETED", ev.rec);
  }

  bookmark(rv: number, initialEventsEnd = false): void {
    const t = this.coll.type;
    const meta = initialEventsEnd ? { resourceVersion: String(rv), annotations: { "k8s.io/initial-events-end": "true" } } : { resourceVersion: String(rv) };
    this.send(`{"type":"BOOKMARK","object":${JSON.stringify({ kind: t.kind, apiVersion: t.apiVersion, metadata: meta })}}\n`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.coll.watchers.delete(this);
    this.sink.end();
  }
}

function eventLine(type: string, rec: Rec): string {
  return `{"type":"${type}","object":${recJson(rec)}}\n`;
}

export class Collection {
  readonly byNs = new Map<string, Map<string, Rec>>();
  history: HistEvent[] = [];
  /** Every event with rv > historyStartRV is in `history`. */
  historyStartRV: number;
  readonly watchers = new Set<Watcher>();
  constructor(
    /** The type as first registered (kind, scope, status subresource). */
    public type: ResourceType,
    startRV: number,
  ) {
    this.historyStartRV = startRV;
  }

  get(ns: string, name: string): Rec | undefined {
    return this.byNs.get(ns)?.get(name);
  }
}

const GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789";

export function nowTime(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === "object" && v !== null && !Array.isArray(v);

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export class ObjectStore {
  rv = 1000;
  /** Continue tokens and Exact lists older than this are expired (410). */
  compactedRV = 0;
  private readonly collections = new Map<string, Collection>();
  /** apiVersion -> plural -> type, for routing and discovery. */
  readonly served = new Map<string, Map<string, ResourceType>>();
  private readonly alloc: ServiceAllocator;
  /** owner uid -> dependents ("collectionKey\0namespace\0name"), for background garbage collection. */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly opts: StoreOptions) {
    this.alloc = new ServiceAllocator(opts.nodePortRange);
    for (const t of builtinTypes()) this.serve(t);
  }

  /** Cancels pending background work (namespace draining). */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  setValidator(v: CustomResourceValidator | undefined): void {
    this.opts.validator = v;
  }

  private serve(t: ResourceType): void {
    let m = this.served.get(t.apiVersion);
    if (!m) this.served.set(t.apiVersion, (m = new Map()));
    m.set(t.plural, t);
    const key = storageKey(t.group, t.plural);
    const c = this.collections.get(key);
    if (!c) this.collections.set(key, new Collection(t, this.rv));
    else c.type = t;
  }

  resolve(apiVersion: string, plural: string): ResourceType | undefined {
    return this.served.get(apiVersion)?.get(plural);
  }

  collection(t: ResourceType): Collection {
    return this.collections.get(storageKey(t.group, t.plural))!;
  }

  /** All types, one per served group/version/resource. */
  types(): ResourceType[] {
    const out: ResourceType[] = [];
    for (const m of this.served.values()) out.push(...m.values());
    return out;
  }

  // ---- reads ----

  get(t: ResourceType, ns: string, name: string): Rec {
    const rec = this.collection(t).get(ns, name);
    if (!rec) throw notFound(t, name);
    return rec;
  }

  list(t: ResourceType, o: ListOptions): ListResult {
    const coll = this.collection(t);
    let rv = this.rv;
    let after: string | undefined;
    if (o.continueToken) {
      const tok = decodeContinue(o.continueToken);
      if (tok.rv < this.compactedRV || tok.rv < coll.historyStartRV) {
        throw new ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
      }
      rv = tok.rv;
      after = tok.after;
    } else if (o.resourceVersion && o.resourceVersion !== "0") {
      const want = parseRV(o.resourceVersion);
      if (want > this.rv) {
        throw new ApiError(504, "Timeout", `Too large resource version: ${want}, current: ${this.rv}`, { causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }], retryAfterSeconds: 1 });
      }
      if (o.resourceVersionMatch === "Exact") {
        if (want < coll.historyStartRV || want < this.compactedRV) throw expired(o.resourceVersion, Math.max(coll.historyStartRV, this.compactedRV));
        rv = want;
      }
    }
    const source = rv === this.rv ? coll.byNs : this.snapshotAt(coll, rv);
    const matches = (r: Rec) => (!o.label || o.label(r.obj.metadata.labels)) && (!o.field || o.field(r.obj));
    const maps = o.namespace !== undefined ? [source.get(o.namespace)].filter((m): m is Map<string, Rec> => !!m) : [...source.values()];
    if (!o.limit && after === undefined) {
      const recs: Rec[] = [];
      for (const m of maps) for (const r of m.values()) if (matches(r)) recs.push(r);
      return { rv, recs };
    }
    // Paged: key order (namespace/name), as etcd returns it.
    const keyed: Array<[string, Rec]> = [];
    for (const m of maps) for (const [name, r] of m) {
      const key = `${r.obj.metadata.namespace ?? ""}/${name}`;
      if (after !== undefined && key <= after) continue;
      keyed.push([key, r]);
    }
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const recs: Rec[] = [];
    let i = 0;
    for (; i < keyed.length && (!o.limit || recs.length < o.limit); i++) if (matches(keyed[i][1])) recs.push(keyed[i][1]);
    let remaining = 0;
    for (let j = i; j < keyed.length; j++) if (matches(keyed[j][1])) remaining++;
    if (remaining === 0) return { rv, recs };
    return { rv, recs, continueToken: encodeContinue(rv, keyed[i - 1][0]), remaining };
  }

  /** The collection as it was at `rv`, rebuilt by undoing newer history events. */
  private snapshotAt(coll: Collection, rv: number): Map<string, Map<string, Rec>> {
    const snap = new Map<string, Map<string, Rec>>();
    for (const [ns, m] of coll.byNs) snap.set(ns, new Map(m));
    for (let i = coll.history.length - 1; i >= 0 && coll.history[i].rv > rv; i--) {
      const ev = coll.history[i];
      const meta = ev.rec.obj.metadata;
      const ns = meta.namespace ?? "";
      let m = snap.get(ns);
      if (!m) snap.set(ns, (m = new Map()));
      if (ev.type === "ADDED") m.delete(meta.name);
      else if (ev.oldRec) m.set(meta.name, ev.oldRec);
    }
    return snap;
  }

  // ---- watch ----

  watch(t: ResourceType, o: WatchOptions, sink: WatchSink): Watcher {
    const coll = this.collection(t);
    const w = new Watcher(coll, o, sink);
    const rvParam = o.resourceVersion;
    if (!rvParam || rvParam === "0" || o.sendInitialEvents) {
      // Synthetic ADDED events for the current state, then live events.
      const maps = o.namespace !== undefined ? [coll.byNs.get(o.namespace)].filter((m): m is Map<string, Rec> => !!m) : [...coll.byNs.values()];
      for (const m of maps) for (const r of m.values()) if (w.matches(r.obj)) w.sendEvent("ADDED", r);
      if (o.sendInitialEvents && o.bookmarks) w.bookmark(this.rv, true);
    } else {
      const from = parseRV(rvParam);
      if (from < coll.historyStartRV) {
        // As the watch cache does: 200, one ERROR event carrying a 410 Status, end of stream.
        w.send(`{"type":"ERROR","object":${JSON.stringify(expired(rvParam, coll.historyStartRV).toStatus())}}\n`);
        w.closed = true;
        sink.end();
        return w;
      }
      const h = coll.history;
      let lo = 0;
      let hi = h.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (h[mid].rv <= from) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < h.length; i++) w.deliver(h[i]);
    }
    coll.watchers.add(w);
    return w;
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watcher that asked for bookmarks. */
  bookmarkAll(): void {
    for (const c of this.collections.values()) for (const w of c.watchers) if (w.opts.bookmarks) w.bookmark(this.rv);
  }

  /** Drops the event history up to `rv` (default: now): watches and continue tokens from before it get 410. */
  compact(rv = this.rv): void {
    this.compactedRV = Math.max(this.compactedRV, rv);
    for (const c of this.collections.values()) {
      c.history = c.history.filter((e) => e.rv > rv);
      c.historyStartRV = Math.max(c.historyStartRV, rv);
    }
  }

  /** Ends every open watch (clients then re-watch from their last resourceVersion). */
  closeWatches(): void {
    for (const c of this.collections.values()) for (const w of [...c.watchers]) w.close();
  }

  watcherCount(): number {
    let n = 0;
    for (const c of this.collections.values()) n += c.watchers.size;
    return n;
  }

  // ---- writes ----

  private commit(coll: Collection, obj: any, type: EventType, oldRec: Rec | undefined): Rec {
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    const rec: Rec = { obj };
    const ns = obj.metadata.namespace ?? "";
    let m = coll.byNs.get(ns);
    if (type === "DELETED") {
      m?.delete(obj.metadata.name);
      if (m && m.size === 0) coll.byNs.delete(ns);
    } else {
      if (!m) coll.byNs.set(ns, (m = new Map()));
      m.set(obj.metadata.name, rec);
      if (Array.isArray(obj.metadata.ownerReferences)) this.indexOwners(coll, obj);
    }
    const ev: HistEvent = { rv, type, rec, oldRec };
    coll.history.push(ev);
    if (coll.history.length > this.opts.historyLimit * 2) {
      const drop = coll.history.length - this.opts.historyLimit;
      coll.historyStartRV = coll.history[drop - 1].rv;
      coll.history = coll.history.slice(drop);
    }
    for (const w of coll.watchers) w.deliver(ev);
    ev.line = undefined; // replays (rare) rebuild it from rec.json; history keeps one copy of the text
    return rec;
  }

  private indexOwners(coll: Collection, obj: any): void {
    const key = `${storageKey(coll.type.group, coll.type.plural)}\0${obj.metadata.namespace ?? ""}\0${obj.metadata.name}`;
    for (const ref of obj.metadata.ownerReferences) {
      if (!ref?.uid) continue;
      let s = this.dependents.get(ref.uid);
      if (!s) this.dependents.set(ref.uid, (s = new Set()));
      s.add(key);
    }
  }

  private checkNamespace(t: ResourceType, ns: string, name: string): void {
    if (!t.namespaced) return;
    const nsRec = this.collections.get("namespaces")!.get("", ns);
    if (!nsRec) throw notFound({ group: "", plural: "namespaces" }, ns);
    if (nsRec.obj.metadata.deletionTimestamp) {
      throw forbidden(t, name, `unable to create new content in namespace ${ns} because it is being terminated`);
    }
  }

  private checkTypeMeta(t: ResourceType, body: any): void {
    if (body.kind !== undefined && body.kind !== t.kind) throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${t.apiVersion}) or kind ${body.kind} is not ${t.kind}`);
    if (body.apiVersion !== undefined && body.apiVersion !== t.apiVersion) {
      throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${t.apiVersion})`);
    }
  }

  /**
   * Returns the object to store: the validator may prune unknown fields and apply schema defaults.
   * Synchronous when the validator is, so that a write's check-then-commit never interleaves with
   * another request (the real server never answers 409 to a patch without a resourceVersion).
   */
  private validate(t: ResourceType, obj: any, old: any | undefined, fv: FieldValidation): any | Promise<any> {
    validateBuiltin(t, obj);
    if (!t.crd || !this.opts.validator) return obj;
    const r = this.opts.validator(obj, t.crd, old);
    return r instanceof Promise ? r.then((x) => this.admitted(t, obj, x, fv)) : this.admitted(t, obj, r, fv);
  }

  private admitted(t: ResourceType, obj: any, r: StatusCause[] | Admission, fv: FieldValidation): any {
    const adm: Admission = Array.isArray(r) ? { causes: r } : r;
    if (fv === "Strict" && adm.unknownFields?.length) {
      throw badRequest(`${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${adm.unknownFields.map((f) => `unknown field "${f}"`).join(", ")}`);
    }
    if (adm.causes.length) throw invalid(t.kind, t.group, obj.metadata.name, adm.causes);
    if (!adm.object) return obj;
    // Server-owned metadata is not the validator's business.
    return { ...adm.object, metadata: { ...adm.object.metadata, ...pick(obj.metadata, ["uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"]) } };
  }

  async create(t: ResourceType, ns: string, body: unknown, dryRun = false, fv: FieldValidation = "Warn"): Promise<Rec> {
    if (!isObject(body)) throw badRequest(`the body of the request must be a ${t.kind} object`);
    this.checkTypeMeta(t, body);
    const coll = this.collection(t);
    // Objects are built by copying kept keys (never `delete`): fast-mode objects stringify faster.
    const src: Record<string, any> = isObject(body.metadata) ? body.metadata : {};
    if (t.namespaced && src.namespace && src.namespace !== ns) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    let name: string | undefined = src.name;
    if (!name) {
      if (!src.generateName) throw invalid(t.kind, t.group, "", [{ reason: "FieldValueRequired", field: "metadata.name", message: "Required value: name or generateName is required" }]);
      for (let tries = 0; tries < 8 && (!name || coll.get(ns, name)); tries++) {
        let suffix = "";
        for (let i = 0; i < 5; i++) suffix += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
        name = `${src.generateName}${suffix}`;
      }
    }
    const bad = nameError(name!, t.nameRule);
    if (bad) throw invalid(t.kind, t.group, name!, [{ reason: "FieldValueInvalid", field: "metadata.name", message: `Invalid value: "${name}": ${bad}` }]);
    this.checkNamespace(t, ns, name!);
    if (coll.get(t.namespaced ? ns : "", name!)) throw alreadyExists(t, name!);
    const meta: any = { name, ...(t.namespaced ? { namespace: ns } : {}), ...omit(src, SERVER_META), uid: randomUUID(), generation: 1, creationTimestamp: nowTime() };
    const obj: any = { apiVersion: t.apiVersion, kind: t.kind, metadata: meta, ...omit(body, TYPE_META_STATUS) };
    const st = t.hasStatus ? initialStatus(t, body.status) : body.status;
    if (st !== undefined) obj.status = st;
    if (t.kind === "Service") defaultService(obj, undefined, this.alloc);
    if (t.kind === "Namespace") obj.spec = { finalizers: ["kubernetes"], ...(obj.spec ?? {}) };
    if (t.kind === "CustomResourceDefinition") obj.status = crdStatus(obj);
    let admitted = this.validate(t, obj, undefined, fv);
    if (admitted instanceof Promise) {
      admitted = await admitted;
      if (coll.get(t.namespaced ? ns : "", name!)) throw alreadyExists(t, name!); // lost a race during async validation
    }
    if (dryRun) return { obj: admitted };
    const rec = this.commit(coll, admitted, "ADDED", undefined);
    if (t.kind === "CustomResourceDefinition") this.registerCrd(admitted);
    return rec;
  }

  /** PUT (status=false) or PUT .../status (status=true). */
  async update(t: ResourceType, ns: string, name: string, body: unknown, status: boolean, dryRun = false, fv: FieldValidation = "Warn"): Promise<{ rec: Rec; created: boolean }> {
    if (!isObject(body)) throw badRequest(`the body of the request must be a ${t.kind} object`);
    this.checkTypeMeta(t, body);
    const meta = isObject(body.metadata) ? body.metadata : {};
    if (meta.name !== undefined && meta.name !== name) throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    if (t.namespaced && meta.namespace && meta.namespace !== ns) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    const coll = this.collection(t);
    const old = coll.get(t.namespaced ? ns : "", name);
    if (!old) {
      if (t.allowCreateOnUpdate && !status) return { rec: await this.create(t, ns, { ...body, metadata: { ...meta, name } }, dryRun, fv), created: true };
      throw notFound(t, name);
    }
    if (meta.resourceVersion === undefined || meta.resourceVersion === "") {
      if (!t.allowUnconditionalUpdate) {
        throw invalid(t.kind, t.group, name, [{ reason: "FieldValueInvalid", field: "metadata.resourceVersion", message: "Invalid value: 0x0: must be specified for an update" }]);
      }
    } else if (meta.resourceVersion !== old.obj.metadata.resourceVersion) {
      throw conflict(t, name);
    }
    return { rec: await this.write(t, coll, old, body, status, dryRun, fv), created: false };
  }

  async patch(t: ResourceType, ns: string, name: string, kind: PatchKind, body: unknown, status: boolean, dryRun = false, fv: FieldValidation = "Warn"): Promise<Rec> {
    if (kind === "strategic" && t.crd) {
      throw new ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
    }
    const coll = this.collection(t);
    const old = coll.get(t.namespaced ? ns : "", name);
    if (!old) throw notFound(t, name);
    const patched = applyPatch(kind, old.obj, body, t.kind) as any;
    if (!isObject(patched) || !isObject(patched.metadata)) throw badRequest("the patch removed the object's metadata");
    const rv = patched.metadata.resourceVersion;
    if (rv !== undefined && rv !== old.obj.metadata.resourceVersion) throw conflict(t, name);
    if (patched.metadata.name !== name) throw badRequest(`the name of the object (${patched.metadata.name}) does not match the name on the URL (${name})`);
    this.checkTypeMeta(t, patched);
    return this.write(t, coll, old, patched, status, dryRun, fv);
  }

  /** The update path shared by PUT and PATCH: status isolation, generation, finalizers, no-op detection. */
  private async write(t: ResourceType, coll: Collection, old: Rec, body: any, status: boolean, dryRun: boolean, fv: FieldValidation): Promise<Rec> {
    const o = old.obj;
    let obj: any;
    if (status) {
      obj = { ...omit(o, STATUS), metadata: { ...o.metadata } };
      if (body.status !== undefined) obj.status = body.status;
    } else {
      const bm = isObject(body.metadata) ? body.metadata : {};
      const meta: any = omit(bm, SERVER_META);
      for (const k of SERVER_META) if (o.metadata[k] !== undefined && k !== "resourceVersion" && k !== "managedFields") meta[k] = o.metadata[k];
      obj = { apiVersion: t.apiVersion, kind: t.kind, metadata: meta, ...omit(body, TYPE_META_STATUS) };
      const st = t.hasStatus ? o.status : body.status;
      if (st !== undefined) obj.status = st;
      if (t.kind === "Service") {
        const spec = isObject(obj.spec) ? obj.spec : {};
        obj.spec = Array.isArray(spec.ports) ? { ...spec, ports: spec.ports.map((p: any) => ({ ...p })) } : { ...spec };
        defaultService(obj, o, this.alloc);
      }
      if (o.metadata.deletionTimestamp) {
        const had = new Set<string>(o.metadata.finalizers ?? []);
        const added = ((meta.finalizers ?? []) as string[]).filter((f) => !had.has(f));
        if (added.length) {
          throw invalid(t.kind, t.group, o.metadata.name, [{ reason: "FieldValueForbidden", field: "metadata.finalizers", message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}` }]);
        }
      }
      if (!specEqual(obj, o)) meta.generation = (o.metadata.generation ?? 1) + 1;
    }
    obj.metadata.resourceVersion = o.metadata.resourceVersion;
    if (deepEqual(obj, o)) return old; // no-op: no new resourceVersion, no event
    obj = this.validate(t, obj, o, fv);
    if (obj instanceof Promise) {
      obj = await obj;
      if (coll.get(o.metadata.namespace ?? "", o.metadata.name) !== old) throw conflict(t, o.metadata.name); // changed during async validation
    }
    if (deepEqual(obj, o)) return old; // a no-op once pruned and defaulted
    if (dryRun) return { obj };
    if (obj.metadata.deletionTimestamp && !(obj.metadata.finalizers?.length > 0)) {
      return this.finalDelete(coll, obj, old);
    }
    const rec = this.commit(coll, obj, "MODIFIED", old);
    if (t.kind === "CustomResourceDefinition") this.registerCrd(obj);
    return rec;
  }

  async delete(t: ResourceType, ns: string, name: string, opts: DeleteOptions = {}): Promise<Rec> {
    const coll = this.collection(t);
    const old = coll.get(t.namespaced ? ns : "", name);
    if (!old) throw notFound(t, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.obj.metadata.uid) {
      throw conflict(t, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.obj.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== old.obj.metadata.resourceVersion) {
      throw conflict(t, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.obj.metadata.resourceVersion}`);
    }
    if (opts.dryRun) return old;
    return this.deleteRec(coll, old);
  }

  /** Deletes every object of the collection (in `ns`) that the selectors match. */
  async deleteCollection(t: ResourceType, o: ListOptions): Promise<Rec[]> {
    const coll = this.collection(t);
    const { recs } = this.list(t, { namespace: o.namespace, label: o.label, field: o.field });
    return recs.map((r) => this.deleteRec(coll, r));
  }

  private deleteRec(coll: Collection, old: Rec): Rec {
    const o = old.obj;
    const pending = (o.metadata.finalizers?.length ?? 0) > 0 || coll.type.kind === "Namespace";
    if (!pending) return this.finalDelete(coll, { ...o, metadata: { ...o.metadata } }, old);
    if (o.metadata.deletionTimestamp) return old;
    const obj = { ...o, metadata: { ...o.metadata, deletionTimestamp: nowTime(), deletionGracePeriodSeconds: 0 } };
    if (coll.type.kind === "Namespace") {
      obj.status = { ...(o.status ?? {}), phase: "Terminating" };
      const rec = this.commit(coll, obj, "MODIFIED", old);
      // Like the namespace controller, empty it a moment later (so `kubectl delete -f` of a file
      // with the namespace first still finds the objects in it).
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.drainNamespace(o.metadata.name);
      }, this.opts.namespaceDrainDelayMs ?? 200);
      this.timers.add(timer);
      return rec;
    }
    return this.commit(coll, obj, "MODIFIED", old);
  }

  private finalDelete(coll: Collection, obj: any, old: Rec): Rec {
    const rec = this.commit(coll, obj, "DELETED", old);
    const t = coll.type;
    if (t.kind === "Service") this.alloc.releaseNodePorts(obj);
    if (t.kind === "CustomResourceDefinition") this.unregisterCrd(obj);
    if (t.namespaced) this.namespaceMaybeEmpty(obj.metadata.namespace);
    this.collectDependents(obj.metadata.uid);
    return rec;
  }

  /** Background garbage collection: dependents whose owners are all gone are deleted. */
  private collectDependents(uid: string): void {
    const deps = this.dependents.get(uid);
    if (!deps) return;
    this.dependents.delete(uid);
    for (const key of deps) {
      const [ck, ns, name] = key.split("\0");
      const coll = this.collections.get(ck);
      const rec = coll?.get(ns, name);
      if (!coll || !rec) continue;
      const refs: any[] = rec.obj.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r?.uid === uid)) continue;
      const left = refs.filter((r) => r?.uid !== uid && this.uidExists(r));
      if (left.length > 0) {
        const obj = { ...rec.obj, metadata: { ...rec.obj.metadata, ownerReferences: left } };
        this.commit(coll, obj, "MODIFIED", rec);
      } else this.deleteRec(coll, rec);
    }
  }

  private uidExists(ref: any): boolean {
    for (const c of this.collections.values()) {
      if (c.type.kind !== ref?.kind) continue;
      for (const m of c.byNs.values()) for (const r of m.values()) if (r.obj.metadata.uid === ref.uid) return true;
    }
    return false;
  }

  /** Namespace deletion: delete every object in it; the namespace goes once nothing is left. */
  private drainNamespace(ns: string): void {
    for (const c of this.collections.values()) {
      if (!c.type.namespaced) continue;
      const m = c.byNs.get(ns);
      if (!m) continue;
      for (const r of [...m.values()]) this.deleteRec(c, r);
    }
    this.namespaceMaybeEmpty(ns);
  }

  private namespaceMaybeEmpty(ns: string): Rec | undefined {
    const nsColl = this.collections.get("namespaces")!;
    const rec = nsColl.get("", ns);
    if (!rec || !rec.obj.metadata.deletionTimestamp) return undefined;
    for (const c of this.collections.values()) if (c.type.namespaced && (c.byNs.get(ns)?.size ?? 0) > 0) return undefined;
    if ((rec.obj.metadata.finalizers?.length ?? 0) > 0) return undefined;
    return this.finalDelete(nsColl, { ...rec.obj, metadata: { ...rec.obj.metadata }, spec: { ...(rec.obj.spec ?? {}), finalizers: [] } }, rec);
  }

  // ---- CustomResourceDefinitions ----

  private registerCrd(crd: any): void {
    const types = typesFromCrd(crd);
    // Versions no longer served disappear from discovery.
    for (const [gv, m] of this.served) {
      const existing = m.get(crd.spec.names.plural);
      if (existing?.crd && existing.group === crd.spec.group && !types.some((t) => t.apiVersion === gv)) m.delete(crd.spec.names.plural);
    }
    for (const t of types) this.serve(t);
  }

  private unregisterCrd(crd: any): void {
    const key = storageKey(crd.spec.group, crd.spec.names.plural);
    const coll = this.collections.get(key);
    if (coll) {
      for (const m of [...coll.byNs.values()]) for (const r of [...m.values()]) this.commit(coll, { ...r.obj, metadata: { ...r.obj.metadata } }, "DELETED", r);
      for (const w of [...coll.watchers]) w.close();
      this.collections.delete(key);
    }
    for (const [gv, m] of this.served) {
      const t = m.get(crd.spec.names.plural);
      if (t?.crd && t.group === crd.spec.group) m.delete(crd.spec.names.plural);
      if (m.size === 0) this.served.delete(gv);
    }
  }
}

/** Metadata fields only the server sets. */
const SERVER_META = new Set(["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"]);
const TYPE_META_STATUS = new Set(["apiVersion", "kind", "metadata", "status"]);
const STATUS = new Set(["status"]);

/** A copy of `o` without `keys`. */
function omit(o: Record<string, any>, keys: Set<string>): Record<string, any> {
  const out: Record<string, any> = {};
  for (const k in o) if (!keys.has(k) && o[k] !== undefined) out[k] = o[k];
  return out;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function parseRV(s: string): number {
  if (!/^[0-9]+$/.test(s)) throw badRequest(`invalid resource version: ${JSON.stringify(s)}`);
  return Number(s);
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start: after })).toString("base64url");
}

function decodeContinue(tok: string): { rv: number; after: string } {
  try {
    const o = JSON.parse(Buffer.from(tok, "base64url").toString("utf8"));
    if (typeof o.rv === "number" && typeof o.start === "string") return { rv: o.rv, after: o.start };
  } catch {
    // fall through
  }
  throw badRequest(`continue key is not valid: ${tok}`);
}
