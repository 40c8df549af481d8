// Peer options against FRR, under Bun and Node: TCP MD5 (RFC 2385) both ways,
// with the right key a session, with a wrong key or none the kernel rejects
// every SYN (counted); the TTL of eBGP sessions (1 unless ebgpMultihop says
// otherwise) through a router in between, and against FRR's ttl-security
// (GTSM); keepaliveTime shorter than a third of the hold time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Frr, frrBgpConfig } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { Netns, veth } from "../helpers/netns.ts";
import { type Runtime, Sart } from "../helpers/sart.ts";

/** A kernel counter of a namespace: /proc/net/netstat (TcpExt) or /proc/net/snmp (Icmp, Tcp). */
async function counter(ns: Netns, group: "TcpExt" | "Icmp" | "Tcp", name: string): Promise<number> {
  const text = await ns.exec("cat", [group === "TcpExt" ? "/proc/net/netstat" : "/proc/net/snmp"]);
  const [head, values] = text.split("\n").filter((l) => l.startsWith(`${group}:`)).map((l) => l.split(/\s+/));
  const i = head.indexOf(name);
  if (i < 0) throw new Error(`no ${group} ${name} in this kernel`);
  return Number(values[i]);
}

async function grows(ns: Netns, group: "TcpExt" | "Icmp" | "Tcp", name: string, by: number, timeoutMs = 20000): Promise<void> {
  const start = await counter(ns, group, name);
  await waitFor(`${name} in ${ns.name} up by ${by}`, async () => (await counter(ns, group, name)) >= start + by, timeoutMs, 100);
}

const SART = { v4: "192.0.2.1", asn: 65001 };

/** Replaces sart's neighbour `peer` (DELETE, then POST with connectRetryTime 1 and `n`): the API's view of it. */
async function replaceNeighbor(sart: Sart, peer: { v4: string; asn: number }, n: Record<string, unknown>): Promise<Record<string, unknown>> {
  await sart.send("DELETE", `/v1/neighbors/${peer.v4}`).catch(() => {});
  return sart.send("POST", "/v1/neighbors", { address: peer.v4, asn: peer.asn, connectRetryTime: 1, ...n }) as Promise<Record<string, unknown>>;
}

