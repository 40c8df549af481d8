// One sart speaker against hand-driven peers (raw TCP sockets writing
// encodeMessage output or hex): OPEN validation, hold timer expiry,
// connection collision both ways, malformed UPDATEs (NOTIFICATION, while
// another session keeps working; treat-as-withdraw), max-prefix, route
// refresh with enhanced route refresh, graceful restart as helper.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as net from "node:net";
import { type DecodedMessage, encodeMessage } from "../../host/core/codec.ts";
import { type SpeakerProc, cleanupTmp, freePort, loopbackAddress, ribEntry, speakerConfig, startSpeaker, waitEstablished, waitFor } from "./harness.ts";
import { END_OF_RIB, RawPeer, announce, handshake, openMsg } from "./raw-peer.ts";

let x: SpeakerProc;
let cx: Record<string, any>;
const peers: RawPeer[] = [];
const servers: net.Server[] = [];

beforeAll(async () => {
  cx = await speakerConfig(65000, "192.0.2.50", { routes: [{ prefix: "198.51.100.0/24" }] });
  x = await startSpeaker("x", cx);
});

afterAll(async () => {
  for (const p of peers) p.close();
  for (const s of servers) s.close();
  await x.stop("SIGKILL");
  cleanupTmp();
});

/** Adds a passive neighbour at a fresh loopback address and connects to sart from it. */
async function passivePeer(asn: number, extra: Record<string, unknown> = {}): Promise<{ address: string; peer: RawPeer }> {
  const address = loopbackAddress();
  const r = await x.call("POST", "/v1/neighbors", { address, asn, passive: true, holdTime: 30, ...extra });
  expect(r.status).toBe(201);
  const peer = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
  peers.push(peer);
  return { address, peer };
}

async function neighbor(address: string): Promise<any> {
  return x.get(`/v1/neighbors/${address}`);
}

describe("OPEN validation", () => {
  test("wrong peer AS 2/2, hold time 1 2/6, version 3 2/1, iBGP with our identifier 2/3", async () => {
    const cases: [Parameters<typeof openMsg>[0], number][] = [
      [{ asn: 65099, routerId: "192.0.2.60" }, 2],
      [{ asn: 65010, routerId: "192.0.2.60", holdTime: 1 }, 6],
      [{ asn: 65010, routerId: "192.0.2.60", version: 3 }, 1],
    ];
    for (const [open, subcode] of cases) {
      const { address, peer } = await passivePeer(65010);
      await peer.next("OPEN");
      peer.sendMessage(openMsg(open));
      const n = await peer.next("NOTIFICATION");
      expect([n.code, n.subcode]).toEqual([2, subcode]);
      await peer.closedPromise;
      expect((await neighbor(address)).lastNotificationSent).toMatchObject({ code: 2, subcode });
    }
    const { peer } = await passivePeer(65000);
    await peer.next("OPEN");
    peer.sendMessage(openMsg({ asn: 65000, routerId: "192.0.2.50" }));
    const n = await peer.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([2, 3]);
  });

  test("our OPEN: 4-octet AS, MP per family, route refresh, enhanced RR, graceful restart, add-path receive, extended message", async () => {
    const { peer } = await passivePeer(65011, { families: ["ipv4-unicast", "ipv6-unicast"], holdTime: 45 });
    const open = await peer.next("OPEN");
    expect(open).toMatchObject({ version: 4, asn: 65000, holdTime: 45, routerId: "192.0.2.50" });
    const byName = Object.fromEntries(open.capabilities!.map((c) => [c.name + (c.code === 1 ? `:${c.family}` : ""), c]));
    expect(Object.keys(byName)).toEqual(expect.arrayContaining([
      "multiprotocol:ipv4-unicast", "multiprotocol:ipv6-unicast", "route-refresh", "enhanced-route-refresh", "4-octet-as", "graceful-restart", "add-path", "extended-message",
    ]));
    expect(byName["graceful-restart"]).toMatchObject({ restarting: false, restartTime: 120 });
    expect((byName["add-path"].families as any[]).map((f) => f.sendReceive)).toEqual(["receive", "receive"]);
  });
});

