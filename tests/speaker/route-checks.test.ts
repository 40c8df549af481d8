// What a speaker must refuse or keep to itself, over live sessions with raw
// peers (issue 8): well-known communities (RFC 1997), next hops of every family
// and encoding (RFC 4271 5.1.3 / 6.3, RFC 7606), AS_PATH checks on eBGP (RFC 4271
// 6.3, RFC 5065), families not negotiated (RFC 4760). Senders announce the routes
// under test, then a marker route; receivers (an iBGP and an eBGP raw peer with
// export all) are read until the marker arrives, so every absence is checked
// after the UPDATE that would have carried it.
import { describe, expect, test } from "bun:test";
import type { DecodedMessage } from "../../host/core/codec.ts";
import { ribEntry, waitEstablished, waitFor } from "./harness.ts";
import { type RawPeer, handshake, speakerFixture } from "./raw-peer.ts";

const OWN_AS = 65000;
const s = speakerFixture(OWN_AS);
let connected = 0;

interface Peer {
  address: string;
  asn: number;
  raw: RawPeer;
  /** Every prefix announced to this peer so far, and every prefix withdrawn. */
  seen: Set<string>;
  withdrawn: Set<string>;
}

/** A passive neighbour of x at a fresh loopback address, connected and Established. */
async function connect(asn: number, opts: { families?: string[]; export?: string } = {}): Promise<Peer> {
  const families = opts.families ?? ["ipv4-unicast", "ipv6-unicast"];
  const { address, peer: raw } = await s.neighbor(asn, { families, export: opts.export ?? "local" });
  // Both families offered, whatever the neighbour is configured for.
  await handshake(raw, { asn, routerId: `192.0.2.${100 + ++connected}`, afis: [1, 2] });
  await waitEstablished(s.x, address);
  return { address, asn, raw, seen: new Set(), withdrawn: new Set() };
}

/** Reads the peer's UPDATEs until `marker` was announced to it. */
async function readUntil(p: Peer, marker: string): Promise<void> {
  while (!p.seen.has(marker)) {
    const u = await p.raw.next("UPDATE", 15_000);
    for (const n of u.nlri ?? []) p.seen.add(n);
    for (const w of u.withdrawn ?? []) p.withdrawn.add(w);
  }
}

/** Which of `sent` the peer was given (earlier tests' routes are in its full table too). */
function given(p: Peer, sent: DecodedMessage[]): string[] {
  return sent.flatMap((u) => u.nlri ?? []).filter((n) => p.seen.has(n)).sort();
}

const as = (...asns: number[]) => [{ type: "AS_SEQUENCE", asns }];

function update(nlri: string[], nextHop: string | string[], attrs: Record<string, unknown> = {}, extra: Partial<DecodedMessage> = {}): DecodedMessage {
  return { type: "UPDATE", nlri, attributes: { origin: "IGP", asPath: as(65100), nextHop, ...attrs }, ...extra } as DecodedMessage;
}

/** Sends each UPDATE, then the marker, and waits for the marker in x's RIB. */
async function sendAll(p: Peer, updates: DecodedMessage[], marker: DecodedMessage): Promise<void> {
  for (const u of updates) p.raw.sendMessage(u);
  p.raw.sendMessage(marker);
  const prefix = marker.nlri![0];
  await waitFor(`${prefix} from ${p.address}`, () => ribEntry(s.x, prefix));
}

async function stillUp(p: Peer): Promise<void> {
  const n = await s.x.get(`/v1/neighbors/${p.address}`);
  expect(n.state).toBe("Established");
  expect(n.lastNotificationSent).toBeUndefined();
  expect(p.raw.closed).toBe(false);
}

