// The BGPAdvertisement attrs format: what the controller writes from pools and annotations,
// and what the agent reads back (parseAdvertisementAttrs), by table.
import { describe, expect, test } from "bun:test";
import { WELL_KNOWN_COMMUNITIES } from "../../host/core/communities.ts";
import { annotationAttrs, mergeAttrs, parseAdvertisementAttrs, parseCommunity, parseLargeCommunity, poolAttrs } from "../../host/kube/route-attrs.ts";
import { crdFor } from "../../host/kube/schema/index.ts";

describe("route attrs", () => {
  test.each([
    ["65000:100", "65000:100"],
    ["0:0", "0:0"],
    ["65535:65535", "65535:65535"],
    ["no-export", "65535:65281"],
    ["NO-ADVERTISE", "65535:65282"],
    ["no-export-subconfed", "65535:65283"],
    ["accept-own", "65535:1"],
    ["no-peer", "65535:65284"],
    ["blackhole", "65535:666"],
    ["graceful-shutdown", "65535:0"],
    ["65536:1", undefined],
    ["1:2:3", undefined],
    ["01:2", undefined],
    ["-1:2", undefined],
    ["no-such-name", undefined],
    ["", undefined],
  ])("community %j -> %j", (text, want) => {
    expect(parseCommunity(text)).toBe(want);
  });

  test.each([
    ["1:2:3", "1:2:3"],
    ["4294967295:0:4294967295", "4294967295:0:4294967295"],
    ["4294967296:0:0", undefined],
    ["1:2", undefined],
    ["a:b:c", undefined],
  ])("large community %j -> %j", (text, want) => {
    expect(parseLargeCommunity(text)).toBe(want);
  });

  test("the AddressPool schema accepts exactly the well-known names the parser knows", () => {
    const items = crdFor("AddressPool").spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!.properties!.bgp!.properties!.communities!.items!;
    const rule = items["x-kubernetes-validations"]![0]!;
    const names = /\|([a-z|-]+)\)\$/.exec(rule.rule)![1]!.split("|");
    expect(names.sort()).toEqual(Object.keys(WELL_KNOWN_COMMUNITIES).sort());
    expect(rule.message).toContain(Object.keys(WELL_KNOWN_COMMUNITIES).join(", "));
  });

  test("a pool's bgp: canonical, sorted, deduplicated; a bad value names its field", () => {
    expect(poolAttrs({ communities: ["no-export", "65000:1", "65535:65281"], largeCommunities: ["1:2:3"], localPref: 150 })).toEqual([
      "community:65000:1",
      "community:65535:65281",
      "large-community:1:2:3",
      "local-pref:150",
    ]);
    expect(poolAttrs(undefined)).toEqual([]);
    expect(() => poolAttrs({ communities: ["65000:1", "x"] })).toThrow('spec.bgp.communities[1] "x"');
    expect(() => poolAttrs({ largeCommunities: ["1:2"] })).toThrow('spec.bgp.largeCommunities[0] "1:2"');
    expect(() => poolAttrs({ localPref: 4294967296 })).toThrow("spec.bgp.localPref");
  });

  test("the communities annotation takes both kinds by the number of parts, and names a bad item", () => {
    expect(annotationAttrs("65000:1, 1:2:3,no-export")).toEqual({ attrs: ["community:65000:1", "community:65535:65281", "large-community:1:2:3"] });
    expect(annotationAttrs(undefined)).toEqual({ attrs: [] });
    expect(annotationAttrs("65000:1,,")).toMatchObject({ error: expect.stringContaining('""') });
    expect(mergeAttrs(["community:2:2", "local-pref:1"], ["community:1:1", "community:2:2"])).toEqual(["community:1:1", "community:2:2", "local-pref:1"]);
  });

  test("the agent reads what the controller writes; anything else is an error naming the entry", () => {
    const attrs = poolAttrs({ communities: ["no-export", "65000:1"], largeCommunities: ["64512:1:2"], localPref: 200 });
    expect(parseAdvertisementAttrs(attrs)).toEqual({ communities: ["65000:1", "65535:65281"], largeCommunities: ["64512:1:2"], localPref: 200 });
    expect(parseAdvertisementAttrs(undefined)).toEqual({ communities: [], largeCommunities: [] });
    expect(parseAdvertisementAttrs(["community:no-peer"])).toEqual({ communities: ["65535:65284"], largeCommunities: [] });
    expect(() => parseAdvertisementAttrs(["community:1:2", "med:5"])).toThrow('spec.attrs[1] "med:5": unknown attribute');
    expect(() => parseAdvertisementAttrs(["local-pref:x"])).toThrow('spec.attrs[0] "local-pref:x"');
    expect(() => parseAdvertisementAttrs(["large-community:1:2"])).toThrow("not large-community:G:L1:L2");
  });
});
