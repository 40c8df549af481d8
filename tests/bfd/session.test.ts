// sart's BFD sessions over real UDP on loopback: against a scripted peer for
// the protocol's rules (RFC 5880 6.2, 6.5, 6.8.x; RFC 5881), and between two
// sart managers for the timer negotiation.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { BfdManager } from "../../host/bfd/manager.ts";
import { BfdState, Diag, encodeControl } from "../../host/bfd/packet.ts";
import type { BfdProfile, BfdSession, StateChange } from "../../host/bfd/session.ts";
import { loopbackBlock, waitFor } from "../helpers/net.ts";
import { RawBfdPeer, freeUdpPort } from "./raw-peer.ts";

const { Down, Init, Up, AdminDown } = BfdState;

describe("a BFD session against a scripted peer", () => {
  let ip: (h: number) => string;
  let raw: RawBfdPeer;
  let manager: BfdManager;
  let port: number;
  let changes: StateChange[];

  beforeEach(async () => {
    ip = loopbackBlock();
    raw = await RawBfdPeer.open(ip(2));
    port = await freeUdpPort("0.0.0.0");
    changes = [];
    manager = new BfdManager({ port, peerPort: raw.port, onChange: (_s, c) => changes.push(c) });
  });

  afterEach(() => {
    manager.close();
    raw.close();
  });

  const start = (profile: BfdProfile): BfdSession => manager.add(ip(2), profile, ip(1));

  /**
   * Drives the three-way handshake to Up and answers the Poll when going Up changed our
   * timers. The peer says it sends once a second, so the session stays Up 3 s without it
   * (this process may stall for a few hundred ms on a loaded machine).
   */
  async function bringUp(s: BfdSession, peerTx = 1_000_000, peerRx = 50_000): Promise<void> {
    const first = await raw.next("our first packet", (p) => p.state === Down);
    await raw.send(ip(1), port, { state: Down, desiredMinTx: peerTx, requiredMinRx: peerRx });
    await raw.next("Init", (p) => p.state === Init, first.index);
    await raw.send(ip(1), port, { state: Up, yourDiscriminator: s.localDiscriminator, desiredMinTx: peerTx, requiredMinRx: peerRx });
    const up = await raw.next("Up", (p) => p.state === Up);
    if (!up.p.poll) return;
    await raw.send(ip(1), port, { state: Up, final: true, yourDiscriminator: s.localDiscriminator, desiredMinTx: peerTx, requiredMinRx: peerRx });
    await raw.next("a periodic packet without Poll", (p) => p.state === Up && !p.poll, up.index + 1);
  }

  test("Down at one packet a second, then Down -> Init -> Up; going Up polls with the profile's timers, Final ends the Poll", async () => {
    const s = start({ receiveInterval: 50, transmitInterval: 50, detectMultiplier: 3 });
    const first = await raw.next("our first packet", () => true);
    expect(first.p).toMatchObject({
      state: Down, diag: 0, yourDiscriminator: 0, myDiscriminator: s.localDiscriminator, detectMult: 3,
      desiredMinTx: 1_000_000, requiredMinRx: 50_000, requiredMinEchoRx: 0, poll: false, final: false, controlPlaneIndependent: false,
    });
    // RFC 5880 6.8.3: not less than one second apart while not Up (jitter takes off at most 25%).
    const second = await raw.next("our second packet", () => true, first.index + 1, 3000);
    expect(second.at - first.at).toBeGreaterThanOrEqual(740);

    await raw.send(ip(1), port, { state: Down, requiredMinRx: 50_000 });
    const init = await raw.next("Init", (p) => p.state === Init);
    expect(init.p).toMatchObject({ yourDiscriminator: 0x5a5a, desiredMinTx: 1_000_000 });

    await raw.send(ip(1), port, { state: Up, yourDiscriminator: s.localDiscriminator, requiredMinRx: 50_000 });
    const up = await raw.next("Up", (p) => p.state === Up);
    expect(up.p).toMatchObject({ poll: true, final: false, desiredMinTx: 50_000, requiredMinRx: 50_000, yourDiscriminator: 0x5a5a });
    expect(s.stateName).toBe("Up");
    // Until the Final, every packet keeps the Poll bit.
    const again = await raw.next("the next packet", () => true, up.index + 1);
    expect(again.p.poll).toBe(true);

    await raw.send(ip(1), port, { state: Up, final: true, yourDiscriminator: s.localDiscriminator, requiredMinRx: 50_000 });
    const after = await raw.next("a packet without Poll", (p) => !p.poll);
    expect(after.p).toMatchObject({ state: Up, final: false, desiredMinTx: 50_000 });
    expect(changes.map((c) => [c.from, c.to, c.diag])).toEqual([[Down, Init, Diag.None], [Init, Up, Diag.None]]);
    expect(s.txInterval).toBe(50_000);
  });

  test("silence for the detection time: Down with diag 1, the remote discriminator forgotten, back to 1 s", async () => {
    const s = start({ receiveInterval: 50, transmitInterval: 50, detectMultiplier: 3 });
    await bringUp(s, 300_000, 50_000);
    // Detection time: the peer's multiplier (3) x max(our RX 50 ms, its TX 300 ms) = 900 ms.
    expect(s.detectionTime).toBe(900_000);
    // Keep it Up a while with packets every 100 ms, then stop.
    for (let i = 0; i < 5; i++) {
      await raw.send(ip(1), port, { state: Up, yourDiscriminator: s.localDiscriminator, desiredMinTx: 300_000, requiredMinRx: 50_000 });
      await Bun.sleep(100);
    }
    expect(s.stateName).toBe("Up");
    const lastSent = raw.lastSentAt;
    const down = await raw.next("Down", (p) => p.state === Down, raw.received.length, 5000);
    expect(down.at - lastSent).toBeGreaterThanOrEqual(900);
    expect(down.p).toMatchObject({ diag: Diag.DetectionTimeExpired, yourDiscriminator: 0, desiredMinTx: 1_000_000 });
    expect(changes.at(-1)).toEqual({ from: Up, to: Down, diag: Diag.DetectionTimeExpired, remoteAdminDown: false });
  });

  test("a Poll from the peer is answered with a Final at once, not at the next periodic packet", async () => {
    const s = start({ receiveInterval: 3000, transmitInterval: 3000, detectMultiplier: 3 });
    await bringUp(s, 3_000_000, 3_000_000);
    // 3 s is slower than the 1 s floor while Down, so going Up changed nothing: no Poll of ours.
    expect(raw.received.some((r) => r.p.poll)).toBe(false);
    const from = raw.received.length;
    const sent = Date.now();
    await raw.send(ip(1), port, { state: Up, poll: true, yourDiscriminator: s.localDiscriminator, desiredMinTx: 3_000_000, requiredMinRx: 3_000_000 });
    const fin = await raw.next("Final", (p) => p.final, from);
    expect(fin.p.poll).toBe(false);
    expect(fin.at - sent).toBeLessThan(1000); // the periodic one is 2.25-3 s away
  });

  test("new timers while Up: a Poll carries them; a slower TX and a faster RX take effect only at the Final (6.8.3)", async () => {
    const s = start({ receiveInterval: 2000, transmitInterval: 50, detectMultiplier: 3 });
    await bringUp(s, 50_000, 50_000);
    expect([s.txInterval, s.rxInterval]).toEqual([50_000, 2_000_000]);
    const from = raw.received.length;
    s.reconfigure({ receiveInterval: 1000, transmitInterval: 300, detectMultiplier: 3 });
    const poll = await raw.next("a Poll with the new timers", (p) => p.poll, from);
    expect(poll.p).toMatchObject({ desiredMinTx: 300_000, requiredMinRx: 1_000_000 });
    // Not yet: the peer has not confirmed.
    expect([s.txInterval, s.rxInterval]).toEqual([50_000, 2_000_000]);
    await raw.send(ip(1), port, { state: Up, final: true, yourDiscriminator: s.localDiscriminator, desiredMinTx: 50_000, requiredMinRx: 50_000 });
    await waitFor("the Poll to end", () => s.txInterval === 300_000);
    expect(s.rxInterval).toBe(1_000_000);
    expect(s.detectionTime).toBe(3_000_000);
  });

  test("the peer's Down while Up: Down, diag 3; the peer's AdminDown: Down, diag 3, marked so clients leave BGP alone", async () => {
    const s = start({ receiveInterval: 50, transmitInterval: 50, detectMultiplier: 3 });
    await bringUp(s);
    await raw.send(ip(1), port, { state: Down, yourDiscriminator: s.localDiscriminator, diag: Diag.DetectionTimeExpired });
    await waitFor("Down", () => s.stateName === "Down");
    expect(changes.at(-1)).toEqual({ from: Up, to: Down, diag: Diag.NeighborSignaledDown, remoteAdminDown: false });
    expect(s.remoteDiag).toBe(Diag.DetectionTimeExpired);

    await bringUp(s);
    await raw.send(ip(1), port, { state: AdminDown, yourDiscriminator: s.localDiscriminator, diag: Diag.AdministrativelyDown });
    await waitFor("Down", () => s.stateName === "Down");
    expect(changes.at(-1)).toEqual({ from: Up, to: Down, diag: Diag.NeighborSignaledDown, remoteAdminDown: true });
  });

  test("removing the session tells the peer: AdminDown, diag 7", async () => {
    const s = start({ receiveInterval: 50, transmitInterval: 50, detectMultiplier: 3 });
    await bringUp(s);
    const from = raw.received.length;
    manager.remove(ip(2));
    const last = await raw.next("AdminDown", (p) => p.state === AdminDown, from);
    expect(last.p).toMatchObject({ diag: Diag.AdministrativelyDown, myDiscriminator: s.localDiscriminator });
    expect(manager.get(ip(2))).toBeUndefined();
  });

  test("packets that arrive with TTL below 255 never reach the session (GTSM, RFC 5881 5)", async () => {
    const s = start({ receiveInterval: 1000, transmitInterval: 1000, detectMultiplier: 3 });
    await raw.next("our first packet", () => true);
    await raw.send(ip(1), port, { state: Down }, 254);
    await raw.send(ip(1), port, { state: Down, myDiscriminator: 0x7777 }, 255);
    await waitFor("the TTL 255 packet", () => s.packetsIn >= 1);
    // Sent after the TTL 254 one on the same path: once it is in, the other had its chance.
    expect(s.packetsIn).toBe(1);
    expect(s.remoteDiscriminator).toBe(0x7777);
  });

  test("demultiplexing (6.8.6): malformed, unknown or misaddressed packets are dropped and counted", async () => {
    const s = start({ receiveInterval: 50, transmitInterval: 50, detectMultiplier: 3 });
    await bringUp(s);
    const inBefore = s.packetsIn;
    const other = await RawBfdPeer.open(ip(3));
    try {
      const good = { state: Up, yourDiscriminator: s.localDiscriminator, desiredMinTx: 50_000, requiredMinRx: 50_000 };
      await raw.send(ip(1), port, encodeControl({ ...good, diag: 0, poll: false, final: false, controlPlaneIndependent: false, demand: false, detectMult: 0, myDiscriminator: 1, requiredMinEchoRx: 0 }));
      await raw.send(ip(1), port, { ...good, yourDiscriminator: s.localDiscriminator ^ 1 });
      await raw.send(ip(1), port, { ...good, yourDiscriminator: 0 });
      await other.send(ip(1), port, good);
      await raw.send(ip(1), port, good);
      await waitFor("the good packet", () => s.packetsIn > inBefore);
    } finally {
      other.close();
    }
    expect(s.packetsIn).toBe(inBefore + 1);
    expect(Object.fromEntries(manager.dropped)).toEqual({ "malformed": 1, "unknown-discriminator": 1, "zero-discriminator": 1, "wrong-source": 1 });
    expect(s.stateName).toBe("Up");
  });
});

