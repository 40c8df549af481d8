// KubeStore: the Store over a Kubernetes API server, through
// @kubernetes/client-node 1.4.
//
// Which client-node API serves which kind (KINDS in ./types.ts gives group,
// version, plural and scope):
// - Every kind in an API group (our CRDs, discovery.k8s.io EndpointSlice,
//   coordination.k8s.io Lease) goes through CustomObjectsApi: it is the generic
//   client of /apis/{group}/{version}/..., with /status methods, and it speaks
//   plain JSON, so objects reach the reconcilers exactly as the server wrote
//   them (Lease MicroTimes included), the same shape LocalStore returns.
// - The core group (/api/v1: Service, Node, Pod, Namespace, Event) has no
//   generic client in 1.4 other than KubernetesObjectApi, which needs API
//   discovery and has no status subresource methods; CoreV1Api does it. Its
//   results are model class instances with Date fields, so they are turned
//   back into plain JSON with client-node's ObjectSerializer.
// - The write path (create, patch, patchStatus, delete: ~4 requests per
//   Service in the controller) skips those layers: DirectWriter sends the JSON
//   itself (node:http(s) under Node, fetch under Bun) with the kubeconfig's
//   server, auth and TLS (see there) and parses the answer as is. Through
//   client-node a Service status patch cost about twice the client CPU
//   (request context, middleware, model serializer both ways).
//
// Informers are client-node's ListWatch (what makeInformer builds), with:
// watch bookmarks requested and a bounded watch timeout (so idle watches keep a
// fresh resourceVersion and cycle), a relist on 410 Gone (ListWatch's own), a
// restart with bounded exponential backoff after any other error (ListWatch
// stops for good on one), and a periodic resync.
//
// Patches are sent as application/merge-patch+json (client-node would pick
// JSON Patch for a PATCH body).

import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ListWatch,
  Watch,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { ObjectSerializer } from "@kubernetes/client-node/dist/gen/models/ObjectSerializer.js";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { loadKubeConfig } from "./kubeconfig.ts";
