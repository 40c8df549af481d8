// Real traffic: every message of every captured session (gobgpd, BIRD, exabgp; see
// tests/fixtures/capture.sh) decodes without error, and says what the daemons were
// configured to send (tests/fixtures/expected.json).
import { describe, expect, test } from "bun:test";
import { decodeFixture, expected, type ExpectedRoute, flatAsns, type Msg, senderPrefix } from "./fixture-data.ts";

for (const [name, fixture] of Object.entries(expected)) {
  describe(`fixture ${name} (${fixture.linkType})`, () => {
    const { messages, problem } = decodeFixture(name);

    test("every message decodes without error, with flow and time", () => {
      expect(problem).toBeUndefined();
      expect(messages.length).toBeGreaterThan(8);
      for (const m of messages) {
        expect(m.error).toBeUndefined();
        expect(m.treatAsWithdraw).toBeUndefined();
        expect(m.discardedAttributes).toBeUndefined();
        expect(["OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH"]).toContain(m.type);
        expect(m.flow).toMatch(/^(\S+):\d+ -> (\S+):\d+$/);
        expect(m.flow).toContain(`:${fixture.port}`);
        expect(m.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6,9}Z$/);
      }
      const times = messages.map((m) => m.time as string);
      expect([...times].sort()).toEqual(times); // capture order
    });

    for (const [speaker, want] of Object.entries(fixture.speakers)) {
      const mine = messages.filter((m) => (m.flow as string).startsWith(senderPrefix(want.address)));
      const updates = mine.filter((m) => m.type === "UPDATE");

      test(`${speaker}: OPEN carries the configured AS, router id and capabilities`, () => {
        const open = mine.find((m) => m.type === "OPEN");
        expect(open).toBeDefined();
        expect(open!.version).toBe(4);
        expect(open!.asn).toBe(want.asn);
        expect(open!.myAs).toBe(want.myAs);
        expect(open!.routerId).toBe(want.routerId);
        if (want.holdTime !== undefined) expect(open!.holdTime).toBe(want.holdTime);
        const caps = open!.capabilities as Msg[];
        const names = caps.map((c) => c.name);
        for (const n of want.capabilities) expect(names).toContain(n);
        const mp = caps.filter((c) => c.code === 1).map((c) => c.family);
        expect(mp.sort()).toEqual([...want.multiprotocol].sort());
        const as4 = caps.find((c) => c.code === 65);
        if (want.capabilities.includes("4-octet-as")) expect(as4!.asn).toBe(want.asn);
        else expect(as4).toBeUndefined();
        const addPath = caps.filter((c) => c.code === 69).flatMap((c) => c.families as Msg[]);
        expect(Object.fromEntries(addPath.map((f) => [f.family, f.sendReceive]))).toEqual(want.addPath ?? {});
        if (want.gracefulRestartTime !== undefined) {
          expect(caps.find((c) => c.code === 64)!.restartTime).toBe(want.gracefulRestartTime);
        }
        if (want.capabilities.includes("fqdn")) {
          const fqdn = caps.find((c) => c.code === 73)!;
          expect(typeof fqdn.hostname).toBe("string");
          expect((fqdn.hostname as string).length).toBeGreaterThan(0);
        }
      });

      test(`${speaker}: announces exactly the configured routes with their attributes`, () => {
        const announced = new Set(updates.flatMap((u) => u.nlri as string[]));
        expect([...announced].sort()).toEqual([...new Set(want.routes.map((r) => r.prefix))].sort());
        for (const route of want.routes) {
          const carrying = updates.filter((u) => (u.nlri as string[]).includes(route.prefix));
          expect(carrying.length).toBeGreaterThan(0);
          for (const u of carrying) checkRoute(u, route);
        }
      });

      test(`${speaker}: path identifiers exactly where ADD-PATH was negotiated`, () => {
        for (const u of updates) {
          for (const [i, prefix] of (u.nlri as string[]).entries()) {
            const family = prefix.includes(":") ? "ipv6-unicast" : "ipv4-unicast";
            const want_ = typeof want.pathIds === "boolean" ? want.pathIds : want.pathIds[family];
            if (want_) expect(typeof u.pathIds?.[i]).toBe("number");
            else expect(u.pathIds).toBeUndefined();
          }
        }
      });

      test(`${speaker}: withdrawals`, () => {
        const withdrawn = new Set(updates.flatMap((u) => u.withdrawn as string[]));
        expect([...withdrawn].sort()).toEqual([...want.withdrawn].sort());
      });

      test(`${speaker}: route refresh requests`, () => {
        const rr = mine.filter((m) => m.type === "ROUTE-REFRESH").map((m) => ({ afi: m.afi, safi: m.safi }));
        expect(rr).toEqual(want.routeRefresh);
        for (const m of mine.filter((m) => m.type === "ROUTE-REFRESH")) expect(m.subtype).toBe(0);
      });

      test(`${speaker}: NOTIFICATION${want.notification?.communication ? " with shutdown communication" : ""}`, () => {
        const notes = mine.filter((m) => m.type === "NOTIFICATION");
        if (!want.notification) {
          expect(notes).toEqual([]);
          return;
        }
        expect(notes.length).toBe(1);
        expect(notes[0].code).toBe(want.notification.code);
        expect(notes[0].subcode).toBe(want.notification.subcode);
        expect(typeof notes[0].codeName).toBe("string");
        if (want.notification.communication !== undefined) {
          expect(notes[0].communication).toBe(want.notification.communication);
          expect(notes[0].subcodeName).toMatch(/shutdown/i);
        }
      });
    }
  });
}

function checkRoute(u: Msg, r: ExpectedRoute): void {
  const a = u.attributes as Msg;
  const where = `${r.prefix} in ${u.flow} at ${u.time}`;
  expect({ where, origin: a.origin }).toEqual({ where, origin: r.origin });
  expect({ where, asPath: flatAsns(a.asPath) }).toEqual({ where, asPath: r.asPath });
  for (const seg of a.asPath ?? []) expect(seg.type).toBe("AS_SEQUENCE");
  const nextHop = Array.isArray(a.nextHop) ? a.nextHop[0] : a.nextHop;
  expect({ where, nextHop }).toEqual({ where, nextHop: r.nextHop });
  expect({ where, med: a.med }).toEqual({ where, med: r.med });
  expect({ where, localPref: a.localPref }).toEqual({ where, localPref: r.localPref });
  expect({ where, communities: a.communities }).toEqual({ where, communities: r.communities });
  expect({ where, large: a.largeCommunities }).toEqual({ where, large: r.largeCommunities });
  expect({ where, ext: a.extendedCommunities }).toEqual({ where, ext: r.extendedCommunities });
  expect({ where, originatorId: a.originatorId }).toEqual({ where, originatorId: r.originatorId });
  expect({ where, clusterList: a.clusterList }).toEqual({ where, clusterList: r.clusterList });
  expect({ where, atomic: a.atomicAggregate }).toEqual({ where, atomic: r.atomicAggregate });
  expect({ where, aggregator: a.aggregator }).toEqual({ where, aggregator: r.aggregator });
  if (r.pathId !== undefined) {
    const i = (u.nlri as string[]).indexOf(r.prefix);
    expect({ where, pathId: u.pathIds?.[i] }).toEqual({ where, pathId: r.pathId });
  }
}
