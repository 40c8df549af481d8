// Routes of our own with more attributes (largeCommunities, extendedCommunities,
// localPref, med) and well-known community names, through the one parser in
// host/core/communities.ts: the YAML, the API, the CLI (through the API) and the
// embedded Rib; errors name the field. Export: LOCAL_PREF to iBGP only, MED to all.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../host/bgp/config.ts";
import { parseCommunity, parseExtendedCommunity, parseLargeCommunity } from "../../host/core/communities.ts";
import { hex } from "../../host/core/codec-text.ts";
import { freshRib } from "../rib/wire.ts";
import { cleanupTmp, ribEntry, sartBgp, tmpDir, waitEstablished } from "./harness.ts";
import { RawPeer, handshake, speakerFixture } from "./raw-peer.ts";

describe("the community parser", () => {
  test("well-known names, as FRR and GoBGP spell them, and ASN:VALUE", () => {
    const names: [string, string][] = [
      ["no-export", "ffffff01"], ["no-advertise", "ffffff02"], ["no-export-subconfed", "ffffff03"], ["no-peer", "ffffff04"],
      ["blackhole", "ffff029a"], ["graceful-shutdown", "ffff0000"], ["llgr-stale", "ffff0006"], ["no-llgr", "ffff0007"], ["accept-own", "ffff0001"],
    ];
    for (const [name, value] of names) expect(parseCommunity(name).toString(16)).toBe(value);
    expect(parseCommunity("NO-EXPORT")).toBe(0xffffff01);
    expect(parseCommunity("65000:100")).toBe(((65000 << 16) | 100) >>> 0);
    for (const bad of ["65536:1", "1:65536", "1:2:3", "no_export", "-1:2", "01:2", "", "65000"]) {
      expect(() => parseCommunity(bad)).toThrow("is not a community: ASN:VALUE with 16-bit parts, or one of no-export");
    }
  });

  test("large communities (32-bit parts) and extended ones (rt/soo with a 2- or 4-octet ASN or an IPv4 address, or hex)", () => {
    expect(parseLargeCommunity("4200000000:1:4294967295")).toEqual([4200000000, 1, 4294967295]);
    for (const bad of ["1:2", "1:2:4294967296", "a:b:c"]) expect(() => parseLargeCommunity(bad)).toThrow("is not a large community");
    expect(hex(parseExtendedCommunity("rt:65000:100"))).toBe("0002fde800000064");
    expect(hex(parseExtendedCommunity("soo:65000:100"))).toBe("0003fde800000064");
    expect(hex(parseExtendedCommunity("rt:4200000000:7"))).toBe("0202fa56ea000007");
    expect(hex(parseExtendedCommunity("RT:192.0.2.1:7"))).toBe("0102c00002010007");
    expect(hex(parseExtendedCommunity("0x0102c00002010007"))).toBe("0102c00002010007");
    for (const bad of ["rt:65000", "xx:1:2", "rt:4200000000:65536", "rt:192.0.2.300:1", "0102c000020100"]) {
      expect(() => parseExtendedCommunity(bad)).toThrow("is not an extended community");
    }
  });
});

afterAll(cleanupTmp);