import { OutageLog } from "./outage-log.ts";
import {
  AlreadyExistsError,
  ConflictError,
  EventRecorder,
  InvalidError,
  NotFoundError,
  StoreError,
  describeObject,
  isNotFound,
  isUnreachable,
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
import { KINDS, keyNamespace, requireStatusSubresource, type KindInfo } from "./types.ts";

const MERGE_PATCH = "application/merge-patch+json";

interface ObjectList {
  items: KubeObject[];
  resourceVersion: string;
}

/**
 * One kind's reads and replace through client-node. `namespace` is undefined for
 * cluster-scoped kinds (and for all-namespace lists). Create, patch and delete go
 * through DirectWriter.
 */
interface ResourceClient {
  get(namespace: string | undefined, name: string): Promise<KubeObject>;
  list(namespace: string | undefined, labelSelector: string | undefined, fieldSelector?: string): Promise<ObjectList>;
  replace(namespace: string | undefined, name: string, body: KubeObject): Promise<KubeObject>;
}

/** Kinds of an API group, through CustomObjectsApi (plain JSON both ways). */
class GroupResourceClient implements ResourceClient {
  constructor(
    private readonly api: CustomObjectsApi,
    private readonly info: KindInfo,
  ) {}

  private base() {
    return { group: this.info.group, version: this.info.version, plural: this.info.plural };
  }

  async get(namespace: string | undefined, name: string) {
    return namespace
      ? this.api.getNamespacedCustomObject({ ...this.base(), namespace, name })
      : this.api.getClusterCustomObject({ ...this.base(), name });
  }

  async list(namespace: string | undefined, labelSelector: string | undefined, fieldSelector?: string) {
    // /apis/{group}/{version}/{plural} lists a namespaced kind across all namespaces.
    const list = namespace
      ? await this.api.listNamespacedCustomObject({ ...this.base(), namespace, labelSelector, fieldSelector })
      : await this.api.listClusterCustomObject({ ...this.base(), labelSelector, fieldSelector });
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  async replace(namespace: string | undefined, name: string, body: KubeObject) {
    return namespace
      ? this.api.replaceNamespacedCustomObject({ ...this.base(), namespace, name, body })
      : this.api.replaceClusterCustomObject({ ...this.base(), name, body });
  }
}

/** client-node model names of the core kinds (core/v1 Event is CoreV1Event). */
const CORE_MODELS: Partial<Record<Kind, string>> = {
  Service: "V1Service",
  Node: "V1Node",
  Pod: "V1Pod",
  Namespace: "V1Namespace",
  Event: "CoreV1Event",
  Secret: "V1Secret",
};

/**
 * Core (/api/v1) kinds, through CoreV1Api. Its methods follow one naming
 * scheme (readNamespacedService, listNode, listServiceForAllNamespaces,
 * patchNamespacedServiceStatus, ...), so they are looked up by name.
 */
class CoreResourceClient implements ResourceClient {
  private readonly model: string;

  constructor(
    private readonly api: CoreV1Api,
    private readonly kind: Kind,
  ) {
    const model = CORE_MODELS[kind];
    if (!model) throw new Error(`no core/v1 model for kind ${kind}`);
    this.model = model;
  }

  private async call(method: string, param: Record<string, unknown>, options?: unknown): Promise<unknown> {
    const fn = (this.api as unknown as Record<string, (p: unknown, o?: unknown) => Promise<unknown>>)[method];
    if (typeof fn !== "function") throw new Error(`CoreV1Api has no method ${method}`);
    return fn.call(this.api, param, options);
  }

  private name(verb: string, namespace: string | undefined): string {
    return `${verb}${namespace ? "Namespaced" : ""}${this.kind}`;
  }

  /** Model instance (Date fields, undefined members) -> the plain JSON the server sent. */
  private plain(obj: unknown, model = this.model): KubeObject {
    return JSON.parse(JSON.stringify(ObjectSerializer.serialize(datesToTime(obj), model)));
  }

  async get(namespace: string | undefined, name: string) {
    return this.plain(await this.call(this.name("read", namespace), { namespace, name }));
  }

  async list(namespace: string | undefined, labelSelector: string | undefined, fieldSelector?: string) {
    const method = namespace || !KINDS[this.kind].namespaced ? this.name("list", namespace) : `list${this.kind}ForAllNamespaces`;
    const list = this.plain(await this.call(method, { namespace, labelSelector, fieldSelector }), `${this.model}List`) as unknown as {
      items?: KubeObject[];
      metadata?: { resourceVersion?: string };
    };
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  async replace(namespace: string | undefined, name: string, body: KubeObject) {
    return this.plain(await this.call(this.name("replace", namespace), { namespace, name, body }));
  }
}

/** A non-2xx answer, in the shape toStoreError reads (client-node's ApiException has the same code and body). */
class HttpStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

const IS_BUN = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/**
 * The write requests, sent straight to the API server as JSON and answered with
 * the server's JSON as is. Server, auth and TLS come from client-node per request
 * (kc.applyToHTTPSOptions: bearer token, token file and exec/OIDC refresh,
 * basic auth, impersonation header, CA, client certificate and key,
 * insecure-skip-tls-verify, tls-server-name, and the agent from kc.createAgent:
 * proxy, and with keepAlive one cached keep-alive agent, see reuseConnections).
 * Transport, cheapest per runtime (measured: Bun's node:http client costs more
 * CPU than its fetch, Node's fetch more than node:http):
 * - Node (and Bun behind a proxy): node:http(s).request with that agent; the TLS
 *   fields are also passed on the request, where https.request merges them into
 *   the agent's connection options and pool key.
 * - Bun: its native fetch (what client-node's node-fetch import is under Bun),
 *   the same CA/certificate/key/verify/server name given as fetch's `tls` option;
 *   Bun keeps fetch connections alive itself. Not the bare `undici` import, a stub
 *   under Bun.
 */
class DirectWriter {
  constructor(
    private readonly kc: KubeConfig,
    private readonly keepAlive: boolean,
  ) {}

  private applied: { at: number; opts: Promise<RequestOptions> } | undefined;

  /**
   * The kubeconfig's TLS and auth for a request. client-node rebuilds them on every call
   * (files read, headers computed: ~0.5 ms); they are reused for a second, so a token a
   * kubelet rotates in its file is still picked up.
   */
  private httpsOptions(): Promise<RequestOptions> {
    const now = Date.now();
    if (!this.applied || now - this.applied.at > 1000) {
      const opts: RequestOptions = {};
      this.applied = { at: now, opts: this.kc.applyToHTTPSOptions(opts).then(() => opts) };
      this.applied.opts.catch(() => (this.applied = undefined));
    }
    return this.applied.opts;
  }

  /** The URL path of one kind's collection (name undefined) or object, with an optional subresource. */
  path(info: KindInfo, namespace: string | undefined, name?: string, subresource?: string): string {
    const prefix = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    const obj = name === undefined ? "" : `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ""}`;
    return `${prefix}${ns}/${info.plural}${obj}`;
  }

  async send(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<unknown> {
    const cluster = this.kc.getCurrentCluster();
    const server = cluster?.server;
    if (!server) throw new Error("kubeconfig: the current context has no cluster server");
    const opts = await this.httpsOptions();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string>), Accept: "application/json" };
    if (payload !== undefined) {
      headers["Content-Type"] = contentType;
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    const url = new URL(server.replace(/\/+$/, "") + path);
    const text =
      IS_BUN && !cluster.proxyUrl
        ? await this.bunFetch(url, method, headers, payload, opts)
        : await this.nodeRequest(url, method, headers, payload, opts);
    return text ? JSON.parse(text) : undefined;
  }

  private async bunFetch(url: URL, method: string, headers: Record<string, string>, payload: string | undefined, opts: RequestOptions): Promise<string> {
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
    const tls: Record<string, unknown> = { ca: opts.ca, cert: opts.cert, key: opts.key, serverName: opts.servername };
    if (opts.rejectUnauthorized !== undefined) tls.rejectUnauthorized = opts.rejectUnauthorized;
    const res = await fetch(url, { method, headers, body: payload, tls, keepalive: this.keepAlive } as RequestInit);
    const text = await res.text();
    if (!res.ok) throw new HttpStatusError(res.status, text);
    return text;
  }

  private nodeRequest(url: URL, method: string, headers: Record<string, string>, payload: string | undefined, opts: RequestOptions): Promise<string> {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const reqOpts: RequestOptions = {
      method,
      headers,
      agent: opts.agent,
      auth: opts.auth,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      servername: opts.servername,
    };
    if (opts.rejectUnauthorized !== undefined) reqOpts.rejectUnauthorized = opts.rejectUnauthorized;
    return new Promise<string>((resolve, reject) => {
      const req = request(url, reqOpts, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const t = Buffer.concat(chunks).toString("utf8");
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(t);
          else reject(new HttpStatusError(code, t));
        });
      });
      req.on("error", reject);
      req.end(payload);
    });
  }
}

