// AddressPools and BlockRequests: a service pool's single block, one auto-assign pool per
// type and family, deletion refused while allocations remain, overlapping pools rejected,
// pod blocks `{pool}-{n}` on BlockRequest with blockSize stride and no index reused while
// allocated (also across a restart).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Controller } from "../../host/kube/controller/controller.ts";
import type { Store } from "../../host/kube/store.ts";
import type { AddressBlock, AddressPool, BlockRequest } from "../../host/kube/types.ts";
import { API_VERSION } from "../../host/kube/types.ts";
import { backends } from "./controller-backends.ts";
import { type Backend, addressesOf, eventsFor, eventually, lbService, pool, startController } from "./controller-harness.ts";

const poolCondition = async (store: Store, name: string, type: string) =>
  (await store.get<AddressPool>("AddressPool", { name }))?.status?.conditions?.find((c) => c.type === type);

const waitPoolCondition = (store: Store, name: string, type: string, status: string, reason?: string) =>
  eventually(async () => {
    const c = await poolCondition(store, name, type);
    return c && c.status === status && (!reason || c.reason === reason) ? c : undefined;
  }, `${type}=${status} on pool ${name}`);

const blockRequest = (name: string, poolName: string, node: string): BlockRequest => ({
  apiVersion: API_VERSION,
  kind: "BlockRequest",
  metadata: { name },
  spec: { pool: poolName, node },
});

const podBlocks = async (store: Store, poolName: string) =>
  (await store.list<AddressBlock>("AddressBlock", {})).filter((b) => b.spec.poolRef === poolName && b.spec.type === "pod");

