// kill -9 of the CNI server at seeded random moments during 100 ADDs and DELs, repeated.
// The test plays the runtime: a call that fails (the agent died under it) is followed by DEL
// until it succeeds, as the spec asks. After every restart, before anything else, each
// container whose ADD succeeded still holds its address (CHECK with its result passes);
// live containers never share an address; the agent holds exactly what the live containers
// hold; at the end, with every container deleted, nothing is held, no veth is left and the
// blocks go back to the pool. SART_CNI_CRASH_SEED reproduces a run.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mulberry32 } from "../codec/bytes.ts";
import type { Netns } from "../helpers/netns.ts";
import { sleep, waitFor } from "../helpers/net.ts";
import { CniNode, Pods } from "./harness.ts";

const SLOTS = 40;
const OPS = 100;
const REPEATS = 5;
const WORKERS = 8;
const seed = Number(process.env.SART_CNI_CRASH_SEED ?? Date.now() % 1_000_000);

type Slot = { netns: Netns; busy: boolean; live?: { id: string; address: string; result: Record<string, unknown> }; unknown?: string };

let node: CniNode;
const pods = new Pods();
const slots: Slot[] = [];
let serial = 0;

beforeAll(async () => {
  node = await CniNode.create({ ipv4: "192.0.2.1", releaseDelayMs: 300, pools: [{ name: "crash4", cidr: "198.51.100.0/24", blockSize: 28, autoAssign: true }] });
  for (let i = 0; i < SLOTS; i++) slots.push({ netns: await pods.create("cnik"), busy: false });
}, 120_000);

afterAll(async () => {
  await pods.destroy();
  await node?.destroy();
});

/** One runtime call on a slot: ADD when it is empty, DEL when it has a container. */
async function operate(slot: Slot): Promise<void> {
  slot.busy = true;
  try {
    if (!slot.live) {
      const id = `k${process.pid}-${++serial}`;
      slot.unknown = id; // until the answer says otherwise, the runtime must clean up
      const r = await node.call("ADD", { containerId: id, netns: slot.netns.path, ifname: "eth0" });
      if ("result" in r && r.result) {
        slot.live = { id, address: (r.result.ips as { address: string }[])[0]!.address, result: r.result };
        slot.unknown = undefined;
      } else if ("error" in r) {
        throw new Error(`ADD ${id} failed while the agent was up: ${JSON.stringify(r.error)}`);
      }
    } else {
      const id = slot.live.id;
      slot.unknown = id;
      slot.live = undefined;
      const r = await node.call("DEL", { containerId: id, ifname: "eth0" });
      if ("error" in r) throw new Error(`DEL ${id}: ${JSON.stringify(r.error)}`);
      slot.unknown = undefined;
    }
  } finally {
    slot.busy = false;
  }
}

/** Runs `count` operations on random free slots, `WORKERS` at a time; stops early once `halt()` is true. */
async function workload(rng: () => number, count: number, halt: () => boolean, progress = { done: 0 }): Promise<{ done: number; failed: number }> {
  let started = 0;
  let failed = 0;
  const worker = async () => {
    while (started < count && !halt()) {
      const free = slots.filter((s) => !s.busy);
      if (!free.length) {
        await sleep(1);
        continue;
      }
      started++;
      try {
        await operate(free[Math.floor(rng() * free.length)]!);
      } catch (e) {
        if (!halt()) throw e; // a failure is only expected once the agent is dead
        failed++;
      }
      progress.done++;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return { done: progress.done, failed };
}

/**
 * Live containers hold distinct addresses and still pass CHECK. The agent holds exactly the
 * live ones, plus, before the runtime's clean-up, possibly those whose call failed.
 */
async function verifyHoldings(context: string): Promise<void> {
  const live = slots.filter((s) => s.live);
  const addresses = live.map((s) => s.live!.address);
  expect(new Set(addresses).size, `${context}: duplicate addresses among live containers`).toBe(addresses.length);
  for (const s of live) {
    const r = await node.call("CHECK", { containerId: s.live!.id, netns: s.netns.path, ifname: "eth0" }, node.config("1.0.0", { prevResult: s.live!.result }));
    expect(r, `${context}: CHECK ${s.live!.id} (${s.live!.address})`).toEqual({});
  }
  const pending = slots.filter((s) => s.unknown).length;
  for (const [what, held] of [
    ["attachments held", await node.total("sart_cni_attachments")],
    ["addresses allocated", await node.total("sart_cni_block_addresses_allocated")],
  ] as const) {
    expect(held, `${context}: ${what}`).toBeGreaterThanOrEqual(live.length);
    expect(held, `${context}: ${what}`).toBeLessThanOrEqual(live.length + pending);
  }
  const veths = (await node.sartVeths()).length;
  expect(veths, `${context}: SART veths`).toBeGreaterThanOrEqual(live.length);
  expect(veths, `${context}: SART veths`).toBeLessThanOrEqual(live.length + pending);
}

test(`kill -9 at seeded random moments during ${OPS} ADDs and DELs, ${REPEATS} times (seed ${seed})`, async () => {
  const rng = mulberry32(seed);
  for (let rep = 0; rep < REPEATS; rep++) {
    const context = `seed ${seed} repeat ${rep}`;
    // The moment: after a random number of finished calls, plus up to 10 ms into the calls in flight.
    const killAfter = 5 + Math.floor(rng() * (OPS - 30));
    let killed = false;
    const progress = { done: 0 };
    const delay = rng() * 10;
    const killer = (async () => {
      await waitFor(`${killAfter} calls`, () => progress.done >= killAfter, 60_000, 1);
      await sleep(delay);
      killed = true;
      await node.kill9();
    })();
    const first = await workload(rng, OPS, () => killed, progress);
    await killer;
    const pendingAtKill = slots.filter((x) => x.unknown).length;
    // Restart; before the runtime's clean-up every live container must still be held.
    await node.start();
    await verifyHoldings(`${context}, after restart (killed after ${killAfter} calls)`);
    // The runtime cleans up every call that failed: DEL until it succeeds.
    for (const s of slots.filter((x) => x.unknown)) {
      const r = await node.call("DEL", { containerId: s.unknown!, ifname: "eth0" });
      expect(r, `${context}: clean-up DEL ${s.unknown}`).toEqual({});
      s.unknown = undefined;
    }
    expect(slots.filter((x) => x.unknown).length).toBe(0);
    const rest = await workload(rng, OPS - first.done, () => false);
    expect(rest.failed).toBe(0);
    await verifyHoldings(`${context}, end of repeat`);
    console.log(`${context}: killed after ${killAfter} calls, ${first.failed} calls failed, ${pendingAtKill} left for DEL, ${slots.filter((x) => x.live).length} live`);
    expect(pendingAtKill).toBeGreaterThan(0); // the kill landed while calls were in flight
  }
  for (const s of slots.filter((x) => x.live)) await operate(s);
  await verifyHoldings(`seed ${seed}, all deleted`);
  await waitFor("every emptied block to go back to the pool", async () => (await node.total("sart_cni_block_addresses")) === 0, 20_000);
}, 300_000);