describe("YAML routes", () => {
  const load = (routes: string) => {
    const file = join(tmpDir(), `routes-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, `asn: 65000\nrouterId: 192.0.2.1\nroutes:\n${routes}`);
    return loadConfig(file);
  };

  test("every attribute, in canonical form (names resolved, extended communities as hex)", () => {
    const c = load(`  - prefix: 198.51.100.0/24
    communities: [no-export, "65000:1"]
    largeCommunities: ["65000:1:2"]
    extendedCommunities: ["rt:65000:100"]
    localPref: 200
    med: 0
`);
    expect(c.routes).toEqual([{
      prefix: "198.51.100.0/24", nextHop: "self", communities: ["65535:65281", "65000:1"], largeCommunities: ["65000:1:2"],
      extendedCommunities: ["0002fde800000064"], localPref: 200, med: 0,
    }]);
  });

  test("errors name the file and the field", () => {
    const cases: [string, string][] = [
      ['  - { prefix: 198.51.100.0/24, largeCommunities: ["1:2:3", "1:2"] }\n', 'routes[0].largeCommunities[1]: "1:2" is not a large community'],
      ['  - { prefix: 198.51.100.0/24, extendedCommunities: ["target:1:2"] }\n', 'routes[0].extendedCommunities[0]: "target:1:2" is not an extended community'],
      ['  - { prefix: 198.51.100.0/24, communities: ["no-exprt"] }\n', 'routes[0].communities[0]: "no-exprt" is not a community'],
      ["  - { prefix: 198.51.100.0/24, localPref: -1 }\n", "routes[0].localPref: must be 0..4294967295"],
      ['  - { prefix: 198.51.100.0/24, med: "10" }\n', "routes[0].med: must be 0..4294967295"],
      ["  - { prefix: 198.51.100.0/24, nextHop: 0.0.0.0 }\n", "routes[0].nextHop: 0.0.0.0 is not a usable unicast address"],
      ['  - { prefix: "2001:db8::/48", nextHop: "fe80::1" }\n', "routes[0].nextHop: fe80::1 is not a usable unicast address"],
      ["  - { prefix: 198.51.100.0/24, weight: 10 }\n", "routes[0].weight: unknown field"],
    ];
    for (const [routes, message] of cases) expect(() => load(routes)).toThrow(message);
  });
});

describe("the embedded Rib", () => {
  test("errors name the route and the field; a route is replaced by re-originating it", () => {
    const rib = freshRib();
    expect(() => rib.originate({ prefix: "198.51.100.0/24", largeCommunities: ["1:2"] })).toThrow('route 198.51.100.0/24: largeCommunities[0]: "1:2" is not a large community');
    expect(() => rib.originate({ prefix: "198.51.100.0/24", med: 1.5 })).toThrow("route 198.51.100.0/24: med: must be 0..4294967295");
    expect(() => rib.originate({ prefix: "198.51.100.0/24", nextHop: "0.0.0.0" })).toThrow("route 198.51.100.0/24: nextHop 0.0.0.0 is not a usable unicast address");
    rib.originate({ prefix: "198.51.100.0/24", communities: ["no-advertise"], largeCommunities: ["1:2:3"], localPref: 300, med: 7 });
    expect(rib.lookup("198.51.100.0/24")!.paths).toEqual([expect.objectContaining({
      peer: "local", communities: ["65535:65282"], largeCommunities: ["1:2:3"], localPref: 300, med: 7, best: true,
    })]);
    rib.originate({ prefix: "198.51.100.0/24", communities: ["65000:1"] });
    const [p] = rib.lookup("198.51.100.0/24")!.paths;
    expect(p).toMatchObject({ communities: ["65000:1"], largeCommunities: [] });
    expect(p.localPref).toBeUndefined();
    expect(p.med).toBeUndefined();
  });
});

describe("API and CLI", () => {
  const s = speakerFixture();

  /** The next UPDATE announcing `prefix` (End-of-RIB and others skipped). */
  async function announcing(p: RawPeer, prefix: string) {
    for (;;) {
      const u = await p.next("UPDATE");
      if (u.nlri?.includes(prefix)) return u;
    }
  }

  async function peer(asn: number, routerId: string): Promise<RawPeer> {
    const { address, peer: p } = await s.neighbor(asn);
    await handshake(p, { asn, routerId });
    await waitEstablished(s.x, address);
    return p;
  }

  test("POST /v1/rib takes every attribute; peers get MED, LOCAL_PREF only over iBGP", async () => {
    const ibgp = await peer(65000, "192.0.2.61");
    const ebgp = await peer(65001, "192.0.2.62");
    const r = await s.x.call("POST", "/v1/rib", {
      prefix: "203.0.113.0/24", communities: ["graceful-shutdown"], largeCommunities: ["65000:5:6"], extendedCommunities: ["soo:65000:9"], localPref: 250, med: 30,
    });
    expect(r.status).toBe(201);
    const e = await ribEntry(s.x, "203.0.113.0/24");
    expect(e.paths[0]).toMatchObject({ communities: ["65535:0"], largeCommunities: ["65000:5:6"], localPref: 250, med: 30 });
    const atI = await announcing(ibgp, "203.0.113.0/24");
    expect(atI).toMatchObject({ nlri: ["203.0.113.0/24"], attributes: { localPref: 250, med: 30, communities: ["65535:0"], largeCommunities: ["65000:5:6"], extendedCommunities: ["0003fde800000009"] } });
    const atE = await announcing(ebgp, "203.0.113.0/24");
    expect(atE).toMatchObject({ nlri: ["203.0.113.0/24"], attributes: { med: 30, communities: ["65535:0"], asPath: [{ type: "AS_SEQUENCE", asns: [65000] }] } });
    expect(atE.attributes!.localPref).toBeUndefined();
  });

  test("bad values get 400 naming the field", async () => {
    const bad = await s.x.call("POST", "/v1/rib", { prefix: "203.0.113.0/24", extendedCommunities: ["rt:1"] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toStartWith('request: extendedCommunities[0]: "rt:1" is not an extended community');
    const nh = await s.x.call("POST", "/v1/rib", { prefix: "203.0.113.0/24", nextHop: "224.0.0.1" });
    expect(nh.status).toBe(400);
    expect(nh.json.error).toStartWith("request: nextHop: 224.0.0.1 is not a usable unicast address");
  });

  test("the CLI passes well-known names through to the speaker; a bad one is a usage error naming the flag", async () => {
    const add = sartBgp(s.x.api, ["rib", "add", "198.51.100.128/25", "--community", "no-export,65000:3", "--large-community", "65000:1:2", "--extended-community", "rt:65000:100", "--med", "7", "-o", "json"]);
    expect(add.status).toBe(0);
    const path = (await ribEntry(s.x, "198.51.100.128/25")).paths[0];
    expect(path).toMatchObject({ communities: ["65535:65281", "65000:3"], largeCommunities: ["65000:1:2"], extendedCommunities: ["0002fde800000064"], med: 7 });
    const bad = sartBgp(s.x.api, ["rib", "add", "198.51.100.128/25", "--community", "no-exprt"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toStartWith('sart bgp: rib add: --community: "no-exprt" is not a community');
  });
});
