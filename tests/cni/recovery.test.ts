// Recovery from the host when the allocation log cannot tell: with the state dir lost
// (kill -9, log removed), the restarted server adopts every live pod from its host veth
// (alias and pod-table routes), so CHECK still passes and no ADD gets its address; a veth
// with our alias but no route (an ADD cut short) is removed. And a BlockRequest nobody answers
// ends in "try again later" within the call's timeout.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { CniNode, Pods, runCni } from "./harness.ts";

let node: CniNode;
const pods = new Pods();

beforeAll(async () => {
  node = await CniNode.create({ ipv4: "192.0.2.1", pools: [{ name: "rec4", cidr: "198.51.100.0/24", blockSize: 28, autoAssign: true }] });
}, 60_000);

afterAll(async () => {
  await pods.destroy();
  await node?.destroy();
});

test("a lost allocation log: live pods are adopted from their host veths; a half-made veth goes", async () => {
  const held: { id: string; address: string; result: Record<string, unknown>; netns: string }[] = [];
  for (let i = 0; i < 3; i++) {
    const pod = await pods.create();
    const id = `rec${process.pid}-${i}`;
    const r = await node.call("ADD", { containerId: id, netns: pod.path, ifname: "eth0" });
    if (!("result" in r) || !r.result) throw new Error(JSON.stringify(r));
    held.push({ id, address: (r.result.ips as { address: string }[])[0]!.address, result: r.result, netns: pod.path });
  }
  // An ADD cut short before its host side: our alias, no route in the pod table.
  const stray = await pods.create();
  await stray.ip("link", "add", "eth0", "type", "veth", "peer", "name", "vethdeadbeef", "netns", node.ns.path);
  await node.ns.ip("link", "set", "vethdeadbeef", "alias", "SART:rec4:stray:eth0");

  await node.kill9();
  rmSync(join(node.stateDir, "cni-allocations.log"));
  await node.start();

  expect(await node.total('sart_cni_recovered_attachments{source="host"}')).toBe(3);
  expect((await node.sartVeths()).map((l) => l.ifname)).not.toContain("vethdeadbeef");
  expect(await node.total("sart_cni_stale_veths_removed")).toBe(1);
  for (const h of held) {
    expect(await node.call("CHECK", { containerId: h.id, netns: h.netns, ifname: "eth0" }, node.config("1.0.0", { prevResult: h.result }))).toEqual({});
  }
  // New pods get other addresses; the adopted ones are released by their DEL.
  const fresh = await pods.create();
  const r = await node.call("ADD", { containerId: `rec${process.pid}-new`, netns: fresh.path, ifname: "eth0" });
  const address = ((r as { result: { ips: { address: string }[] } }).result.ips)[0]!.address;
  expect(held.map((h) => h.address)).not.toContain(address);
  for (const h of held) expect(await node.call("DEL", { containerId: h.id, ifname: "eth0" })).toEqual({});
  expect(await node.total("sart_cni_attachments")).toBe(1);
  expect(await node.total("sart_cni_block_addresses_allocated")).toBe(1);
}, 60_000);

test("no controller: the ADD gives up within its timeout with 11 naming the BlockRequest; the next ADD does not ask again", async () => {
  const lonely = await CniNode.create({ ipv4: "192.0.2.1", kube: true, noController: true, pools: [{ name: "lonely4", cidr: "198.51.100.0/24", blockSize: 28, autoAssign: true }] });
  try {
    const pod = await pods.create();
    // The test's bound (10 s) is what a hang would break; the config asks for 2 s.
    for (let i = 0; i < 2; i++) {
      const out = await runCni({ command: "ADD", containerId: `lonely${process.pid}-${i}`, netns: pod.path, ifname: "eth0", config: lonely.config("1.0.0", { timeout: 2 }) }, 10_000);
      expect(out.json).toMatchObject({ code: 11, details: expect.stringMatching(/no AddressBlock of pool lonely4 arrived for BlockRequest lonely4-\S+ in time; is the controller running\?/) });
    }
    // One request waits for the controller (which deletes it once it answers); the agent leaves it be.
    const requests = (JSON.parse(await lonely.kubectl(["get", "blockrequests", "-o", "json"])) as { items: unknown[] }).items;
    expect(requests.map((r: { spec: unknown }) => r.spec)).toEqual([{ pool: "lonely4", node: lonely.nodeName }]);
    expect(await lonely.total("sart_cni_block_requests_total")).toBe(1);
    expect(await lonely.total("sart_cni_attachments")).toBe(0);
  } finally {
    await lonely.destroy();
  }
}, 60_000);