/**
 * metav1.Time fields come back from CoreV1Api as Date objects; the serializer
 * would print them with milliseconds. Put back the server's form (whole seconds).
 */
function datesToTime(v: unknown): unknown {
  if (v instanceof Date) return rfc3339(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = datesToTime(v[i]);
  } else if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = datesToTime(o[k]);
  }
  return v;
}

/** The API's Status body of a failed request, whatever form client-node left it in. */
function statusOf(body: unknown): { message?: string; reason?: string } {
  if (typeof body === "string") {
    try {
      return JSON.parse(body);
    } catch {
      return { message: body.slice(0, 200) };
    }
  }
  return (body as { message?: string; reason?: string }) ?? {};
}

/** Turns a client-node failure into a StoreError naming the verb, the object and the HTTP status. */
export function toStoreError(e: unknown, verb: string, kind: Kind, key: ObjectKey): StoreError {
  if (e instanceof StoreError) return e;
  const what = describeObject(kind, key);
  const code = (e as { code?: unknown }).code;
  if (typeof code === "number" && "body" in (e as object)) {
    const st = statusOf((e as { body: unknown }).body);
    if (code === 404) return new NotFoundError(what, kind, key);
    if (code === 409 && st.reason === "AlreadyExists") return new AlreadyExistsError(what, kind, key);
    if (code === 409) return new ConflictError(what, kind, key);
    if (code === 422) return new InvalidError(what, st.message ?? "invalid", kind, key);
    return new StoreError(`${verb} ${what}: HTTP ${code}: ${st.message ?? st.reason ?? "request failed"}`, code, kind, key, st.reason);
  }
  // No HTTP answer (connection refused, reset, TLS): status 0.
  return new StoreError(`${verb} ${what}: ${(e as Error)?.message ?? String(e)}`, 0, kind, key, "ConnectionFailed");
}

export interface KubeStoreOptions {
  /** Event source component. Default "sart". */
  component?: string;
  /** Event source host (e.g. the node name). */
  host?: string;
  /** Informer restart backoff after errors: first delay and cap. Defaults 200 ms and 30 s. */
  backoffMs?: { initial: number; max: number };
  /** Server-side watch timeout range in seconds (each watch picks one at random). Default 300-600. */
  watchTimeoutSeconds?: [number, number];
  /** Reuse connections (one keep-alive agent per TLS/proxy option set). Default true. */
  keepAlive?: boolean;
  log?: (message: string) => void;
  /** While the API server is unreachable, at most one log line per this period. Default one minute. */
  outageRepeatMs?: number;
}

