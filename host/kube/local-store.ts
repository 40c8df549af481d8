// LocalStore: the Store of standalone mode (no Kubernetes).
//
// Desired state comes from a directory of manifests (the same CRD YAML that
// `kubectl apply` takes, multi-document files split by `---`). Everything
// written at run time (statuses, objects the controller creates,
// resourceVersions, uids) lives in a JSON state file, rewritten atomically
// (temp file + fsync + rename + fsync of the directory) before a write
// resolves, so a restart never loses an allocation. Writes that arrive while a
// state file write is in flight share the next one (group commit).
//
// On open: the state file is loaded first; then every manifest document is
// applied as `kubectl apply` would: created when absent, its spec/labels/
// annotations re-applied when the document changed since it was last applied
// (a sha256 per document is kept in the state file, so run-time changes to an
// unchanged document survive restarts), and objects whose document was removed
// from the directory are deleted (finalizers honoured).
//
// Semantics follow the API server (see the header of store.ts): a global
// resourceVersion counter, 409 on a stale resourceVersion, generateName,
// finalizers and deletionTimestamp, status isolation, watch events to
// informers, label selectors. Events are kept in memory only (the newest
// `maxEvents`), never in the state file; so are Secrets (the manifests are their only
// copy on disk: the state file holds neither their data nor a hash of it).

import { createHash, randomUUID } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import yaml from "js-yaml";
import { admit, crdFor } from "./schema/index.ts";
import { KINDS, keyNamespace, requireStatusSubresource } from "./types.ts";
import {
  AlreadyExistsError,
  ConflictError,
  EventRecorder,
  InvalidError,
  NotFoundError,
  StoreError,
  deepEqual,
  describeObject,
  matchesFieldSelector,
  matchesLabelSelector,
  mergePatch,
  rfc3339,
  type Informer,
  type InformerOptions,
  type Kind,
  type KubeObject,
  type ListOptions,
  type ObjectKey,
  type Store,
  type WatchEvent,
  type WatchEventType,
  type WriteOptions,
} from "./store.ts";

/** One problem found in an object: `field` is a dotted path such as "spec.cidr". */
export interface ValidationIssue {
  field: string;
  message: string;
}

/**
 * Admission of an object of one of our custom kinds, as the API server does it:
 * the object to store (unknown fields pruned, schema defaults applied) and its
 * problems. `oldObj` is given on updates, for transition rules (immutability).
 */
export type Admitter = (obj: KubeObject, oldObj?: KubeObject) => { object: KubeObject; issues: ValidationIssue[] };

/** Admission against our CRDs (crds/*.yaml through host/kube/schema); unknown fields are errors, as kubectl's Strict. */
export const crdAdmitter: Admitter = (obj, oldObj) => {
  const a = admit<KubeObject>(obj, crdFor(obj.kind), oldObj);
  const issues = [
    ...a.unknownFields.map((field) => ({ field, message: "Unknown field: field not declared in schema" })),
    ...a.errors.map((e) => ({ field: e.field, message: e.detail })),
  ];
  return { object: a.object, issues };
};

export interface LocalStoreOptions {
  /** Directory of manifests (*.yaml, *.yml; searched recursively; dot-files skipped). */
  dir: string;
  /** State file; default `<dir>/sart-state.json`. Its directory is created if missing. */
  stateFile?: string;
  /** Admission of custom kinds. Default crdAdmitter; `false` stores them unchecked. */
  admit?: Admitter | false;
  /** Event source component. Default "sart". */
  component?: string;
  /** Events kept in memory. Default 1000. */
  maxEvents?: number;
}