describe("timers", () => {
  test("hold timer expiry: a peer that goes silent gets NOTIFICATION 4/0 after the negotiated 3 s", async () => {
    const { address, peer } = await passivePeer(65012, { holdTime: 3 });
    await handshake(peer, { asn: 65012, routerId: "192.0.2.61", holdTime: 3 });
    const up = await waitEstablished(x, address);
    expect(up.negotiated).toMatchObject({ holdTime: 3, keepalive: 1 });
    // We send nothing more; sart keeps sending KEEPALIVEs, then gives up.
    await peer.next("KEEPALIVE", 3000);
    const n = await peer.next("NOTIFICATION", 8000);
    expect([n.code, n.subcode]).toEqual([4, 0]);
    const after = await neighbor(address);
    expect(after.state).not.toBe("Established");
    expect(after.lastError).toContain("hold timer expired");
  });

  test("idle hold after errors: an active neighbour that keeps failing is retried after growing pauses, Idle meanwhile", async () => {
    const address = loopbackAddress();
    const port = await freePort(address);
    const attempts: number[] = [];
    const server = net.createServer((s) => {
      attempts.push(Date.now());
      const p = new RawPeer(s);
      void p.next("OPEN").then(() => p.sendMessage(openMsg({ asn: 65099, routerId: "192.0.2.65" })), () => undefined); // wrong AS: 2/2
    });
    servers.push(server);
    await new Promise<void>((res) => server.listen({ host: address, port }, () => res()));
    expect((await x.call("POST", "/v1/neighbors", { address, asn: 65014, port, holdTime: 30 })).status).toBe(201);
    await waitFor("three attempts", () => attempts.length >= 3 || undefined, 20_000);
    const n = await neighbor(address);
    expect(n.lastNotificationSent).toMatchObject({ code: 2, subcode: 2 });
    expect(["Idle", "Connect", "OpenSent"]).toContain(n.state);
    // Lower bounds only (1 s then 2 s idle hold, minus at most 25% jitter): slowness cannot break them.
    expect(attempts[1] - attempts[0]).toBeGreaterThanOrEqual(700);
    expect(attempts[2] - attempts[1]).toBeGreaterThanOrEqual(1400);
    expect((await x.call("DELETE", `/v1/neighbors/${address}`)).status).toBe(200);
  });

  test("hold time 0 negotiated: no keepalives, no hold timer", async () => {
    const { address, peer } = await passivePeer(65013, { holdTime: 0 });
    // The peer offers 3 s: a timer wrongly taken from its offer would fire within 3 s.
    await handshake(peer, { asn: 65013, routerId: "192.0.2.62", holdTime: 3 });
    expect((await waitEstablished(x, address)).negotiated).toMatchObject({ holdTime: 0, keepalive: 0 });
    // The witness: a session at 3 s, up after this one, that goes silent. By its hold timer's
    // expiry, a 3 s hold timer on the first session would have expired and 1 s keepalives run.
    const control = await passivePeer(65015, { holdTime: 3 });
    await handshake(control.peer, { asn: 65015, routerId: "192.0.2.64", holdTime: 3 });
    await control.peer.next("KEEPALIVE", 3000);
    const n = await control.peer.next("NOTIFICATION", 8000);
    expect([n.code, n.subcode]).toEqual([4, 0]);
    expect(peer.drain().filter((m) => m.type === "KEEPALIVE")).toEqual([]);
    expect((await neighbor(address)).state).toBe("Established");
  });
});

