// Pure pieces of the controller, by table: request parsing, allocation rules, peer-state sync,
// names, and the work queue's dedupe/retry behaviour.
import { describe, expect, test } from "bun:test";
import { onlyAgentMarksChanged } from "../../host/kube/advertisement-marks.ts";
import { syncPeers, targetPeers } from "../../host/kube/controller/advertisement.ts";
import { formatIp, ipForName, parseCidr, parseIp } from "../../host/kube/controller/ip.ts";
import { LbAllocations } from "../../host/kube/controller/lb-allocations.ts";
import { parseLbRequest } from "../../host/kube/controller/lb-request.ts";
import { PoolRegistry } from "../../host/kube/controller/pools.ts";
import { WorkQueue } from "../../host/kube/controller/queue.ts";
import type { BGPAdvertisement, Service } from "../../host/kube/types.ts";
import { bgpPeer, lbService, pool, slice } from "./controller-harness.ts";

const withTime = (p: ReturnType<typeof pool>, t: string) => ({ ...p, metadata: { ...p.metadata, creationTimestamp: t } });

function registry() {
  const r = new PoolRegistry();
  r.sync([
    withTime(pool("auto4", "198.51.100.0/30", { autoAssign: true }), "2026-01-01T00:00:00Z"),
    withTime(pool("auto6", "2001:db8::/126", { autoAssign: true }), "2026-01-01T00:00:01Z"),
    withTime(pool("named", "203.0.113.0/24"), "2026-01-01T00:00:02Z"),
    withTime(pool("late-auto4", "192.0.2.0/24", { autoAssign: true }), "2026-01-01T00:00:03Z"),
  ]);
  return r;
}

function req(svc: Service) {
  const p = parseLbRequest(svc);
  if (!p.ok) throw new Error(p.message);
  return p.request;
}

