// Informer caches trail our own writes by one watch event. A reconcile that runs in between
// would act on the stale copy (patch again, create again). FreshObjects remembers the object
// each write returned and serves whichever of it and the cached copy is newer.
import type { KubeObject, ObjectKey } from "../store.ts";

export function objectKey(o: { metadata: { name: string; namespace?: string } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** resourceVersions are opaque; both stores (and etcd) use integers, which we compare when we can. */
function newer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^[0-9]+$/.test(a) || !/^[0-9]+$/.test(b)) return false;
  return a.length !== b.length ? a.length > b.length : a > b;
}

export class FreshObjects<T extends KubeObject> {
  private readonly written = new Map<string, T>();

  constructor(private readonly cached: (key: ObjectKey) => T | undefined) {}

  /** The newest copy known: our last write, or the cache once it has caught up. */
  get(key: string): T | undefined {
    const c = this.cached(parseKey(key));
    const w = this.written.get(key);
    if (!w) return c;
    if (!c) return w; // created by us, not yet in the cache
    if (newer(w.metadata.resourceVersion, c.metadata.resourceVersion)) return w;
    this.written.delete(key);
    return c;
  }

  /**
   * True when a watch event carries exactly what our own last write returned: nothing
   * changed that the writer does not already know, so there is nothing to reconcile.
   */
  isOwnWrite(obj: T): boolean {
    const key = objectKey(obj);
    const w = this.written.get(key);
    if (!w || !w.metadata.resourceVersion || w.metadata.resourceVersion !== obj.metadata.resourceVersion) return false;
    this.written.delete(key); // the cache holds this version now
    return true;
  }

  /** Records the object a write returned. */
  wrote(obj: T): void {
    this.written.set(objectKey(obj), obj);
  }

  /** Forgets a key (the object was deleted). */
  forget(key: string): void {
    this.written.delete(key);
  }

  clear(): void {
    this.written.clear();
  }
}
