// The health endpoint `sart controller --health` serves (and the agent can): probes, metrics,
// methods, paths, listen addresses; real HTTP on loopback.
import { afterEach, describe, expect, test } from "bun:test";
import { type HealthServer, PrometheusText, parseListenAddress, startHealthServer } from "../../host/kube/health-server.ts";

describe("health server", () => {
  let h: HealthServer | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  test("/healthz and /readyz: 200 ok, or 503 with the reason; /metrics in Prometheus text", async () => {
    let ready: true | string = "caches not synced";
    h = await startHealthServer({ listen: "127.0.0.1:0", ready: () => ready, metrics: () => new PrometheusText().metric("x_total", "counter", "Things", [[{ pool: 'a"b' }, 3]]).text() });
    expect(h.address).toBe(`127.0.0.1:${h.port}`);
    const get = (path: string, init?: RequestInit) => fetch(`http://${h!.address}${path}`, init);
    let r = await get("/healthz");
    expect([r.status, await r.text()]).toEqual([200, "ok\n"]);
    r = await get("/readyz");
    expect([r.status, await r.text()]).toEqual([503, "caches not synced\n"]);
    ready = true;
    expect((await get("/readyz")).status).toBe(200);
    r = await get("/metrics");
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await r.text()).toBe('# HELP x_total Things\n# TYPE x_total counter\nx_total{pool="a\\"b"} 3\n');
    r = await get("/nope");
    expect(r.status).toBe(404);
    expect(await r.text()).toContain("/healthz, /readyz, /metrics");
    r = await get("/healthz", { method: "POST" });
    expect([r.status, r.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    r = await get("/healthz", { method: "HEAD" });
    expect([r.status, await r.text()]).toEqual([200, ""]);
  });

  test("a failing check or metrics callback answers 503 / 500 with its message; no metrics: 404", async () => {
    h = await startHealthServer({ listen: "[::1]:0", live: () => { throw new Error("wedged"); }, metrics: async () => { throw new Error("no data"); } });
    expect(h.address).toBe(`[::1]:${h.port}`);
    let r = await fetch(`http://${h.address}/healthz`);
    expect([r.status, await r.text()]).toEqual([503, "wedged\n"]);
    r = await fetch(`http://${h.address}/metrics`);
    expect([r.status, await r.text()]).toEqual([500, "metrics: no data\n"]);
    await h.close();
    h = await startHealthServer({ listen: "127.0.0.1:0" });
    expect((await fetch(`http://${h.address}/metrics`)).status).toBe(404);
  });

  test("listen addresses: HOST:PORT, [IPV6]:PORT, :PORT; anything else and a port in use are errors naming it", async () => {
    expect(parseListenAddress("127.0.0.1:9466")).toEqual({ host: "127.0.0.1", port: 9466 });
    expect(parseListenAddress("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(parseListenAddress(":9466")).toEqual({ host: "0.0.0.0", port: 9466 });
    for (const bad of ["9466", "127.0.0.1", "127.0.0.1:70000", "::1:80", "host:port"]) expect(() => parseListenAddress(bad)).toThrow(JSON.stringify(bad));
    h = await startHealthServer({ listen: "127.0.0.1:0" });
    await expect(startHealthServer({ listen: h.address })).rejects.toThrow(`health endpoint on ${h.address}`);
  });
});
