// Live-session fuzz: a raw peer sends seeded mutations of real UPDATEs to a sart
// speaker, each followed by a valid marker route, while a well-behaved iBGP peer
// stays Established and must receive every marker the speaker accepted. After
// each mutation the fuzzing session either carries on (RFC 7606 treat-as-withdraw
// or attribute discard: the marker arrives) or ends with a NOTIFICATION from sart
// (header, UPDATE or FSM errors), never silently and never taking the speaker down.
// Reproduce a failure with SART_FUZZ_SEED=N.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type DecodedMessage, encodeMessage } from "../../host/core/codec.ts";
import { mulberry32, mutateMessage, setLength } from "../codec/bytes.ts";
import { loopbackAddress, waitEstablished } from "./harness.ts";
import { RawPeer, handshake, speakerFixture } from "./raw-peer.ts";

const SEED = Number(process.env.SART_FUZZ_SEED ?? 0x8f22);
const MUTATIONS = 4000;
const FUZZ_AS = 65100;

const s = speakerFixture();
let good: RawPeer;
let goodAddress: string;
const fuzzAddress = loopbackAddress();
let fuzz: RawPeer | undefined;
/** Prefixes the good peer has been sent (announcements), kept up to date by poll(). */
const atGood = new Set<string>();

const as = (...asns: number[]) => [{ type: "AS_SEQUENCE" as const, asns }];

/** Real UPDATEs of the kinds a router sends: the mutation seeds. */
function seeds(): Uint8Array[] {
  const base = { origin: "IGP", asPath: as(FUZZ_AS, 65101), nextHop: fuzzAddress };
  const msgs: DecodedMessage[] = [
    {
      type: "UPDATE", nlri: ["198.51.100.0/25", "203.0.113.0/26"],
      attributes: {
        ...base, med: 10, communities: ["65100:1", "65535:65281"], largeCommunities: ["65100:1:2"], extendedCommunities: ["0002fe4c00000064"],
        atomicAggregate: true, aggregator: { asn: FUZZ_AS, address: "192.0.2.9" }, unknown: [{ code: 99, flags: 0xc0, hex: "abcd" }],
      },
    },
    { type: "UPDATE", withdrawn: ["203.0.113.0/26"], nlri: ["2001:db8:1::/48", "2001:db8:2::/64"], attributes: { ...base, nextHop: ["2001:db8::f", "fe80::f"] } },
    { type: "UPDATE", withdrawn: ["198.51.100.0/25"], attributes: {} },
    { type: "UPDATE", nlri: ["198.51.100.128/25"], attributes: { ...base, asPath: [...as(FUZZ_AS), { type: "AS_SET", asns: [65102, 4200000001] }] } },
  ] as DecodedMessage[];
  return msgs.map((m) => encodeMessage(m));
}

/** A route announced on the fuzzing session after each mutation; seen at the good peer once the speaker took it. */
function marker(i: number): { prefix: string; bytes: Uint8Array } {
  const prefix = `2001:db8:ffff:${(i + 1).toString(16)}::/64`; // as the codec prints it (RFC 5952)
  return { prefix, bytes: encodeMessage({ type: "UPDATE", nlri: [prefix], attributes: { origin: "IGP", asPath: as(FUZZ_AS), nextHop: "2001:db8::f" } }) };
}

/** Live sessions cannot wait for a length the message does not have: declared lengths are cut to the bytes sent. */
function livable(m: Uint8Array): Uint8Array {
  if (m.length < 19) return m;
  return ((m[16] << 8) | m[17]) > m.length ? setLength(m) : m;
}

function poll(): void {
  for (const m of good.drain()) for (const p of m.nlri ?? []) atGood.add(p);
}

async function connectFuzzer(): Promise<RawPeer> {
  const p = await RawPeer.connect(s.cx.listen.address, s.cx.listen.port, fuzzAddress);
  await handshake(p, { asn: FUZZ_AS, routerId: "192.0.2.100", holdTime: 0, afis: [1, 2] });
  return p;
}

beforeAll(async () => {
  const families = ["ipv4-unicast", "ipv6-unicast"];
  ({ address: goodAddress, peer: good } = await s.neighbor(65000, { holdTime: 0, export: "all", families }));
  await handshake(good, { asn: 65000, routerId: "192.0.2.99", holdTime: 0, afis: [1, 2] });
  await waitEstablished(s.x, goodAddress);
  // The fuzzing peer reconnects from one address after every NOTIFICATION.
  expect((await s.x.call("POST", "/v1/neighbors", { address: fuzzAddress, asn: FUZZ_AS, passive: true, holdTime: 0, families })).status).toBe(201);
});

afterAll(() => fuzz?.close());

test(`${MUTATIONS} mutated UPDATEs over a live session (seed ${SEED}): NOTIFICATION or carry on, the good peer unharmed`, async () => {
  const r = mulberry32(SEED);
  const base = seeds();
  const outcomes = { survived: 0, notified: 0, closedByUs: 0 };
  for (let i = 0; i < MUTATIONS; i++) {
    if (!fuzz || fuzz.closed) fuzz = await connectFuzzer();
    const input = livable(mutateMessage(base[i % base.length], r));
    const m = marker(i);
    fuzz.send(input);
    fuzz.send(m.bytes);
    // The marker at the good peer, or the fuzzing session closed by sart (bounded).
    const deadline = Date.now() + 10_000;
    for (;;) {
      poll();
      if (atGood.has(m.prefix)) break;
      if (fuzz.closed) break;
      if (Date.now() > deadline) throw new Error(`mutation ${i} (seed ${SEED}): neither the marker nor a close within 10 s: ${Buffer.from(input).toString("hex")}`);
      await Bun.sleep(1);
    }
    if (!fuzz.closed) {
      outcomes.survived++;
      continue;
    }
    const notification = fuzz.drain().find((d) => d.type === "NOTIFICATION");
    if (input.length >= 19 && input[18] === 3) {
      outcomes.closedByUs++; // the mutation made a NOTIFICATION of ours: sart closes without one
      continue;
    }
    expect(notification, `mutation ${i} (seed ${SEED}) closed without a NOTIFICATION: ${Buffer.from(input).toString("hex")}`).toBeDefined();
    expect([1, 3, 5]).toContain(notification!.code);
    outcomes.notified++;
  }
  // Both outcomes were exercised, and the good peer never noticed.
  expect(outcomes.survived).toBeGreaterThan(MUTATIONS / 10);
  expect(outcomes.notified).toBeGreaterThan(MUTATIONS / 10);
  const nb = await s.x.get(`/v1/neighbors/${goodAddress}`);
  expect(nb.state).toBe("Established");
  expect(nb.counters.establishedTransitions).toBe(1);
  expect(good.closed).toBe(false);
  expect(s.x.proc.exitCode).toBeNull();
  console.log(`live fuzz seed ${SEED}: ${JSON.stringify(outcomes)}`);
}, 60_000);
