// KubeStore: the Store over a Kubernetes API server, as plain JSON over HTTP(S)
// (./kube-http.ts): every verb is one request to the kind's REST path (KINDS in ./types.ts
// gives group, version, plural and scope), and objects reach the reconcilers exactly as
// the server wrote them (Lease MicroTimes included), the same shape LocalStore returns.
// The kubeconfig comes from ./kubeconfig.ts (or is client-node's KubeConfig: both have
// what ClusterAccess asks).
//
// Why not client-node's API classes: importing them loads every generated model (tens of
// MiB in a node agent), their request path costs about twice the client CPU per request
// (request context, middleware, and for core kinds the model serializer both ways), and
// their informer stops for good on an error. Informers are ./kube-informer.ts.
//
// Patches are sent as application/merge-patch+json (client-node would pick JSON Patch
// for a PATCH body).

import { HttpStatusError, KubeHttp, type WatchStream } from "./kube-http.ts";
import { KubeInformer } from "./kube-informer.ts";
import { type ClusterAccess, loadKubeConfig, reuseConnections } from "./kubeconfig.ts";
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
  mergePatch,
  type Informer,
  type InformerOptions,
  type Kind,
  type KubeObject,
  type ListOptions,
  type ObjectKey,
  type Store,
  type WriteOptions,
} from "./store.ts";
import { KINDS, keyNamespace, requireStatusSubresource, type KindInfo } from "./types.ts";

export { KubeInformer } from "./kube-informer.ts";

const MERGE_PATCH = "application/merge-patch+json";

interface ObjectList {
  items: KubeObject[];
  resourceVersion: string;
}

/** The API's Status body of a failed request. */
function statusOf(body: string): { message?: string; reason?: string } {
  try {
    return JSON.parse(body) ?? {};
  } catch {
    return { message: body.slice(0, 200) };
  }
}