describe("parseLbRequest", () => {
  test.each([
    [{}, { families: [], single: true, requireAll: false }],
    [{ ipFamilyPolicy: "PreferDualStack" }, { families: [4, 6], single: false, requireAll: false }],
    [{ ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv6"] }, { families: [6, 4], single: false, requireAll: true }],
    [{ ipFamilies: ["IPv6", "IPv4"] }, { families: [6], single: true }],
  ] as const)("families from spec %j", (spec, want) => {
    expect(req(lbService("s", { spec: spec as never }))).toMatchObject(want);
  });

  test("annotations: pools (duplicates kept), addresses canonical and deduplicated", () => {
    const r = req(lbService("s", { annotations: { "sart.terassyi.net/addresspool": "a, b,a", "sart.terassyi.net/loadBalancerIPs": "2001:DB8::0001,198.51.100.1,2001:db8::1" } }));
    expect(r.pools).toEqual(["a", "b", "a"]);
    expect(r.addresses!.map(formatIp)).toEqual(["2001:db8::1", "198.51.100.1"]);
  });

  test.each([
    [{ "sart.terassyi.net/loadBalancerIPs": "198.51.100.300" }, "not an IP address"],
    [{ "sart.terassyi.net/loadBalancerIPs": "" }, "not an IP address"],
    [{ "sart.terassyi.net/addresspool": "ok,,x" }, "not a pool name"],
    [{ "sart.terassyi.net/addresspool": "UPPER" }, "not a pool name"],
  ])("bad annotation %j", (annotations, message) => {
    const p = parseLbRequest(lbService("s", { annotations }));
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.message).toContain(message);
  });
});

describe("LbAllocations", () => {
  test("auto-assign per family, the oldest autoAssign pool wins, exhaustion, release", () => {
    const r = registry();
    const lb = new LbAllocations(r);
    const got = ["a", "b", "c", "d"].map((k) => lb.allocate(k, req(lbService(k))));
    expect(got.map((g) => (g.ok ? g.held[0].ip : g.reason))).toEqual(["198.51.100.0", "198.51.100.1", "198.51.100.2", "198.51.100.3"]);
    const full = lb.allocate("e", req(lbService("e")));
    expect(full).toMatchObject({ ok: false, reason: "PoolExhausted" });
    lb.release("b");
    expect(lb.allocate("e", req(lbService("e")))).toMatchObject({ ok: true, held: [{ ip: "198.51.100.1", pool: "auto4" }] });
  });

  test("dual-stack: RequireDualStack fails as a whole (nothing held), PreferDualStack takes what there is", () => {
    const r = new PoolRegistry();
    r.sync([pool("only4", "198.51.100.0/24", { autoAssign: true })]);
    const lb = new LbAllocations(r);
    expect(lb.allocate("req", req(lbService("req", { spec: { ipFamilyPolicy: "RequireDualStack" } })))).toMatchObject({ ok: false, reason: "NoPool" });
    expect(lb.held("req")).toBeUndefined();
    expect(r.get("only4")!.addresses!.used()).toBe(0);
    expect(lb.allocate("pref", req(lbService("pref", { spec: { ipFamilyPolicy: "PreferDualStack" } })))).toMatchObject({ ok: true, held: [{ ip: "198.51.100.0" }] });
  });

  test("requested addresses: all or nothing, in use by another, outside every pool, and satisfies()", () => {
    const lb = new LbAllocations(registry());
    const two = req(lbService("x", { annotations: { "sart.terassyi.net/loadBalancerIPs": "203.0.113.7,2001:db8::2" } }));
    expect(lb.allocate("x", two)).toMatchObject({ ok: true });
    expect(lb.satisfies("x", two)).toBe(true);
    const clash = req(lbService("y", { annotations: { "sart.terassyi.net/loadBalancerIPs": "203.0.113.8,203.0.113.7" } }));
    const r = lb.allocate("y", clash);
    expect(r).toMatchObject({ ok: false, reason: "AddressInUse" });
    if (!r.ok) expect(r.message).toContain("x");
    // 203.0.113.8 was rolled back.
    expect(lb.allocate("z", req(lbService("z", { annotations: { "sart.terassyi.net/loadBalancerIPs": "203.0.113.8" } })))).toMatchObject({ ok: true });
    expect(lb.allocate("w", req(lbService("w", { annotations: { "sart.terassyi.net/loadBalancerIPs": "10.9.9.9" } })))).toMatchObject({ ok: false, reason: "AddressOutsidePools" });
    // A changed request is no longer satisfied.
    expect(lb.satisfies("x", req(lbService("x", { annotations: { "sart.terassyi.net/loadBalancerIPs": "203.0.113.7" } })))).toBe(false);
  });

  test("recovery claims: first claimer keeps an address; outside addresses are refused", () => {
    const lb = new LbAllocations(registry());
    expect(lb.claim("old", "203.0.113.9")).toEqual({ ok: true });
    expect(lb.claim("new", "203.0.113.9")).toMatchObject({ ok: false, holder: "old" });
    expect(lb.claim("new", "10.0.0.1")).toMatchObject({ ok: false });
    expect(lb.allocate("n", req(lbService("n", { annotations: { "sart.terassyi.net/addresspool": "named" } })))).toMatchObject({ ok: true, held: [{ ip: "203.0.113.0" }] });
  });

  test("named pools of a family the Service does not use are skipped; none left is NoPool", () => {
    const lb = new LbAllocations(registry());
    const both = { "sart.terassyi.net/addresspool": "named,auto6" };
    expect(lb.allocate("v4", req(lbService("v4", { annotations: both, spec: { ipFamilies: ["IPv4"] } })))).toMatchObject({ ok: true, held: [{ pool: "named" }] });
    expect(lb.allocate("dual", req(lbService("dual", { annotations: both, spec: { ipFamilyPolicy: "RequireDualStack" } })))).toMatchObject({ ok: true, held: [{ pool: "named" }, { pool: "auto6" }] });
    const only6 = lb.allocate("x", req(lbService("x", { annotations: { "sart.terassyi.net/addresspool": "auto6" }, spec: { ipFamilies: ["IPv4"] } })));
    expect(only6).toMatchObject({ ok: false, reason: "NoPool" });
  });

  test("a large IPv6 pool is carved into core blocks on demand", () => {
    const r = new PoolRegistry();
    r.sync([pool("v6big", "2001:db8:ff::/64", { autoAssign: true })]);
    const lb = new LbAllocations(r);
    expect(lb.claim("far", "2001:db8:ff::1:0:5")).toEqual({ ok: true });
    expect(lb.allocate("a", req(lbService("a", { spec: { ipFamilies: ["IPv6"] } })))).toMatchObject({ ok: true, held: [{ ip: "2001:db8:ff::" }] });
  });
});

describe("advertisement targets and peer states", () => {
  test("syncPeers: new NotAdvertised, dropped Withdraw, returning starts over, unchanged kept", () => {
    expect(syncPeers({ a: "Advertised", b: "Advertised", c: "Withdraw" }, ["b", "c", "d"])).toEqual({
      peers: { a: "Withdraw", b: "Advertised", c: "NotAdvertised", d: "NotAdvertised" },
      changed: true,
    });
    expect(syncPeers({ a: "Advertised" }, ["a"]).changed).toBe(false);
  });

  test("onlyAgentMarksChanged: NotAdvertised <-> Advertised is the agents' business; anything else is the controller's", () => {
    const adv = (rv: string, peers: BGPAdvertisement["status"] extends infer S ? NonNullable<S>["peers"] : never, more: Partial<BGPAdvertisement["spec"]> = {}, labels = { "kubernetes.io/service-name": "web" }): BGPAdvertisement => ({
      apiVersion: "sart.terassyi.net/v1alpha2",
      kind: "BGPAdvertisement",
      metadata: { name: "web-1-192.0.2.1", namespace: "default", resourceVersion: rv, labels },
      spec: { cidr: "192.0.2.1/32", type: "service", protocol: "ipv4", ...more },
      status: { peers },
    });
    const before = adv("1", { a: "NotAdvertised", b: "NotAdvertised", c: "Withdraw" });
    expect(onlyAgentMarksChanged(before, adv("2", { a: "Advertised", b: "NotAdvertised", c: "Withdraw" }))).toBe(true);
    expect(onlyAgentMarksChanged(adv("2", { a: "Advertised" }), adv("3", { a: "NotAdvertised" }))).toBe(true); // a session went down
    // An agent removing a Withdraw entry, a target turned Withdraw, a new target: the controller looks.
    expect(onlyAgentMarksChanged(before, adv("2", { a: "NotAdvertised", b: "NotAdvertised" }))).toBe(false);
    expect(onlyAgentMarksChanged(before, adv("2", { a: "Withdraw", b: "NotAdvertised", c: "Withdraw" }))).toBe(false);
    expect(onlyAgentMarksChanged(before, adv("2", { a: "NotAdvertised", b: "NotAdvertised", c: "Withdraw", d: "NotAdvertised" }))).toBe(false);
    // Spec and metadata changes with the same marks.
    expect(onlyAgentMarksChanged(before, adv("2", before.status!.peers, { cidr: "192.0.2.0/24" }))).toBe(false);
    expect(onlyAgentMarksChanged(before, adv("2", before.status!.peers, {}, { "kubernetes.io/service-name": "other" }))).toBe(false);
    expect(onlyAgentMarksChanged(before, { ...adv("2", before.status!.peers), metadata: { ...before.metadata, resourceVersion: "2", deletionTimestamp: "2026-01-01T00:00:00Z" } })).toBe(false);
  });

  test("Local follows ready endpoints; groups narrow; peers without groups always match", () => {
    const peers = [bgpPeer("pa", "na"), bgpPeer("pb", "nb", ["g1"]), bgpPeer("pc", "nc", ["g2"])];
    const local = lbService("s", { spec: { externalTrafficPolicy: "Local" }, annotations: { "bgppeer.sart.terassyi.net/group": "g1" } });
    const s = slice("s", [{ node: "na" }, { node: "nb" }, { node: "nc" }]);
    expect(targetPeers(local, [s], peers)).toEqual(["pa", "pb"]);
    const notReady = slice("s", [{ node: "na", ready: false }, { node: "nb" }]);
    expect(targetPeers(local, [notReady], peers)).toEqual(["pb"]);
    expect(targetPeers(lbService("c"), [], peers)).toEqual(["pa", "pb", "pc"]);
  });
});

describe("addresses", () => {
  test.each([
    ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1", "2001-db8-0-0-1-0-0-1"],
    ["2001:db8::", "2001:db8::", "2001-db8-0-0-0-0-0-0"],
    ["::ffff:192.0.2.1", "::ffff:c000:201", "0-0-0-0-0-ffff-c000-201"],
    ["198.51.100.7", "198.51.100.7", "198.51.100.7"],
  ])("%s", (text, canonical, name) => {
    const ip = parseIp(text)!;
    expect(formatIp(ip)).toBe(canonical);
    expect(ipForName(ip)).toBe(name);
  });
  test("CIDRs with host bits are not networks", () => {
    expect(parseCidr("198.51.100.1/24")).toBeUndefined();
    expect(parseCidr("198.51.100.0/33")).toBeUndefined();
    expect(parseCidr("2001:db8::/32")?.prefix).toBe(32);
  });
});

describe("WorkQueue", () => {
  test("dedupes queued keys, re-runs a key changed while running, never runs one key twice at once", async () => {
    const runs: string[] = [];
    let active = 0;
    let maxActiveSame = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue("t", async (key) => {
      active++;
      maxActiveSame = Math.max(maxActiveSame, active);
      runs.push(key);
      if (runs.length === 1) await gate;
      active--;
    }, { concurrency: 4 });
    q.start();
    q.add("k");
    q.add("k"); // running: marked dirty, runs once more afterwards
    q.add("k");
    release();
    await q.idle();
    expect(runs).toEqual(["k", "k"]);
    expect(maxActiveSame).toBe(1);
  });

  test("failures retry with backoff, then give up after maxRetries", async () => {
    let attempts = 0;
    let gaveUp = "";
    const q = new WorkQueue("t", async () => {
      attempts++;
      throw new Error("nope");
    }, { maxRetries: 3, baseDelayMs: 1, onGiveUp: (k) => (gaveUp = k) });
    q.start();
    q.add("bad");
    await q.idle();
    expect(attempts).toBe(4);
    expect(gaveUp).toBe("bad");
  });
});
