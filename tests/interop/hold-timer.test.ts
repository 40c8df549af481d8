// Hold timer expiry against a real BIRD that goes silent: BIRD is SIGSTOPped, sart
// (hold time 3 s) sends NOTIFICATION 4 (Hold Timer Expired), drops the session and
// BIRD's routes; after SIGCONT the session and the routes come back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Bird, birdBgpConfig } from "../helpers/bird.ts";
import { freePort, loopbackBlock, waitFor } from "../helpers/net.ts";
import { Sart } from "../helpers/sart.ts";

describe("hold timer", () => {
  const a = loopbackBlock();
  let b: Bird;
  let s: Sart;

  beforeAll(async () => {
    const sartPort = await freePort(a(1));
    const birdPort = await freePort(a(2));
    b = await Bird.start(
      birdBgpConfig(
        { name: "sart", localAddress: a(2), localPort: birdPort, asn: 65002, neighbor: a(1), neighborPort: sartPort, neighborAs: 65001, holdTime: 3 },
        "protocol static s4 { ipv4; route 203.0.113.0/24 blackhole; }",
      ),
    );
    s = await Sart.start({
      asn: 65001, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [{ address: a(2), asn: 65002, port: birdPort, holdTime: 3 }],
    });
    await waitFor("sart <-> BIRD Established", async () => (await s.neighborState(a(2))) === "Established", 30000);
  });

  afterAll(async () => {
    b?.daemon.signal("SIGCONT");
    await s?.stop();
    await b?.stop();
  });

  test("a silent peer is dropped after the hold time, and comes back after it wakes", async () => {
    const nb = await s.neighbor(a(2));
    expect(nb.negotiated.holdTime).toBe(3);
    await waitFor("BIRD's route in sart", async () => (await s.rib()).has("203.0.113.0/24"));
    const transitions = nb.counters.establishedTransitions;

    b.daemon.signal("SIGSTOP");
    try {
      const down = await waitFor("sart drops the silent session", async () => {
        const n = await s.neighbor(a(2));
        return n.state !== "Established" ? n : undefined;
      }, 10000);
      expect(down.lastNotificationSent?.code).toBe(4);
      expect((await s.rib()).has("203.0.113.0/24")).toBe(false);
    } finally {
      b.daemon.signal("SIGCONT");
    }

    await waitFor("session back after SIGCONT", async () => {
      const n = await s.neighbor(a(2));
      return n.state === "Established" && n.counters.establishedTransitions > transitions;
    }, 30000);
    await waitFor("BIRD's route back in sart", async () => (await s.rib()).has("203.0.113.0/24"));
  });
});
