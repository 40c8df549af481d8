// The Store contract both implementations must honour identically (the API
// server's semantics), run by store-local.test.ts on LocalStore and by
// store-kube.test.ts on KubeStore against the test API server. The reconcilers
// are written once against these semantics.
import { expect, test } from "bun:test";
import { ConflictError, type KubeObject, type Store, type WatchEvent } from "../../host/kube/store.ts";

const API = "sart.terassyi.net/v1alpha2";

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `fresh()` gives the store and a namespace no other test uses. */
export function runStoreContract(name: string, fresh: () => Promise<{ store: Store; ns: string }>): void {
  const tmpl = (n: string, extra: Record<string, unknown> = {}): KubeObject => ({
    apiVersion: API,
    kind: "BGPPeerTemplate",
    metadata: { name: n, ...extra },
    spec: { asn: 65001 },
  });

  test(`${name} contract: resourceVersion and generation follow the API server's rules`, async () => {
    const { store, ns } = await fresh();
    const t = await store.create<KubeObject>(tmpl(`${ns}-gen`));
    expect(t.metadata.generation).toBe(1);
    const same = await store.update(t);
    expect(same.metadata.resourceVersion).toBe(t.metadata.resourceVersion); // no-op write
    const labelled = await store.patch<KubeObject>("BGPPeerTemplate", { name: t.metadata.name }, { metadata: { labels: { a: "b" } } });
    expect(Number(labelled.metadata.resourceVersion)).toBeGreaterThan(Number(t.metadata.resourceVersion));
    expect(labelled.metadata.generation).toBe(1); // metadata only
    const specced = await store.patch<KubeObject>("BGPPeerTemplate", { name: t.metadata.name }, { spec: { asn: 65002 } });
    expect(specced.metadata.generation).toBe(2);
    // Custom resources: an update must name the version it replaces.
    const { resourceVersion: _rv, ...noRv } = specced.metadata;
    await expect(store.update({ ...specced, metadata: noRv })).rejects.toMatchObject({ status: 422 });
    await expect(store.update({ ...specced, metadata: { ...specced.metadata, resourceVersion: t.metadata.resourceVersion } })).rejects.toBeInstanceOf(ConflictError);
    await expect(
      store.patch("BGPPeerTemplate", { name: t.metadata.name }, { spec: { asn: 1 } }, { resourceVersion: t.metadata.resourceVersion }),
    ).rejects.toBeInstanceOf(ConflictError);
    await store.delete("BGPPeerTemplate", { name: t.metadata.name });
  });

  test(`${name} contract: status on create, status isolation both ways`, async () => {
    const { store, ns } = await fresh();
    const pool = await store.create<KubeObject>({
      apiVersion: API,
      kind: "AddressPool",
      metadata: { name: `${ns}-pool` },
      spec: { cidr: "198.51.100.0/24", type: "service", blockSize: 24 },
      status: { allocated: { x: 1 } },
    });
    expect(pool.status).toBeUndefined();
    const svc = await store.create<KubeObject>({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: ns },
      spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
      status: { loadBalancer: { ingress: [{ ip: "192.0.2.99" }] } },
    });
    expect(svc.status).toEqual({ loadBalancer: {} });
    const node = await store.create<KubeObject>({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: `${ns}-node` },
      status: { addresses: [{ type: "InternalIP", address: "192.0.2.7" }] },
    });
    expect(node.status).toMatchObject({ addresses: [{ type: "InternalIP", address: "192.0.2.7" }] });
    const st = await store.patchStatus<KubeObject>("AddressPool", { name: pool.metadata.name }, { allocated: { b: 2 } });
    expect(st.status).toEqual({ allocated: { b: 2 } });
    expect(st.metadata.generation).toBe(1);
    const upd = await store.update<KubeObject>({ ...st, spec: { ...(st.spec as object), autoAssign: true }, status: {} });
    expect(upd.status).toEqual({ allocated: { b: 2 } });
    expect(upd.metadata.generation).toBe(2);
    await store.delete("AddressPool", { name: pool.metadata.name });
    await store.delete("Node", { name: node.metadata.name });
  });

  test(`${name} contract: finalizers hold deletion; informers see MODIFIED then DELETED`, async () => {
    const { store, ns } = await fresh();
    const inf = store.informer<KubeObject>("BGPPeerTemplate", { resyncMs: 0 });
    const seen: WatchEvent[] = [];
    const mine = `${ns}-fin`;
    inf.on((e) => e.object.metadata.name === mine && seen.push(e));
    await inf.start();
    await store.create(tmpl(mine, { finalizers: ["example.com/hold"] }));
    await store.delete("BGPPeerTemplate", { name: mine });
    const held = (await store.get<KubeObject>("BGPPeerTemplate", { name: mine }))!;
    expect(held.metadata.deletionTimestamp).toBeDefined();
    await expect(
      store.patch("BGPPeerTemplate", { name: mine }, { metadata: { finalizers: ["example.com/hold", "example.com/late"] } }),
    ).rejects.toMatchObject({ status: 422 });
    await store.update({ ...held, metadata: { ...held.metadata, finalizers: [] } });
    expect(await store.get("BGPPeerTemplate", { name: mine })).toBeUndefined();
    await until(() => seen.some((e) => e.type === "DELETED"), "DELETED");
    expect(seen.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    expect(seen[1].object.metadata.deletionTimestamp).toBeDefined();
    inf.stop();
  });

  test(`${name} contract: generateName, namespaces default, label selectors`, async () => {
    const { store, ns } = await fresh();
    const a = await store.create<KubeObject>({
      apiVersion: API,
      kind: "BGPAdvertisement",
      metadata: { name: "", generateName: "adv-", namespace: ns, labels: { family: "v4", tier: "lb" } },
      spec: { cidr: "192.0.2.1/32", type: "service", protocol: "ipv4" },
    });
    expect(a.metadata.name).toMatch(/^adv-[a-z0-9]{5}$/);
    await store.create({
      apiVersion: API,
      kind: "BGPAdvertisement",
      metadata: { name: "v6", namespace: ns, labels: { family: "v6" } },
      spec: { cidr: "2001:db8::1/128", type: "service", protocol: "ipv6" },
    });
    const names = async (sel: string) => (await store.list("BGPAdvertisement", { namespace: ns, labelSelector: sel })).map((o) => o.metadata.name).sort();
    expect(await names("family=v4")).toEqual([a.metadata.name]);
    expect(await names("family in (v4,v6)")).toEqual([a.metadata.name, "v6"].sort());
    expect(await names("family notin (v4)")).toEqual(["v6"]);
    expect(await names("tier")).toEqual([a.metadata.name]);
    expect(await names("!tier")).toEqual(["v6"]);
    expect(await names("family!=v4,!tier")).toEqual(["v6"]);
  });
}
