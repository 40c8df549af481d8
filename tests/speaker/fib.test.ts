// The FIB hook-up: three sart speakers inside a network namespace of our own
// (`ip netns exec`, APIs on unix sockets). The one with fib.enabled and
// multipath installs its best paths (ECMP when two neighbours of one AS tie) in the
// namespace's main table, removes them on withdraw, and all of them on SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { SART_RT_PROTO } from "../../host/fib/fib.ts";
import { type SpeakerProc, cleanupTmp, sartBgp, startSpeaker, tmpDir, waitEstablished, waitFor } from "./harness.ts";

const ns = `sartspk${process.pid}${Math.floor(Math.random() * 1e4)}`;
const ip = (...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
const running: SpeakerProc[] = [];

function kernelRoutes(): Record<string, string[]> {
  const routes = JSON.parse(ip("-4", "-j", "route", "show", "table", "254", "proto", String(SART_RT_PROTO)) || "[]") as
    { dst: string; gateway?: string; nexthops?: { gateway: string }[] }[];
  return Object.fromEntries(routes.map((r) => [r.dst, r.nexthops ? r.nexthops.map((n) => n.gateway).sort() : [r.gateway!]]));
}

function config(asn: number, address: string, extra: Record<string, any>): Record<string, any> {
  return { asn, routerId: address, listen: { address, port: 179 }, api: { listen: `unix:${join(tmpDir(), `${address}.sock`)}` }, ...extra };
}

let dut: SpeakerProc, p1: SpeakerProc, p2: SpeakerProc;
let dutConfig: Record<string, any>;

beforeAll(async () => {
  execFileSync("ip", ["netns", "add", ns]);
  ip("link", "set", "lo", "up");
  ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
  ip("link", "set", "v0", "up");
  ip("link", "set", "v1", "up");
  ip("addr", "add", "192.0.2.1/24", "dev", "v0");
  ip("addr", "add", "192.0.2.2/24", "dev", "v1");
  ip("addr", "add", "192.0.2.3/24", "dev", "v1");
  const peer = (address: string, asn: number) => ({ address, asn, holdTime: 9 });
  dutConfig = config(65000, "192.0.2.1", {
    multipath: true, fib: { enabled: true, table: 254 },
    neighbors: [peer("192.0.2.2", 65011), peer("192.0.2.3", 65011)],
    routes: [{ prefix: "203.0.113.0/24" }],
  });
  dut = await startSpeaker("dut", dutConfig, { netns: ns });
  running.push(dut);
  p1 = await startSpeaker("p1", config(65011, "192.0.2.2", {
    neighbors: [peer("192.0.2.1", 65000)],
    routes: [{ prefix: "198.51.100.0/24", nextHop: "192.0.2.10" }, { prefix: "192.0.2.128/26", nextHop: "192.0.2.10" }],
  }), { netns: ns });
  running.push(p1);
  p2 = await startSpeaker("p2", config(65011, "192.0.2.3", {
    neighbors: [peer("192.0.2.1", 65000)],
    routes: [{ prefix: "198.51.100.0/24", nextHop: "192.0.2.11" }],
  }), { netns: ns });
  running.push(p2);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop("SIGKILL")));
  execFileSync("ip", ["netns", "del", ns]);
  cleanupTmp();
});

describe("FIB in a network namespace", () => {
  test("best paths and ECMP next hops in the kernel; withdrawals remove them; SIGTERM removes all", async () => {
    await waitEstablished(dut, "192.0.2.2");
    await waitEstablished(dut, "192.0.2.3");
    await waitFor("ECMP route and single route in the kernel", () => {
      const r = kernelRoutes();
      return r["198.51.100.0/24"]?.length === 2 && r["192.0.2.128/26"] ? r : undefined;
    });
    // The locally originated route is not installed.
    expect(kernelRoutes()).toEqual({ "198.51.100.0/24": ["192.0.2.10", "192.0.2.11"], "192.0.2.128/26": ["192.0.2.10"] });
    // The CLI over the unix socket API.
    const list = sartBgp(dut.api, ["neighbor", "list", "-o", "json"]);
    expect(list.status).toBe(0);
    expect(list.json.map((n: any) => [n.address, n.state])).toEqual([["192.0.2.2", "Established"], ["192.0.2.3", "Established"]]);
    const rib = await dut.get<any[]>("/v1/rib?family=ipv4-unicast");
    const ecmp = rib.find((e) => e.prefix === "198.51.100.0/24");
    expect(ecmp.paths.filter((p: any) => p.best || p.multipath)).toHaveLength(2);

    // One ECMP member withdrawn: the route falls back to the other next hop.
    expect((await p2.call("DELETE", "/v1/rib", { prefix: "198.51.100.0/24" })).status).toBe(200);
    await waitFor("single next hop", () => kernelRoutes()["198.51.100.0/24"]?.length === 1 || undefined);
    expect(kernelRoutes()["198.51.100.0/24"]).toEqual(["192.0.2.10"]);
    // A route withdrawn by its only peer leaves the kernel.
    expect((await p1.call("DELETE", "/v1/rib", { prefix: "192.0.2.128/26" })).status).toBe(200);
    await waitFor("route removed", () => !kernelRoutes()["192.0.2.128/26"] || undefined);
    const metrics = (await dut.call("GET", "/metrics")).json as string;
    expect(metrics).toMatch(/sart_fib_operations_total [1-9]/);
    expect(metrics).toContain("sart_fib_failures_total 0");

    expect(await dut.stop("SIGTERM")).toBe(0);
    expect(kernelRoutes()).toEqual({});
  });

  test("graceful restart: kernel routes survive kill -9 and the restart; the ones not re-learned go after End-of-RIB", async () => {
    dut = await startSpeaker("dut2", dutConfig, { netns: ns });
    running.push(dut);
    expect((await p1.call("POST", "/v1/rib", { prefix: "192.0.2.192/26", nextHop: "192.0.2.10" })).status).toBe(201);
    await waitFor("two routes", () => Object.keys(kernelRoutes()).length === 2 || undefined, 20_000);
    await dut.stop("SIGKILL");
    expect(Object.keys(kernelRoutes()).sort()).toEqual(["192.0.2.192/26", "198.51.100.0/24"]);
    // While the speaker is away, one route is withdrawn at its source.
    expect((await p1.call("DELETE", "/v1/rib", { prefix: "192.0.2.192/26" })).status).toBe(200);
    dut = await startSpeaker("dut3", dutConfig, { netns: ns, args: ["--graceful-restart"] });
    running.push(dut);
    // Forwarding continues on the old routes until the neighbours' End-of-RIB.
    expect(kernelRoutes()["198.51.100.0/24"]).toEqual(["192.0.2.10"]);
    await waitFor("restart over", async () => (await dut.get("/v1/global")).gracefulRestart.restarting === false || undefined, 20_000);
    await waitFor("stale kernel route removed", () => !kernelRoutes()["192.0.2.192/26"] || undefined);
    expect(kernelRoutes()).toEqual({ "198.51.100.0/24": ["192.0.2.10"] });
    expect(await dut.stop("SIGTERM")).toBe(0);
    expect(kernelRoutes()).toEqual({});
  });
});