/** A manifest problem: names the file, the 1-based document index and the field. */
export class ManifestError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid manifests:\n  ${issues.join("\n  ")}`);
  }
}

/** Manifest documents of kinds that describe the cluster, not objects the store serves. */
const SKIPPED_KINDS = new Set(["CustomResourceDefinition", "Kustomization"]);
const STATE_FORMAT = "sart-local-store/1";
/** Kinds kept in memory only, never in the state file. */
const UNPERSISTED = new Set<string>(["Event", "Secret"]);
const GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

interface StateFile {
  format: string;
  resourceVersion: number;
  objects: KubeObject[];
  /** object key -> sha256 of the manifest document last applied to it */
  manifests: Record<string, string>;
}

interface ManifestDoc {
  where: string; // "file.yaml document 2"
  obj: KubeObject;
  hash: string;
}

type Listener = (type: WatchEventType, obj: KubeObject) => void;

const objectKey = (kind: string, namespace: string | undefined, name: string) => `${kind}/${namespace ?? ""}/${name}`;
const nsNameKey = (o: { metadata: { namespace?: string; name: string } }) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
/** Whether a list or watch with these options includes the object (namespace and label selector). */
const selects = (opts: ListOptions & { fieldSelector?: string }, obj: KubeObject) =>
  (!opts.namespace || obj.metadata.namespace === opts.namespace) &&
  matchesLabelSelector(obj.metadata.labels, opts.labelSelector) &&
  matchesFieldSelector(obj, opts.fieldSelector);

export class LocalStore implements Store {
  private readonly objects = new Map<Kind, Map<string, KubeObject>>();
  private readonly listeners = new Map<Kind, Set<Listener>>();
  private readonly informers = new Set<LocalInformer<KubeObject>>();
  private readonly recorder: EventRecorder;
  private resourceVersion = 0;
  private manifestHashes: Record<string, string> = {};
  private writing: Promise<void> = Promise.resolve();
  private queuedWrite: Promise<void> | null = null;
  private tempSeq = 0;
  private locked = false;
  readonly stateFile: string;

  private constructor(
    readonly dir: string,
    stateFile: string | undefined,
    private readonly admitter: Admitter | undefined,
    component: string,
    private readonly maxEvents: number,
  ) {
    this.stateFile = stateFile ?? join(dir, "sart-state.json");
    for (const kind of Object.keys(KINDS) as Kind[]) this.objects.set(kind, new Map());
    this.recorder = new EventRecorder(this, component);
  }

  /** Loads the state file and applies the manifests; throws ManifestError naming file, document and field. */
  static async open(opts: LocalStoreOptions): Promise<LocalStore> {
    const admitter = opts.admit === false ? undefined : (opts.admit ?? crdAdmitter);
    const store = new LocalStore(opts.dir, opts.stateFile, admitter, opts.component ?? "sart", opts.maxEvents ?? 1000);
    await mkdir(dirname(store.stateFile), { recursive: true });
    await store.lock();
    try {
      await store.removeStaleTempFiles();
      await store.loadState();
      const docs = await loadManifestDir(opts.dir, store.admitter);
      store.applyManifests(docs);
      await store.persist();
    } catch (e) {
      await store.unlock();
      throw e;
    }
    return store;
  }

  /**
   * Re-reads the manifest directory and applies what changed since the last load, as
   * on open (standalone mode picks up edits without a restart). A directory that does
   * not load (bad YAML, an invalid document) changes nothing: ManifestError names the
   * file, document and field.
   */
  async reload(): Promise<void> {
    const docs = await loadManifestDir(this.dir, this.admitter);
    try {
      this.applyManifests(docs);
    } finally {
      await this.persist();
    }
  }

  /** Waits for pending state writes, stops every informer and releases the state file. */
  async close(): Promise<void> {
    for (const inf of this.informers) inf.stop();
    await this.writing.catch(() => {});
    await this.unlock();
  }

  // ---- Store ----

  async get<T extends KubeObject>(kind: Kind, key: ObjectKey): Promise<T | undefined> {
    const obj = this.bucket(kind).get(nsNameKey({ metadata: this.normalizeKey(kind, key) }));
    return obj ? (structuredClone(obj) as T) : undefined;
  }

  async list<T extends KubeObject>(kind: Kind, opts: ListOptions = {}): Promise<T[]> {
    return this.select(kind, opts).map((o) => structuredClone(o) as T);
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    const kind = this.kindOf(obj);
    const info = KINDS[kind];
    const next = structuredClone(obj) as KubeObject;
    const meta = next.metadata ?? ({} as KubeObject["metadata"]);
    next.metadata = meta;
    if (info.namespaced) meta.namespace ||= "default";
    else delete meta.namespace;
    if (!meta.name) {
      if (!meta.generateName) throw new InvalidError(kind, "metadata.name or metadata.generateName is required", kind);
      meta.name = this.generateName(kind, meta.namespace, meta.generateName);
    }
    const key = { name: meta.name, namespace: meta.namespace };
    if (this.bucket(kind).has(nsNameKey(next))) throw new AlreadyExistsError(describeObject(kind, key), kind, key);
    this.initMetadata(next);
    initialStatus(kind, next); // status comes through /status only
    const admitted = this.admit(kind, next, undefined);
    this.commit(kind, admitted, "ADDED");
    await this.persistUnlessEvent(kind);
    return structuredClone(admitted) as T;
  }

  async update<T extends KubeObject>(obj: T): Promise<T> {
    const kind = this.kindOf(obj);
    const key = this.normalizeKey(kind, obj.metadata);
    const cur = this.mustGet(kind, key);
    if (!obj.metadata.resourceVersion && KINDS[kind].custom) {
      // Custom resources allow no unconditional update (the API server's rule).
      throw new InvalidError(describeObject(kind, key), "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update", kind, key);
    }
    this.checkPreconditions(kind, key, cur, obj.metadata.resourceVersion, obj.metadata.uid);
    const result = this.replace(kind, cur, structuredClone(obj) as KubeObject, "main");
    await this.persistUnlessEvent(kind);
    return structuredClone(result) as T;
  }

  async patch<T extends KubeObject>(kind: Kind, key: ObjectKey, patch: unknown, opts: WriteOptions = {}): Promise<T> {
    const k = this.normalizeKey(kind, key);
    const cur = this.mustGet(kind, k);
    const patchRv = (patch as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
    this.checkPreconditions(kind, k, cur, opts.resourceVersion ?? patchRv, undefined);
    const next = mergePatch(structuredClone(cur), patch) as KubeObject;
    const result = this.replace(kind, cur, next, "main");
    await this.persistUnlessEvent(kind);
    return structuredClone(result) as T;
  }

  async patchStatus<T extends KubeObject>(kind: Kind, key: ObjectKey, status: unknown, opts: WriteOptions = {}): Promise<T> {
    const k = this.normalizeKey(kind, key);
    requireStatusSubresource(kind, k);
    const cur = this.mustGet(kind, k);
    this.checkPreconditions(kind, k, cur, opts.resourceVersion, undefined);
    // replace() copies cur for the "status" part and takes only .status from here.
    const result = this.replace(kind, cur, { ...cur, status: mergePatch(cur.status, status) }, "status");
    await this.persistUnlessEvent(kind);
    return structuredClone(result) as T;
  }

  async delete(kind: Kind, key: ObjectKey): Promise<void> {
    const k = this.normalizeKey(kind, key);
    const cur = this.bucket(kind).get(nsNameKey({ metadata: k }));
    if (!cur) return;
    this.deleteObject(kind, cur);
    await this.persistUnlessEvent(kind);
  }

  informer<T extends KubeObject>(kind: Kind, opts: InformerOptions = {}): Informer<T> {
    const inf = new LocalInformer<KubeObject>(this, kind, opts);
    this.informers.add(inf);
    return inf as unknown as Informer<T>;
  }

  recordEvent(about: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    return this.recorder.record(about, type, reason, message);
  }

  // ---- used by LocalInformer ----

  /** Subscribes to every change of one kind; returns the unsubscribe function. */
  subscribe(kind: Kind, listener: Listener): () => void {
    let set = this.listeners.get(kind);
    if (!set) this.listeners.set(kind, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** The stored objects themselves (not copies): callers must not modify them. */
  select(kind: Kind, opts: ListOptions & { fieldSelector?: string } = {}): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.bucket(kind).values()) if (selects(opts, obj)) out.push(obj);
    return out.sort((a, b) => (nsNameKey(a) < nsNameKey(b) ? -1 : 1));
  }

  forgetInformer(inf: LocalInformer<KubeObject>): void {
    this.informers.delete(inf);
  }

  // ---- write path ----

  private bucket(kind: Kind): Map<string, KubeObject> {
    const b = this.objects.get(kind);
    if (!b) throw new StoreError(`unknown kind "${kind}"`, 404, kind, undefined, "NotFound");
    return b;
  }

  private kindOf(obj: KubeObject): Kind {
    if (!obj || !(obj.kind in KINDS)) throw new StoreError(`unknown kind "${obj?.kind}"`, 404, undefined, undefined, "NotFound");
    const kind = obj.kind as Kind;
    if (obj.apiVersion !== KINDS[kind].apiVersion) {
      // The API server serves each kind at one path; a body naming another version is rejected.
      throw new InvalidError(kind, `apiVersion "${obj.apiVersion}" does not serve ${kind} (expected ${KINDS[kind].apiVersion})`, kind);
    }
    return kind;
  }

  private normalizeKey(kind: Kind, key: ObjectKey): ObjectKey {
    const namespace = keyNamespace(kind, key.namespace);
    return namespace ? { name: key.name, namespace } : { name: key.name };
  }

  private mustGet(kind: Kind, key: ObjectKey): KubeObject {
    const cur = this.bucket(kind).get(nsNameKey({ metadata: key }));
    if (!cur) throw new NotFoundError(describeObject(kind, key), kind, key);
    return cur;
  }

  private checkPreconditions(kind: Kind, key: ObjectKey, cur: KubeObject, rv: string | undefined, uid: string | undefined) {
    if ((rv && rv !== cur.metadata.resourceVersion) || (uid && uid !== cur.metadata.uid)) {
      throw new ConflictError(describeObject(kind, key), kind, key);
    }
  }

  private nextResourceVersion(): string {
    return String(++this.resourceVersion);
  }

  private generateName(kind: Kind, namespace: string | undefined, prefix: string): string {
    for (let i = 0; i < 100; i++) {
      let suffix = "";
      for (let j = 0; j < 5; j++) suffix += GENERATE_NAME_ALPHABET[Math.floor(Math.random() * GENERATE_NAME_ALPHABET.length)];
      const name = prefix + suffix;
      if (!this.bucket(kind).has(`${namespace ?? ""}/${name}`)) return name;
    }
    throw new StoreError(`${kind}: no free name for generateName "${prefix}"`, 409, kind, undefined, "AlreadyExists");
  }

  private initMetadata(obj: KubeObject): void {
    const m = obj.metadata;
    m.uid = randomUUID();
    m.creationTimestamp = rfc3339();
    m.generation = 1;
    delete m.deletionTimestamp;
    m.resourceVersion = this.nextResourceVersion();
  }

  /**
   * Writes `next` over `cur`. `part` = "main" keeps the old status of kinds with a
   * status subresource; "status" keeps everything but the status.
   */
  private replace(kind: Kind, cur: KubeObject, next: KubeObject, part: "main" | "status"): KubeObject {
    const info = KINDS[kind];
    let result: KubeObject;
    if (part === "status") {
      result = { ...structuredClone(cur), status: next.status };
      if (next.status === undefined) delete result.status;
    } else {
      result = next;
      result.apiVersion = info.apiVersion;
      result.kind = kind;
      if (info.hasStatus) {
        if (cur.status === undefined) delete result.status;
        else result.status = structuredClone(cur.status);
      }
      const m = (result.metadata ??= { name: cur.metadata.name });
      // Server-managed metadata cannot be changed by a write.
      m.name = cur.metadata.name;
      if (info.namespaced) m.namespace = cur.metadata.namespace;
      else delete m.namespace;
      m.uid = cur.metadata.uid;
      m.creationTimestamp = cur.metadata.creationTimestamp;
      if (cur.metadata.deletionTimestamp) {
        m.deletionTimestamp = cur.metadata.deletionTimestamp;
        (m as Record<string, unknown>).deletionGracePeriodSeconds = 0;
        const had = new Set(cur.metadata.finalizers ?? []);
        const added = (m.finalizers ?? []).filter((f) => !had.has(f));
        if (added.length) {
          throw new InvalidError(
            describeObject(kind, { name: m.name, namespace: m.namespace }),
            `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
            kind,
            { name: m.name, namespace: m.namespace },
          );
        }
      } else {
        delete m.deletionTimestamp;
        delete (m as Record<string, unknown>).deletionGracePeriodSeconds;
      }
      m.generation = cur.metadata.generation;
      if (!deepEqual(specPart(cur), specPart(result))) m.generation = (cur.metadata.generation ?? 0) + 1;
    }
    result.metadata.resourceVersion = cur.metadata.resourceVersion;
    result = this.admit(kind, result, cur);
    if (deepEqual(cur, result)) return cur; // a no-op write changes nothing, not even resourceVersion
    result.metadata.resourceVersion = this.nextResourceVersion();
    if (result.metadata.deletionTimestamp && !result.metadata.finalizers?.length) {
      this.remove(kind, result);
    } else {
      this.commit(kind, result, "MODIFIED");
    }
    return result;
  }

  private deleteObject(kind: Kind, cur: KubeObject): void {
    if (cur.metadata.finalizers?.length) {
      if (cur.metadata.deletionTimestamp) return;
      const next = structuredClone(cur);
      next.metadata.deletionTimestamp = rfc3339();
      (next.metadata as Record<string, unknown>).deletionGracePeriodSeconds = 0;
      next.metadata.resourceVersion = this.nextResourceVersion();
      this.commit(kind, next, "MODIFIED");
      return;
    }
    const gone = structuredClone(cur);
    gone.metadata.resourceVersion = this.nextResourceVersion();
    this.remove(kind, gone);
  }

  private commit(kind: Kind, obj: KubeObject, type: "ADDED" | "MODIFIED"): void {
    const bucket = this.bucket(kind);
    bucket.set(nsNameKey(obj), obj);
    if (kind === "Event" && type === "ADDED" && bucket.size > this.maxEvents) {
      const oldest = bucket.values().next().value as KubeObject;
      this.remove(kind, oldest);
    }
    this.notify(kind, type, obj);
  }

  private remove(kind: Kind, obj: KubeObject): void {
    this.bucket(kind).delete(nsNameKey(obj));
    this.notify(kind, "DELETED", obj);
  }

  private notify(kind: Kind, type: WatchEventType, obj: KubeObject): void {
    const set = this.listeners.get(kind);
    if (!set) return;
    for (const l of set) l(type, obj);
  }

  /** The object to store after admission; throws InvalidError listing every field problem. */
  private admit(kind: Kind, obj: KubeObject, oldObj: KubeObject | undefined): KubeObject {
    if (!this.admitter || !KINDS[kind].custom) return obj;
    const { object, issues } = this.admitter(obj, oldObj);
    if (issues.length) {
      const key = { name: obj.metadata.name, namespace: obj.metadata.namespace };
      throw new InvalidError(describeObject(kind, key), issues.map((i) => `${i.field}: ${i.message}`).join("; "), kind, key);
    }
    return object;
  }

  // ---- manifests ----

  private applyManifests(docs: ManifestDoc[]): void {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const doc of docs) {
      const kind = doc.obj.kind as Kind;
      const id = objectKey(kind, doc.obj.metadata.namespace, doc.obj.metadata.name);
      seen.add(id);
      const cur = this.bucket(kind).get(nsNameKey(doc.obj));
      try {
        if (!cur) {
          const obj = structuredClone(doc.obj);
          this.initMetadata(obj);
          initialStatus(kind, obj);
          this.commit(kind, this.admit(kind, obj, undefined), "ADDED");
        } else if (this.manifestHashes[id] !== doc.hash) {
          // Re-apply the document's fields; keep what controllers added (finalizers, owners, status).
          const next = structuredClone(cur);
          for (const k of Object.keys(next)) if (!["apiVersion", "kind", "metadata", "status"].includes(k)) delete (next as any)[k];
          for (const [k, v] of Object.entries(doc.obj)) if (!["metadata", "status"].includes(k)) (next as any)[k] = structuredClone(v);
          next.metadata.labels = doc.obj.metadata.labels;
          next.metadata.annotations = doc.obj.metadata.annotations;
          if (!next.metadata.labels) delete next.metadata.labels;
          if (!next.metadata.annotations) delete next.metadata.annotations;
          this.replace(kind, cur, next, "main");
        }
        this.manifestHashes[id] = doc.hash;
      } catch (e) {
        problems.push(`${doc.where}: ${(e as Error).message}`);
      }
    }
    if (problems.length) throw new ManifestError(problems);
    // Documents removed from the directory since the last start: delete their objects.
    for (const id of Object.keys(this.manifestHashes)) {
      if (seen.has(id)) continue;
      delete this.manifestHashes[id];
      const [kind, namespace, ...rest] = id.split("/");
      const cur = this.objects.get(kind as Kind)?.get(`${namespace}/${rest.join("/")}`);
      if (cur) this.deleteObject(kind as Kind, cur);
    }
  }

  // ---- state file ----

  private async loadState(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.stateFile, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new Error(`state file ${this.stateFile}: ${(e as Error).message}`);
    }
    let state: StateFile;
    try {
      state = JSON.parse(text);
    } catch (e) {
      // Never start over silently: that would hand out allocated addresses again.
      throw new Error(`state file ${this.stateFile} is not valid JSON (${(e as Error).message}); refusing to start`);
    }
    if (state?.format !== STATE_FORMAT || !Array.isArray(state.objects)) {
      throw new Error(`state file ${this.stateFile}: unknown format ${JSON.stringify(state?.format)}, expected ${STATE_FORMAT}`);
    }
    this.resourceVersion = state.resourceVersion;
    this.manifestHashes = state.manifests ?? {};
    for (const obj of state.objects) {
      if (!(obj.kind in KINDS)) throw new Error(`state file ${this.stateFile}: unknown kind "${obj.kind}"`);
      this.bucket(obj.kind as Kind).set(nsNameKey(obj), obj);
    }
  }

  private get lockFile(): string {
    return `${this.stateFile}.lock`;
  }

  /**
   * One writer per state file: two stores writing it would each overwrite the
   * other's allocations. The lock file holds the owner's pid; a lock left by a
   * process that no longer runs is taken over.
   */
  private async lock(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.lockFile, "wx", 0o600);
        try {
          await fh.writeFile(`${process.pid}\n`);
        } finally {
          await fh.close();
        }
        this.locked = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`lock ${this.lockFile}: ${(e as Error).message}`);
      }
      const owner = Number((await readFile(this.lockFile, "utf8").catch(() => "")).trim());
      if (owner && processRuns(owner)) {
        const who = owner === process.pid ? "another store in this process" : `process ${owner}`;
        throw new Error(`state file ${this.stateFile} is in use by ${who} (lock ${this.lockFile})`);
      }
      await unlink(this.lockFile).catch(() => {}); // stale: its owner is gone
    }
    throw new Error(`cannot lock ${this.lockFile}`);
  }

  private async unlock(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await unlink(this.lockFile).catch(() => {});
  }

  private async removeStaleTempFiles(): Promise<void> {
    const dir = dirname(this.stateFile);
    const prefix = `${basename(this.stateFile)}.tmp-`;
    for (const name of await readdir(dir)) {
      if (name.startsWith(prefix)) await unlink(join(dir, name)).catch(() => {});
    }
  }

  private persistUnlessEvent(kind: Kind): Promise<void> {
    return UNPERSISTED.has(kind) ? Promise.resolve() : this.persist();
  }

  /** Resolves once a state file write that started after this call has completed. */
  private persist(): Promise<void> {
    if (this.queuedWrite) return this.queuedWrite;
    const write = this.writing
      .catch(() => {})
      .then(() => {
        this.queuedWrite = null; // changes from here on need the next write
        return this.writeState();
      });
    this.queuedWrite = write;
    this.writing = write;
    return write;
  }

  private async writeState(): Promise<void> {
    const objects: KubeObject[] = [];
    for (const [kind, bucket] of this.objects) if (!UNPERSISTED.has(kind)) objects.push(...bucket.values());
    // Unpersisted objects are made again from their manifests on open: no hash to keep.
    const manifests = Object.fromEntries(Object.entries(this.manifestHashes).filter(([id]) => !UNPERSISTED.has(id.slice(0, id.indexOf("/")))));
    const state: StateFile = {
      format: STATE_FORMAT,
      resourceVersion: this.resourceVersion,
      objects,
      manifests,
    };
    const data = JSON.stringify(state); // snapshot taken before the first await
    const tmp = `${this.stateFile}.tmp-${process.pid}-${++this.tempSeq}`;
    try {
      const fh = await open(tmp, "w", 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.stateFile);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw new Error(`state file ${this.stateFile}: write failed: ${(e as Error).message}`);
    }
    // The rename is durable only once the directory entry is.
    const dh = await open(dirname(this.stateFile), "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

// ---- informer ----

export class LocalInformer<T extends KubeObject> implements Informer<T> {
  private readonly handlers: ((e: WatchEvent<T>) => void)[] = [];
  private readonly cache = new Map<string, T>();
  private readonly queue: WatchEvent<T>[] = [];
  private draining = false;
  private unsubscribe?: () => void;
  private resyncTimer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly store: LocalStore,
    private readonly kind: Kind,
    private readonly opts: InformerOptions,
  ) {}

  on(handler: (event: WatchEvent<T>) => void): void {
    this.handlers.push(handler);
  }

  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.unsubscribe = this.store.subscribe(this.kind, (type, obj) => this.observe(type, obj as T));
    for (const obj of this.store.select(this.kind, this.opts)) {
      this.cache.set(nsNameKey(obj), obj as T);
      this.deliver({ type: "ADDED", object: obj as T });
    }
    const resyncMs = this.opts.resyncMs ?? 300_000;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        for (const obj of this.cache.values()) this.enqueue({ type: "MODIFIED", object: obj });
      }, resyncMs);
      this.resyncTimer.unref?.();
    }
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.queue.length = 0;
    this.store.forgetInformer(this as unknown as LocalInformer<KubeObject>);
  }

  get(key: ObjectKey): T | undefined {
    return this.cache.get(nsNameKey({ metadata: { name: key.name, namespace: keyNamespace(this.kind, key.namespace) } }));
  }

  list(opts: ListOptions = {}): T[] {
    const out: T[] = [];
    for (const obj of this.cache.values()) if (selects(opts, obj)) out.push(obj);
    return out;
  }

  /** Updates the cache at once (reads after a write see it) and queues the event for the handlers. */
  private observe(type: WatchEventType, obj: T): void {
    const k = nsNameKey(obj);
    const had = this.cache.has(k);
    if (type !== "DELETED" && selects(this.opts, obj)) {
      this.cache.set(k, obj);
      this.enqueue({ type: had ? "MODIFIED" : "ADDED", object: obj });
    } else if (had) {
      // Deleted, or no longer selected: a watch with a selector reports DELETED.
      this.cache.delete(k);
      this.enqueue({ type: "DELETED", object: obj });
    }
  }

  private enqueue(event: WatchEvent<T>): void {
    this.queue.push(event);
    if (this.draining) return;
    this.draining = true;
    // Handlers run after the writer's call stack unwinds, in order, as a watch would deliver them.
    queueMicrotask(() => {
      let e: WatchEvent<T> | undefined;
      while ((e = this.queue.shift())) this.deliver(e);
      this.draining = false;
    });
  }

  private deliver(event: WatchEvent<T>): void {
    for (const h of this.handlers) {
      try {
        h(event);
      } catch (e) {
        console.error(`informer ${this.kind}: handler failed on ${event.type} ${event.object.metadata.name}:`, e);
      }
    }
  }
}