export class KubeStore implements Store {
  private readonly customApi: CustomObjectsApi;
  private readonly coreApi: CoreV1Api;
  private readonly clients = new Map<Kind, ResourceClient>();
  private readonly recorder: EventRecorder;
  private readonly informers = new Set<KubeInformer<KubeObject>>();
  private readonly writer: DirectWriter;
  /** Requests without an answer are reported here, once per outage, not one line each. */
  readonly outage: OutageLog;

  constructor(
    readonly kc: KubeConfig,
    readonly opts: KubeStoreOptions = {},
  ) {
    if (opts.keepAlive !== false) reuseConnections(kc);
    this.customApi = kc.makeApiClient(CustomObjectsApi);
    this.coreApi = kc.makeApiClient(CoreV1Api);
    this.writer = new DirectWriter(kc, opts.keepAlive !== false);
    this.recorder = new EventRecorder(this, opts.component ?? "sart", opts.host);
    this.outage = new OutageLog(`API server ${kc.getCurrentCluster()?.server ?? "(no server in kubeconfig)"}`, (m) => this.log(m), opts.outageRepeatMs);
  }

  /** Runs one request: a failure becomes a StoreError; whether the server answered goes to the outage log. */
  private async request<T>(verb: string, kind: Kind, key: ObjectKey, send: () => Promise<T>): Promise<T> {
    try {
      const result = await send();
      this.outage.answered();
      return result;
    } catch (e) {
      const err = toStoreError(e, verb, kind, key);
      if (isUnreachable(err)) this.outage.failed(err);
      else this.outage.answered();
      throw err;
    }
  }

  /** From `--kubeconfig FILE`, $KUBECONFIG, in-cluster config or ~/.kube/config (see kubeconfig.ts). */
  static fromConfig(config: { kubeconfig?: string; context?: string } = {}, opts: KubeStoreOptions = {}): KubeStore {
    return new KubeStore(loadKubeConfig(config).kc, opts);
  }

  client(kind: Kind): ResourceClient {
    let c = this.clients.get(kind);
    if (!c) {
      const info = kindInfo(kind);
      c = info.group ? new GroupResourceClient(this.customApi, info) : new CoreResourceClient(this.coreApi, kind);
      this.clients.set(kind, c);
    }
    return c;
  }

