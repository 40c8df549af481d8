// Graceful restart (RFC 4724) with a real BIRD as helper: sart is killed (no
// NOTIFICATION, as in a crash), BIRD keeps sart's routes while the session is down,
// sart restarts with --graceful-restart (R and F bits), re-announces what it still
// originates and sends End-of-RIB; BIRD then drops only the route sart no longer
// has, long before its 120 s restart time, and the kept route never disappears.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Bird, birdBgpConfig } from "../helpers/bird.ts";
import { freePort, loopbackBlock, sleep, waitFor } from "../helpers/net.ts";
import { Sart, type SartConfig } from "../helpers/sart.ts";

describe("graceful restart: BIRD keeps sart's routes until its End-of-RIB", () => {
  const a = loopbackBlock();
  let b: Bird;
  let s: Sart | undefined;
  let config: Omit<SartConfig, "api">;

  beforeAll(async () => {
    const sartPort = await freePort(a(1));
    const birdPort = await freePort(a(2));
    b = await Bird.start(birdBgpConfig({ name: "sart", localAddress: a(2), localPort: birdPort, asn: 65002, neighbor: a(1), neighborPort: sartPort, neighborAs: 65001, gracefulRestart: true }));
    config = {
      asn: 65001, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [{ address: a(2), asn: 65002, port: birdPort }],
      routes: [
        { prefix: "198.51.100.0/24", nextHop: "192.0.2.1" },
        { prefix: "198.51.100.128/25", nextHop: "192.0.2.1" },
      ],
    };
    s = await Sart.start(config);
    await waitFor("sart <-> BIRD Established", async () => (await s!.neighborState(a(2))) === "Established", 30000);
  });

  afterAll(async () => {
    await s?.stop();
    await b?.stop();
  });

  test("stale routes survive the restart; the one no longer originated goes at End-of-RIB", async () => {
    expect((await s!.neighbor(a(2))).negotiated.gracefulRestart).toBeDefined();
    await waitFor("both routes in BIRD", async () => {
      const r = await b.routes();
      return r.has("198.51.100.0/24") && r.has("198.51.100.128/25");
    });

    s!.daemon.signal("SIGKILL");
    await s!.stop(); // gone already: removes its directory
    await waitFor("BIRD sees the session down", async () => !(await b.established("sart")));
    // BIRD's reconnect attempt meets a closed port: routes must still be there after it.
    await waitFor("BIRD's reconnect refused", async () => (await b.cli("show protocols all sart")).includes("Last error:       Socket: Connection refused"), 15000);
    let routes = await b.routes();
    expect(routes.has("198.51.100.0/24")).toBe(true);
    expect(routes.has("198.51.100.128/25")).toBe(true);

    // Watch the kept route through the whole restart.
    let watching = true;
    let gaps = 0;
    const watch = (async () => {
      while (watching) {
        if (!(await b.routes()).has("198.51.100.0/24")) gaps++;
        await sleep(100);
      }
    })();
    try {
      s = await Sart.start({ ...config, routes: [config.routes![0]] }, "bun", 20000, undefined, ["--graceful-restart"]);
      await waitFor("session back", () => b.established("sart"), 30000);
      const proto = await b.cli("show protocols all sart");
      const caps = proto.slice(proto.indexOf("Neighbor capabilities"), proto.indexOf("Session:"));
      expect(caps).toContain("Restart recovery");
      expect(caps).toContain("AF preserved: ipv4");
      await waitFor("the route sart no longer originates is flushed at End-of-RIB", async () => !(await b.routes()).has("198.51.100.128/25"), 15000);
    } finally {
      watching = false;
      await watch;
    }
    expect(gaps).toBe(0);
    routes = await b.routes();
    expect(routes.get("198.51.100.0/24")?.[0].attrs["BGP.as_path"]).toBe("65001");
  });
});
