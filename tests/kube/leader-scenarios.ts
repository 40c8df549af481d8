// Leader election scenarios shared by the LocalStore and KubeStore tests: two
// candidates on one Lease, with short lease durations so they run in seconds.
import { expect, test } from "bun:test";
import { LeaderElector, type Lease } from "../../host/kube/leader.ts";
import { StoreError, type Store } from "../../host/kube/store.ts";

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/** A view of `store` that fails every call while `crashed()` holds: a replica that stopped renewing. */
function crashable(store: Store, crashed: () => boolean): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => (crashed() ? Promise.reject(new StoreError("replica is down", 503)) : v.apply(target, args));
    },
  });
}

async function waitFor(pred: () => boolean, what: string, ms: number, check?: () => void): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    check?.();
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Candidate {
  elector: LeaderElector;
  log: string[];
}

function candidate(store: Store, identity: string, lease: { name: string; namespace: string }): Candidate {
  const log: string[] = [];
  const elector = new LeaderElector({
    store,
    lease,
    identity,
    // Margins for a loaded machine: the leader steps down ~1.2 s after its last renewal,
    // the follower takes over no earlier than 2 s after it last saw the lease change.
    leaseDurationSeconds: 2,
    renewDeadlineMs: 1000,
    retryPeriodMs: 200,
    onStartedLeading: () => void log.push("started"),
    onStoppedLeading: () => void log.push("stopped"),
  });
  return { elector, log };
}

export function runLeaderScenarios(getStore: () => Store): void {
  test("leader election: exactly one of two candidates leads; the other takes over when it stops renewing", async () => {
    const store = getStore();
    const lease = { name: `ctl-${process.pid}-a`, namespace: "kube-system" };
    let aDown = false;
    let bDown = false;
    const a = candidate(crashable(store, () => aDown), "replica-a", lease);
    const b = candidate(crashable(store, () => bDown), "replica-b", lease);
    const neverBoth = () => expect(a.elector.isLeader && b.elector.isLeader).toBe(false);
    try {
      a.elector.start();
      b.elector.start();
      await waitFor(() => a.elector.isLeader || b.elector.isLeader, "a leader", 5000, neverBoth);
      // Let a few renewals pass: the follower must keep following.
      const settle = Date.now() + 1500;
      await waitFor(() => Date.now() > settle, "renewals", 3000, neverBoth);
      const [leader, follower] = a.elector.isLeader ? [a, b] : [b, a];
      expect(leader.elector.isLeader).toBe(true);
      expect(follower.elector.isLeader).toBe(false);
      expect(follower.log).toEqual([]);
      const held = (await store.get<Lease>("Lease", lease))!;
      const leaderId = leader === a ? "replica-a" : "replica-b";
      expect(held.spec?.holderIdentity).toBe(leaderId);
      expect(follower.elector.leader).toBe(leaderId);
      expect(held.spec?.leaseDurationSeconds).toBe(2);
      expect(held.spec?.renewTime).toMatch(MICRO_TIME);
      expect(held.spec?.acquireTime).toMatch(MICRO_TIME);
      const transitions = held.spec?.leaseTransitions ?? 0;

      // The leader stops renewing (its API calls fail). It steps down by its renew deadline,
      // and the follower takes over once the lease has expired by the follower's clock.
      if (leader === a) aDown = true;
      else bDown = true;
      await waitFor(() => follower.elector.isLeader, "takeover", 8000, neverBoth);
      expect(leader.elector.isLeader).toBe(false);
      expect(leader.log).toEqual(["started", "stopped"]);
      expect(follower.log).toEqual(["started"]);
      const taken = (await store.get<Lease>("Lease", lease))!;
      expect(taken.spec?.holderIdentity).toBe(leader === a ? "replica-b" : "replica-a");
      expect(taken.spec?.leaseTransitions).toBe(transitions + 1);
    } finally {
      aDown = bDown = false;
      await a.elector.stop();
      await b.elector.stop();
    }
  });

  test("leader election: stop() releases the lease, a waiting candidate takes it, transitions count", async () => {
    const store = getStore();
    const lease = { name: `ctl-${process.pid}-b`, namespace: "kube-system" };
    const a = candidate(store, "replica-a", lease);
    a.elector.start();
    await waitFor(() => a.elector.isLeader, "a leads", 5000);
    const first = (await store.get<Lease>("Lease", lease))!;
    expect(first.spec?.leaseTransitions).toBe(0);
    const b = candidate(store, "replica-b", lease);
    b.elector.start();
    try {
      // The witness: b has read the Lease (its first acquire attempt is over) and found a there.
      await waitFor(() => b.elector.leader === "replica-a", "b sees a's lease", 5000);
      expect(b.elector.isLeader).toBe(false);
      await a.elector.stop();
      expect(a.log).toEqual(["started", "stopped"]);
      const released = (await store.get<Lease>("Lease", lease))!;
      // Either still released, or b already took it.
      expect(["", "replica-b"]).toContain(released.spec?.holderIdentity ?? "");
      await waitFor(() => b.elector.isLeader, "b takes the released lease", 5000);
      const second = (await store.get<Lease>("Lease", lease))!;
      expect(second.spec?.holderIdentity).toBe("replica-b");
      expect(second.spec?.leaseTransitions).toBe(1);
      // a comes back as a candidate: b's live lease is not stolen.
      const a2 = candidate(store, "replica-a", lease);
      a2.elector.start();
      await waitFor(() => a2.elector.leader === "replica-b", "a2 sees b's lease", 5000);
      expect(a2.elector.isLeader).toBe(false);
      expect(b.elector.isLeader).toBe(true);
      await a2.elector.stop();
      expect(a2.log).toEqual([]);
    } finally {
      await a.elector.stop();
      await b.elector.stop();
    }
  });
}