  async get<T extends KubeObject>(kind: Kind, key: ObjectKey): Promise<T | undefined> {
    const ns = keyNamespace(kind, key.namespace);
    try {
      return (await this.request("get", kind, { name: key.name, namespace: ns }, () => this.client(kind).get(ns, key.name))) as T;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(kind: Kind, opts: ListOptions = {}): Promise<T[]> {
    return (await this.listWithVersion(kind, opts.namespace, opts.labelSelector)).items as T[];
  }

  /** The raw list with its resourceVersion (for informers). */
  async listWithVersion(kind: Kind, namespace: string | undefined, labelSelector: string | undefined, fieldSelector?: string): Promise<ObjectList> {
    return this.request("list", kind, { name: "*", namespace }, () =>
      this.client(kind).list(KINDS[kind]?.namespaced ? namespace : undefined, labelSelector, fieldSelector),
    );
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    const kind = obj.kind as Kind;
    const ns = keyNamespace(kind, obj.metadata?.namespace);
    const key = { name: obj.metadata?.name || `${obj.metadata?.generateName ?? ""}*`, namespace: ns };
    return (await this.request("create", kind, key, () => this.writer.send("POST", this.writer.path(kindInfo(kind), ns), inNamespace(obj, ns)))) as T;
  }

  async update<T extends KubeObject>(obj: T): Promise<T> {
    const kind = obj.kind as Kind;
    const ns = keyNamespace(kind, obj.metadata.namespace);
    return (await this.request("update", kind, { name: obj.metadata.name, namespace: ns }, () => this.client(kind).replace(ns, obj.metadata.name, inNamespace(obj, ns)))) as T;
  }

  async patch<T extends KubeObject>(kind: Kind, key: ObjectKey, patch: unknown, opts: WriteOptions = {}): Promise<T> {
    const ns = keyNamespace(kind, key.namespace);
    // A resourceVersion in a merge patch makes the server check it (optimistic concurrency).
    const body = opts.resourceVersion ? mergePatch(patch, { metadata: { resourceVersion: opts.resourceVersion } }) : patch;
    return (await this.request("patch", kind, { name: key.name, namespace: ns }, () => this.writer.send("PATCH", this.writer.path(kindInfo(kind), ns, key.name), body, MERGE_PATCH))) as T;
  }

  async patchStatus<T extends KubeObject>(kind: Kind, key: ObjectKey, status: unknown, opts: WriteOptions = {}): Promise<T> {
    const ns = keyNamespace(kind, key.namespace);
    const k = { name: key.name, namespace: ns };
    requireStatusSubresource(kind, k);
    const body: Record<string, unknown> = { status };
    if (opts.resourceVersion) body.metadata = { resourceVersion: opts.resourceVersion };
    return (await this.request("patch status of", kind, k, () => this.writer.send("PATCH", this.writer.path(kindInfo(kind), ns, key.name, "status"), body, MERGE_PATCH))) as T;
  }

  async delete(kind: Kind, key: ObjectKey): Promise<void> {
    const ns = keyNamespace(kind, key.namespace);
    try {
      await this.request("delete", kind, { name: key.name, namespace: ns }, () => this.writer.send("DELETE", this.writer.path(kindInfo(kind), ns, key.name)));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  informer<T extends KubeObject>(kind: Kind, opts: InformerOptions = {}): Informer<T> {
    const inf = new KubeInformer<KubeObject>(this, kind, opts);
    this.informers.add(inf);
    return inf as unknown as Informer<T>;
  }

  forgetInformer(inf: KubeInformer<KubeObject>): void {
    this.informers.delete(inf);
  }

  recordEvent(about: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    return this.recorder.record(about, type, reason, message);
  }

  /** Stops every informer this store made. */
  close(): void {
    for (const inf of [...this.informers]) inf.stop();
  }

  /** The URL path a kind is watched at. */
  watchPath(kind: Kind, namespace: string | undefined): string {
    const info = KINDS[kind];
    const prefix = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    return `${prefix}${ns}/${info.plural}`;
  }

  log(message: string): void {
    (this.opts.log ?? ((m: string) => console.error(m)))(message);
  }
}

function kindInfo(kind: Kind): KindInfo {
  const info = KINDS[kind];
  if (!info) throw new StoreError(`unknown kind "${kind}"`, 404, undefined, undefined, "NotFound");
  return info;
}

/** The body to send: `obj` with metadata.namespace set to the namespace addressed (when it differs). */
function inNamespace<T extends KubeObject>(obj: T, ns: string | undefined): T {
  return ns && obj.metadata.namespace !== ns ? { ...obj, metadata: { ...obj.metadata, namespace: ns } } : obj;
}

/**
 * client-node 1.4 builds a new http(s).Agent for every request, so every request
 * opens a new connection (and a new TLS handshake against a real API server).
 * Keep one keep-alive agent per distinct option set instead. createAgent is
 * client-node's own (unexported) hook; a KubeConfig is patched at most once.
 */
function reuseConnections(kc: KubeConfig): void {
  const target = kc as unknown as {
    createAgent?: (cluster: { server?: string; proxyUrl?: string } | null, opts: object) => unknown;
    sartKeepAlive?: boolean;
  };
  if (typeof target.createAgent !== "function" || target.sartKeepAlive) return;
  target.sartKeepAlive = true;
  const create = target.createAgent.bind(kc);
  const agents = new Map<string, unknown>();
  target.createAgent = (cluster, opts) => {
    // CA, certificate and key are fresh Buffers on every call: key them by content
    // (base64 is much cheaper than JSON.stringify's array of bytes).
    const key = JSON.stringify([
      cluster?.server,
      cluster?.proxyUrl,
      Object.entries(opts).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString("base64") : v]),
    ]);
    let agent = agents.get(key);
    if (!agent) agents.set(key, (agent = create(cluster, { ...opts, keepAlive: true })));
    return agent;
  };
}

/** Watch with bookmarks and a server-side timeout, so idle watches keep a fresh resourceVersion. */
class BookmarkWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly timeoutRange: [number, number],
  ) {
    super(kc);
  }

  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: any, done: any) {
    const [lo, hi] = this.timeoutRange;
    const timeoutSeconds = lo + Math.floor(Math.random() * (hi - lo + 1));
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds }, callback, done);
  }
}

