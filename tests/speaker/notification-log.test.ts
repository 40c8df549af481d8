// The speaker logs every NOTIFICATION it sends or receives (issue 8.11): one line
// naming the neighbour, code/subcode with their names, and the shutdown
// communication when there is one; before Established (OPEN errors) as well as after.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type SpeakerProc, cleanupTmp, loopbackAddress, speakerConfig, startSpeaker, waitEstablished, waitFor } from "./harness.ts";
import { RawPeer, handshake, openMsg } from "./raw-peer.ts";

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

async function passivePeer(asn: number): Promise<{ address: string; peer: RawPeer }> {
  const address = loopbackAddress();
  expect((await x.call("POST", "/v1/neighbors", { address, asn, passive: true, holdTime: 30 })).status).toBe(201);
  const peer = await RawPeer.connect(cx.listen.address, cx.listen.port, address);
  peers.push(peer);
  return { address, peer };
}

/** The log line about `address` matching `re`, once it is there. */
function logLine(address: string, re: RegExp): Promise<string> {
  return waitFor(`log line for ${address} matching ${re}`, () => x.output().split("\n").find((l) => l.includes(`neighbor ${address}:`) && re.test(l)));
}

describe("NOTIFICATION log lines", () => {
  test("sent, before Established: a wrong peer AS", async () => {
    const { address, peer } = await passivePeer(65010);
    await peer.next("OPEN");
    peer.sendMessage(openMsg({ asn: 65099, routerId: "192.0.2.60" }));
    await peer.next("NOTIFICATION");
    const line = await logLine(address, /sent NOTIFICATION/);
    expect(line).toContain(`neighbor ${address}: sent NOTIFICATION 2/2 (OPEN Message Error: Bad Peer AS): OPEN from AS 65099, configured 65010`);
  });

  test("sent, Established: a malformed UPDATE", async () => {
    const { address, peer } = await passivePeer(65011);
    await handshake(peer, { asn: 65011, routerId: "192.0.2.61" });
    await waitEstablished(x, address);
    peer.send("ffffffffffffffffffffffffffffffff 0017 02 0000 0010");
    await peer.next("NOTIFICATION");
    const line = await logLine(address, /sent NOTIFICATION/);
    expect(line).toContain("sent NOTIFICATION 3/1 (UPDATE Message Error: Malformed Attribute List)");
  });

  test("received, with a shutdown communication (RFC 9003)", async () => {
    const { address, peer } = await passivePeer(65012);
    await handshake(peer, { asn: 65012, routerId: "192.0.2.62" });
    await waitEstablished(x, address);
    peer.sendMessage({ type: "NOTIFICATION", code: 6, subcode: 2, communication: "maintenance until 18:00" });
    const line = await logLine(address, /received NOTIFICATION/);
    expect(line).toContain(`neighbor ${address}: received NOTIFICATION 6/2 (Cease: Administrative Shutdown): "maintenance until 18:00"`);
    // One line per NOTIFICATION (counted once the session-down line that follows it is out).
    await logLine(address, /: down \(/);
    expect(x.output().split("\n").filter((l) => l.includes(`neighbor ${address}: received NOTIFICATION`))).toHaveLength(1);
  });
});