function poolScenarios(backend: Backend) {
  describe(`AddressPool and BlockRequest on ${backend.name}`, () => {
    let store: Store;
    let restart: () => Promise<Store>;
    let close: () => Promise<void>;
    let ctl: Controller;

    beforeEach(async () => {
      ({ store, restart, close } = await backend.open());
      ctl = await startController(store);
    });
    afterEach(async () => {
      await ctl.stop();
      await close();
    });

    test("a service pool gets one AddressBlock equal to its CIDR, named after it", async () => {
      await store.create(pool("lb", "198.51.100.0/24", { autoAssign: true }));
      const block = await eventually(() => store.get<AddressBlock>("AddressBlock", { name: "lb" }), "block lb");
      expect(block.spec).toMatchObject({ cidr: "198.51.100.0/24", type: "service", poolRef: "lb", autoAssign: true });
      await waitPoolCondition(store, "lb", "Ready", "True");
      const p = await store.get<AddressPool>("AddressPool", { name: "lb" });
      expect(p?.metadata.finalizers).toContain("addresspool.sart.terassyi.net/finalizer");
    });

    test("at most one auto-assign pool per type and family: the second gets a condition and is not used", async () => {
      await store.create(pool("first", "198.51.100.0/24", { autoAssign: true }));
      await waitPoolCondition(store, "first", "AutoAssign", "True");
      await new Promise((r) => setTimeout(r, 1100)); // a later creationTimestamp
      await store.create(pool("second", "203.0.113.0/24", { autoAssign: true }));
      await store.create(pool("v6", "2001:db8:5::/120", { autoAssign: true }));
      const c = await waitPoolCondition(store, "second", "AutoAssign", "False", "AutoAssignConflict");
      expect(c.message).toContain("first");
      await waitPoolCondition(store, "v6", "AutoAssign", "True");
      await eventually(async () => (await eventsFor(store, "second", "AutoAssignConflict")).length > 0, "AutoAssignConflict Event");
      await store.create(lbService("auto"));
      expect(await addressesOf(store, "auto")).toEqual(["198.51.100.0"]);
    });

    test("deleting a pool with allocations is refused (finalizer + condition) until they are released", async () => {
      await store.create(pool("busy", "198.51.100.0/24", { autoAssign: true }));
      await store.create(lbService("user"));
      await addressesOf(store, "user");
      await store.delete("AddressPool", { name: "busy" });
      const c = await waitPoolCondition(store, "busy", "Ready", "False", "PoolInUse");
      expect(c.message).toContain("test/user");
      await eventually(async () => (await eventsFor(store, "busy", "PoolInUse")).length > 0, "PoolInUse Event");
      expect(await store.get("AddressPool", { name: "busy" })).toBeDefined();
      // A pool being deleted hands out nothing new.
      await store.create(lbService("late", { annotations: { "sart.terassyi.net/addresspool": "busy" } }));
      await eventually(async () => {
        const s = await store.get<{ status?: { conditions?: { reason?: string }[] } } & AddressPool>("Service", { name: "late", namespace: "test" });
        return s?.status?.conditions?.some((x) => x.reason === "NoPool");
      }, "NoPool on a Service naming a pool being deleted");
      await store.delete("Service", { name: "user", namespace: "test" });
      await store.delete("Service", { name: "late", namespace: "test" });
      await eventually(async () => !(await store.get("AddressPool", { name: "busy" })), "pool deleted once released", 40_000);
      await eventually(async () => !(await store.get("AddressBlock", { name: "busy" })), "its block deleted");
    }, 60_000);

    test("a pool overlapping an older one is rejected", async () => {
      await store.create(pool("wide", "198.51.100.0/24"));
      await waitPoolCondition(store, "wide", "Ready", "True");
      await new Promise((r) => setTimeout(r, 1100));
      await store.create(pool("narrow", "198.51.100.128/25"));
      const c = await waitPoolCondition(store, "narrow", "Ready", "False", "InvalidPool");
      expect(c.message).toContain("wide");
    });

    test("pod blocks on BlockRequest: {pool}-{n}, blockSize stride, node label, index never reused while allocated", async () => {
      await store.create(pool("pods", "198.51.100.0/24", { type: "pod", blockSize: 29 }));
      await waitPoolCondition(store, "pods", "Ready", "True");
      const want = [
        ["pods-0", "198.51.100.0/29", "node-a"],
        ["pods-1", "198.51.100.8/29", "node-a"],
        ["pods-2", "198.51.100.16/29", "node-b"],
      ];
      for (const [i, [, , node]] of want.entries()) {
        await store.create(blockRequest(`req-${i}`, "pods", node));
        await eventually(async () => (await podBlocks(store, "pods")).length === i + 1, `block ${i}`);
      }
      const blocks = await podBlocks(store, "pods");
      for (const [name, cidr, node] of want) {
        const b = blocks.find((x) => x.metadata.name === name)!;
        expect(b.spec).toMatchObject({ cidr, type: "pod", poolRef: "pods", nodeRef: node });
        expect(b.metadata.labels?.["addressblock.sart.terassyi.net/node"]).toBe(node);
        await eventually(async () => (await store.get<AddressBlock>("AddressBlock", { name }))?.status?.index === Number(name.slice(5)), `status.index of ${name}`);
      }
      await eventually(async () => (await store.list("BlockRequest", {})).length === 0, "answered requests deleted");
      // No pod pool has a service block.
      expect(await store.get("AddressBlock", { name: "pods" })).toBeUndefined();

      // Free index 1; restart; the next two requests get 1 (free) and 3 (after the highest), never 0 or 2.
      await store.delete("AddressBlock", { name: "pods-1" });
      await eventually(async () => (await podBlocks(store, "pods")).length === 2, "pods-1 gone");
      await ctl.stop();
      store = await restart();
      ctl = await startController(store);
      expect(ctl.lastRecovery?.podBlocks).toBe(2);
      await store.create(blockRequest("req-3", "pods", "node-c"));
      await eventually(async () => (await podBlocks(store, "pods")).length === 3, "block after restart");
      await store.create(blockRequest("req-4", "pods", "node-c"));
      const names = await eventually(async () => {
        const b = await podBlocks(store, "pods");
        return b.length === 4 ? b.map((x) => x.metadata.name).sort() : undefined;
      }, "second block after restart");
      expect(names).toEqual(["pods-0", "pods-1", "pods-2", "pods-3"]);
      const b3 = await store.get<AddressBlock>("AddressBlock", { name: "pods-3" });
      expect(b3?.spec.cidr).toBe("198.51.100.24/29");
    });

    test("BlockRequest problems: a service pool, a missing pool, an exhausted pool", async () => {
      await store.create(pool("svcpool", "198.51.100.0/24"));
      await store.create(pool("small", "203.0.113.0/30", { type: "pod", blockSize: 31 }));
      await waitPoolCondition(store, "small", "Ready", "True");
      await waitPoolCondition(store, "svcpool", "Ready", "True");
      await store.create(blockRequest("wrong-type", "svcpool", "node-a"));
      await store.create(blockRequest("missing", "no-such-pool", "node-a"));
      await eventually(async () => (await eventsFor(store, "wrong-type", "InvalidPool")).length > 0, "InvalidPool Event");
      await eventually(async () => (await eventsFor(store, "missing", "NoPool")).length > 0, "NoPool Event");
      for (const n of ["a", "b", "c"]) await store.create(blockRequest(`small-${n}`, "small", `node-${n}`));
      await eventually(async () => (await podBlocks(store, "small")).length === 2, "two blocks");
      const leftover = await eventually(async () => {
        const left = await store.list<BlockRequest>("BlockRequest", {});
        const r = left.filter((x) => x.spec.pool === "small");
        return r.length === 1 ? r[0] : undefined;
      }, "one request left waiting");
      await eventually(async () => (await eventsFor(store, leftover.metadata.name, "PoolExhausted")).length > 0, "PoolExhausted Event");
      // A block released: the waiting request gets it.
      await store.delete("AddressBlock", { name: "small-0" });
      await eventually(async () => (await store.list("BlockRequest", {})).filter((x) => (x as BlockRequest).spec.pool === "small").length === 0, "waiting request answered");
      const b = await eventually(() => store.get<AddressBlock>("AddressBlock", { name: "small-0" }), "small-0 again");
      expect(b.spec.nodeRef).toBe(leftover.spec.node);
    });
  });
}

for (const b of backends) poolScenarios(b);
