// sart speakers as real processes on loopback: A (AS 65001, under Node)
// peers over eBGP with B (AS 65002, Bun), which peers over iBGP with C (AS
// 65002, Bun). Routes flow both ways with eBGP/iBGP attribute rules; routes
// and neighbours change at run time through the API and the CLI; SIGTERM
// sends Cease 6/2 and exits 0.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type SpeakerProc, cleanupTmp, neighborOf, ribEntry, sartBgp, speakerConfig, startSpeaker, waitEstablished, waitFor,
} from "./harness.ts";

let a: SpeakerProc, b: SpeakerProc, c: SpeakerProc;
let ca: Record<string, any>, cb: Record<string, any>, cc: Record<string, any>;
const running: SpeakerProc[] = [];

beforeAll(async () => {
  ca = await speakerConfig(65001, "192.0.2.1", { routes: [{ prefix: "198.51.100.0/24", communities: ["65001:1"] }] });
  cb = await speakerConfig(65002, "192.0.2.2", { routes: [{ prefix: "203.0.113.0/24" }, { prefix: "2001:db8:b::/48", nextHop: "2001:db8::b" }] });
  cc = await speakerConfig(65002, "192.0.2.3", { routes: [{ prefix: "192.0.2.128/25", communities: ["65002:3"] }] });
  ca.neighbors = [neighborOf(cb, { families: ["ipv4-unicast", "ipv6-unicast"] })];
  cb.neighbors = [neighborOf(ca, { export: "all", families: ["ipv4-unicast", "ipv6-unicast"] }), neighborOf(cc, { export: "all" })];
  cc.neighbors = [neighborOf(cb)];
  a = await startSpeaker("a", ca, { runtime: "node" });
  running.push(a);
  b = await startSpeaker("b", cb);
  running.push(b);
  c = await startSpeaker("c", cc);
  running.push(c);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop("SIGKILL")));
  cleanupTmp();
});

