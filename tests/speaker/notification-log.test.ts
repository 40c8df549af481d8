// The speaker logs every NOTIFICATION it sends or receives (issue 8.11): one line
// naming the neighbour, code/subcode with their names, and the shutdown
// communication when there is one; before Established (OPEN errors) as well as after.
import { describe, expect, test } from "bun:test";
import { waitEstablished, waitFor } from "./harness.ts";
import { handshake, openMsg, speakerFixture } from "./raw-peer.ts";

const s = speakerFixture();

/** The log line about `address` matching `re`, once it is there. */
function logLine(address: string, re: RegExp): Promise<string> {
  return waitFor(`log line for ${address} matching ${re}`, () => s.x.output().split("\n").find((l) => l.includes(`neighbor ${address}:`) && re.test(l)));
}

describe("NOTIFICATION log lines", () => {
  test("sent, before Established: a wrong peer AS", async () => {
    const { address, peer } = await s.neighbor(65010);
    await peer.next("OPEN");
    peer.sendMessage(openMsg({ asn: 65099, routerId: "192.0.2.60" }));
    await peer.next("NOTIFICATION");
    const line = await logLine(address, /sent NOTIFICATION/);
    expect(line).toContain(`neighbor ${address}: sent NOTIFICATION 2/2 (OPEN Message Error: Bad Peer AS): OPEN from AS 65099, configured 65010`);
  });

  test("sent, Established: a malformed UPDATE", async () => {
    const { address, peer } = await s.neighbor(65011);
    await handshake(peer, { asn: 65011, routerId: "192.0.2.61" });
    await waitEstablished(s.x, address);
    peer.send("ffffffffffffffffffffffffffffffff 0017 02 0000 0010");
    await peer.next("NOTIFICATION");
    const line = await logLine(address, /sent NOTIFICATION/);
    expect(line).toContain("sent NOTIFICATION 3/1 (UPDATE Message Error: Malformed Attribute List)");
  });

  test("received, with a shutdown communication (RFC 9003)", async () => {
    const { address, peer } = await s.neighbor(65012);
    await handshake(peer, { asn: 65012, routerId: "192.0.2.62" });
    await waitEstablished(s.x, address);
    peer.sendMessage({ type: "NOTIFICATION", code: 6, subcode: 2, communication: "maintenance until 18:00" });
    const line = await logLine(address, /received NOTIFICATION/);
    expect(line).toContain(`neighbor ${address}: received NOTIFICATION 6/2 (Cease: Administrative Shutdown): "maintenance until 18:00"`);
    // One line per NOTIFICATION (counted once the session-down line that follows it is out).
    await logLine(address, /: down \(/);
    expect(s.x.output().split("\n").filter((l) => l.includes(`neighbor ${address}: received NOTIFICATION`))).toHaveLength(1);
  });
});
