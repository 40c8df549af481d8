// sart's BFD against FRR's bfdd (zebra + bfdd + bgpd in the router namespace,
// `neighbor X bfd`), under Bun and Node: the session comes Up with the
// profile's timers on both sides; a cut link takes BGP down on both sides by
// BFD, long before the hold timer, and the routes leave both kernels; the
// session and the routes come back with the link; BFD Down over a working TCP
// path ends the session with Cease/BFD Down (6/10, RFC 9384); the peer's
// AdminDown leaves BGP alone (RFC 5882 3.2).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "../helpers/net.ts";
import type { Runtime } from "../helpers/sart.ts";
import { BfdLab, NODE, ROUTER, RouteMonitor, kernelRoute } from "./lab.ts";

// Tolerant timers: on a loaded 2-core machine (load 9-12) a bare 100 ms setInterval misses
// by up to 0.5 s, and FRR's bfdd starves the same way; 200 ms x 10 detects in 2 s, still far
// below the 30 s hold time. The benchmark (bench/bfd) measures the aggressive profiles.
const PROFILE = { receiveInterval: 200, transmitInterval: 200, detectMultiplier: 10 };
const HOLD = 30;

interface FrrNeighbor {
  bgpState?: string;
  lastResetDueTo?: string;
  lastNotificationReason?: string;
  lastErrorCodeSubcode?: string;
  peerBfdInfo?: { status?: string; detectMultiplier?: number; rxMinInterval?: number; txMinInterval?: number };
}

