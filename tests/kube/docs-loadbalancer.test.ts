// docs/loadbalancer.md's examples: every YAML block is valid against our CRDs (no error,
// nothing pruned), and applied together on each store they do what the page says.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import type { Controller } from "../../host/kube/controller/controller.ts";
import { admit, crdFor } from "../../host/kube/schema/index.ts";
import type { KubeObject, Store } from "../../host/kube/store.ts";
import { API_VERSION, type BGPAdvertisement, type CustomKind, type Service } from "../../host/kube/types.ts";
import { backends } from "./controller-backends.ts";
import { type Backend, addressesOf, advertisements, conditionReason, eventsFor, eventually, lbService, serviceWithSlice, startController } from "./controller-harness.ts";

const DOC = readFileSync(join(import.meta.dir, "../../docs/loadbalancer.md"), "utf8");

/** Every object of every ```yaml block, in page order. */
function examples(): KubeObject[] {
  const blocks = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((b) => (yaml.loadAll(b) as KubeObject[]).filter(Boolean));
}

describe("docs/loadbalancer.md examples", () => {
  test("every example is valid: our kinds pass the CRD schemas with nothing pruned", () => {
    const objs = examples();
    expect(new Set(objs.map((o) => o.kind))).toEqual(new Set(["AddressPool", "Service", "Namespace", "BFDProfile", "BGPPeerTemplate"]));
    for (const o of objs.filter((x) => x.apiVersion === API_VERSION)) {
      const r = admit(o, crdFor(o.kind as CustomKind));
      expect({ name: o.metadata.name, errors: r.errors, unknownFields: r.unknownFields }).toEqual({ name: o.metadata.name, errors: [], unknownFields: [] });
    }
  });
});

function docScenarios(backend: Backend) {
  describe(`docs/loadbalancer.md examples on ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let ctl: Controller;

    beforeEach(async () => {
      ({ store, close } = await backend.open());
      const objs = examples();
      // Namespaces, then pools (in page order: the default pool is the oldest), then the rest.
      const rank = (o: KubeObject) => (o.kind === "Namespace" ? 0 : o.kind === "AddressPool" ? 1 : 2);
      if (!objs.some((o) => o.kind === "Namespace" && o.metadata.name === "shop")) await store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
      for (const o of [...objs].sort((a, b) => rank(a) - rank(b))) {
        if (o.kind === "Service") await serviceWithSlice(store, o as Service);
        else await store.create(o);
      }
      ctl = await startController(store);
    });
    afterEach(async () => {
      await ctl.stop();
      await close();
    });

    test("what the page says happens, happens", async () => {
      // Pools and Services: the default pool (its network address is one of the first two given), the IPAllocated Event.
      const [web] = await addressesOf(store, "web", 1, "shop");
      await eventually(async () => (await eventsFor(store, "web", "IPAllocated")).some((e) => (e as unknown as { message: string }).message === `Assigned ${web} from default-lb`), "IPAllocated Event");

      // Sharing: one address, one advertisement owned by both.
      const [dns] = await addressesOf(store, "dns-tcp", 1, "shop");
      expect(await addressesOf(store, "dns-udp", 1, "shop")).toEqual([dns]);
      expect([web, dns].sort()).toEqual(["198.51.100.0", "198.51.100.1"]);
      const shared = await eventually(async () => {
        const a = await store.get<BGPAdvertisement>("BGPAdvertisement", { namespace: "shop", name: `shared-${dns}` });
        return a?.metadata.ownerReferences?.length === 2 ? a : undefined;
      }, "shared advertisement owned by both");
      expect(shared.metadata.ownerReferences!.map((o) => o.name).sort()).toEqual(["dns-tcp", "dns-udp"]);

      // Scoped pools: gold-web (priority 5) for team-a/web; team-a for its other Services; PoolNotAllowed elsewhere.
      expect(await addressesOf(store, "web", 1, "team-a")).toEqual(["192.0.2.64"]);
      await store.create(lbService("plain", { namespace: "team-a" }));
      expect(await addressesOf(store, "plain", 1, "team-a")).toEqual(["192.0.2.0"]);
      await store.create(lbService("asks", { namespace: "shop", annotations: { "sart.terassyi.net/addresspool": "team-a" } }));
      expect((await conditionReason(store, "asks", "False", "PoolNotAllowed", "shop")).message).toBe("pool team-a serves only namespaces team-a, not namespace shop");

      // avoidBuggyIPs: .255 is never granted.
      await store.create(lbService("buggy", { namespace: "shop", annotations: { "sart.terassyi.net/addresspool": "office", "sart.terassyi.net/loadBalancerIPs": "192.0.2.255" } }));
      await conditionReason(store, "buggy", "False", "AddressOutsidePools", "shop");

      // Route attributes: the list the page shows.
      const [api] = await eventually(async () => {
        const a = await advertisements(store, "api", "shop");
        return a.length ? a : undefined;
      }, "api's advertisement");
      expect(api!.spec.attrs).toEqual(["community:65000:100", "community:65000:200", "community:65535:65281", "large-community:64512:1:2", "local-pref:200"]);

      // Aggregation: a Cluster Service of the aggregated pool is announced as the /25.
      const agg: Service = lbService("agg", { namespace: "shop", annotations: { "sart.terassyi.net/addresspool": "aggregated" } });
      await serviceWithSlice(store, agg);
      const [aggAdv] = await eventually(async () => {
        const a = await advertisements(store, "agg", "shop");
        return a.length ? a : undefined;
      }, "agg's advertisement");
      expect(aggAdv!.spec).toEqual({ cidr: "203.0.113.128/25", type: "service", protocol: "ipv4", attrs: ["community:65000:300"] });
    });
  });
}

for (const b of backends) docScenarios(b);
