// OriginatedRoutes (host/agent/routes.ts) over a real embedded Speaker: one prefix asked for
// by one owner or by several (a shared address's advertisements, a pod block), the union of
// their peers and communities, and the route kept until the last owner lets go.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { checkConfig } from "../../host/bgp/config.ts";
import { Speaker } from "../../host/bgp/speaker.ts";
import { OriginatedRoutes } from "../../host/agent/routes.ts";
import { locateWasm } from "../../host/core/node.ts";
import { instantiateCore } from "../../host/core/wasm.ts";

const speakers: Speaker[] = [];
afterAll(async () => {
  await Promise.all(speakers.map((s) => s.stop()));
});

function setup() {
  const config = checkConfig({ asn: 65101, routerId: "192.0.2.11", listen: { address: "127.0.0.1", port: 0 }, api: { listen: "" } }, "routes");
  const s = new Speaker(config, { core: instantiateCore(readFileSync(locateWasm())), log: () => undefined });
  speakers.push(s);
  const addresses: Record<string, string> = { pa: "192.0.2.1", pb: "192.0.2.2", pc: "192.0.2.3" };
  const routes = new OriginatedRoutes((name) => addresses[name]);
  routes.attach(s);
  const state = (prefix: string) => {
    const r = s.originated.get(prefix);
    return r && { targets: s.routeTargetsOf(prefix) ?? "all", communities: r.communities, largeCommunities: r.largeCommunities };
  };
  return { routes, state };
}

describe("OriginatedRoutes", () => {
  test("one owner, then a second one: union of peers and communities; the prefix stays until the last owner goes", () => {
    const { routes, state } = setup();
    const P = "198.51.100.7/32";
    routes.set("BGPAdvertisement/ns/a", P, { targets: new Set(["pa"]), communities: ["65000:1"] });
    expect(state(P)).toEqual({ targets: ["192.0.2.1"], communities: ["65000:1"], largeCommunities: [] });
    routes.set("BGPAdvertisement/ns/b", P, { targets: new Set(["pb", "pc"]), communities: ["65000:2"], largeCommunities: ["1:2:3"] });
    expect(state(P)).toEqual({ targets: ["192.0.2.1", "192.0.2.2", "192.0.2.3"], communities: ["65000:1", "65000:2"], largeCommunities: ["1:2:3"] });
    expect(routes.targetsOf(P)).toEqual(new Set(["pa", "pb", "pc"]));
    expect(Object.fromEntries(routes.countByOwnerKind())).toEqual({ BGPAdvertisement: 2 });

    routes.remove("BGPAdvertisement/ns/a", P);
    expect(state(P)).toEqual({ targets: ["192.0.2.2", "192.0.2.3"], communities: ["65000:2"], largeCommunities: ["1:2:3"] });
    routes.remove("BGPAdvertisement/ns/a", P); // not an owner any more: nothing changes
    expect(state(P)?.targets).toEqual(["192.0.2.2", "192.0.2.3"]);
    // The remaining owner changes its request, then goes: the route is withdrawn.
    routes.set("BGPAdvertisement/ns/b", P, { targets: new Set(["pc"]), communities: [] });
    expect(state(P)).toEqual({ targets: ["192.0.2.3"], communities: [], largeCommunities: [] });
    routes.remove("BGPAdvertisement/ns/b", P);
    expect(state(P)).toBeUndefined();
    expect(routes.size).toBe(0);
    expect(routes.targetsOf(P)).toBeUndefined();
  });

  test("an owner asking for every peer makes the route go to every peer; a stranger's remove is ignored", () => {
    const { routes, state } = setup();
    const P = "203.0.113.0/26";
    routes.set("BGPAdvertisement/ns/a", P, { targets: new Set(["pa"]), communities: [] });
    routes.remove("AddressBlock/other", P);
    expect(state(P)?.targets).toEqual(["192.0.2.1"]);
    routes.set("AddressBlock/blk", P, { targets: "all", communities: [] });
    expect(state(P)?.targets).toBe("all");
    expect(Object.fromEntries(routes.countByOwnerKind())).toEqual({ AddressBlock: 1, BGPAdvertisement: 1 });
    routes.remove("AddressBlock/blk", P);
    expect(state(P)?.targets).toEqual(["192.0.2.1"]);
  });
});
