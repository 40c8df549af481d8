// sart's LoadBalancer extensions (MetalLB's semantics), each run on both stores: the test API
// server through the real @kubernetes/client-node, and the LocalStore of standalone mode.
// Shared addresses (allow-shared-ip), scoped and prioritised pools (serviceAllocation),
// avoidBuggyIPs, route attributes and aggregation, pool usage, the IPAllocated Event.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Controller } from "../../host/kube/controller/controller.ts";
import type { Store } from "../../host/kube/store.ts";
import type { AddressPool, BGPAdvertisement, Namespace, Service } from "../../host/kube/types.ts";
import { backends } from "./controller-backends.ts";
import {
  type Backend,
  addressesOf,
  advertisements,
  apply,
  bgpPeer,
  conditionReason,
  eventsFor,
  eventually,
  ingressOf,
  lbService,
  pool,
  serviceWithSlice,
  startController,
} from "./controller-harness.ts";

const SHARE = "sart.terassyi.net/allow-shared-ip";
const POOL = "sart.terassyi.net/addresspool";
const IPS = "sart.terassyi.net/loadBalancerIPs";

const web = (name: string, port: number, opts: { key?: string; ip?: string; policy?: "Cluster" | "Local"; app?: string; protocol?: "TCP" | "UDP" } = {}) =>
  lbService(name, {
    annotations: { ...(opts.key ? { [SHARE]: opts.key } : {}), ...(opts.ip ? { [IPS]: opts.ip } : {}) },
    spec: {
      externalTrafficPolicy: opts.policy ?? "Cluster",
      selector: { app: opts.app ?? name },
      ports: [{ name: "p", port, protocol: opts.protocol ?? "TCP", targetPort: 8080 }],
    },
  });

const namespace = (name: string, labels?: Record<string, string>): Namespace => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, ...(labels ? { labels } : {}) } });

async function sharedAdvertisement(store: Store, ip: string, ns = "test"): Promise<BGPAdvertisement | undefined> {
  return store.get<BGPAdvertisement>("BGPAdvertisement", { namespace: ns, name: `shared-${ip}` });
}