export class KubeInformer<T extends KubeObject> implements Informer<T> {
  private readonly handlers: ((e: WatchEvent<T>) => void)[] = [];
  private lw?: ListWatch<KubernetesObject>;
  private running = false;
  private synced?: Promise<void>;
  private resolveSynced?: () => void;
  private rejectSynced?: (e: Error) => void;
  private backoffMs: number;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private resyncTimer?: ReturnType<typeof setInterval>;
  /** Errors seen since the informer was made (restarts), for logs and tests. */
  errors = 0;

  constructor(
    private readonly store: KubeStore,
    private readonly kind: Kind,
    private readonly opts: InformerOptions,
  ) {
    this.backoffMs = store.opts.backoffMs?.initial ?? 200;
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
    const { kind, opts, store } = this;
    const namespace = KINDS[kind].namespaced ? opts.namespace : undefined;
    const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const list = await store.listWithVersion(kind, namespace, opts.labelSelector, opts.fieldSelector);
      this.backoffMs = store.opts.backoffMs?.initial ?? 200; // a list got through: the server is back
      // ListWatch delivers the items synchronously once this promise resolves: the cache is
      // synced by the next macrotask, whether or not the watch that follows connects.
      setTimeout(() => this.resolveSynced?.(), 0);
      return { metadata: { resourceVersion: list.resourceVersion }, items: list.items as KubernetesObject[] } as KubernetesListObject<KubernetesObject>;
    };
    const watch = new BookmarkWatch(store.kc, store.opts.watchTimeoutSeconds ?? [300, 600]);
    const lw = new ListWatch<KubernetesObject>(store.watchPath(kind, namespace), watch, listFn, false, opts.labelSelector, opts.fieldSelector);
    this.lw = lw;
    lw.on("add", (o) => this.deliver("ADDED", o as unknown as T));
    lw.on("update", (o) => this.deliver("MODIFIED", o as unknown as T));
    lw.on("delete", (o) => this.deliver("DELETED", o as unknown as T));
    lw.on("error", (err) => this.restartAfter(err));
    void this.run();
    const resyncMs = opts.resyncMs ?? 300_000;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        for (const o of this.lw?.list() ?? []) this.deliver("MODIFIED", o as unknown as T);
      }, resyncMs);
      this.resyncTimer.unref?.();
    }
    return this.synced;
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    void this.lw?.stop();
    this.rejectSynced?.(new Error(`informer ${this.kind} stopped before its first list`));
    this.store.forgetInformer(this as unknown as KubeInformer<KubeObject>);
  }

  get(key: ObjectKey): T | undefined {
    return this.lw?.get(key.name, keyNamespace(this.kind, key.namespace)) as T | undefined;
  }

  list(opts: ListOptions = {}): T[] {
    const all = (this.lw?.list(opts.namespace) ?? []) as unknown as T[];
    return opts.labelSelector ? all.filter((o) => matchesLabelSelector(o.metadata.labels, opts.labelSelector)) : [...all];
  }

  /** (Re)starts list+watch: ListWatch lists when it has no resourceVersion (first start, after 410), else watches on. */
  private async run(): Promise<void> {
    if (!this.running || !this.lw) return;
    try {
      await this.lw.start();
    } catch (e) {
      this.restartAfter(e);
    }
  }

  private restartAfter(err: unknown): void {
    if (!this.running || this.restartTimer) return;
    this.errors++;
    const delay = this.backoffMs;
    const max = this.store.opts.backoffMs?.max ?? 30_000;
    this.backoffMs = Math.min(max, this.backoffMs * 2);
    const status = (err as { statusCode?: number; code?: number })?.statusCode ?? (err as { code?: number })?.code;
    if (isUnreachable(err) || (typeof status !== "number" && !(err instanceof StoreError))) {
      // No answer (a failed list, or a watch that could not connect): one line per outage for every informer.
      this.store.outage.failed(err);
    } else {
      this.store.log(
        `informer ${this.kind}: ${(err as Error)?.message ?? String(err)}${typeof status === "number" ? ` (HTTP ${status})` : ""}; restarting in ${delay} ms`,
      );
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.run();
    }, delay * (0.8 + Math.random() * 0.4));
  }

  private deliver(type: WatchEventType, object: T): void {
    for (const h of this.handlers) {
      try {
        h({ type, object });
      } catch (e) {
        console.error(`informer ${this.kind}: handler failed on ${type} ${object.metadata?.name}:`, e);
      }
    }
  }
}
