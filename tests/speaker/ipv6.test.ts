// A session over IPv6 transport (inside a network namespace of our own, where
// the addresses exist): both families exchanged, NEXT_HOP self per family
// (the IPv4 one from the session's interface).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { type SpeakerProc, cleanupTmp, ribEntry, startSpeaker, tmpDir, waitEstablished, waitFor } from "./harness.ts";

const ns = `sartspk6${process.pid}${Math.floor(Math.random() * 1e4)}`;
const ip = (...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
const running: SpeakerProc[] = [];
let a: SpeakerProc, b: SpeakerProc;

beforeAll(async () => {
  execFileSync("ip", ["netns", "add", ns]);
  ip("link", "set", "lo", "up");
  ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
  ip("link", "set", "v0", "up");
  ip("link", "set", "v1", "up");
  ip("addr", "add", "2001:db8::1/64", "dev", "v0", "nodad");
  ip("addr", "add", "192.0.2.1/24", "dev", "v0");
  ip("addr", "add", "2001:db8::2/64", "dev", "v1", "nodad");
  const families = ["ipv4-unicast", "ipv6-unicast"];
  const cfg = (asn: number, routerId: string, address: string, peer: string, peerAs: number, routes: object[]) => ({
    asn, routerId, listen: { address, port: 179 }, api: { listen: `unix:${join(tmpDir(), `${asn}.sock`)}` },
    neighbors: [{ address: peer, asn: peerAs, families }], routes,
  });
  a = await startSpeaker("a6", cfg(65001, "192.0.2.1", "2001:db8::1", "2001:db8::2", 65002, [{ prefix: "2001:db8:a::/48" }, { prefix: "198.51.100.0/24" }]), { netns: ns });
  running.push(a);
  b = await startSpeaker("b6", cfg(65002, "192.0.2.2", "2001:db8::2", "2001:db8::1", 65001, []), { netns: ns });
  running.push(b);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop("SIGKILL")));
  execFileSync("ip", ["netns", "del", ns]);
  cleanupTmp();
});

describe("IPv6 transport", () => {
  test("session over IPv6; IPv6 and IPv4 routes with next hop self of each family", async () => {
    const n = await waitEstablished(b, "2001:db8::1");
    expect(n.negotiated.families).toEqual(["ipv4-unicast", "ipv6-unicast"]);
    const v6 = await waitFor("IPv6 route", () => ribEntry(b, "2001:db8:a::/48"));
    expect(v6.paths[0]).toMatchObject({ nextHop: "2001:db8::1", asPath: [{ type: "AS_SEQUENCE", asns: [65001] }], peer: "2001:db8::1" });
    const v4 = await waitFor("IPv4 route", () => ribEntry(b, "198.51.100.0/24"));
    expect(v4.paths[0]).toMatchObject({ nextHop: "192.0.2.1", peer: "2001:db8::1" });
  });
});