describe("BFD over IPv6", () => {
  test("Down -> Init -> Up with a peer on ::1; hop limit 254 never reaches the session", async () => {
    const raw = await RawBfdPeer.open("::1");
    const port = await freeUdpPort("::");
    const manager = new BfdManager({ port, peerPort: raw.port });
    try {
      const s = manager.add("::1", { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 }, "::1");
      await raw.next("our first packet", (p) => p.state === Down);
      await raw.send("::1", port, { state: Down, myDiscriminator: 0x6666 }, 254);
      await raw.send("::1", port, { state: Down });
      await raw.next("Init", (p) => p.state === Init);
      expect(s.packetsIn).toBe(1);
      expect(s.remoteDiscriminator).toBe(0x5a5a);
      await raw.send("::1", port, { state: Up, yourDiscriminator: s.localDiscriminator });
      await raw.next("Up", (p) => p.state === Up);
      expect(s.stateName).toBe("Up");
    } finally {
      manager.close();
      raw.close();
    }
  });
});

describe("two sart BFD managers", () => {
  test("each sends at the slower of its TX and the other's RX, and detects at the other's multiplier", async () => {
    const ip = loopbackBlock();
    const [pa, pb] = [await freeUdpPort("0.0.0.0"), await freeUdpPort("0.0.0.0")];
    const a = new BfdManager({ port: pa, peerPort: pb });
    const b = new BfdManager({ port: pb, peerPort: pa });
    try {
      const sa = a.add(ip(2), { receiveInterval: 2000, transmitInterval: 500, detectMultiplier: 3 }, ip(1));
      const sb = b.add(ip(1), { receiveInterval: 500, transmitInterval: 1000, detectMultiplier: 5 }, ip(2));
      // Each expects the other's packets at the slower of its own RX and the other's TX.
      await waitFor("both Up, polls done", () => sa.stateName === "Up" && sb.stateName === "Up" && sa.rxInterval === 2_000_000 && sb.rxInterval === 500_000, 10000, 10);
      expect([sa.txInterval, sb.txInterval]).toEqual([500_000, 2_000_000]);
      expect([sa.detectionTime, sb.detectionTime]).toEqual([5 * 2_000_000, 3 * 500_000]);
      expect([sa.remoteDiscriminator, sb.remoteDiscriminator]).toEqual([sb.localDiscriminator, sa.localDiscriminator]);
    } finally {
      a.close();
      b.close();
    }
  });
});