// ---- manifest loading ----

/** Reads every manifest under `dir`; throws ManifestError listing each problem by file, document and field. */
export async function loadManifestDir(dir: string, admitter?: Admitter): Promise<ManifestDoc[]> {
  const files = await findManifestFiles(dir);
  const docs: ManifestDoc[] = [];
  const problems: string[] = [];
  const firstSeen = new Map<string, string>();
  for (const file of files) {
    const rel = relative(process.cwd(), file);
    const shown = rel && !rel.startsWith("..") ? rel : file; // relative when under the working directory
    const text = await readFile(file, "utf8");
    let parsed: unknown[];
    try {
      parsed = yaml.loadAll(text, undefined, { filename: shown });
    } catch (e) {
      const mark = (e as yaml.YAMLException).mark;
      const line = mark ? mark.line : 0;
      const docIndex = documentIndexAtLine(text, line);
      problems.push(`${shown} document ${docIndex}: YAML syntax error at line ${line + 1}: ${(e as yaml.YAMLException).reason ?? (e as Error).message}`);
      continue;
    }
    parsed.forEach((raw, i) => {
      const where = `${shown} document ${i + 1}`;
      if (raw === null || raw === undefined) return; // empty document
      const issues: ValidationIssue[] = [];
      const obj = checkManifestObject(raw, issues);
      if (obj && SKIPPED_KINDS.has(obj.kind)) return;
      if (obj && admitter && KINDS[obj.kind as Kind].custom) issues.push(...admitter(obj, undefined).issues);
      if (issues.length || !obj) {
        const what = obj ? ` (${describeObject(obj.kind, obj.metadata)})` : "";
        for (const issue of issues) problems.push(`${where}${what}: field ${issue.field}: ${issue.message}`);
        return;
      }
      const id = objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
      const prior = firstSeen.get(id);
      if (prior) {
        problems.push(`${where}: ${describeObject(obj.kind, obj.metadata)} is also defined in ${prior}`);
        return;
      }
      firstSeen.set(id, where);
      docs.push({ where, obj, hash: createHash("sha256").update(stableStringify(obj)).digest("hex") });
    });
  }
  if (problems.length) throw new ManifestError(problems);
  return docs;
}

