// Shared by the controller tests: the two stores every scenario runs on (the test API server
// through the real @kubernetes/client-node KubeStore, and the LocalStore of standalone mode),
// object builders, and polling helpers. Scenarios are written once against the Store interface.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Controller } from "../../host/kube/controller/controller.ts";
import { LocalStore } from "../../host/kube/local-store.ts";
import type { KubeObject, Kind, ObjectKey, Store } from "../../host/kube/store.ts";
import { API_VERSION } from "../../host/kube/types.ts";
import type {
  AddressPool,
  AddressPoolSpec,
  BGPAdvertisement,
  BGPPeer,
  EndpointSlice,
  Service,
  ServiceSpec,
} from "../../host/kube/types.ts";

export interface Backend {
  name: string;
  open(): Promise<Opened>;
}

export interface Opened {
  store: Store;
  /** Another client of the same data, used at the same time (a second controller replica). */
  second: () => Promise<Store>;
  /** A new client after a restart: the LocalStore is closed and reopened from its state file. */
  restart: () => Promise<Store>;
  close: () => Promise<void>;
}

export const localBackend: Backend = {
  name: "LocalStore",
  async open() {
    const dir = await mkdtemp(join(tmpdir(), "sart-ctl-"));
    let current = await LocalStore.open({ dir });
    return {
      store: current,
      // Standalone mode has one process per state file: a second replica shares the instance.
      second: async () => current,
      restart: async () => {
        await current.close();
        current = await LocalStore.open({ dir });
        return current;
      },
      close: async () => {
        await current.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

export const quiet = () => {};

export async function startController(store: Store, opts: { lead?: boolean; concurrency?: number } = {}): Promise<Controller> {
  const c = new Controller({ store, log: process.env.SART_TEST_LOG ? undefined : quiet, concurrency: opts.concurrency });
  await c.start();
  if (opts.lead !== false) await c.startLeading();
  return c;
}

/** Polls `fn` until it returns a truthy value (bounded); throws with the last value seen. */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function pool(name: string, cidr: string, opts: { autoAssign?: boolean; type?: "service" | "pod"; blockSize?: number; spec?: Partial<AddressPoolSpec> } = {}): AddressPool {
  return {
    apiVersion: API_VERSION,
    kind: "AddressPool",
    metadata: { name },
    spec: {
      cidr,
      type: opts.type ?? "service",
      allocType: "bit",
      ...(opts.blockSize !== undefined ? { blockSize: opts.blockSize } : {}),
      autoAssign: opts.autoAssign ?? false,
      ...(opts.spec ?? {}),
    },
  };
}

export function lbService(name: string, opts: { namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string>; spec?: Partial<ServiceSpec> } = {}): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: opts.namespace ?? "test", ...(opts.annotations ? { annotations: opts.annotations } : {}), ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: {
      type: "LoadBalancer",
      externalTrafficPolicy: "Cluster",
      selector: { app: name },
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
      ...(opts.spec ?? {}),
    },
  };
}

/** The EndpointSlice Kubernetes' endpointslice controller would make for a Service. */
export function slice(svc: string, endpoints: { node: string; ready?: boolean; ip?: string }[], opts: { namespace?: string; name?: string; family?: "IPv4" | "IPv6" } = {}): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: opts.name ?? `${svc}-abcde`, namespace: opts.namespace ?? "test", labels: { "kubernetes.io/service-name": svc } },
    addressType: opts.family ?? "IPv4",
    endpoints: endpoints.map((e, i) => ({
      addresses: [e.ip ?? `10.244.0.${i + 10}`],
      conditions: { ready: e.ready ?? true },
      nodeName: e.node,
    })),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  } as EndpointSlice;
}

/** Creates a Service and the EndpointSlice that puts its endpoints on `nodes`. */
export async function serviceWithSlice(store: Store, svc: Service, nodes: string[] = ["node-a"]): Promise<void> {
  await store.create(svc);
  await store.create(slice(svc.metadata.name, nodes.map((node) => ({ node })), { namespace: svc.metadata.namespace }));
}

export function bgpPeer(name: string, node: string, groups?: string[]): BGPPeer {
  return {
    apiVersion: API_VERSION,
    kind: "BGPPeer",
    metadata: { name, labels: { "bgppeer.sart.terassyi.net/node": node } },
    spec: { asn: 65000, addr: "192.0.2.1", nodeBGPRef: node, speaker: { path: "127.0.0.1:5000" }, ...(groups ? { groups } : {}) },
  };
}

export async function ingressOf(store: Store, name: string, namespace = "test"): Promise<string[]> {
  const svc = await store.get<Service>("Service", { name, namespace });
  return (svc?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip!).filter(Boolean);
}

/** Waits until the Service shows exactly `n` addresses; returns them. */
export function addressesOf(store: Store, name: string, n = 1, namespace = "test"): Promise<string[]> {
  return eventually(async () => {
    const ips = await ingressOf(store, name, namespace);
    return ips.length === n ? ips : undefined;
  }, `${n} address(es) on Service ${namespace}/${name}`);
}

export async function conditionOf(store: Store, name: string, namespace = "test") {
  const svc = await store.get<Service>("Service", { name, namespace });
  return svc?.status?.conditions?.find((c) => c.type === "sart.terassyi.net/AddressAllocated");
}

/** Waits for our condition with the given status (and reason); returns it. */
export function conditionReason(store: Store, name: string, status: "True" | "False", reason?: string, namespace = "test") {
  return eventually(async () => {
    const c = await conditionOf(store, name, namespace);
    return c && c.status === status && (!reason || c.reason === reason) ? c : undefined;
  }, `condition ${status}${reason ? `/${reason}` : ""} on Service ${namespace}/${name}`);
}

export async function advertisements(store: Store, svc: string, namespace = "test"): Promise<BGPAdvertisement[]> {
  return (await store.list<BGPAdvertisement>("BGPAdvertisement", { namespace, labelSelector: `kubernetes.io/service-name=${svc}` }))
    .filter((a) => !a.metadata.deletionTimestamp);
}

export async function eventsFor(store: Store, name: string, reason: string): Promise<KubeObject[]> {
  const all = await store.list<KubeObject & { involvedObject: { name: string }; reason: string }>("Event", {});
  return all.filter((e) => e.involvedObject?.name === name && e.reason === reason);
}

export async function apply<T extends KubeObject>(store: Store, obj: T): Promise<T> {
  const cur = await store.get<T>(obj.kind as Kind, obj.metadata as ObjectKey);
  if (!cur) return store.create(obj);
  return store.update({ ...obj, metadata: { ...obj.metadata, resourceVersion: cur.metadata.resourceVersion } });
}

export async function patchAnnotations(store: Store, kind: Kind, key: ObjectKey, annotations: Record<string, string | null>): Promise<void> {
  await store.patch(kind, key, { metadata: { annotations } });
}