describe("well-known communities (RFC 1997)", () => {
  test("NO_EXPORT and NO_EXPORT_SUBCONFED reach iBGP peers only, NO_ADVERTISE no peer; from eBGP and iBGP sources", async () => {
    const src = await connect(65100);
    const srcI = await connect(OWN_AS);
    const ibgp = await connect(OWN_AS, { export: "all" });
    const ebgp = await connect(65200, { export: "all" });
    const fromEbgp = [
      update(["198.51.100.0/26"], src.address, { communities: ["65535:65281"] }),
      update(["198.51.100.64/26"], src.address, { communities: ["65100:1", "65535:65282"] }),
      update(["198.51.100.128/26"], src.address, { communities: ["65535:65283"] }),
      update(["2001:db8:a1::/48"], "2001:db8::a1", { communities: ["65535:65281"] }),
      update(["2001:db8:a2::/48"], "2001:db8::a1", { communities: ["65535:65282"] }),
      update(["198.51.100.192/26"], src.address),
    ];
    await sendAll(src, fromEbgp.slice(0, -1), fromEbgp.at(-1)!);
    // From iBGP: NO_EXPORT must not reach the eBGP peer either.
    const fromIbgp = [
      update(["203.0.113.0/26"], srcI.address, { asPath: [], localPref: 100, communities: ["65535:65281"] }),
      update(["203.0.113.64/26"], srcI.address, { asPath: [], localPref: 100 }),
    ];
    await sendAll(srcI, fromIbgp.slice(0, -1), fromIbgp.at(-1)!);

    // The routes are in x's RIB, communities kept.
    expect((await ribEntry(s.x, "198.51.100.0/26")).paths[0].communities).toEqual(["65535:65281"]);
    expect((await ribEntry(s.x, "198.51.100.64/26")).paths[0].best).toBe(true);
    expect((await ribEntry(s.x, "203.0.113.0/26")).paths[0].communities).toEqual(["65535:65281"]);

    await readUntil(ibgp, "198.51.100.192/26");
    expect(given(ibgp, [...fromEbgp, ...fromIbgp])).toEqual(["198.51.100.0/26", "198.51.100.128/26", "198.51.100.192/26", "2001:db8:a1::/48"]);
    await readUntil(ebgp, "203.0.113.64/26");
    await readUntil(ebgp, "198.51.100.192/26");
    expect(given(ebgp, [...fromEbgp, ...fromIbgp])).toEqual(["198.51.100.192/26", "203.0.113.64/26"]);
    for (const p of [src, srcI, ibgp, ebgp]) await stillUp(p);
  });
});

describe("next hops (RFC 4271 5.1.3 / 6.3, RFC 7606)", () => {
  test("unusable next hops in MP_REACH_NLRI are treat-as-withdraw; our own address makes the route ineligible", async () => {
    const src = await connect(65100);
    const ibgp = await connect(OWN_AS, { export: "all" });
    const ipv4Mp = { mpReach: { afi: 1, safi: 1 } };
    // A route accepted first, then re-announced with a bad next hop: it goes.
    await sendAll(src, [], update(["192.0.2.64/28"], src.address));
    await readUntil(ibgp, "192.0.2.64/28");
    const bad = [
      update(["192.0.2.64/28"], "0.0.0.0", {}, ipv4Mp),
      update(["192.0.2.0/28"], "0.0.0.0", {}, ipv4Mp),
      update(["192.0.2.80/28"], "224.0.0.5", {}, ipv4Mp),
      update(["2001:db8:b1::/48"], "ff02::1"),
      update(["2001:db8:b2::/48"], "::1"),
      update(["2001:db8:b3::/48"], "::"),
      update(["2001:db8:b4::/48"], "fe80::1"),
      update(["2001:db8:b5::/48"], ["fe80::1", "fe80::1"]),
      // Our own address on this session, as NEXT_HOP and in MP_REACH_NLRI.
      update(["192.0.2.16/28"], s.cx.listen.address),
      update(["192.0.2.32/28"], s.cx.listen.address, {}, ipv4Mp),
      // Usable: a global address with a link-local one beside it.
      update(["2001:db8:b6::/48"], ["2001:db8::b6", "fe80::b6"]),
    ];
    const marker = update(["192.0.2.48/28"], src.address);
    await sendAll(src, bad, marker);

    for (const p of ["192.0.2.64/28", "192.0.2.0/28", "192.0.2.80/28", "2001:db8:b1::/48", "2001:db8:b2::/48", "2001:db8:b3::/48", "2001:db8:b4::/48", "2001:db8:b5::/48"]) {
      expect(await ribEntry(s.x, p)).toBeUndefined();
    }
    for (const p of ["192.0.2.16/28", "192.0.2.32/28"]) {
      expect((await ribEntry(s.x, p)).paths[0]).toMatchObject({ nextHop: s.cx.listen.address, eligible: false, best: false });
    }
    expect((await ribEntry(s.x, "2001:db8:b6::/48")).paths[0]).toMatchObject({ nextHop: "2001:db8::b6", best: true });
    await readUntil(ibgp, "192.0.2.48/28");
    expect(ibgp.withdrawn).toContain("192.0.2.64/28");
    expect(given(ibgp, [...bad, marker])).toEqual(["192.0.2.48/28", "192.0.2.64/28", "2001:db8:b6::/48"]);
    await stillUp(src);
    await stillUp(ibgp);
  });
});

