// A raw peer of ours sends malformed UPDATEs to sart while sart serves a real BIRD:
// attribute errors that RFC 7606 makes treat-as-withdraw remove the route (from
// sart and from BIRD) and keep the session; an error in the message framing gets
// the NOTIFICATION the codec names (3/1) and only that session closes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeMessages, encodeMessage } from "../../host/core/codec.ts";
import { Bird, birdBgpConfig } from "../helpers/bird.ts";
import { freePort, loopbackBlock, waitFor } from "../helpers/net.ts";
import { RawPeer } from "../helpers/raw-peer.ts";
import { Sart } from "../helpers/sart.ts";

const PREFIX = "203.0.113.0/24";

function update(): Uint8Array {
  return encodeMessage({
    type: "UPDATE", withdrawn: [], nlri: [PREFIX],
    attributes: { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [65003] }], nextHop: "192.0.2.3" },
  });
}

/** Patches one octet of a valid UPDATE after checking the octets around it are the ones meant. */
function patched(expectAt: number, expected: number[], set: number, value: number): Uint8Array {
  const m = Uint8Array.from(update());
  expect([...m.subarray(expectAt, expectAt + expected.length)]).toEqual(expected);
  m[set] = value;
  return m;
}

describe("malformed UPDATEs from one peer while sart serves BIRD", () => {
  const a = loopbackBlock();
  let b: Bird;
  let s: Sart;
  let raw: RawPeer | undefined;

  beforeAll(async () => {
    const sartPort = await freePort(a(1));
    const birdPort = await freePort(a(2));
    b = await Bird.start(birdBgpConfig({ name: "sart", localAddress: a(2), localPort: birdPort, asn: 65002, neighbor: a(1), neighborPort: sartPort, neighborAs: 65001 }));
    s = await Sart.start({
      asn: 65001, routerId: "192.0.2.1", listen: { address: a(1), port: sartPort },
      neighbors: [
        { address: a(2), asn: 65002, port: birdPort, export: "all" },
        { address: a(3), asn: 65003, passive: true, export: "none" },
      ],
    });
    await waitFor("sart <-> BIRD Established", async () => (await s.neighborState(a(2))) === "Established", 30000);
  });

  afterAll(async () => {
    await raw?.close(true);
    await s?.stop();
    await b?.stop();
  });

  const announce = async () => {
    await raw!.write(update());
    await waitFor(`${PREFIX} in sart`, async () => (await s.rib()).has(PREFIX));
    const [r] = await waitFor(`${PREFIX} in BIRD`, async () => (await b.routes()).get(PREFIX));
    expect(r.attrs["BGP.as_path"]).toBe("65001 65003");
  };

  test("treat-as-withdraw: an undefined ORIGIN and a broken AS_PATH withdraw the route, the session stays", async () => {
    raw = new RawPeer({ host: a(1), port: s.config.listen.port, localAddress: a(3), asn: 65003, routerId: "192.0.2.3" });
    await raw.established;
    await announce();

    // ORIGIN (flags 0x40, type 1, length 1) with value 5.
    const badOrigin = patched(23, [0x40, 1, 1, 0], 26, 5);
    expect(decodeMessages(badOrigin)[0].treatAsWithdraw).toMatchObject({ code: 3, subcode: 6 });
    await raw.write(badOrigin);
    await waitFor(`${PREFIX} withdrawn in sart`, async () => !(await s.rib()).has(PREFIX));
    await waitFor(`${PREFIX} withdrawn in BIRD`, async () => !(await b.routes()).has(PREFIX));

    await announce();
    // AS_PATH (0x40, 2, length 6): one AS_SEQUENCE claiming 3 ASNs where 1 fits.
    const badPath = patched(27, [0x40, 2, 6, 2, 1], 31, 3);
    expect(decodeMessages(badPath)[0].treatAsWithdraw).toMatchObject({ code: 3, subcode: 11 });
    await raw.write(badPath);
    await waitFor(`${PREFIX} withdrawn in sart`, async () => !(await s.rib()).has(PREFIX));
    await waitFor(`${PREFIX} withdrawn in BIRD`, async () => !(await b.routes()).has(PREFIX));

    expect(raw.notification).toBeUndefined();
    expect(raw.socket.destroyed).toBe(false);
    expect(await s.neighborState(a(3))).toBe("Established");
  });

  test("a path attribute length overrunning the message gets NOTIFICATION 3/1; BIRD keeps being served", async () => {
    const birdBefore = (await s.neighbor(a(2))).counters.establishedTransitions;
    await announce();
    const overrun = patched(21, [0, 20], 22, 30);
    const expected = decodeMessages(overrun)[0].error!;
    expect(expected).toMatchObject({ code: 3, subcode: 1 });
    await raw!.write(overrun);
    const notification = await Promise.race([raw!.closed, new Promise<undefined>((r) => setTimeout(r, 10000))]);
    expect(notification).toBeDefined();
    const [n] = decodeMessages(notification!);
    expect([n.type, n.code, n.subcode]).toEqual(["NOTIFICATION", expected.code, expected.subcode]);
    await waitFor("sart notes the NOTIFICATION sent", async () => (await s.neighbor(a(3))).lastNotificationSent?.code === 3);
    await waitFor(`${PREFIX} gone with the session`, async () => !(await s.rib()).has(PREFIX) && !(await b.routes()).has(PREFIX));

    const nb = await s.neighbor(a(2));
    expect(nb.state).toBe("Established");
    expect(nb.counters.establishedTransitions).toBe(birdBefore);
    await s.send("POST", "/v1/rib", { prefix: "198.51.100.0/24", communities: ["65001:9"] });
    const [r] = await waitFor("a new route reaches BIRD", async () => (await b.routes()).get("198.51.100.0/24"));
    expect(r.attrs["BGP.community"]).toBe("(65001,9)");
  });
});