function extensionScenarios(backend: Backend) {
  describe(`LoadBalancer extensions on ${backend.name}`, () => {
    let store: Store;
    let restart: () => Promise<Store>;
    let close: () => Promise<void>;
    let ctl: Controller;

    beforeEach(async () => {
      ({ store, restart, close } = await backend.open());
      await store.create(pool("lb", "198.51.100.0/24", { autoAssign: true }));
      ctl = await startController(store);
    });
    afterEach(async () => {
      await ctl.stop();
      await close();
    });

    const create = (svc: Service, nodes?: string[]) => serviceWithSlice(store, svc, nodes);

    test("a Normal IPAllocated Event names the addresses and pools", async () => {
      await store.create(pool("v6", "2001:db8:7::/120", { autoAssign: true }));
      await create(lbService("ev", { spec: { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"] } }));
      expect(await addressesOf(store, "ev", 2)).toEqual(["198.51.100.0", "2001:db8:7::"]);
      const [e] = await eventually(async () => {
        const list = await eventsFor(store, "ev", "IPAllocated");
        return list.length ? list : undefined;
      }, "IPAllocated Event");
      expect((e as unknown as { type: string }).type).toBe("Normal");
      expect((e as unknown as { message: string }).message).toBe("Assigned 198.51.100.0 from lb, 2001:db8:7:: from v6");
    });

    test("shared address: two Services with one key and different ports get one address and one advertisement serving both", async () => {
      await store.create(bgpPeer("peer-a", "node-a"));
      await store.create(bgpPeer("peer-b", "node-b"));
      await create(web("dns-tcp", 53, { key: "dns" }));
      await create(web("dns-udp", 53, { key: "dns", protocol: "UDP" }));
      const [ip] = await addressesOf(store, "dns-tcp");
      expect(await addressesOf(store, "dns-udp")).toEqual([ip]);
      const adv = await eventually(async () => {
        const a = await sharedAdvertisement(store, ip!);
        return a?.metadata.ownerReferences?.length === 2 && Object.keys(a.status?.peers ?? {}).length === 2 ? a : undefined;
      }, "one shared advertisement owned by both Services");
      expect(adv.spec).toEqual({ cidr: `${ip}/32`, type: "service", protocol: "ipv4" });
      expect(adv.metadata.labels?.["sart.terassyi.net/shared-address"]).toBe(ip);
      expect(adv.metadata.ownerReferences!.map((o) => o.name).sort()).toEqual(["dns-tcp", "dns-udp"]);
      expect(adv.status?.peers).toEqual({ "peer-a": "NotAdvertised", "peer-b": "NotAdvertised" });
      // No per-Service advertisement for a shared address.
      expect(await advertisements(store, "dns-tcp")).toEqual([]);
      expect(await advertisements(store, "dns-udp")).toEqual([]);
      // A third Service of the same key on a free port joins; the pool counts one address.
      await create(web("dns-tls", 853, { key: "dns" }));
      expect(await addressesOf(store, "dns-tls")).toEqual([ip]);
      await eventually(async () => (await store.get<AddressPool>("AddressPool", { name: "lb" }))?.status?.inUse === 1, "pool lb: 1 address in use");
    });

    test("Local sharing needs the same pod selector; the advertisement goes to the nodes of every sharing Service", async () => {
      for (const n of ["a", "b", "c"]) await store.create(bgpPeer(`peer-${n}`, `node-${n}`));
      await create(web("l-http", 80, { key: "l", policy: "Local", app: "shop" }), ["node-a"]);
      await create(web("l-https", 443, { key: "l", policy: "Local", app: "shop" }), ["node-b"]);
      const [ip] = await addressesOf(store, "l-http");
      expect(await addressesOf(store, "l-https")).toEqual([ip]);
      await eventually(async () => JSON.stringify((await sharedAdvertisement(store, ip!))?.status?.peers) === JSON.stringify({ "peer-a": "NotAdvertised", "peer-b": "NotAdvertised" }), "targets: the nodes of both Services");
      // Another selector, or Cluster, may not share it: a requested address says why and names the holder.
      await create(web("l-other", 8443, { key: "l", policy: "Local", app: "other", ip }), ["node-c"]);
      const c1 = await conditionReason(store, "l-other", "False", "SharingConflict");
      expect(c1.message).toContain("test/l-http");
      expect(c1.message).toContain("pod selector app=shop");
      await create(web("l-cluster", 8080, { key: "l", ip }), ["node-c"]);
      const c2 = await conditionReason(store, "l-cluster", "False", "SharingConflict");
      expect(c2.message).toContain("externalTrafficPolicy Cluster");
      expect(await ingressOf(store, "l-cluster")).toEqual([]);
    });

    test("conflicting ports: a requested shared address is refused with the other Service named; an auto-assigned one gets its own", async () => {
      await create(web("a", 80, { key: "k" }));
      const [ip] = await addressesOf(store, "a");
      await create(web("b", 80, { key: "k", ip }));
      const c = await conditionReason(store, "b", "False", "SharingConflict");
      expect(c.message).toBe(`requested address port TCP/80 on ${ip} is already used by test/a`);
      const [e] = await eventually(async () => {
        const list = await eventsFor(store, "b", "SharingConflict");
        return list.length ? list : undefined;
      }, "SharingConflict Event on b");
      expect((e as unknown as { type: string; message: string }).type).toBe("Warning");
      expect((e as unknown as { message: string }).message).toContain("test/a");
      expect(await ingressOf(store, "b")).toEqual([]);
      // Without a requested address, MetalLB's rule: the next address that fits.
      await create(web("c", 80, { key: "k" }));
      expect(await addressesOf(store, "c")).toEqual(["198.51.100.1"]);
      // A Service without the annotation never joins: its requested address is in use.
      await create(web("d", 443, { ip }));
      expect((await conditionReason(store, "d", "False", "SharingConflict")).message).toBe(`requested address ${ip} is shared by test/a (${SHARE}: k); this Service has no ${SHARE} annotation`);
      // Nor does a Service join one held without the annotation.
      await create(web("e", 8080));
      const [held] = await addressesOf(store, "e");
      await create(web("f", 8081, { key: "k", ip: held }));
      expect((await conditionReason(store, "f", "False", "SharingConflict")).message).toBe(`requested address ${held} is held by test/e, which does not allow sharing (no ${SHARE} annotation)`);
    });

    test("deleting one sharing Service keeps the address for the rest; the last one frees it", async () => {
      await store.create(bgpPeer("peer-a", "node-a"));
      await store.create(bgpPeer("peer-b", "node-b"));
      await create(web("s1", 80, { key: "k", policy: "Local", app: "x" }), ["node-a"]);
      await create(web("s2", 443, { key: "k", policy: "Local", app: "x" }), ["node-b"]);
      const [ip] = await addressesOf(store, "s1");
      expect(await addressesOf(store, "s2")).toEqual([ip]);
      const before = await eventually(async () => {
        const a = await sharedAdvertisement(store, ip!);
        return Object.keys(a?.status?.peers ?? {}).length === 2 ? a : undefined;
      }, "shared advertisement for both");
      await store.delete("Service", { name: "s1", namespace: "test" });
      await eventually(async () => !(await store.get("Service", { name: "s1", namespace: "test" })), "s1 gone");
      const after = await eventually(async () => {
        const a = await sharedAdvertisement(store, ip!);
        return a?.metadata.ownerReferences?.length === 1 && a.status?.peers?.["peer-a"] === "Withdraw" ? a : undefined;
      }, "advertisement owned by s2 only, node-a withdrawn");
      expect(after.metadata.uid).toBe(before.metadata.uid); // the same object: the route never flapped
      expect(after.metadata.ownerReferences![0]!.name).toBe("s2");
      expect(after.status?.peers?.["peer-b"]).toBe("NotAdvertised");
      expect(await ingressOf(store, "s2")).toEqual([ip]);
      // Nobody else gets it while s2 holds it.
      await create(web("other", 80));
      expect(await addressesOf(store, "other")).toEqual(["198.51.100.1"]);
      await store.delete("Service", { name: "s2", namespace: "test" });
      await eventually(async () => !(await sharedAdvertisement(store, ip!)), "shared advertisement deleted with the last user");
      await create(web("next", 80));
      expect(await addressesOf(store, "next")).toEqual([ip]);
    });

    test("restart: shared allocations are rebuilt from status, and the address is not handed out again", async () => {
      await create(web("r1", 80, { key: "k" }));
      await create(web("r2", 443, { key: "k" }));
      const [ip] = await addressesOf(store, "r1");
      expect(await addressesOf(store, "r2")).toEqual([ip]);
      await ctl.stop();
      store = await restart();
      ctl = await startController(store);
      expect(ctl.lastRecovery).toMatchObject({ services: 2, addresses: 2, conflicts: 0 });
      expect(ctl.ctx.lb.users(ip!).sort()).toEqual(["test/r1", "test/r2"]);
      await create(web("r3", 80));
      expect(await addressesOf(store, "r3")).toEqual(["198.51.100.1"]);
      // A third sharer joins the recovered address; ports still count.
      await create(web("r4", 8080, { key: "k" }));
      expect(await addressesOf(store, "r4")).toEqual([ip]);
      await create(web("r5", 443, { key: "k", ip }));
      expect((await conditionReason(store, "r5", "False", "SharingConflict")).message).toContain("test/r2");
    });

    test("scoped pool: serves its namespaces only; asking for it elsewhere is PoolNotAllowed; namespace labels are watched", async () => {
      await apply(store, namespace("team-a"));
      await apply(store, namespace("test"));
      await store.create(pool("team-a-pool", "192.0.2.0/28", { autoAssign: true, spec: { serviceAllocation: { namespaces: ["team-a"] } } }));
      await store.create(pool("gold", "203.0.113.0/28", { spec: { serviceAllocation: { namespaceSelectors: [{ matchLabels: { tier: "gold" } }] } } }));
      await create(lbService("in-a", { namespace: "team-a" }));
      expect(await addressesOf(store, "in-a", 1, "team-a")).toEqual(["192.0.2.0"]);
      await create(lbService("elsewhere"));
      expect(await addressesOf(store, "elsewhere")).toEqual(["198.51.100.0"]);
      await create(lbService("asks", { annotations: { [POOL]: "team-a-pool" } }));
      const c = await conditionReason(store, "asks", "False", "PoolNotAllowed");
      expect(c.message).toBe("pool team-a-pool serves only namespaces team-a, not namespace test");
      await eventually(async () => (await eventsFor(store, "asks", "PoolNotAllowed")).length > 0, "PoolNotAllowed Event");
      // A requested address inside a pool that does not serve the namespace, likewise.
      await create(lbService("asks-ip", { annotations: { [IPS]: "192.0.2.9" } }));
      expect((await conditionReason(store, "asks-ip", "False", "PoolNotAllowed")).message).toContain("192.0.2.9");
      // The gold pool waits for the namespace label, and the Service for the gold pool.
      await create(lbService("wants-gold", { annotations: { [POOL]: "gold" } }));
      expect((await conditionReason(store, "wants-gold", "False", "PoolNotAllowed")).message).toBe("pool gold serves only namespaces labelled tier=gold, not namespace test");
      await store.patch("Namespace", { name: "test" }, { metadata: { labels: { tier: "gold" } } });
      expect(await addressesOf(store, "wants-gold")).toEqual(["203.0.113.0"]);
    });

    test("service selectors, and auto-assign with only scoped pools: NoPool says which pools refused and why", async () => {
      await store.patch("AddressPool", { name: "lb" }, { spec: { autoAssign: false } });
      await store.create(pool("web-only", "192.0.2.0/28", { autoAssign: true, spec: { serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] }] } } }));
      await create(lbService("labelled", { labels: { app: "web" } }));
      expect(await addressesOf(store, "labelled")).toEqual(["192.0.2.0"]);
      await create(lbService("unlabelled"));
      const c = await conditionReason(store, "unlabelled", "False", "NoPool");
      expect(c.message).toContain("pool web-only serves only Services labelled app In (web)");
    });

    test("priority: lower first among auto-assign pools, then the next when one is full, the default pool last", async () => {
      await store.create(pool("p10", "203.0.113.0/31", { autoAssign: true, spec: { serviceAllocation: { priority: 10 } } }));
      await store.create(pool("p5", "192.0.2.0/31", { autoAssign: true, spec: { serviceAllocation: { priority: 5 } } }));
      await store.create(pool("p-none", "192.0.2.128/31", { autoAssign: true, spec: { serviceAllocation: { namespaces: ["test"] } } }));
      const order: string[] = [];
      for (let i = 0; i < 7; i++) {
        await create(lbService(`s${i}`));
        order.push(...(await addressesOf(store, `s${i}`)));
      }
      expect(order).toEqual(["192.0.2.0", "192.0.2.1", "203.0.113.0", "203.0.113.1", "192.0.2.128", "192.0.2.129", "198.51.100.0"]);
      // Pools with serviceAllocation never get AutoAssignConflict: priorities and scopes tell them apart.
      for (const name of ["p10", "p5", "p-none", "lb"]) {
        await eventually(async () => (await store.get<AddressPool>("AddressPool", { name }))?.status?.conditions?.find((c) => c.type === "AutoAssign")?.status === "True", `AutoAssign=True on ${name}`);
      }
    });

    test("avoidBuggyIPs: .0 and .255 are never handed out nor granted on request; pool counts leave them out", async () => {
      await store.create(pool("careful", "203.0.113.0/24", { spec: { avoidBuggyIPs: true } }));
      const ann = { [POOL]: "careful" };
      await create(lbService("c1", { annotations: ann }));
      expect(await addressesOf(store, "c1")).toEqual(["203.0.113.1"]);
      await create(lbService("c0", { annotations: { ...ann, [IPS]: "203.0.113.0" } }));
      expect((await conditionReason(store, "c0", "False", "AddressOutsidePools")).message).toBe("requested address 203.0.113.0 ends in .0 or .255, which pool careful never hands out (avoidBuggyIPs)");
      await eventually(async () => {
        const st = (await store.get<AddressPool>("AddressPool", { name: "careful" }))?.status;
        return st?.inUse === 1 && st.free === 253;
      }, "careful: 1 in use, 253 free");
      // Turned off, the pool hands out .0 again (the network address, as the original does).
      await store.patch("AddressPool", { name: "careful" }, { spec: { avoidBuggyIPs: false } });
      await eventually(async () => (await ingressOf(store, "c0"))[0] === "203.0.113.0", "c0 gets .0 once allowed");
    });

    test("route attributes from the pool and the Service annotation; a pool change updates the advertisement in place", async () => {
      await store.create(pool("attrs", "203.0.113.0/24", { spec: { bgp: { communities: ["65000:100", "no-export"], largeCommunities: ["64512:1:2"], localPref: 200 } } }));
      await create(lbService("with-attrs", { annotations: { [POOL]: "attrs", "sart.terassyi.net/communities": "65000:200, 4200000000:7:8, NO-ADVERTISE" } }));
      const [ip] = await addressesOf(store, "with-attrs");
      const adv = await eventually(async () => (await advertisements(store, "with-attrs"))[0], "advertisement");
      expect(adv.spec).toEqual({
        cidr: `${ip}/32`,
        type: "service",
        protocol: "ipv4",
        attrs: ["community:65000:100", "community:65000:200", "community:65535:65281", "community:65535:65282", "large-community:4200000000:7:8", "large-community:64512:1:2", "local-pref:200"],
      });
      await store.patch("AddressPool", { name: "attrs" }, { spec: { bgp: { communities: ["65000:300"], largeCommunities: null, localPref: null } } });
      const updated = await eventually(async () => {
        const [a] = await advertisements(store, "with-attrs");
        return a?.spec.attrs?.includes("community:65000:300") ? a : undefined;
      }, "attrs follow the pool");
      expect(updated.spec.attrs).toEqual(["community:65000:200", "community:65000:300", "community:65535:65282", "large-community:4200000000:7:8"]);
      expect(updated.metadata.uid).toBe(adv.metadata.uid);
      // A bad annotation is a condition; the address stays.
      await store.patch("Service", { name: "with-attrs", namespace: "test" }, { metadata: { annotations: { "sart.terassyi.net/communities": "65000:70000" } } });
      const c = await conditionReason(store, "with-attrs", "False", "InvalidAnnotation");
      expect(c.message).toContain('"65000:70000" is neither a community');
      expect(await ingressOf(store, "with-attrs")).toEqual([ip]);
    });

    test("aggregation: Cluster Services are announced as the pool's aggregate with the pool's attrs; Local ones keep their /32", async () => {
      await store.create(pool("agg", "203.0.113.0/24", { spec: { bgp: { aggregationLength: 24, communities: ["65000:1"] } } }));
      await store.create(pool("agg6", "2001:db8:9::/64", { spec: { bgp: { aggregationLengthV6: 112 } } }));
      const ann = { [POOL]: "agg", "sart.terassyi.net/communities": "65000:2" };
      await create(lbService("ag1", { annotations: ann }));
      await create(lbService("ag2", { annotations: ann }));
      await create(lbService("ag-local", { annotations: ann, spec: { externalTrafficPolicy: "Local" } }));
      await create(lbService("ag6", { annotations: { [POOL]: "agg6" }, spec: { ipFamilies: ["IPv6"] } }));
      const advs = await eventually(async () => {
        const all = [...(await advertisements(store, "ag1")), ...(await advertisements(store, "ag2")), ...(await advertisements(store, "ag-local")), ...(await advertisements(store, "ag6"))];
        return all.length === 4 ? all : undefined;
      }, "four advertisements");
      const byService = Object.fromEntries(advs.map((a) => [a.metadata.labels!["kubernetes.io/service-name"], a.spec]));
      expect(byService.ag1).toEqual({ cidr: "203.0.113.0/24", type: "service", protocol: "ipv4", attrs: ["community:65000:1"] });
      expect(byService.ag2).toEqual(byService.ag1);
      expect(byService["ag-local"]).toEqual({ cidr: "203.0.113.2/32", type: "service", protocol: "ipv4", attrs: ["community:65000:1", "community:65000:2"] });
      expect(byService.ag6).toEqual({ cidr: "2001:db8:9::/112", type: "service", protocol: "ipv6" });
    });
  });
}

for (const b of backends) extensionScenarios(b);
