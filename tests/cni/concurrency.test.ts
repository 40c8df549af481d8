// 100 ADDs at once on one node: 100 distinct addresses, blocks requested as the pool's
// blocks fill (several BlockRequests answered while ADDs wait), every pod plumbed; then 100
// DELs at once free everything, and the emptied blocks go back to the pool after the delay.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Netns } from "../helpers/netns.ts";
import { waitFor } from "../helpers/net.ts";
import { CniNode, Pods } from "./harness.ts";

const N = 100;
let node: CniNode;
const pods = new Pods();
const netns: Netns[] = [];

beforeAll(async () => {
  node = await CniNode.create({ ipv4: "192.0.2.1", releaseDelayMs: 500, pools: [{ name: "conc4", cidr: "198.51.100.0/24", blockSize: 28, autoAssign: true }] });
  for (let i = 0; i < N; i++) netns.push(await pods.create("cnic"));
}, 120_000);

afterAll(async () => {
  await pods.destroy();
  await node?.destroy();
});

test(`${N} concurrent ADDs get ${N} distinct addresses; ${N} concurrent DELs free them and the blocks`, async () => {
  const ids = netns.map((_, i) => `conc${process.pid}-${i}`);
  const added = await Promise.all(ids.map((id, i) => node.call("ADD", { containerId: id, netns: netns[i]!.path, ifname: "eth0" }))).catch((e) => {
    throw new Error(`${(e as Error).message}\nagent log:\n${node.daemon!.tail(40)}`);
  });
  const addresses = added.map((r, i) => {
    if (!("result" in r) || !r.result) throw new Error(`ADD ${ids[i]}: ${JSON.stringify(r)}`);
    return (r.result.ips as { address: string }[])[0]!.address;
  });
  expect(new Set(addresses).size).toBe(N);
  for (const a of addresses) expect(a).toMatch(/^198\.51\.100\.\d+\/32$/);
  // 16 addresses per /28: seven blocks, each asked for once the previous ones were full.
  expect(await node.total("sart_cni_block_requests_total")).toBe(7);
  expect(await node.total("sart_cni_block_addresses_allocated")).toBe(N);
  expect((await node.sartVeths()).length).toBe(N);
  // Each pod has exactly its own address.
  const inside = await Promise.all(netns.map((ns) => ns.ip("-4", "-o", "addr", "show", "dev", "eth0")));
  inside.forEach((text, i) => expect(text).toContain(`inet ${addresses[i]}`));

  const deleted = await Promise.all(ids.map((id) => node.call("DEL", { containerId: id, ifname: "eth0" })));
  for (const d of deleted) expect(d).toEqual({});
  expect(await node.total("sart_cni_attachments")).toBe(0);
  expect(await node.total("sart_cni_block_addresses_allocated")).toBe(0);
  expect((await node.sartVeths()).length).toBe(0);
  await waitFor("the seven empty blocks to go back to the pool", async () => (await node.total("sart_cni_blocks_released_total")) === 7, 20_000);
  expect(await node.total("sart_cni_block_addresses")).toBe(0);
}, 120_000);