describe("connection collision (RFC 4271 6.8)", () => {
  /** sart connects to our listener while we connect to sart; both OPENs cross. */
  async function collide(peerRouterId: string): Promise<{ outgoing: RawPeer; incoming: RawPeer; address: string }> {
    const address = loopbackAddress();
    const port = await freePort(address);
    const accepted = new Promise<RawPeer>((resolve) => {
      const server = net.createServer((s) => resolve(new RawPeer(s)));
      servers.push(server);
      server.listen({ host: address, port });
    });
    await waitFor("listener", () => true);
    expect((await x.call("POST", "/v1/neighbors", { address, asn: 65020, port, holdTime: 30 })).status).toBe(201);
    const sartOutgoing = await accepted; // sart's outgoing connection
    const sartIncoming = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
    peers.push(sartOutgoing, sartIncoming);
    await sartOutgoing.next("OPEN");
    await sartIncoming.next("OPEN");
    const open = openMsg({ asn: 65020, routerId: peerRouterId, holdTime: 30 });
    sartOutgoing.sendMessage(open);
    await sartOutgoing.next("KEEPALIVE"); // sart: OpenConfirm on its outgoing connection
    sartIncoming.sendMessage(open); // now the collision
    return { outgoing: sartOutgoing, incoming: sartIncoming, address };
  }

  test("our identifier is higher: the connection the peer opened is closed with Cease 6/7", async () => {
    const { outgoing, incoming, address } = await collide("192.0.2.10");
    const n = await incoming.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([6, 7]);
    outgoing.sendMessage({ type: "KEEPALIVE" });
    await waitEstablished(x, address);
    expect(outgoing.closed).toBe(false);
  });

  test("the peer's identifier is higher: sart closes its own outgoing connection with Cease 6/7", async () => {
    const { outgoing, incoming, address } = await collide("192.0.2.90");
    const n = await outgoing.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([6, 7]);
    await incoming.next("KEEPALIVE");
    incoming.sendMessage({ type: "KEEPALIVE" });
    await waitEstablished(x, address);
    expect(incoming.closed).toBe(false);
  });
});

describe("malformed input", () => {
  test("a malformed UPDATE gets NOTIFICATION 3/1 while another session keeps working; an attribute error is treat-as-withdraw", async () => {
    const bad = await passivePeer(65030);
    const good = await passivePeer(65031);
    await handshake(bad.peer, { asn: 65030, routerId: "192.0.2.70" });
    await handshake(good.peer, { asn: 65031, routerId: "192.0.2.71" });
    await waitEstablished(x, bad.address);
    await waitEstablished(x, good.address);
    bad.peer.sendMessage(announce(["203.0.113.0/25"], [65030], bad.address));
    await waitFor("203.0.113.0/25 from the bad peer", () => ribEntry(x, "203.0.113.0/25"));
    // Total path attribute length 16, but the message ends after the length field.
    bad.peer.send("ffffffffffffffffffffffffffffffff 0017 02 0000 0010");
    const n = await bad.peer.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([3, 1]);
    await bad.peer.closedPromise;
    await waitFor("bad peer's route withdrawn", async () => (await ribEntry(x, "203.0.113.0/25")) === undefined || undefined);
    expect((await neighbor(bad.address)).lastNotificationSent).toMatchObject({ code: 3, subcode: 1 });
    // The other session is unaffected: its routes come in, it stays up.
    good.peer.sendMessage(announce(["203.0.113.128/25", "192.0.2.192/26"], [65031], good.address));
    const e = await waitFor("good peer's route", () => ribEntry(x, "203.0.113.128/25"));
    expect(e.paths[0]).toMatchObject({ peer: good.address, asPath: [{ type: "AS_SEQUENCE", asns: [65031] }] });
    // RFC 7606: a bad ORIGIN value withdraws the UPDATE's prefixes, the session stays.
    const withOrigin = announce(["192.0.2.192/26"], [65031], good.address);
    const bytes = Buffer.from(encodeMessage(withOrigin));
    const at = findOrigin(bytes);
    bytes[at] = 7;
    good.peer.send(bytes);
    await waitFor("192.0.2.192/26 treat-as-withdraw", async () => (await ribEntry(x, "192.0.2.192/26")) === undefined || undefined);
    expect((await neighbor(good.address)).state).toBe("Established");
    expect(await ribEntry(x, "203.0.113.128/25")).toBeDefined();
  });

  test("max-prefix exceeded: Cease 6/1", async () => {
    const { address, peer } = await passivePeer(65032, { maxPrefix: 2 });
    await handshake(peer, { asn: 65032, routerId: "192.0.2.72" });
    await waitEstablished(x, address);
    peer.sendMessage(announce(["198.51.100.0/26", "198.51.100.64/26", "198.51.100.128/26"], [65032], address));
    const n = await peer.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([6, 1]);
  });
});

