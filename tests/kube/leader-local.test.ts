// Lease-based leader election on the LocalStore: two candidates, one Lease.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LeaderElector } from "../../host/kube/leader.ts";
import { LocalStore } from "../../host/kube/local-store.ts";
import { StoreError, type Store } from "../../host/kube/store.ts";
import { runLeaderScenarios } from "./leader-scenarios.ts";

let dir: string;
let store: LocalStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sart-leader-"));
  store = await LocalStore.open({ dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

runLeaderScenarios(() => store);

test("a store that fails every call makes the leader step down after the renew deadline", async () => {
  let broken = false;
  const flaky = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (broken) return Promise.reject(new StoreError("connection refused", 503));
        return v.apply(target, args);
      };
    },
  }) as Store;
  const events: string[] = [];
  const a = new LeaderElector({
    store: flaky,
    lease: { name: "ctl" },
    identity: "a",
    leaseDurationSeconds: 2,
    renewDeadlineMs: 500,
    retryPeriodMs: 100,
    onStartedLeading: () => void events.push("started"),
    onStoppedLeading: () => void events.push("stopped"),
  });
  a.start();
  for (let i = 0; i < 100 && !a.isLeader; i++) await new Promise((r) => setTimeout(r, 20));
  expect(a.isLeader).toBe(true);
  broken = true;
  for (let i = 0; i < 100 && a.isLeader; i++) await new Promise((r) => setTimeout(r, 20));
  expect(a.isLeader).toBe(false);
  expect(events).toEqual(["started", "stopped"]);
  await a.stop();
});
