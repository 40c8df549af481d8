// Restarts and failover never move or duplicate an address: 1,000 allocated Services keep
// theirs across a controller restart (and, on LocalStore, a reopen of the state file); two
// replicas share one Lease and only the leader allocates; duplicate claims found at start go
// to the older Service.
import { describe, expect, test } from "bun:test";
import { LeaderElector } from "../../host/kube/leader.ts";
import type { Store } from "../../host/kube/store.ts";
import type { Service } from "../../host/kube/types.ts";
import { backends } from "./controller-backends.ts";
import {
  type Backend,
  addressesOf,
  conditionReason,
  eventsFor,
  eventually,
  lbService,
  pool,
  startController,
} from "./controller-harness.ts";

async function allIngress(store: Store): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const s of await store.list<Service>("Service", { namespace: "test" })) {
    out.set(s.metadata.name, (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip!));
  }
  return out;
}

async function createMany(store: Store, names: string[], batch = 100): Promise<void> {
  for (let i = 0; i < names.length; i += batch) {
    await Promise.all(names.slice(i, i + batch).map((n) => store.create(lbService(n))));
  }
}

function expectDistinct(map: Map<string, string[]>): void {
  const all = [...map.values()].flat();
  expect(new Set(all).size).toBe(all.length);
}

function restartScenarios(backend: Backend) {
  describe(`restart and failover on ${backend.name}`, () => {
    test("a restarted controller keeps all 1,000 addresses and allocates around them", async () => {
      const { store, restart, close } = await backend.open();
      try {
        await store.create(pool("big", "198.18.0.0/20", { autoAssign: true }));
        const names = Array.from({ length: 1000 }, (_, i) => `svc-${i}`);
        let ctl = await startController(store);
        await createMany(store, names);
        const before = await eventually(async () => {
          const m = await allIngress(store);
          return [...m.values()].every((ips) => ips.length === 1) && m.size === 1000 ? m : undefined;
        }, "1,000 Services allocated", 60_000);
        expectDistinct(before);
        await ctl.stop();

        // Delete a few while no controller runs: their finalizer keeps them until it comes back.
        const doomed = names.slice(0, 5);
        for (const n of doomed) await store.delete("Service", { name: n, namespace: "test" });
        const freed = doomed.map((n) => before.get(n)![0]);
        const s2 = await restart();
        ctl = await startController(s2);
        expect(ctl.lastRecovery).toMatchObject({ services: 1000, addresses: 1000, conflicts: 0, dropped: 0 });
        await eventually(async () => {
          const m = await allIngress(s2);
          return m.size === 995;
        }, "deleted Services released and gone");
        await s2.create(lbService("newcomer"));
        const [fresh] = await addressesOf(s2, "newcomer");
        expect(freed).toContain(fresh);
        await ctl.idle();
        const after = await allIngress(s2);
        for (const [name, ips] of before) if (!doomed.includes(name)) expect(after.get(name)).toEqual(ips);
        expectDistinct(after);
        await ctl.stop();
      } finally {
        await close();
      }
    }, 120_000);

    test("duplicate claims at start: the older Service keeps the address, the newer gets another and is told", async () => {
      const { store, close } = await backend.open();
      try {
        await store.create(pool("dup", "192.0.2.0/28", { autoAssign: true }));
        // Statuses written by hand (as a broken predecessor might have left them); no controller runs yet.
        await store.create(lbService("older"));
        await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has one-second resolution
        await store.create(lbService("newer"));
        for (const name of ["older", "newer"]) {
          await store.patchStatus("Service", { name, namespace: "test" }, { loadBalancer: { ingress: [{ ip: "192.0.2.5" }] } });
        }
        const ctl = await startController(store);
        expect(ctl.lastRecovery).toMatchObject({ addresses: 1, conflicts: 1 });
        await ctl.idle();
        expect(await addressesOf(store, "older")).toEqual(["192.0.2.5"]);
        const [moved] = await addressesOf(store, "newer");
        expect(moved).not.toBe("192.0.2.5");
        await eventually(async () => (await eventsFor(store, "newer", "AddressConflict")).length > 0, "AddressConflict Event");
        await ctl.stop();
      } finally {
        await close();
      }
    });

    test("a new leader recovers from a fresh list, not from caches that lag behind the old leader", async () => {
      const { store, second, close } = await backend.open();
      const a = await startController(store);
      const b = await startController(await second(), { lead: false });
      try {
        await store.create(pool("lag", "198.51.100.0/24", { autoAssign: true }));
        // b's Service cache freezes before any Service exists.
        b.ctx.inf.services.stop();
        const names = Array.from({ length: 20 }, (_, i) => `lag-${i}`);
        await createMany(store, names, 20);
        const before = await eventually(async () => {
          const m = await allIngress(store);
          return m.size === 20 && [...m.values()].every((ips) => ips.length === 1) ? m : undefined;
        }, "20 allocated by the first leader");
        a.stopLeading();
        await a.drain();
        expect(b.ctx.inf.services.list()).toEqual([]);
        const report = await b.startLeading();
        expect(report).toMatchObject({ services: 20, addresses: 20, conflicts: 0 });
        for (const [name, ips] of before) expect(b.ctx.lb.held(`test/${name}`)?.map((h) => h.ip)).toEqual(ips);
      } finally {
        await a.stop();
        await b.stop();
        await close();
      }
    });

    test("two replicas with one Lease: only the leader allocates; failover continues without duplicates", async () => {
      const { store, second, close } = await backend.open();
      const storeB = await second();
      const lease = { name: "sart-controller", namespace: "kube-system" };
      const replicas = await Promise.all(
        ([["a", store], ["b", storeB]] as const).map(async ([id, s]) => {
          const ctl = await startController(s, { lead: false });
          const elector = new LeaderElector({
            store: s,
            lease,
            identity: `replica-${id}`,
            leaseDurationSeconds: 2,
            renewDeadlineMs: 1200,
            retryPeriodMs: 300,
            onStartedLeading: () => void ctl.startLeading(),
            onStoppedLeading: () => ctl.stopLeading(),
          });
          elector.start();
          return { id, ctl, elector };
        }),
      );
      try {
        await store.create(pool("ha", "203.0.113.0/24", { autoAssign: true }));
        const leader = await eventually(() => replicas.find((r) => r.ctl.isLeading), "a leader");
        expect(replicas.filter((r) => r.ctl.isLeading).length).toBe(1);
        const first = Array.from({ length: 50 }, (_, i) => `ha-${i}`);
        await createMany(store, first, 25);
        await eventually(async () => {
          const m = await allIngress(store);
          return m.size === 50 && [...m.values()].every((ips) => ips.length === 1);
        }, "50 allocated by the leader");
        // Only one replica ever held allocations.
        expect(replicas.filter((r) => [...r.ctl.ctx.lb.keys()].length > 0).map((r) => r.id)).toEqual([leader.id]);

        // As `sart controller` shuts down: stop reconciling, let the last writes land, release the Lease.
        leader.ctl.stopLeading();
        await leader.ctl.drain();
        await leader.elector.stop(); // the other replica takes over at once
        const follower = replicas.find((r) => r !== leader)!;
        await eventually(() => follower.ctl.isLeading, "failover");
        expect(leader.ctl.isLeading).toBe(false);
        expect(follower.ctl.lastRecovery).toMatchObject({ addresses: 50, conflicts: 0 });
        const more = Array.from({ length: 50 }, (_, i) => `ha-more-${i}`);
        await createMany(store, more, 25);
        const m = await eventually(async () => {
          const all = await allIngress(store);
          return all.size === 100 && [...all.values()].every((ips) => ips.length === 1) ? all : undefined;
        }, "100 allocated across the failover");
        expectDistinct(m);
        await conditionReason(store, "ha-more-49", "True", "Allocated");
      } finally {
        for (const r of replicas) {
          await r.elector.stop();
          await r.ctl.stop();
        }
        await close();
      }
    }, 60_000);
  });
}

for (const b of backends) restartScenarios(b);