describe("sart speakers over eBGP and iBGP", () => {
  test("sessions come up with negotiated capabilities (A runs under Node, B and C under Bun)", async () => {
    const ab = await waitEstablished(a, cb.listen.address);
    const ba = await waitEstablished(b, ca.listen.address);
    await waitEstablished(b, cc.listen.address);
    await waitEstablished(c, cb.listen.address);
    expect(ab.routerId).toBe("192.0.2.2");
    expect(ba.routerId).toBe("192.0.2.1");
    expect(ab.negotiated.holdTime).toBe(9);
    expect(ab.negotiated.keepalive).toBe(3);
    expect(ab.negotiated.as4).toBe(true);
    expect(ab.negotiated.families).toEqual(["ipv4-unicast", "ipv6-unicast"]);
    expect((await waitEstablished(c, cb.listen.address)).negotiated.families).toEqual(["ipv4-unicast"]);
    expect(ab.negotiated.capabilities).toEqual(expect.arrayContaining(["4-octet-as", "route-refresh", "graceful-restart", "extended-message"]));
    const g = await a.get("/v1/global");
    expect(g).toMatchObject({ asn: 65001, routerId: "192.0.2.1", listen: { address: ca.listen.address, port: ca.listen.port } });
  });

  test("eBGP prepends and sets next hop self; iBGP carries LOCAL_PREF and keeps AS_PATH and next hop", async () => {
    // A's route at B (eBGP): AS_PATH 65001, next hop A, community kept.
    const atB = await waitFor("198.51.100.0/24 at B", () => ribEntry(b, "198.51.100.0/24"));
    expect(atB.paths).toHaveLength(1);
    expect(atB.paths[0]).toMatchObject({
      nextHop: ca.listen.address, asPath: [{ type: "AS_SEQUENCE", asns: [65001] }], origin: "IGP", communities: ["65001:1"], best: true, peer: ca.listen.address,
    });
    // The same route at C, through B over iBGP: no prepend, next hop unchanged, LOCAL_PREF 100.
    const atC = await waitFor("198.51.100.0/24 at C", () => ribEntry(c, "198.51.100.0/24"));
    expect(atC.paths[0]).toMatchObject({ nextHop: ca.listen.address, asPath: [{ type: "AS_SEQUENCE", asns: [65001] }], localPref: 100, peer: cb.listen.address });
    // B's own route at C (iBGP): empty AS_PATH, next hop B.
    const bAtC = await waitFor("203.0.113.0/24 at C", () => ribEntry(c, "203.0.113.0/24"));
    expect(bAtC.paths[0]).toMatchObject({ nextHop: cb.listen.address, asPath: [], localPref: 100 });
    // C's route at A, through B over eBGP: B prepends 65002, next hop B, no LOCAL_PREF.
    const cAtA = await waitFor("192.0.2.128/25 at A", () => ribEntry(a, "192.0.2.128/25"));
    expect(cAtA.paths[0]).toMatchObject({ nextHop: cb.listen.address, asPath: [{ type: "AS_SEQUENCE", asns: [65002] }], communities: ["65002:3"] });
    expect(cAtA.paths[0].localPref).toBeUndefined();
  });

  test("IPv6 unicast over the IPv4 session (MP-BGP), only to the neighbour that negotiated it", async () => {
    const atA = await waitFor("2001:db8:b::/48 at A", () => ribEntry(a, "2001:db8:b::/48"));
    expect(atA.paths[0]).toMatchObject({ asPath: [{ type: "AS_SEQUENCE", asns: [65002] }], peer: cb.listen.address });
    const page = await a.get<any[]>("/v1/rib?family=ipv6-unicast");
    expect(page.map((e) => e.prefix)).toEqual(["2001:db8:b::/48"]);
    expect(await c.get<any[]>("/v1/rib?family=ipv6-unicast")).toEqual([]);
  });

  test("routes added and withdrawn at run time through the API and the CLI propagate", async () => {
    // API: POST /v1/rib at C.
    const post = await c.call("POST", "/v1/rib", { prefix: "198.51.100.1/24" });
    expect(post.status).toBe(400);
    expect(post.json.error).toStartWith("request: prefix: must be a prefix");
    const ok = await c.call("POST", "/v1/rib", { prefix: "198.51.100.128/25", communities: ["65002:9"] });
    expect(ok.status).toBe(201);
    const atA = await waitFor("198.51.100.128/25 at A", () => ribEntry(a, "198.51.100.128/25"));
    expect(atA.paths[0].communities).toEqual(["65002:9"]);
    // CLI (-o json) at C: withdraw its configured route; A loses it.
    const del = sartBgp(c.api, ["rib", "del", "192.0.2.128/25", "-o", "json"]);
    expect(del.status).toBe(0);
    expect(del.json).toEqual({ withdrawn: "192.0.2.128/25" });
    await waitFor("192.0.2.128/25 withdrawn at A", async () => (await ribEntry(a, "192.0.2.128/25")) === undefined || undefined);
    // Unknown route: 404 with an error object; the CLI exits 1 and says why.
    const again = await c.call("DELETE", "/v1/rib", { prefix: "192.0.2.128/25" });
    expect(again.status).toBe(404);
    expect(again.json.error).toContain("192.0.2.128/25");
    const cliAgain = sartBgp(c.api, ["rib", "del", "192.0.2.128/25"]);
    expect(cliAgain.status).toBe(1);
    expect(cliAgain.stderr).toContain("no originated route 192.0.2.128/25");
    // CLI add under Node, JSON and table output.
    const add = sartBgp(a.api, ["rib", "add", "203.0.113.128/25", "--community", "65001:5", "-o", "json"], "node");
    expect(add.status).toBe(0);
    expect(add.json).toMatchObject({ prefix: "203.0.113.128/25", communities: ["65001:5"] });
    const atC = await waitFor("203.0.113.128/25 at C", () => ribEntry(c, "203.0.113.128/25"));
    expect(atC.paths[0].asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65001] }]);
    const table = sartBgp(c.api, ["rib", "get"]);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/\*>\s+203\.0\.113\.128\/25\s+\S+\s+65001/);
    const paged = sartBgp(c.api, ["rib", "get", "--limit", "1", "--after", "198.51.100.0/24", "-o", "json"]);
    expect(paged.json.map((e: any) => e.prefix)).toEqual(["198.51.100.128/25"]);
  });

  test("a neighbour added and removed at run time (CLI -o json): up, routes, then Cease 6/3", async () => {
    const cd = await speakerConfig(65003, "192.0.2.4");
    cd.neighbors = [neighborOf(ca, { passive: true })];
    const d = await startSpeaker("d", cd);
    running.push(d);
    const add = sartBgp(a.api, ["neighbor", "add", cd.listen.address, "--asn", "65003", "--port", String(cd.listen.port), "--hold-time", "6", "-o", "json"]);
    expect(add.status).toBe(0);
    expect(add.json).toMatchObject({ address: cd.listen.address, asn: 65003, holdTime: 6, export: "local" });
    // A second add of the same address conflicts.
    const dup = await a.call("POST", "/v1/neighbors", { address: cd.listen.address, asn: 65003 });
    expect(dup.status).toBe(409);
    const bad = await a.call("POST", "/v1/neighbors", { address: "192.0.2.99", asn: 0 });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe("request: asn: must be 1..4294967295, not 0");
    const up = await waitEstablished(d, ca.listen.address);
    expect(up.negotiated.holdTime).toBe(6);
    // export local: D gets A's own routes only, not those A learned from B.
    await waitFor("A's route at D", () => ribEntry(d, "198.51.100.0/24"));
    expect(await ribEntry(d, "203.0.113.0/24")).toBeUndefined();
    const list = sartBgp(a.api, ["neighbor", "list"]);
    expect(list.stdout).toMatch(new RegExp(`${cd.listen.address.replace(/\./g, "\\.")}\\s+65003\\s+\\S+\\s+Established`));
    const del = sartBgp(a.api, ["neighbor", "del", cd.listen.address, "-o", "json"]);
    expect(del.json).toEqual({ deleted: cd.listen.address });
    const down = await waitFor("D sees Cease 6/3", async () => {
      const n = await d.get(`/v1/neighbors/${ca.listen.address}`);
      return n.state !== "Established" && n.lastNotificationReceived ? n : undefined;
    });
    expect(down.lastNotificationReceived).toMatchObject({ code: 6, subcode: 3 });
    expect(await ribEntry(d, "198.51.100.0/24")).toBeUndefined();
    expect((await a.call("GET", `/v1/neighbors/${cd.listen.address}`)).status).toBe(404);
    await d.stop();
  });

  test("metrics: session state, messages by type, prefixes per neighbour, RIB size, decision runs", async () => {
    const r = await b.call("GET", "/metrics");
    expect(r.status).toBe(200);
    const text = r.json as string;
    const A = ca.listen.address;
    expect(text).toContain(`sart_bgp_session_state{neighbor="${A}",state="Established"} 1`);
    expect(text).toContain(`sart_bgp_session_state{neighbor="${A}",state="Idle"} 0`);
    expect(text).toMatch(new RegExp(`sart_bgp_messages_received_total\\{neighbor="${A}",type="update"\\} [1-9]`));
    expect(text).toMatch(new RegExp(`sart_bgp_messages_sent_total\\{neighbor="${A}",type="keepalive"\\} [1-9]`));
    expect(text).toMatch(new RegExp(`sart_bgp_prefixes_received\\{neighbor="${A}"\\} [1-9]`));
    expect(text).toMatch(new RegExp(`sart_bgp_prefixes_advertised\\{neighbor="${A}"\\} [1-9]`));
    expect(text).toMatch(/sart_bgp_rib_prefixes\{family="ipv4-unicast"\} [1-9]/);
    expect(text).toMatch(/sart_bgp_decision_runs_total [1-9]/);
    expect(text).toContain("sart_fib_operations_total 0");
    const global = sartBgp(b.api, ["global", "get", "-o", "json"]);
    expect(global.json).toMatchObject({ asn: 65002, routerId: "192.0.2.2", neighbors: 2, established: 2 });
  });

  test("SIGTERM: Cease 6/2 to the peers, its routes withdrawn there, exit code 0", async () => {
    const code = await c.stop("SIGTERM");
    expect(code).toBe(0);
    const atB = await waitFor("B sees Cease 6/2 from C", async () => {
      const n = await b.get(`/v1/neighbors/${cc.listen.address}`);
      return n.lastNotificationReceived ? n : undefined;
    });
    expect(atB.lastNotificationReceived).toMatchObject({ code: 6, subcode: 2 });
    await waitFor("C's route gone at A", async () => (await ribEntry(a, "198.51.100.128/25")) === undefined || undefined);
  });
});