/** Turns a failed request into a StoreError naming the verb, the object and the HTTP status. */
export function toStoreError(e: unknown, verb: string, kind: Kind, key: ObjectKey): StoreError {
  if (e instanceof StoreError) return e;
  const what = describeObject(kind, key);
  if (e instanceof HttpStatusError) {
    const { code } = e;
    const st = statusOf(e.body);
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
  private readonly http: KubeHttp;
  private readonly recorder: EventRecorder;
  private readonly informers = new Set<KubeInformer<KubeObject>>();
  /** Requests without an answer are reported here, once per outage, not one line each. */
  readonly outage: OutageLog;

  constructor(
    readonly kc: ClusterAccess,
    readonly opts: KubeStoreOptions = {},
  ) {
    // client-node's KubeConfig (tests, and ours behind a proxy) makes its own agents: keep them alive.
    if (opts.keepAlive !== false) reuseConnections(kc);
    this.http = new KubeHttp(kc, opts.keepAlive !== false);
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

  async get<T extends KubeObject>(kind: Kind, key: ObjectKey): Promise<T | undefined> {
    const ns = keyNamespace(kind, key.namespace);
    try {
      return (await this.request("get", kind, { name: key.name, namespace: ns }, () => this.http.request("GET", restPath(kind, ns, key.name)))) as T;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(kind: Kind, opts: ListOptions = {}): Promise<T[]> {
    return (await this.listWithVersion(kind, opts.namespace, opts.labelSelector)).items as T[];
  }

  /** The raw list with its resourceVersion (for informers). Items get their kind and apiVersion (a list leaves them out). */
  async listWithVersion(kind: Kind, namespace: string | undefined, labelSelector: string | undefined, fieldSelector?: string): Promise<ObjectList> {
    // A namespaced kind without a namespace: /apis/{group}/{version}/{plural} lists it across all namespaces.
    const ns = KINDS[kind]?.namespaced ? namespace : undefined;
    const q = new URLSearchParams();
    if (labelSelector) q.set("labelSelector", labelSelector);
    if (fieldSelector) q.set("fieldSelector", fieldSelector);
    const query = q.size ? `?${q}` : "";
    const list = (await this.request("list", kind, { name: "*", namespace }, () => this.http.request("GET", restPath(kind, ns) + query))) as {
      items?: KubeObject[] | null;
      metadata?: { resourceVersion?: string };
    };
    const items = list.items ?? [];
    const { apiVersion } = KINDS[kind];
    for (const o of items) {
      if (!o.kind) {
        o.kind = kind;
        o.apiVersion = apiVersion;
      }
    }
    return { items, resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  /** Opens a watch of a kind (for informers); a failure is a StoreError (410: the resourceVersion is too old). */
  async watch(kind: Kind, namespace: string | undefined, query: URLSearchParams, onLine: (line: string) => void, idleMs: number): Promise<WatchStream> {
    const ns = KINDS[kind]?.namespaced ? namespace : undefined;
    return this.request("watch", kind, { name: "*", namespace }, () => this.http.watch(`${restPath(kind, ns)}?${query}`, onLine, idleMs));
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    const kind = obj.kind as Kind;
    const ns = keyNamespace(kind, obj.metadata?.namespace);
    const key = { name: obj.metadata?.name || `${obj.metadata?.generateName ?? ""}*`, namespace: ns };
    return (await this.request("create", kind, key, () => this.http.request("POST", restPath(kind, ns), inNamespace(obj, ns)))) as T;
  }

  async update<T extends KubeObject>(obj: T): Promise<T> {
    const kind = obj.kind as Kind;
    const ns = keyNamespace(kind, obj.metadata.namespace);
    const name = obj.metadata.name;
    return (await this.request("update", kind, { name, namespace: ns }, () => this.http.request("PUT", restPath(kind, ns, name), inNamespace(obj, ns)))) as T;
  }

  async patch<T extends KubeObject>(kind: Kind, key: ObjectKey, patch: unknown, opts: WriteOptions = {}): Promise<T> {
    const ns = keyNamespace(kind, key.namespace);
    // A resourceVersion in a merge patch makes the server check it (optimistic concurrency).
    const body = opts.resourceVersion ? mergePatch(patch, { metadata: { resourceVersion: opts.resourceVersion } }) : patch;
    return (await this.request("patch", kind, { name: key.name, namespace: ns }, () => this.http.request("PATCH", restPath(kind, ns, key.name), body, MERGE_PATCH))) as T;
  }

  async patchStatus<T extends KubeObject>(kind: Kind, key: ObjectKey, status: unknown, opts: WriteOptions = {}): Promise<T> {
    const ns = keyNamespace(kind, key.namespace);
    const k = { name: key.name, namespace: ns };
    requireStatusSubresource(kind, k);
    const body: Record<string, unknown> = { status };
    if (opts.resourceVersion) body.metadata = { resourceVersion: opts.resourceVersion };
    return (await this.request("patch status of", kind, k, () => this.http.request("PATCH", restPath(kind, ns, key.name, "status"), body, MERGE_PATCH))) as T;
  }

  async delete(kind: Kind, key: ObjectKey): Promise<void> {
    const ns = keyNamespace(kind, key.namespace);
    try {
      await this.request("delete", kind, { name: key.name, namespace: ns }, () => this.http.request("DELETE", restPath(kind, ns, key.name)));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  informer<T extends KubeObject>(kind: Kind, opts: InformerOptions = {}): Informer<T> {
    kindInfo(kind);
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

  log(message: string): void {
    (this.opts.log ?? ((m: string) => console.error(m)))(message);
  }
}

function kindInfo(kind: Kind): KindInfo {
  const info = KINDS[kind];
  if (!info) throw new StoreError(`unknown kind "${kind}"`, 404, undefined, undefined, "NotFound");
  return info;
}

/** The REST path of one kind's collection (name undefined) or object, with an optional subresource. */
function restPath(kind: Kind, namespace: string | undefined, name?: string, subresource?: string): string {
  const info = kindInfo(kind);
  const prefix = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const obj = name === undefined ? "" : `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ""}`;
  return `${prefix}${ns}/${info.plural}${obj}`;
}

/** The body to send: `obj` with metadata.namespace set to the namespace addressed (when it differs). */
function inNamespace<T extends KubeObject>(obj: T, ns: string | undefined): T {
  return ns && obj.metadata.namespace !== ns ? { ...obj, metadata: { ...obj.metadata, namespace: ns } } : obj;
}
