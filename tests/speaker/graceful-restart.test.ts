// Graceful restart between two sart processes: B dies (kill -9, no
// NOTIFICATION) and comes back with --graceful-restart. A, the helper, keeps
// B's routes stale meanwhile, and after B's End-of-RIB drops the one B no
// longer announces. B's OPEN carries the restart and forwarding-state bits.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type SpeakerProc, cleanupTmp, neighborOf, ribEntry, speakerConfig, startSpeaker, waitEstablished, waitFor } from "./harness.ts";

let a: SpeakerProc, b: SpeakerProc;
let ca: Record<string, any>, cb: Record<string, any>;
const running: SpeakerProc[] = [];

beforeAll(async () => {
  ca = await speakerConfig(65001, "192.0.2.1");
  cb = await speakerConfig(65002, "192.0.2.2", { routes: [{ prefix: "198.51.100.0/24" }, { prefix: "203.0.113.0/24" }] });
  ca.neighbors = [neighborOf(cb)];
  cb.neighbors = [neighborOf(ca)];
  a = await startSpeaker("a", ca);
  b = await startSpeaker("b", cb);
  running.push(a, b);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop("SIGKILL")));
  cleanupTmp();
});

describe("graceful restart between sart speakers", () => {
  test("helper keeps the restarting speaker's routes until its End-of-RIB", async () => {
    const first = await waitEstablished(a, cb.listen.address);
    expect(first.negotiated.gracefulRestart).toMatchObject({ restartTime: 120, restarting: false });
    await waitFor("B's routes at A", async () => (await ribEntry(a, "198.51.100.0/24")) && (await ribEntry(a, "203.0.113.0/24")));

    await b.stop("SIGKILL");
    const down = await waitFor("A keeps B's routes stale", async () => {
      const n = await a.get(`/v1/neighbors/${cb.listen.address}`);
      return n.state !== "Established" && n.staleFamilies.length ? n : undefined;
    });
    expect(down.staleFamilies).toEqual(["ipv4-unicast"]);
    for (const p of ["198.51.100.0/24", "203.0.113.0/24"]) expect((await ribEntry(a, p)).paths[0]).toMatchObject({ stale: true, best: true });

    // B restarts without 203.0.113.0/24.
    cb.routes = [{ prefix: "198.51.100.0/24" }];
    b = await startSpeaker("b2", cb, { args: ["--graceful-restart"] });
    running.push(b);
    const again = await waitEstablished(a, cb.listen.address);
    expect(again.negotiated.gracefulRestart).toMatchObject({ restarting: true, families: [{ family: "ipv4-unicast", forwarding: true }] });
    await waitFor("203.0.113.0/24 dropped after B's End-of-RIB", async () => (await ribEntry(a, "203.0.113.0/24")) === undefined || undefined);
    expect((await ribEntry(a, "198.51.100.0/24")).paths[0]).toMatchObject({ stale: false, best: true });
    expect((await a.get(`/v1/neighbors/${cb.listen.address}`)).staleFamilies).toEqual([]);
    // B's restart ends once A's End-of-RIB is in.
    await waitFor("B's restart over", async () => (await b.get("/v1/global")).gracefulRestart.restarting === false || undefined);
  });
});
