// Secondary indexes over informer caches that the reconcilers look up per Service: the
// EndpointSlices and the BGPAdvertisements of each Service (both carry the
// kubernetes.io/service-name label). Kept current from informer events, so a lookup never
// scans every object (10,000 Services make that quadratic).
import type { KubeObject } from "../store.ts";
import { SERVICE_NAME_LABEL } from "./names.ts";

export class ByServiceIndex<T extends KubeObject> {
  private readonly byService = new Map<string, Map<string, T>>();
  /** Object key -> the service key it was filed under (labels may change). */
  private readonly filedUnder = new Map<string, string>();

  /** Files (or re-files) an object; returns the service keys whose set changed. */
  put(obj: T): string[] {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const svc = obj.metadata.labels?.[SERVICE_NAME_LABEL];
    const svcKey = svc ? `${obj.metadata.namespace}/${svc}` : undefined;
    const changed: string[] = [];
    const before = this.filedUnder.get(key);
    if (before !== undefined && before !== svcKey) {
      changed.push(before);
      this.drop(before, obj.metadata.name);
      this.filedUnder.delete(key);
    }
    if (svcKey) {
      let m = this.byService.get(svcKey);
      if (!m) this.byService.set(svcKey, (m = new Map()));
      m.set(obj.metadata.name, obj);
      this.filedUnder.set(key, svcKey);
      changed.push(svcKey);
    }
    return changed;
  }

  /** Removes an object; returns the service key it was filed under. */
  remove(obj: T): string | undefined {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const svcKey = this.filedUnder.get(key);
    if (svcKey === undefined) return undefined;
    this.filedUnder.delete(key);
    this.drop(svcKey, obj.metadata.name);
    return svcKey;
  }

  private drop(svcKey: string, name: string): void {
    const m = this.byService.get(svcKey);
    if (!m) return;
    m.delete(name);
    if (m.size === 0) this.byService.delete(svcKey);
  }

  /** The version of an object filed now (before a put of its next version). */
  current(obj: T): T | undefined {
    const svcKey = this.filedUnder.get(`${obj.metadata.namespace}/${obj.metadata.name}`);
    return svcKey === undefined ? undefined : this.byService.get(svcKey)?.get(obj.metadata.name);
  }

  of(svcKey: string): T[] {
    const m = this.byService.get(svcKey);
    return m ? [...m.values()] : [];
  }

  clear(): void {
    this.byService.clear();
    this.filedUnder.clear();
  }
}