for (const runtime of ["bun", "node"] as Runtime[]) {
  describe(`BFD with FRR's bfdd, sart under ${runtime}`, () => {
    let lab: BfdLab;

    beforeAll(async () => {
      lab = await BfdLab.start({ runtime, bfd: PROFILE, holdTime: HOLD, prefix: `bfd${runtime[0]}` });
    }, 60000);

    afterAll(async () => {
      await lab?.stop();
    });

    const frrNeighbor = async () => (await lab.frr.json<Record<string, FrrNeighbor>>(`show bgp neighbors ${NODE.v4}`))[NODE.v4];

    test("the session is Up on both sides with the profile's timers; BGP knows it", async () => {
      const b = (await lab.sart.neighbor(ROUTER.v4)).bfd;
      expect(b).toMatchObject({ state: "Up", remoteState: "Up", diag: "none", tx: 200, rx: 200, multiplier: 10, remoteMultiplier: 10, detectionTime: 2000 });
      expect(b.remoteDiscriminator).toBeGreaterThan(0);
      const [peer] = (await lab.frr.bfdPeers()).filter((p) => p.peer === NODE.v4);
      expect(peer).toMatchObject({
        status: "up", local: ROUTER.v4, "remote-id": b.localDiscriminator, id: b.remoteDiscriminator,
        "remote-receive-interval": 200, "remote-transmit-interval": 200, "remote-detect-multiplier": 10,
      });
      expect((await frrNeighbor()).peerBfdInfo?.status).toBe("Up");
      const metrics = await (await fetch("http://localhost/metrics", { unix: lab.sart.api.slice("unix:".length) } as RequestInit)).text();
      expect(metrics).toContain(`sart_bfd_session_up{neighbor="${ROUTER.v4}"} 1`);
      expect(metrics).toContain(`sart_bfd_session_state{neighbor="${ROUTER.v4}",state="Up"} 1`);
      const cli = await lab.sart.cli(["bgp", "--api", lab.sart.api, "neighbor", "get", ROUTER.v4]);
      expect(cli).toContain("BFD: Up (diag none), peer Up");
      expect(cli).toContain("tx 200 ms, rx 200 ms, multiplier 10 (peer 10), detection time 2000 ms");
    });

    test("a cut link takes BGP down on both sides by BFD, well before the hold timer; the link back brings all back", async () => {
      const transitions = (await lab.sart.neighbor(ROUTER.v4)).counters.establishedTransitions;
      const routerRoutes = new RouteMonitor(lab.router);
      const nodeRoutes = new RouteMonitor(lab.node);
      try {
        await Promise.all([routerRoutes.ready, nodeRoutes.ready]);
        const atRouter = routerRoutes.deleted(NODE.route);
        const atNode = nodeRoutes.deleted(ROUTER.route);
        const cutAt = Date.now();
        await lab.cut();
        const [routerGone, nodeGone] = await Promise.all([atRouter, atNode]);
        // BFD detects in 2 s; the hold timer would take 30 s. Generous bounds for a loaded machine.
        expect(routerGone - cutAt).toBeLessThan(HOLD * 1000 / 3);
        expect(nodeGone - cutAt).toBeLessThan(HOLD * 1000 / 3);
        const nb = await lab.sart.neighbor(ROUTER.v4);
        expect(nb.state).not.toBe("Established");
        expect(nb.bfd).toMatchObject({ state: "Down", diag: "control-detection-time-expired" });
        expect(nb.lastError).toContain("BFD down (control-detection-time-expired)");
        expect(nb.lastNotificationSent).toMatchObject({ code: 6, subcode: 10 });
        expect((await lab.sart.rib()).has(ROUTER.route)).toBe(false);
        const f = await frrNeighbor();
        expect(f.bgpState).not.toBe("Established");
        expect(f.lastNotificationReason).toBe("Cease/BFD Down"); // FRR's own, lost on the cut link

        await lab.restore();
        await lab.waitConverged(true);
        expect((await lab.sart.neighbor(ROUTER.v4)).counters.establishedTransitions).toBe(transitions + 1);
      } finally {
        routerRoutes.stop();
        nodeRoutes.stop();
        await lab.restore().catch(() => {});
      }
    }, 90000);

    test("BFD Down while TCP still works: sart ends the session with Cease/BFD Down (6/10), FRR hears it", async () => {
      // FRR must not find out by BFD first: with our multiplier at 50 it would wait 10 s, and
      // BFD is dropped both ways at sart, so FRR never sees our Down packets either.
      await lab.sart.send("DELETE", `/v1/neighbors/${ROUTER.v4}`);
      await lab.sart.send("POST", "/v1/neighbors", { address: ROUTER.v4, asn: ROUTER.asn, holdTime: HOLD, bfd: { ...PROFILE, detectMultiplier: 50 } });
      await lab.waitConverged(true);
      await lab.node.exec("sh", ["-c", [
        "nft add table inet bfdtest",
        "nft add chain inet bfdtest in '{ type filter hook input priority 0; }'",
        "nft add chain inet bfdtest out '{ type filter hook output priority 0; }'",
        "nft add rule inet bfdtest in udp dport 3784 drop",
        "nft add rule inet bfdtest out udp dport 3784 drop",
      ].join(" && ")]);
      try {
        await waitFor("sart's BFD Down", async () => (await lab.sart.neighbor(ROUTER.v4)).bfd?.state === "Down", 10000, 20);
        // FRR keeps its last reset's reason after the session is back (nothing stops it coming back
        // while BFD is down); before this one it was our Cease 6/3 from the neighbour's re-creation.
        const f = await waitFor("FRR's reset by a received NOTIFICATION 6/10", async () => {
          const n = await frrNeighbor();
          return n.lastResetDueTo === "BGP Notification received" && n.lastErrorCodeSubcode === "060A" && n;
        }, 10000, 50);
        expect(f.lastNotificationReason).toBe("Cease/BFD Down");
        expect((await lab.sart.neighbor(ROUTER.v4)).lastNotificationSent).toMatchObject({ code: 6, subcode: 10 });
      } finally {
        await lab.node.exec("nft", ["delete", "table", "inet", "bfdtest"]);
      }
      await lab.waitConverged(true);
    }, 60000);

    test("the peer's AdminDown takes BFD Down but leaves BGP Established (RFC 5882 3.2)", async () => {
      const peerCmd = ["configure terminal", "bfd", `peer ${NODE.v4} local-address ${ROUTER.v4}`];
      await lab.frr.vtysh([...peerCmd, "shutdown"]);
      try {
        await waitFor("sart's BFD Down by AdminDown", async () => {
          const b = (await lab.sart.neighbor(ROUTER.v4)).bfd;
          return b?.state === "Down" && b.remoteState === "AdminDown";
        }, 10000, 20);
        const before = await lab.sart.neighbor(ROUTER.v4);
        expect(before.bfd.diag).toBe("neighbor-signaled-session-down");
        // The disproof would come at once; two more KEEPALIVEs from FRR (10 s apart) are long after it.
        const seen = before.counters.messagesIn.keepalive;
        await waitFor("two more KEEPALIVEs from FRR", async () => (await lab.sart.neighbor(ROUTER.v4)).counters.messagesIn.keepalive >= seen + 2, 40000, 200);
        const after = await lab.sart.neighbor(ROUTER.v4);
        expect(after.state).toBe("Established");
        expect(after.counters.establishedTransitions).toBe(before.counters.establishedTransitions);
        expect(await kernelRoute(lab.node, ROUTER.route)).toBeDefined();
      } finally {
        await lab.frr.vtysh([...peerCmd, "no shutdown"]);
      }
      await waitFor("sart's BFD Up again", async () => (await lab.sart.neighbor(ROUTER.v4)).bfd?.state === "Up", 15000);
    }, 90000);
  });
}