describe("negotiated capabilities in use", () => {
  test("add-path receive: two paths of one prefix kept apart by path id", async () => {
    const { address, peer } = await passivePeer(65042);
    await handshake(peer, { asn: 65042, routerId: "192.0.2.82", addPathSend: true });
    expect((await waitEstablished(x, address)).negotiated.addPath).toEqual(["ipv4-unicast"]);
    const update = { ...announce(["203.0.113.192/26", "203.0.113.192/26"], [65042], address), pathIds: [1, 2] };
    peer.send(encodeMessage(update, { addPath: ["ipv4-unicast"] }));
    const e = await waitFor("two paths", async () => {
      const r = await ribEntry(x, "203.0.113.192/26");
      return r?.paths.length === 2 ? r : undefined;
    });
    expect(e.paths.map((p: any) => p.pathId).sort()).toEqual([1, 2]);
  });

  test("extended message: an UPDATE over 4096 bytes is accepted", async () => {
    const { address, peer } = await passivePeer(65043);
    await handshake(peer, { asn: 65043, routerId: "192.0.2.83", extendedMessage: true });
    expect((await waitEstablished(x, address)).negotiated.extendedMessage).toBe(true);
    const prefixes = Array.from({ length: 1500 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
    const bytes = encodeMessage(announce(prefixes, [65043], address), { extendedMessage: true });
    expect(bytes.length).toBeGreaterThan(4096);
    peer.send(bytes);
    await waitFor("all 1500 prefixes", async () => (await neighbor(address)).counters.received === 1500 || undefined);
    expect((await neighbor(address)).state).toBe("Established");
  });
});

describe("export policy", () => {
  test("export none: the neighbour gets End-of-RIB and nothing else", async () => {
    const { address, peer } = await passivePeer(65041, { export: "none" });
    await handshake(peer, { asn: 65041, routerId: "192.0.2.81", enhancedRouteRefresh: true });
    await waitEstablished(x, address);
    const eor = await peer.next("UPDATE");
    expect(eor).toMatchObject({ withdrawn: [], nlri: [] });
    // The witness: an enhanced route refresh makes sart re-send its whole Adj-RIB-Out for
    // this peer between BoRR and EoRR, so anything it would export shows up by the EoRR.
    peer.sendMessage({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 0 });
    const seen = await untilEoRR(peer);
    expect(seen.filter((m) => m.type === "UPDATE" && (m.nlri!.length || m.withdrawn!.length))).toEqual([]);
    expect(seen.filter((m) => m.type === "ROUTE-REFRESH").map((m) => m.subtype)).toEqual([1, 2]);
    expect((await neighbor(address)).counters.advertised).toBe(0);
  });
});

/** Every message up to and including the next EoRR (ROUTE-REFRESH subtype 2). */
async function untilEoRR(peer: RawPeer): Promise<DecodedMessage[]> {
  const seen: DecodedMessage[] = [];
  await waitFor("EoRR", () => {
    seen.push(...peer.drain());
    return seen.some((m) => m.type === "ROUTE-REFRESH" && m.subtype === 2) || undefined;
  });
  return seen;
}

describe("route refresh", () => {
  test("ROUTE-REFRESH re-sends the Adj-RIB-Out between BoRR and EoRR (enhanced route refresh)", async () => {
    const { address, peer } = await passivePeer(65040);
    await handshake(peer, { asn: 65040, routerId: "192.0.2.80", enhancedRouteRefresh: true });
    await waitEstablished(x, address);
    const first = await peer.next("UPDATE");
    expect(first.nlri).toContain("198.51.100.0/24");
    expect(await peer.next("UPDATE")).toMatchObject({ withdrawn: [], nlri: [] }); // End-of-RIB: the initial export is over
    peer.drain();
    peer.sendMessage({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 0 });
    const borr = await peer.next("ROUTE-REFRESH");
    expect(borr).toMatchObject({ afi: 1, safi: 1, subtype: 1 });
    const again = await peer.next("UPDATE");
    expect(again.nlri).toContain("198.51.100.0/24");
    const eorr = await peer.next("ROUTE-REFRESH");
    expect(eorr).toMatchObject({ afi: 1, safi: 1, subtype: 2 });
    const n = await neighbor(address);
    expect(n.counters.messagesIn.route_refresh).toBe(1);
    expect(n.counters.messagesOut.route_refresh).toBe(2);
  });
});

describe("graceful restart (helper)", () => {
  test("a peer's routes stay, stale, through its restart until its End-of-RIB; then the ones it did not re-send go", async () => {
    const address = loopbackAddress();
    expect((await x.call("POST", "/v1/neighbors", { address, asn: 65050, passive: true, holdTime: 30 })).status).toBe(201);
    const gr = { asn: 65050, routerId: "192.0.2.85", gracefulRestart: { restartTime: 30, forwarding: false } };
    let p = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
    peers.push(p);
    await handshake(p, gr);
    await waitEstablished(x, address);
    p.sendMessage(announce(["203.0.113.0/26", "203.0.113.64/26"], [65050], address));
    p.sendMessage(END_OF_RIB);
    await waitFor("both routes", async () => (await ribEntry(x, "203.0.113.64/26")) && (await ribEntry(x, "203.0.113.0/26")));
    // The peer's process dies: TCP closes without a NOTIFICATION.
    p.close();
    const down = await waitFor("session down, routes stale", async () => {
      const n = await neighbor(address);
      return n.state !== "Established" && n.staleFamilies.length ? n : undefined;
    });
    expect(down.staleFamilies).toEqual(["ipv4-unicast"]);
    const stale = await ribEntry(x, "203.0.113.0/26");
    expect(stale.paths[0]).toMatchObject({ stale: true, best: true, peer: address });
    // It comes back restarting, with forwarding state kept; re-sends one route, then End-of-RIB.
    p = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
    peers.push(p);
    await handshake(p, { ...gr, gracefulRestart: { restartTime: 30, restarting: true, forwarding: true } });
    await waitEstablished(x, address);
    expect((await ribEntry(x, "203.0.113.64/26")).paths[0].stale).toBe(true);
    p.sendMessage(announce(["203.0.113.0/26"], [65050], address));
    await waitFor("re-sent route fresh", async () => (await ribEntry(x, "203.0.113.0/26"))?.paths[0].stale === false || undefined);
    expect((await ribEntry(x, "203.0.113.64/26"))?.paths[0].stale).toBe(true);
    p.sendMessage(END_OF_RIB);
    await waitFor("unsent stale route removed at End-of-RIB", async () => (await ribEntry(x, "203.0.113.64/26")) === undefined || undefined);
    expect((await ribEntry(x, "203.0.113.0/26")).paths[0].stale).toBe(false);
    expect((await neighbor(address)).staleFamilies).toEqual([]);
  });

  test("stale routes go when the peer's restart time passes without it coming back", async () => {
    const address = loopbackAddress();
    expect((await x.call("POST", "/v1/neighbors", { address, asn: 65051, passive: true, holdTime: 30 })).status).toBe(201);
    const p = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
    peers.push(p);
    await handshake(p, { asn: 65051, routerId: "192.0.2.86", gracefulRestart: { restartTime: 2 } });
    await waitEstablished(x, address);
    p.sendMessage(announce(["192.0.2.224/27"], [65051], address));
    await waitFor("route", () => ribEntry(x, "192.0.2.224/27"));
    p.close();
    await waitFor("stale", async () => (await ribEntry(x, "192.0.2.224/27"))?.paths[0].stale || undefined);
    await waitFor("removed after the restart time", async () => (await ribEntry(x, "192.0.2.224/27")) === undefined || undefined, 10_000);
  });

  test("a restarted peer reconnecting while its old session still looks up: the old one closes, routes turn stale", async () => {
    const address = loopbackAddress();
    expect((await x.call("POST", "/v1/neighbors", { address, asn: 65053, passive: true, holdTime: 30 })).status).toBe(201);
    const gr = { asn: 65053, routerId: "192.0.2.88", gracefulRestart: { restartTime: 30 } };
    const old = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
    peers.push(old);
    await handshake(old, gr);
    await waitEstablished(x, address);
    old.sendMessage(announce(["198.51.100.224/27"], [65053], address));
    await waitFor("route", () => ribEntry(x, "198.51.100.224/27"));
    // New connection, old one left open (as if its FIN were lost).
    const fresh = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
    peers.push(fresh);
    await fresh.next("OPEN");
    fresh.sendMessage(openMsg({ ...gr, gracefulRestart: { restartTime: 30, restarting: true, forwarding: true } }));
    await old.closedPromise;
    expect(old.drain().filter((m) => m.type === "NOTIFICATION")).toEqual([]);
    await fresh.next("KEEPALIVE");
    fresh.sendMessage({ type: "KEEPALIVE" });
    await waitFor("Established again", async () => (await neighbor(address)).counters.establishedTransitions === 2 || undefined);
    expect((await ribEntry(x, "198.51.100.224/27")).paths[0].stale).toBe(true);
    fresh.sendMessage(END_OF_RIB);
    await waitFor("stale route removed at End-of-RIB", async () => (await ribEntry(x, "198.51.100.224/27")) === undefined || undefined);
  });

  test("a second connection's OPEN without the Restart State bit is a collision: the Established session stays", async () => {
    const address = loopbackAddress();
    expect((await x.call("POST", "/v1/neighbors", { address, asn: 65054, passive: true, holdTime: 30 })).status).toBe(201);
    const gr = { asn: 65054, routerId: "192.0.2.89", gracefulRestart: { restartTime: 30 } };
    const first = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
    peers.push(first);
    await handshake(first, gr);
    await waitEstablished(x, address);
    const late = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
    peers.push(late);
    await late.next("OPEN");
    late.sendMessage(openMsg(gr));
    const n = await late.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([6, 7]);
    const nb = await neighbor(address);
    expect(nb.state).toBe("Established");
    expect(nb.counters.establishedTransitions).toBe(1);
    expect(first.closed).toBe(false);
  });

  test("a NOTIFICATION ends the session without graceful restart: routes go at once", async () => {
    const { address, peer } = await passivePeer(65052);
    await handshake(peer, { asn: 65052, routerId: "192.0.2.87", gracefulRestart: { restartTime: 60 } });
    await waitEstablished(x, address);
    peer.sendMessage(announce(["198.51.100.192/26"], [65052], address));
    await waitFor("route", () => ribEntry(x, "198.51.100.192/26"));
    peer.sendMessage({ type: "NOTIFICATION", code: 6, subcode: 2 });
    await waitFor("removed", async () => (await ribEntry(x, "198.51.100.192/26")) === undefined || undefined);
    expect((await neighbor(address)).lastNotificationReceived).toMatchObject({ code: 6, subcode: 2 });
  });
});

/** Offset of the ORIGIN attribute's value in an UPDATE. */
function findOrigin(b: Uint8Array): number {
  const wl = (b[19] << 8) | b[20];
  let p = 21 + wl + 2;
  for (;;) {
    const flags = b[p];
    const type = b[p + 1];
    const ext = (flags & 0x10) !== 0;
    const len = ext ? (b[p + 2] << 8) | b[p + 3] : b[p + 2];
    const v = p + (ext ? 4 : 3);
    if (type === 1) return v;
    p = v + len;
  }
}