describe("AS_PATH on eBGP (RFC 4271 6.3, RFC 7606 7.2, RFC 5065)", () => {
  test("an empty path, a first AS not the peer's and confederation segments are treat-as-withdraw; iBGP may send an empty path", async () => {
    const src = await connect(65100);
    const ibgp = await connect(OWN_AS, { export: "all" });
    await sendAll(src, [], update(["203.0.113.128/28"], src.address));
    await readUntil(ibgp, "203.0.113.128/28");
    const bad = [
      update(["203.0.113.128/28"], src.address, { asPath: [] }), // replaces the accepted route: it goes
      update(["203.0.113.144/28"], src.address, { asPath: [] }),
      update(["203.0.113.160/28"], src.address, { asPath: as(65999, 65100) }),
      update(["203.0.113.176/28"], src.address, { asPath: [{ type: "AS_SET", asns: [65100] }] }),
      update(["203.0.113.192/28"], src.address, { asPath: [...as(65100), { type: "AS_CONFED_SEQUENCE", asns: [65101] }] }),
      update(["203.0.113.208/28"], src.address, { asPath: [{ type: "AS_CONFED_SET", asns: [65101] }, ...as(65100)] }),
    ];
    const marker = update(["203.0.113.224/28"], src.address, { asPath: as(65100, 65101) });
    await sendAll(src, bad, marker);
    for (const p of ["203.0.113.128/28", "203.0.113.144/28", "203.0.113.160/28", "203.0.113.176/28", "203.0.113.192/28", "203.0.113.208/28"]) {
      expect(await ribEntry(s.x, p)).toBeUndefined();
    }
    expect((await ribEntry(s.x, "203.0.113.224/28")).paths[0].asPath).toEqual(as(65100, 65101));
    await readUntil(ibgp, "203.0.113.224/28");
    expect(ibgp.withdrawn).toContain("203.0.113.128/28");
    expect(given(ibgp, [...bad, marker])).toEqual(["203.0.113.128/28", "203.0.113.224/28"]);
    await stillUp(src);
  });
});

describe("families not negotiated (RFC 4760)", () => {
  test("IPv6 routes from a neighbour negotiated for IPv4 only, and IPv4 from an IPv6-only one, are ignored", async () => {
    const v4only = await connect(65300, { families: ["ipv4-unicast"] });
    const v6only = await connect(65301, { families: ["ipv6-unicast"] });
    expect((await s.x.get(`/v1/neighbors/${v4only.address}`)).negotiated.families).toEqual(["ipv4-unicast"]);
    expect((await s.x.get(`/v1/neighbors/${v6only.address}`)).negotiated.families).toEqual(["ipv6-unicast"]);
    await sendAll(v4only, [
      update(["2001:db8:c1::/48"], "2001:db8::c1", { asPath: as(65300) }),
    ], update(["198.51.100.240/28"], v4only.address, { asPath: as(65300) }));
    await sendAll(v6only, [
      update(["198.51.100.224/28"], v6only.address, { asPath: as(65301) }),
    ], update(["2001:db8:c2::/48"], "2001:db8::c2", { asPath: as(65301) }));
    expect(await ribEntry(s.x, "2001:db8:c1::/48")).toBeUndefined();
    expect(await ribEntry(s.x, "198.51.100.224/28")).toBeUndefined();
    expect((await s.x.get(`/v1/neighbors/${v4only.address}`)).counters.received).toBe(1);
    expect((await s.x.get(`/v1/neighbors/${v6only.address}`)).counters.received).toBe(1);
    await stillUp(v4only);
    await stillUp(v6only);
  });
});