async function findManifestFiles(dir: string): Promise<string[]> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`manifest directory ${dir} does not exist or is not a directory`);
  const out: string[] = [];
  const walk = async (d: string) => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.ya?ml$/.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** 1-based index of the YAML document containing a 0-based line. */
function documentIndexAtLine(text: string, line: number): number {
  const lines = text.split("\n");
  let index = 1;
  let sawContent = false;
  for (let i = 0; i < Math.min(line, lines.length); i++) {
    if (/^---(\s|$)/.test(lines[i])) {
      if (sawContent) index++;
      sawContent = true; // a leading `---` opens the first document
    } else if (lines[i].trim() && !lines[i].trim().startsWith("#")) {
      sawContent = true;
    }
  }
  return index;
}

/** Checks the envelope of a manifest object (kind, apiVersion, metadata) and normalises its namespace. */
function checkManifestObject(raw: unknown, issues: ValidationIssue[]): KubeObject | undefined {
  if (typeof raw !== "object" || Array.isArray(raw) || raw === null) {
    issues.push({ field: "(document)", message: "must be a mapping" });
    return undefined;
  }
  const obj = raw as KubeObject;
  if (typeof obj.kind !== "string" || !obj.kind) {
    issues.push({ field: "kind", message: "required" });
    return undefined;
  }
  if (SKIPPED_KINDS.has(obj.kind)) return { ...obj, metadata: obj.metadata ?? { name: "" } };
  if (!(obj.kind in KINDS)) {
    issues.push({ field: "kind", message: `"${obj.kind}" is not served by the local store` });
    return undefined;
  }
  const info = KINDS[obj.kind as Kind];
  if (obj.apiVersion !== info.apiVersion) {
    issues.push({ field: "apiVersion", message: `"${obj.apiVersion}" is not ${info.apiVersion} (the version ${obj.kind} is served at)` });
  }
  const meta = obj.metadata;
  if (typeof meta !== "object" || meta === null || typeof meta.name !== "string" || !meta.name) {
    issues.push({ field: "metadata.name", message: "required (generateName is not allowed in manifests)" });
    return undefined;
  }
  if (info.namespaced) meta.namespace ||= "default";
  else delete meta.namespace;
  return obj;
}

// ---- small utilities ----

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** The status an object starts with: clients cannot set it on create, except a Node's (as kubelets do). */
function initialStatus(kind: Kind, obj: KubeObject): void {
  if (kind === "Node" || !KINDS[kind].hasStatus) return;
  if (kind === "Service") obj.status = { loadBalancer: {} };
  else if (kind === "Pod") obj.status = { phase: "Pending" };
  else if (kind === "Namespace") obj.status = { phase: "Active" };
  else delete obj.status;
}

/** The fields whose change bumps metadata.generation: everything but metadata and status. */
function specPart(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj as unknown as Record<string, unknown>;
  return rest;
}

function stableStringify(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(",")}}`;
}
