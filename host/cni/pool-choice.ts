// Which pools a pod's addresses come from, one per family: the Pod's
// `sart.terassyi.net/addresspool` annotation, else its Namespace's (Kubernetes mode, read
// from informer caches), else `args.cni.pool` / `SART_POOL`, else the auto-assign pod pool
// of each family (dual-stack when there is one of each). A requested address (`ips`, `IP=`)
// is taken from the chosen pool of its family; when no pool was named, from the pod pool
// that holds it.
import { parseAddress, type Family } from "../core/ipam.ts";
import type { Informer, KubeObject, Store } from "../kube/store.ts";
import { ANNOTATION_ADDRESSPOOL, type Namespace, type Pod } from "../kube/types.ts";
import type { NodeIpam, PoolInfo } from "./node-ipam.ts";
import { CniError, Code } from "./protocol.ts";
import type { AttachRequest } from "./request.ts";

export interface Wanted {
  pool: PoolInfo;
  /** A requested address; absent: the lowest free one. */
  address?: string;
}

/** Where the pool names came from, for messages. */
export interface NamedPools {
  names: string[];
  source: string;
}

/**
 * Pool names from the Pod's or its Namespace's annotation (Kubernetes mode: informer caches;
 * a Pod the informer has not delivered yet, as it was just created, is read once from the
 * API), else from the config and CNI_ARGS; undefined: the auto-assign pools.
 */
export async function namedPools(req: AttachRequest, store: Store, pods?: Informer<Pod>, namespaces?: Informer<Namespace>): Promise<NamedPools | undefined> {
  if (pods && req.pod) {
    const key = { namespace: req.pod.namespace, name: req.pod.name };
    const pod = pods.get(key) ?? (await store.get<Pod>("Pod", key).catch(() => undefined));
    const fromPod = annotationPools(pod);
    if (fromPod) return { names: fromPod, source: `the annotation ${ANNOTATION_ADDRESSPOOL} of Pod ${key.namespace}/${key.name}` };
    const fromNs = annotationPools(namespaces?.get({ name: key.namespace }));
    if (fromNs) return { names: fromNs, source: `the annotation ${ANNOTATION_ADDRESSPOOL} of Namespace ${key.namespace}` };
  }
  return req.pools.length ? { names: req.pools, source: "args.cni.pool / CNI_ARGS SART_POOL" } : undefined;
}

function annotationPools(o: KubeObject | undefined): string[] | undefined {
  const names = o?.metadata.annotations?.[ANNOTATION_ADDRESSPOOL]?.split(",").map((s) => s.trim()).filter(Boolean);
  return names?.length ? names : undefined;
}

/** One pool per family for the request: the named ones, else the auto-assign ones; requested addresses placed in theirs. */
export function choosePools(ipam: NodeIpam, named: NamedPools | undefined, requested: string[]): Wanted[] {
  const byFamily = new Map<Family, Wanted>();
  if (named) {
    for (const name of named.names) {
      const pool = ipam.pool(name);
      const other = byFamily.get(pool.family);
      if (other) throw new CniError(Code.InvalidConfig, `${named.source}: pools ${other.pool.name} and ${name} are both IPv${pool.family}; name at most one pool per family`);
      byFamily.set(pool.family, { pool });
    }
  } else {
    for (const pool of ipam.autoAssignPools()) byFamily.set(pool.family, { pool });
  }
  const asked = new Set<Family>();
  for (const addr of requested) {
    const family = parseAddress(addr)!.family;
    if (asked.has(family)) throw new CniError(Code.InvalidConfig, `requested addresses ${requested.join(", ")}: at most one per family`);
    asked.add(family);
    const chosen = byFamily.get(family);
    if (named) {
      if (!chosen) throw new CniError(Code.AddressUnavailable, `address ${addr} is IPv${family}, but ${named.source} names no IPv${family} pool (${named.names.join(", ")})`);
      if (!ipam.poolContaining(addr) || ipam.poolContaining(addr)!.name !== chosen.pool.name) {
        throw new CniError(Code.AddressUnavailable, `address ${addr} is outside pool ${chosen.pool.name} (${chosen.pool.cidr.text}), named by ${named.source}`);
      }
      chosen.address = addr;
    } else {
      const pool = ipam.poolContaining(addr);
      if (!pool) throw new CniError(Code.AddressUnavailable, `address ${addr} is in no pod AddressPool`);
      byFamily.set(family, { pool, address: addr });
    }
  }
  if (!byFamily.size) {
    throw new CniError(
      Code.UnknownPool,
      "no pod AddressPool has autoAssign: true; create one, or name a pool (annotation sart.terassyi.net/addresspool, args.cni.pool or CNI_ARGS SART_POOL)",
    );
  }
  return [...byFamily.values()].sort((a, b) => a.pool.family - b.pool.family);
}
