// The few objects of one kind the node's BGPPeers name: the Secrets of their
// `passwordSecret`, the BFDProfiles of their `bfdProfile`. Each is watched on its own
// (list + watch with a `metadata.name` field selector, which RBAC `resourceNames` can
// limit to that one object), so the agent never lists or caches objects nobody names;
// one no peer names any more is forgotten. Nothing here blocks: a watch that cannot
// start (forbidden, no such kind) leaves its object "waiting" or "unreadable" and keeps
// retrying; the owner hears of every change through `onChange`.
import { type Informer, type Kind, type KubeObject, type ObjectKey, type Store, describeObject } from "../kube/store.ts";

export type Lookup<T> =
  | { state: "found"; object: T }
  | { state: "missing" }
  /** The watch has not listed yet. */
  | { state: "waiting" }
  /** The API server refused a read (the message says why, e.g. RBAC). */
  | { state: "unreadable"; message: string };

interface Watched<T extends KubeObject> {
  informer: Informer<T>;
  synced: boolean;
  /** Why the first read failed, until the watch lists. */
  error?: string;
}

const keyOf = (k: ObjectKey) => `${k.namespace ?? ""}/${k.name}`;

export class NamedObjects<T extends KubeObject> {
  private readonly watched = new Map<string, Watched<T>>();

  constructor(
    private readonly store: Store,
    private readonly kind: Kind,
    private readonly onChange: () => void,
  ) {}

  /** Watches exactly these objects from now on. */
  want(keys: ObjectKey[]): void {
    const wanted = new Map(keys.map((k) => [keyOf(k), k]));
    for (const [id, w] of this.watched) {
      if (wanted.has(id)) continue;
      w.informer.stop();
      this.watched.delete(id);
    }
    for (const [id, key] of wanted) if (!this.watched.has(id)) this.watch(id, key);
  }

  lookup(key: ObjectKey): Lookup<T> {
    const w = this.watched.get(keyOf(key));
    if (!w) return { state: "waiting" };
    if (w.synced) {
      const object = w.informer.get(key);
      return object ? { state: "found", object } : { state: "missing" };
    }
    return w.error ? { state: "unreadable", message: w.error } : { state: "waiting" };
  }

  /** How lookup() results read in conditions: `Secret "kube-system/bgp" ...`. */
  describe(key: ObjectKey): string {
    return describeObject(this.kind, key);
  }

  stop(): void {
    for (const w of this.watched.values()) w.informer.stop();
    this.watched.clear();
  }

  private watch(id: string, key: ObjectKey): void {
    const informer = this.store.informer<T>(this.kind, { namespace: key.namespace, fieldSelector: `metadata.name=${key.name}`, resyncMs: 0 });
    const w: Watched<T> = { informer, synced: false };
    this.watched.set(id, w);
    const current = () => this.watched.get(id) === w;
    informer.on(() => {
      if (w.synced && current()) this.onChange();
    });
    informer.start().then(() => {
      if (!current()) return;
      w.synced = true;
      w.error = undefined;
      this.onChange();
    }, () => {}); // stopped before its first list
    // The informer retries a refused list quietly: one read says why (403 names the RBAC rule missing).
    this.store.get(this.kind, key).catch((e: Error) => {
      if (!current() || w.synced) return;
      w.error = e.message;
      this.onChange();
    });
  }
}
