// Graceful restart, restarting side (RFC 4724 4.1): `sart speaker
// --graceful-restart` sends nothing to peers doing graceful restart until
// every one of them sent End-of-RIB; a peer without graceful restart is served
// at once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { DecodedMessage } from "../../host/core/codec.ts";
import { type SpeakerProc, cleanupTmp, loopbackAddress, speakerConfig, startSpeaker, waitEstablished, waitFor } from "./harness.ts";
import { END_OF_RIB, RawPeer, type OpenOptions, announce, handshake } from "./raw-peer.ts";

const OURS = "198.51.100.0/24";
const X = "203.0.113.0/26";

let x: SpeakerProc;
let cx: Record<string, any>;
const peers: RawPeer[] = [];
const gr1 = { address: loopbackAddress(), asn: 65061 };
const gr2 = { address: loopbackAddress(), asn: 65062 };
const plain = { address: loopbackAddress(), asn: 65063 };

beforeAll(async () => {
  // Hold time 3: sart sends a KEEPALIVE every second (the tests' witness); keepAlive() answers.
  const neighbors = [gr1, gr2, plain].map((n) => ({ ...n, passive: true, holdTime: 3, export: "all" }));
  cx = await speakerConfig(65000, "192.0.2.50", { neighbors, routes: [{ prefix: OURS }] });
  x = await startSpeaker("x", cx, { args: ["--graceful-restart"] });
});

// Our side of hold time 3: a KEEPALIVE to sart every second from every peer.
const keepAlive = setInterval(() => {
  for (const p of peers) if (!p.closed) p.sendMessage({ type: "KEEPALIVE" });
}, 1000);

afterAll(async () => {
  clearInterval(keepAlive);
  for (const p of peers) p.close();
  await x.stop("SIGKILL");
  cleanupTmp();
});

async function connect(n: { address: string; asn: number }, open: Omit<OpenOptions, "asn">): Promise<RawPeer> {
  const peer = await RawPeer.connect(cx.listen.address, cx.listen.port, n.address);
  peers.push(peer);
  const theirs = await handshake(peer, { asn: n.asn, ...open });
  expect(theirs.capabilities!.find((c) => c.name === "graceful-restart")).toMatchObject({ restarting: true });
  await waitEstablished(x, n.address);
  return peer;
}

/** UPDATEs to `peer` until one announces `prefix`. */
async function untilAnnounced(peer: RawPeer, prefix: string): Promise<DecodedMessage> {
  for (let i = 0; i < 100; i++) {
    const u = await peer.next("UPDATE");
    if (u.nlri?.includes(prefix)) return u;
  }
  throw new Error(`no UPDATE announcing ${prefix}`);
}

/** The UPDATEs received so far and until the second KEEPALIVE from now (one timer period at least). */
async function untilSecondKeepalive(p: RawPeer): Promise<DecodedMessage[]> {
  const seen: DecodedMessage[] = [];
  await waitFor("two KEEPALIVEs", () => {
    seen.push(...p.drain());
    return seen.filter((m) => m.type === "KEEPALIVE").length >= 2 || undefined;
  });
  return seen.filter((m) => m.type === "UPDATE");
}

const grOpen = (routerId: string): Omit<OpenOptions, "asn"> => ({ routerId, gracefulRestart: { restartTime: 60 } });

test("a restarting sart defers its export to graceful-restart peers until all their End-of-RIBs are in; others get routes at once", async () => {
  const p1 = await connect(gr1, grOpen("192.0.2.61"));
  const p2 = await connect(gr2, grOpen("192.0.2.62"));
  const p3 = await connect(plain, { routerId: "192.0.2.63" });
  // The peer without graceful restart gets our route right away.
  await untilAnnounced(p3, OURS);

  // One GR peer's routes and End-of-RIB: re-advertised to the plain peer, still nothing to the GR peers.
  p1.sendMessage(announce([X], [gr1.asn], gr1.address));
  p1.sendMessage(END_OF_RIB);
  await untilAnnounced(p3, X);
  await waitFor("p1's End-of-RIB", async () => (await x.get(`/v1/neighbors/${gr1.address}`)).endOfRibReceived.includes("ipv4-unicast") || undefined);
  // The witness: sart's keepalive timer (1 s, hold time 3) writes to each GR peer after the
  // End-of-RIB was taken in; whatever sart exported to them then would be ahead of it.
  expect(await untilSecondKeepalive(p1)).toEqual([]);
  expect(await untilSecondKeepalive(p2)).toEqual([]);
  expect((await x.get("/v1/global")).gracefulRestart.restarting).toBe(true);

  // The last GR peer's End-of-RIB: the decision's result goes out to both, then End-of-RIB.
  p2.sendMessage(END_OF_RIB);
  await untilAnnounced(p1, OURS);
  const toP2 = await untilAnnounced(p2, X);
  expect(toP2.attributes!.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [65000, gr1.asn] }]);
  await waitFor("restart over", async () => (await x.get("/v1/global")).gracefulRestart.restarting === false || undefined);
  for (const p of [p1, p2]) {
    await waitFor("End-of-RIB after the routes", () => p.drain().some((m) => m.type === "UPDATE" && !m.nlri?.length && !m.withdrawn?.length) || undefined);
  }
});
