// Outgoing sessions through a growth of the core's memory, under Bun and Node.
// sart (hub) connects out to an FRR (spoke 1, passive); once that session is up,
// another sart (spoke 2) sends 40,000 IPv6 /48s, which grows the core's linear
// memory. The outgoing session must stay Established through FRR's next
// KEEPALIVEs, and routes must keep flowing both ways. (A socket read buffer that
// is a view into the core's memory is detached by memory.grow while the runtime
// holds it between reads: Bun then failed the read with ENOBUFS and dropped the session.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Frr, frrBgpConfig } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { type Runtime, Sart } from "../helpers/sart.ts";
import { type Star, star } from "./star.ts";

const FLOOD = 40_000;

for (const runtime of ["bun", "node"] as Runtime[]) {
  describe(`outgoing session under ${runtime} through a memory growth`, () => {
    let net: Star;
    let frr: Frr;
    let hub: Sart;
    let flood: Sart | undefined;

    beforeAll(async () => {
      net = await star(2, `spmem${runtime[0]}`);
      const [f, g] = net.spokes;
      frr = await Frr.start(f.ns, frrBgpConfig({
        asn: 65010, routerId: f.v4, neighbor: f.hub.v4, remoteAs: 65001, neighborOptions: ["passive", "timers 3 9"],
        lines: [" address-family ipv4 unicast", "  network 203.0.113.0/24", " exit-address-family"],
      }));
      hub = await Sart.startIn(net.hub, {
        asn: 65001, routerId: "192.0.2.1", listen: { address: "0.0.0.0", port: 179 },
        neighbors: [
          { address: f.v4, asn: 65010, holdTime: 9 },
          { address: g.v4, asn: 65020, passive: true, holdTime: 30, families: ["ipv4-unicast", "ipv6-unicast"] },
        ],
        routes: [{ prefix: "198.51.100.0/25" }],
      }, runtime);
      await waitFor("sart -> FRR Established", async () => (await hub.neighborState(f.v4)) === "Established", 30000);
    });

    afterAll(async () => {
      await flood?.stop();
      await hub?.stop();
      await frr?.stop();
      await net?.delete();
    });

    test("the session stays Established and routes keep flowing both ways", async () => {
      const [f, g] = net.spokes;
      await waitFor("203.0.113.0/24 from FRR", async () => (await hub.rib()).has("203.0.113.0/24"));
      const before = await hub.metric("sart_core_memory_bytes");
      const routes = Array.from({ length: FLOOD }, (_, i) => ({ prefix: `2001:db8:${(i + 1).toString(16)}::/48` }));
      flood = await Sart.startIn(g.ns, {
        asn: 65020, routerId: "192.0.2.2", listen: { address: g.v4, port: 0 },
        neighbors: [{ address: g.hub.v4, asn: 65001, holdTime: 30, families: ["ipv4-unicast", "ipv6-unicast"] }],
        routes,
      }, runtime, 60000);
      await waitFor(`${FLOOD} IPv6 prefixes at the hub`, async () => (await hub.get<any>("/v1/global")).rib["ipv6-unicast"] === FLOOD, 60000);
      expect(await hub.metric("sart_core_memory_bytes")).toBeGreaterThan(before);

      // FRR sends a KEEPALIVE every 3 s: the first read after the growth is behind us once two more arrived.
      const seen = (await hub.neighbor(f.v4)).counters.messagesIn.keepalive;
      await waitFor("two more KEEPALIVEs from FRR", async () => (await hub.neighbor(f.v4)).counters.messagesIn.keepalive >= seen + 2, 20000);
      const nb = await hub.neighbor(f.v4);
      expect(nb.state).toBe("Established");
      expect(nb.counters.establishedTransitions).toBe(1);
      expect(nb.lastError).toBeUndefined();

      // Routes still flow: one from FRR, one from the hub.
      await frr.vtysh(["configure terminal", "router bgp 65010", "address-family ipv4 unicast", "network 198.51.100.128/25"]);
      await waitFor("198.51.100.128/25 from FRR at the hub", async () => (await hub.rib()).has("198.51.100.128/25"));
      await hub.send("POST", "/v1/rib", { prefix: "192.0.2.128/26" });
      await waitFor("192.0.2.128/26 from the hub at FRR", async () => (await frr.routes()).has("192.0.2.128/26"));
      expect((await hub.neighbor(f.v4)).counters.establishedTransitions).toBe(1);
    }, 120000);
  });
}