for (const runtime of ["bun", "node"] as Runtime[]) {
  describe(`TCP MD5 with FRR, sart under ${runtime}`, () => {
    const ROUTER = { v4: "192.0.2.2", asn: 65010 };
    const KEY = "s3cret-Key_with.80-bytes-max";
    let node: Netns;
    let router: Netns;
    let frr: Frr;
    let sart: Sart;

    beforeAll(async () => {
      node = await Netns.create(`md5${runtime[0]}-n`);
      router = await Netns.create(`md5${runtime[0]}-r`);
      await veth({ ns: node, ifname: "eth0", addresses: [`${SART.v4}/30`] }, { ns: router, ifname: "eth0", addresses: [`${ROUTER.v4}/30`] });
      frr = await Frr.start(router, frrBgpConfig({
        asn: ROUTER.asn, routerId: ROUTER.v4, neighbor: SART.v4, remoteAs: SART.asn,
        neighborOptions: [`password ${KEY}`, "passive", "timers 3 9", "timers connect 1"],
      }));
      sart = await Sart.startIn(node, { asn: SART.asn, routerId: SART.v4, listen: { address: "0.0.0.0", port: 179 }, neighbors: [] }, runtime);
    }, 60000);

    afterAll(async () => {
      await sart?.stop();
      await frr?.stop();
      await node?.delete();
      await router?.delete();
    });

    const setNeighbor = (n: Record<string, unknown>) => replaceNeighbor(sart, ROUTER, { holdTime: 9, ...n });

    test("outgoing, the right key: Established; the API says a password is set and never shows it", async () => {
      const view = await setNeighbor({ password: KEY });
      expect(view.passwordSet).toBe(true);
      expect(JSON.stringify(view)).not.toContain(KEY);
      await waitFor("Established", async () => (await sart.neighborState(ROUTER.v4)) === "Established", 20000);
      expect(await frr.neighborState(SART.v4)).toBe("Established");
      expect(JSON.stringify(await sart.get("/v1/neighbors"))).not.toContain(KEY);
    }, 30000);

    test("outgoing, a wrong key: FRR's kernel rejects every SYN; no session", async () => {
      await setNeighbor({ password: "not-the-key" });
      await grows(router, "TcpExt", "TCPMD5Failure", 2);
      expect(await sart.neighborState(ROUTER.v4)).not.toBe("Established");
      expect(await frr.neighborState(SART.v4)).not.toBe("Established");
    }, 30000);

    test("outgoing, no key: FRR's kernel rejects every unsigned SYN; no session", async () => {
      await setNeighbor({});
      await grows(router, "TcpExt", "TCPMD5NotFound", 2);
      expect(await sart.neighborState(ROUTER.v4)).not.toBe("Established");
    }, 30000);

    test("incoming (sart passive): the key on sart's listener lets FRR in; a wrong one keeps it out", async () => {
      await frr.vtysh(["configure terminal", `router bgp ${ROUTER.asn}`, `no neighbor ${SART.v4} passive`]);
      try {
        await setNeighbor({ password: "a-different-key", passive: true });
        await grows(node, "TcpExt", "TCPMD5Failure", 2);
        expect(await sart.neighborState(ROUTER.v4)).not.toBe("Established");

        await setNeighbor({ password: KEY, passive: true });
        await waitFor("Established (FRR connecting in)", async () => (await sart.neighborState(ROUTER.v4)) === "Established", 30000);
        const f = (await frr.json<Record<string, { portForeign?: number }>>(`show bgp neighbors ${SART.v4}`))[SART.v4];
        expect(f.portForeign).toBe(179);
      } finally {
        await frr.vtysh(["configure terminal", `router bgp ${ROUTER.asn}`, `neighbor ${SART.v4} passive`]);
      }
    }, 60000);

    test("keepaliveTime 1 under a 9 s hold time: negotiated and sent every second", async () => {
      await setNeighbor({ password: KEY, keepaliveTime: 1 });
      await waitFor("Established", async () => (await sart.neighborState(ROUTER.v4)) === "Established", 20000);
      const nb = await sart.neighbor(ROUTER.v4);
      expect(nb.negotiated).toMatchObject({ holdTime: 9, keepalive: 1 });
      expect(nb.keepaliveTime).toBe(1);
      const received = async () => (await frr.json<Record<string, { messageStats: { keepalivesRecv: number } }>>(`show bgp neighbors ${SART.v4}`))[SART.v4].messageStats.keepalivesRecv;
      const before = await received();
      const t0 = Date.now();
      await waitFor("four more KEEPALIVEs at FRR", async () => (await received()) >= before + 4, 20000, 100);
      // At hold/3 (3 s) four would take 9-12 s.
      expect(Date.now() - t0).toBeLessThan(8000);
    }, 40000);
  });

  describe(`TTL through a router in between, FRR two hops away, sart under ${runtime}`, () => {
    const FAR = { v4: "192.0.2.14", asn: 65020 };
    let node: Netns;
    let hop: Netns;
    let far: Netns;
    let frr: Frr;
    let sart: Sart;

    beforeAll(async () => {
      node = await Netns.create(`ttl${runtime[0]}-n`);
      hop = await Netns.create(`ttl${runtime[0]}-h`);
      far = await Netns.create(`ttl${runtime[0]}-f`);
      await veth({ ns: node, ifname: "eth0", addresses: [`${SART.v4}/30`] }, { ns: hop, ifname: "left", addresses: ["192.0.2.2/30"] });
      await veth({ ns: hop, ifname: "right", addresses: ["192.0.2.13/30"] }, { ns: far, ifname: "eth0", addresses: [`${FAR.v4}/30`] });
      await hop.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
      await node.ip("route", "add", "192.0.2.12/30", "via", "192.0.2.2");
      await far.ip("route", "add", "192.0.2.0/30", "via", "192.0.2.13");
      frr = await Frr.start(far, frrBgpConfig({ asn: FAR.asn, routerId: FAR.v4, neighbor: SART.v4, remoteAs: SART.asn, neighborOptions: ["passive", "ebgp-multihop 2"] }));
      sart = await Sart.startIn(node, { asn: SART.asn, routerId: SART.v4, listen: { address: "0.0.0.0", port: 179 }, neighbors: [] }, runtime);
    }, 60000);

    afterAll(async () => {
      await sart?.stop();
      await frr?.stop();
      for (const ns of [node, hop, far]) await ns?.delete();
    });

    const setNeighbor = (n: Record<string, unknown>) => replaceNeighbor(sart, FAR, n);

    test("eBGP without ebgpMultihop sends TTL 1: the router in between drops every SYN (ICMP time exceeded)", async () => {
      const view = await setNeighbor({});
      expect(view.ttl).toBe(1);
      await grows(hop, "Icmp", "OutTimeExcds", 2);
      expect(await sart.neighborState(FAR.v4)).not.toBe("Established");
      expect(await frr.neighborState(SART.v4)).not.toBe("Established");
    }, 30000);

    test("ebgpMultihop 2 reaches FRR two hops away", async () => {
      const view = await setNeighbor({ ebgpMultihop: 2 });
      expect(view).toMatchObject({ ttl: 2, ebgpMultihop: 2 });
      await waitFor("Established", async () => (await sart.neighborState(FAR.v4)) === "Established", 20000);
    }, 30000);

    test("FRR's ttl-security hops 2 (GTSM): TTL 254 is dropped by FRR's kernel, 255 passes with one hop to spare", async () => {
      await frr.vtysh(["configure terminal", `router bgp ${FAR.asn}`, `no neighbor ${SART.v4} ebgp-multihop`, `neighbor ${SART.v4} ttl-security hops 2`]);
      await sart.send("DELETE", `/v1/neighbors/${FAR.v4}`);
      await waitFor("FRR's old session gone", async () => (await frr.neighborState(SART.v4)) !== "Established", 20000);
      await setNeighbor({ ebgpMultihop: 254 });
      // FRR puts the minimum TTL on the socket it accepted, so a SYN (and at most a segment
      // that beat the setsockopt) gets in; every later segment arrives with 253 and is dropped.
      await grows(far, "TcpExt", "TCPMinTTLDrop", 3);
      expect(await frr.neighborState(SART.v4)).not.toBe("Established");

      await setNeighbor({ ebgpMultihop: 255 });
      await waitFor("Established", async () => (await sart.neighborState(FAR.v4)) === "Established", 20000);
      await waitFor("FRR Established", async () => (await frr.neighborState(SART.v4)) === "Established", 20000);
    }, 60000);
  });
}
