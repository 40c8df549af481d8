// Enhanced route refresh, receiving side (RFC 7313): a hand-driven peer sends
// BoRR, re-sends part of its routes, then EoRR; sart purges the rest and a
// downstream peer sees them withdrawn.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type DecodedMessage, encodeMessage } from "../../host/core/codec.ts";
import { type SpeakerProc, cleanupTmp, loopbackAddress, ribEntry, speakerConfig, startSpeaker, waitEstablished, waitFor } from "./harness.ts";
import { END_OF_RIB, RawPeer, type OpenOptions, announce, handshake } from "./raw-peer.ts";

const A = "203.0.113.0/26";
const B = "203.0.113.64/26";

let x: SpeakerProc;
let cx: Record<string, any>;
const peers: RawPeer[] = [];

beforeAll(async () => {
  cx = await speakerConfig(65000, "192.0.2.50");
  x = await startSpeaker("x", cx);
});

afterAll(async () => {
  for (const p of peers) p.close();
  await x.stop("SIGKILL");
  cleanupTmp();
});

/** A passive neighbour at a fresh loopback address, connected and Established. */
async function establishedPeer(asn: number, open: OpenOptions, extra: Record<string, unknown> = {}): Promise<{ address: string; peer: RawPeer }> {
  const address = loopbackAddress();
  expect((await x.call("POST", "/v1/neighbors", { address, asn, passive: true, holdTime: 30, ...extra })).status).toBe(201);
  const peer = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
  peers.push(peer);
  await handshake(peer, open);
  await waitEstablished(x, address);
  return { address, peer };
}

/** UPDATEs to `peer` until one announces (or withdraws) `prefix`. */
async function untilUpdate(peer: RawPeer, prefix: string, field: "nlri" | "withdrawn"): Promise<DecodedMessage> {
  for (let i = 0; i < 100; i++) {
    const u = await peer.next("UPDATE");
    if ((u[field] as string[] | undefined)?.includes(prefix)) return u;
  }
  throw new Error(`no UPDATE with ${prefix} in ${field}`);
}

const stalePaths = async (prefix: string) => ((await ribEntry(x, prefix))?.paths ?? []).map((p: { stale: boolean }) => p.stale);

test("BoRR marks the peer's routes stale, re-sent ones turn fresh, EoRR purges the rest (and the withdrawal reaches a downstream peer)", async () => {
  const down = await establishedPeer(65042, { asn: 65042, routerId: "192.0.2.92" }, { export: "all" });
  const up = await establishedPeer(65041, { asn: 65041, routerId: "192.0.2.91", enhancedRouteRefresh: true });
  expect((await x.get(`/v1/neighbors/${up.address}`)).negotiated.enhancedRouteRefresh).toBe(true);

  up.peer.sendMessage(announce([A], [65041], up.address));
  up.peer.sendMessage(announce([B], [65041, 64999], up.address));
  up.peer.sendMessage(END_OF_RIB);
  await untilUpdate(down.peer, A, "nlri");
  await waitFor("B at the downstream peer", async () => (await ribEntry(x, B)) && true);
  expect(await stalePaths(A)).toEqual([false]);

  up.peer.sendMessage({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 1 });
  await waitFor("A and B stale after BoRR", async () => (await stalePaths(A))[0] === true && (await stalePaths(B))[0] === true);
  // Stale routes stay in use until EoRR.
  expect((await ribEntry(x, B)).paths[0]).toMatchObject({ best: true, peer: up.address });

  up.peer.sendMessage(announce([A], [65041], up.address));
  await waitFor("A fresh again", async () => (await stalePaths(A))[0] === false);
  expect(await stalePaths(B)).toEqual([true]);

  up.peer.sendMessage({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 2 });
  const withdrawal = await untilUpdate(down.peer, B, "withdrawn");
  expect(withdrawal.withdrawn).not.toContain(A);
  await waitFor("B gone from the RIB", async () => !(await ribEntry(x, B)));
  expect((await ribEntry(x, A)).paths).toMatchObject([{ best: true, stale: false, peer: up.address }]);
  const n = await x.get(`/v1/neighbors/${up.address}`);
  expect(n.counters.messagesIn.route_refresh).toBe(2);
  expect(n.counters.received).toBe(1);

});

test("BoRR, re-sent routes and EoRR in one TCP read: the re-sent route survives, the rest is purged", async () => {
  const up = await establishedPeer(65043, { asn: 65043, routerId: "192.0.2.93", enhancedRouteRefresh: true });
  const C = "198.51.100.0/26";
  const D = "198.51.100.64/26";
  up.peer.sendMessage(announce([C], [65043], up.address));
  up.peer.sendMessage(announce([D], [65043], up.address));
  up.peer.sendMessage(END_OF_RIB);
  await waitFor("C and D learned", async () => Boolean((await ribEntry(x, C)) && (await ribEntry(x, D))));

  const burst = [
    encodeMessage({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 1 }),
    encodeMessage(announce([C], [65043], up.address)),
    encodeMessage({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 2 }),
  ];
  up.peer.send(Uint8Array.from(burst.flatMap((m) => [...m])));
  await waitFor("D purged at EoRR", async () => !(await ribEntry(x, D)));
  expect((await ribEntry(x, C)).paths).toMatchObject([{ best: true, stale: false, peer: up.address }]);
});
