// The store interface the reconcilers are written against. Two implementations:
// KubeStore (host/kube/kube-store.ts, over @kubernetes/client-node) and
// LocalStore (host/kube/local-store.ts, CRD YAML in a directory + a state file).

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

/** Every kind the store serves: our CRDs plus the core kinds the controller and agent read or write. */
export type Kind =
  | "AddressPool"
  | "AddressBlock"
  | "BlockRequest"
  | "ClusterBGP"
  | "NodeBGP"
  | "BGPPeer"
  | "BGPPeerTemplate"
  | "BGPAdvertisement"
  | "Service"
  | "Node"
  | "Pod"
  | "Namespace"
  | "EndpointSlice"
  | "Event"
  | "Lease";

export interface ObjectKey {
  name: string;
  namespace?: string;
}

export interface ListOptions {
  namespace?: string;
  /** Equality-based selector, e.g. "a=b,c=d". */
  labelSelector?: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
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
  patch<T extends KubeObject>(kind: Kind, key: ObjectKey, mergePatch: unknown): Promise<T>;
  /** JSON merge patch of the status subresource. */
  patchStatus<T extends KubeObject>(kind: Kind, key: ObjectKey, status: unknown): Promise<T>;
  /** Deletes (sets deletionTimestamp first when finalizers remain). Missing objects are not an error. */
  delete(kind: Kind, key: ObjectKey): Promise<void>;
  informer<T extends KubeObject>(kind: Kind, opts?: { namespace?: string; resyncMs?: number }): Informer<T>;
  /** Records a core/v1 Event about an object (reason + message), as kubectl describe shows. */
  recordEvent(about: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

export class StoreError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
export class NotFoundError extends StoreError {
  constructor(what: string) {
    super(`${what} not found`, 404);
  }
}
export class AlreadyExistsError extends StoreError {
  constructor(what: string) {
    super(`${what} already exists`, 409);
  }
}
export class ConflictError extends StoreError {
  constructor(what: string) {
    super(`${what}: the object has been modified; apply your changes to the latest version and try again`, 409);
  }
}
