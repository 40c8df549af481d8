// The LoadBalancer scenarios of the original sart README and manifests (and the defects it
// must not repeat), each run on both stores: the test API server through the real
// @kubernetes/client-node, and the LocalStore of standalone mode.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Controller } from "../../host/kube/controller/controller.ts";
import type { Store } from "../../host/kube/store.ts";
import type { AddressPool, BGPAdvertisement, Service } from "../../host/kube/types.ts";
import {
  type Backend,
  addressesOf,
  advertisements,
  bgpPeer,
  conditionOf,
  conditionReason,
  eventsFor,
  eventually,
  ingressOf,
  lbService,
  pool,
  serviceWithSlice,
  slice,
  startController,
} from "./controller-harness.ts";
import { backends } from "./controller-backends.ts";

const DEFAULT_POOL = pool("default-lb-pool", "198.51.100.0/24", { autoAssign: true });
const OTHER_POOL = pool("non-default-lb-pool", "203.0.113.0/24", { blockSize: 24 });

function scenarios(backend: Backend) {
  describe(`LoadBalancer on ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let ctl: Controller;

    beforeEach(async () => {
      ({ store, close } = await backend.open());
      await store.create(DEFAULT_POOL);
      await store.create(OTHER_POOL);
      ctl = await startController(store);
    });
    afterEach(async () => {
      await ctl.stop();
      await close();
    });

    const svcWithSlice = (svc: Service, nodes?: string[]) => serviceWithSlice(store, svc, nodes);

    test("default auto-assign pool: lowest free first, the network address included", async () => {
      await svcWithSlice(lbService("app-svc-cluster"));
      expect(await addressesOf(store, "app-svc-cluster")).toEqual(["198.51.100.0"]);
      await svcWithSlice(lbService("app-svc-local", { spec: { externalTrafficPolicy: "Local" } }));
      expect(await addressesOf(store, "app-svc-local")).toEqual(["198.51.100.1"]);
      const c = await conditionReason(store, "app-svc-local", "True", "Allocated");
      expect(c.message).toContain("default-lb-pool");
      const svc = await store.get<Service>("Service", { name: "app-svc-local", namespace: "test" });
      expect(svc?.metadata.finalizers).toContain("service.sart.terassyi.net/finalizer");
    });

    test("pool chosen by annotation", async () => {
      await svcWithSlice(lbService("app-svc-local2", { annotations: { "sart.terassyi.net/addresspool": "non-default-lb-pool" } }));
      expect(await addressesOf(store, "app-svc-local2")).toEqual(["203.0.113.0"]);
    });

    test("requested address: loadBalancerIPs annotation and spec.loadBalancerIP", async () => {
      await svcWithSlice(lbService("app-svc-cluster2", {
        annotations: { "sart.terassyi.net/addresspool": "non-default-lb-pool", "sart.terassyi.net/loadBalancerIPs": "203.0.113.20" },
      }));
      expect(await addressesOf(store, "app-svc-cluster2")).toEqual(["203.0.113.20"]);
      await svcWithSlice(lbService("by-spec", { spec: { loadBalancerIP: "198.51.100.77" } }));
      expect(await addressesOf(store, "by-spec")).toEqual(["198.51.100.77"]);
      // A later auto-assigned Service skips neither .0 nor collides with .77.
      await svcWithSlice(lbService("auto"));
      expect(await addressesOf(store, "auto")).toEqual(["198.51.100.0"]);
    });

    test("several pools: one address from each (README: 10.0.1.0,10.0.100.0)", async () => {
      await svcWithSlice(lbService("multi", { annotations: { "sart.terassyi.net/addresspool": "default-lb-pool,non-default-lb-pool" } }));
      expect(await addressesOf(store, "multi", 2)).toEqual(["198.51.100.0", "203.0.113.0"]);
      await eventually(async () => (await advertisements(store, "multi")).length === 2, "two advertisements");
    });

    test("several addresses from one pool, and requested addresses spanning pools", async () => {
      await svcWithSlice(lbService("twice", { annotations: { "sart.terassyi.net/addresspool": "non-default-lb-pool,non-default-lb-pool" } }));
      expect(await addressesOf(store, "twice", 2)).toEqual(["203.0.113.0", "203.0.113.1"]);
      await svcWithSlice(lbService("pair", { annotations: { "sart.terassyi.net/loadBalancerIPs": "203.0.113.5, 203.0.113.6" } }));
      expect(await addressesOf(store, "pair", 2)).toEqual(["203.0.113.5", "203.0.113.6"]);
      await svcWithSlice(lbService("span", { annotations: { "sart.terassyi.net/loadBalancerIPs": "198.51.100.9,203.0.113.9" } }));
      expect(await addressesOf(store, "span", 2)).toEqual(["198.51.100.9", "203.0.113.9"]);
    });

    test("dual-stack from the auto-assign pools of both families", async () => {
      await store.create(pool("v6-pool", "2001:db8:1::/112", { autoAssign: true }));
      await svcWithSlice(lbService("dual", { spec: { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv6", "IPv4"] } }));
      expect(await addressesOf(store, "dual", 2)).toEqual(["2001:db8:1::", "198.51.100.0"]);
      const advs = await eventually(async () => {
        const a = await advertisements(store, "dual");
        return a.length === 2 ? a : undefined;
      }, "two advertisements");
      const byCidr = Object.fromEntries(advs.map((a) => [a.spec.cidr, a]));
      expect(byCidr["2001:db8:1::/128"].spec.protocol).toBe("ipv6");
      expect(byCidr["2001:db8:1::/128"].metadata.name).toBe("dual-abcde-2001-db8-1-0-0-0-0-0");
      expect(byCidr["198.51.100.0/32"].spec.protocol).toBe("ipv4");
      // SingleStack IPv6 takes only the IPv6 pool.
      await svcWithSlice(lbService("v6only", { spec: { ipFamilies: ["IPv6"] } }));
      expect(await addressesOf(store, "v6only")).toEqual(["2001:db8:1::1"]);
    });

    test("externalTrafficPolicy Cluster: every peer, narrowed by the Service's peer group", async () => {
      await store.create(bgpPeer("peer-a", "node-a"));
      await store.create(bgpPeer("peer-b", "node-b", ["to-router0"]));
      await store.create(bgpPeer("peer-c", "node-c", ["to-router1"]));
      await svcWithSlice(lbService("cl"));
      const [ip] = await addressesOf(store, "cl");
      const adv = await eventually(async () => {
        const [a] = await advertisements(store, "cl");
        return a && Object.keys(a.status?.peers ?? {}).length === 3 ? a : undefined;
      }, "advertisement to three peers");
      expect(adv.metadata.name).toBe(`cl-abcde-${ip}`);
      expect(adv.spec).toEqual({ cidr: `${ip}/32`, type: "service", protocol: "ipv4" });
      expect(adv.status?.peers).toEqual({ "peer-a": "NotAdvertised", "peer-b": "NotAdvertised", "peer-c": "NotAdvertised" });

      await svcWithSlice(lbService("grouped", { annotations: { "bgppeer.sart.terassyi.net/group": "to-router0" } }));
      const g = await eventually(async () => {
        const [a] = await advertisements(store, "grouped");
        return a?.status?.peers ? a : undefined;
      }, "grouped advertisement");
      // Peers without groups always match; peer-c is in another group.
      expect(g.status?.peers).toEqual({ "peer-a": "NotAdvertised", "peer-b": "NotAdvertised" });
    });

    test("externalTrafficPolicy Local: peers of nodes with ready endpoints, following EndpointSlice changes", async () => {
      await store.create(bgpPeer("peer-a", "node-a"));
      await store.create(bgpPeer("peer-b", "node-b"));
      await store.create(bgpPeer("peer-c", "node-c"));
      await store.create(lbService("loc", { spec: { externalTrafficPolicy: "Local" } }));
      await store.create(slice("loc", [{ node: "node-a" }, { node: "node-b", ready: false }]));
      await addressesOf(store, "loc");
      await eventually(async () => {
        const [a] = await advertisements(store, "loc");
        return JSON.stringify(a?.status?.peers) === JSON.stringify({ "peer-a": "NotAdvertised" });
      }, "advertised only by node-a's peer");
      // The agent marks it advertised; then the endpoint moves from node-a to node-b.
      const [adv] = await advertisements(store, "loc");
      await store.patchStatus("BGPAdvertisement", { name: adv.metadata.name, namespace: "test" }, { peers: { "peer-a": "Advertised" } });
      const s = (await store.get<ReturnType<typeof slice>>("EndpointSlice", { name: "loc-abcde", namespace: "test" }))!;
      await store.update({ ...s, endpoints: [{ addresses: ["10.244.0.11"], conditions: { ready: true }, nodeName: "node-b" }] });
      await eventually(async () => {
        const [a] = await advertisements(store, "loc");
        return JSON.stringify(a?.status?.peers) === JSON.stringify({ "peer-a": "Withdraw", "peer-b": "NotAdvertised" });
      }, "node-a withdrawn, node-b added");
    });

    test("pool exhaustion gives an Event and a condition, and the waiting Service gets the address once one is released", async () => {
      await store.create(pool("tiny", "192.0.2.0/31"));
      const ann = { "sart.terassyi.net/addresspool": "tiny" };
      await svcWithSlice(lbService("t1", { annotations: ann }));
      await svcWithSlice(lbService("t2", { annotations: ann }));
      await addressesOf(store, "t1");
      await addressesOf(store, "t2");
      await svcWithSlice(lbService("t3", { annotations: ann }));
      const c = await conditionReason(store, "t3", "False", "PoolExhausted");
      expect(c.message).toContain("tiny");
      await eventually(async () => (await eventsFor(store, "t3", "PoolExhausted")).length > 0, "PoolExhausted Event");
      expect(await ingressOf(store, "t3")).toEqual([]);
      const [freed] = await ingressOf(store, "t1");
      await store.delete("Service", { name: "t1", namespace: "test" });
      expect(await addressesOf(store, "t3")).toEqual([freed]);
      await conditionReason(store, "t3", "True", "Allocated");
    });

    test("bad annotations and impossible requests say why", async () => {
      const cases: [string, Record<string, string>, string][] = [
        ["bad-ip", { "sart.terassyi.net/loadBalancerIPs": "203.0.113.1,not-an-ip" }, "InvalidAnnotation"],
        ["bad-pool-name", { "sart.terassyi.net/addresspool": "Bad_Name" }, "InvalidAnnotation"],
        ["no-such-pool", { "sart.terassyi.net/addresspool": "missing-pool" }, "NoPool"],
        ["outside", { "sart.terassyi.net/loadBalancerIPs": "192.0.2.200" }, "AddressOutsidePools"],
        ["outside-named", { "sart.terassyi.net/addresspool": "default-lb-pool", "sart.terassyi.net/loadBalancerIPs": "203.0.113.3" }, "AddressOutsidePools"],
      ];
      for (const [name, annotations] of cases) await svcWithSlice(lbService(name, { annotations }));
      for (const [name, , reason] of cases) {
        await conditionReason(store, name, "False", reason);
        await eventually(async () => (await eventsFor(store, name, reason)).length > 0, `${reason} Event on ${name}`);
        expect(await ingressOf(store, name)).toEqual([]);
      }
      // A requested address another Service holds.
      await svcWithSlice(lbService("holder", { annotations: { "sart.terassyi.net/loadBalancerIPs": "198.51.100.50" } }));
      await addressesOf(store, "holder");
      await svcWithSlice(lbService("taker", { annotations: { "sart.terassyi.net/loadBalancerIPs": "198.51.100.50" } }));
      const c = await conditionReason(store, "taker", "False", "AddressInUse");
      expect(c.message).toContain("test/holder");
    });

    test("no auto-assign pool: NoPool", async () => {
      const p = (await store.get<AddressPool>("AddressPool", { name: "default-lb-pool" }))!;
      await store.patch("AddressPool", { name: "default-lb-pool" }, { spec: { autoAssign: false } });
      void p;
      await eventually(async () => {
        const b = await store.get<{ spec: { autoAssign: boolean } } & AddressPool>("AddressBlock", { name: "default-lb-pool" });
        return b && b.spec.autoAssign === false;
      }, "block follows autoAssign");
      await svcWithSlice(lbService("orphan"));
      await conditionReason(store, "orphan", "False", "NoPool");
    });

    test("type change away from LoadBalancer releases the address and withdraws", async () => {
      await svcWithSlice(lbService("flip"));
      const [ip] = await addressesOf(store, "flip");
      await eventually(async () => (await advertisements(store, "flip")).length === 1, "advertisement");
      await store.patch("Service", { name: "flip", namespace: "test" }, { spec: { type: "ClusterIP" } });
      await eventually(async () => {
        const svc = await store.get<Service>("Service", { name: "flip", namespace: "test" });
        return svc && !svc.status?.loadBalancer?.ingress && !svc.metadata.finalizers?.length && !(await conditionOf(store, "flip"));
      }, "status cleared and finalizer removed");
      await eventually(async () => (await advertisements(store, "flip")).length === 0, "advertisement deleted");
      await svcWithSlice(lbService("next"));
      expect(await addressesOf(store, "next")).toEqual([ip]);
    });

    test("delete releases the address (finalizer), withdraws from every peer, then deletes the advertisement", async () => {
      await store.create(bgpPeer("peer-a", "node-a"));
      await svcWithSlice(lbService("gone"));
      const [ip] = await addressesOf(store, "gone");
      await eventually(async () => (await advertisements(store, "gone"))[0]?.status?.peers?.["peer-a"] === "NotAdvertised", "advertisement");
      // Watch the advertisement as an agent would.
      const seen: { type: string; peers?: Record<string, string> }[] = [];
      const watch = store.informer<BGPAdvertisement>("BGPAdvertisement", { namespace: "test", resyncMs: 0 });
      watch.on((e) => seen.push({ type: e.type, peers: e.object.status?.peers }));
      await watch.start();
      try {
        await store.delete("Service", { name: "gone", namespace: "test" });
        await eventually(async () => !(await store.get("Service", { name: "gone", namespace: "test" })), "Service gone");
        await eventually(async () => (await advertisements(store, "gone")).length === 0, "advertisement deleted");
        await eventually(() => seen.some((e) => e.type === "DELETED"), "DELETED seen by the watch");
        const withdrawn = seen.findIndex((e) => e.type === "MODIFIED" && e.peers?.["peer-a"] === "Withdraw");
        expect(withdrawn).toBeGreaterThanOrEqual(0);
        expect(withdrawn).toBeLessThan(seen.findIndex((e) => e.type === "DELETED"));
      } finally {
        watch.stop();
      }
      await svcWithSlice(lbService("after"));
      expect(await addressesOf(store, "after")).toEqual([ip]);
    });

    test("loadBalancerClass: another implementation's Services are ignored, ours are served", async () => {
      await svcWithSlice(lbService("theirs", { spec: { loadBalancerClass: "example.com/other-lb" } }));
      await svcWithSlice(lbService("ours", { spec: { loadBalancerClass: "sart.terassyi.net/loadbalancer" } }));
      expect(await addressesOf(store, "ours")).toEqual(["198.51.100.0"]);
      await ctl.idle();
      const theirs = await store.get<Service>("Service", { name: "theirs", namespace: "test" });
      expect(theirs?.status?.loadBalancer?.ingress).toBeUndefined();
      expect(theirs?.metadata.finalizers ?? []).toEqual([]);
      expect(await advertisements(store, "theirs")).toEqual([]);
    });

    test("annotation change moves the Service to the requested address", async () => {
      await svcWithSlice(lbService("mover"));
      expect(await addressesOf(store, "mover")).toEqual(["198.51.100.0"]);
      await store.patch("Service", { name: "mover", namespace: "test" }, { metadata: { annotations: { "sart.terassyi.net/loadBalancerIPs": "203.0.113.99" } } });
      await eventually(async () => (await ingressOf(store, "mover"))[0] === "203.0.113.99", "moved");
      await eventually(async () => {
        const a = await advertisements(store, "mover");
        return a.length === 1 && a[0].spec.cidr === "203.0.113.99/32";
      }, "advertisement follows");
    });
  });
}

for (const b of backends) scenarios(b);
