// ADD, CHECK, DEL, GC and STATUS through the real sart-cni binary against a CNI server in a
// node namespace, pods in their own namespaces: every supported version's result validated
// against the spec's shape, the pod's network as the kernel shows it, dual-stack from the
// auto-assign pools, pool choice from the config and CNI_ARGS, requested addresses, MTU,
// and every error a user can cause, with its code and a message naming what is wrong.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Netns } from "../helpers/netns.ts";
import { CniNode, Pods, runCni, type CniOutcome } from "./harness.ts";
import { errorProblems, resultProblems } from "./result-shape.ts";

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
let node: CniNode;
const pods = new Pods();
let seq = 0;
const cid = () => `lc${process.pid}x${++seq}`;

beforeAll(async () => {
  // Kubernetes mode: the Node's InternalIPs (both families) are the pods' gateways.
  node = await CniNode.create({
    kube: true,
    ipv4: "192.0.2.1",
    ipv6: "2001:db8:ff::1",
    pools: [
      { name: "pods4", cidr: "198.51.100.0/24", blockSize: 28, autoAssign: true },
      { name: "pods6", cidr: "2001:db8:1::/112", blockSize: 124, autoAssign: true },
      { name: "other4", cidr: "203.0.113.0/27", blockSize: 29 },
    ],
  });
}, 60_000);

afterAll(async () => {
  await pods.destroy();
  await node?.destroy();
});

function ok(out: CniOutcome): Record<string, unknown> {
  if (out.exitCode !== 0) throw new Error(`sart-cni failed: ${out.stdout} ${out.stderr}`);
  return out.json ?? {};
}

const ipsOf = (r: Record<string, unknown>) => (r.ips as { address: string }[]).map((i) => i.address.replace(/\/\d+$/, ""));

async function addrsIn(ns: Netns, ifname: string): Promise<string[]> {
  const links = JSON.parse(await ns.ip("-j", "addr", "show", "dev", ifname)) as { addr_info: { local: string; scope: string }[] }[];
  return links[0]!.addr_info.filter((a) => a.scope === "global").map((a) => a.local);
}

describe("every supported version", () => {
  for (const version of VERSIONS) {
    test(`${version}: ADD gives a dual-stack pod its network, ${version >= "0.4.0" ? "CHECK passes, " : ""}DEL removes it`, async () => {
      const pod = await pods.create();
      const id = cid();
      const call = { containerId: id, netns: pod.path, ifname: "eth0", config: node.config(version) };
      const result = ok(await runCni({ command: "ADD", ...call }));
      expect(resultProblems(version, result)).toEqual([]);
      const [v4, v6] = ipsOf(result);
      expect(v4).toMatch(/^198\.51\.100\.\d+$/);
      expect(v6).toMatch(/^2001:db8:1::[0-9a-f]*$/);
      const host = (result.interfaces as { name: string; sandbox?: string }[])[0]!;
      expect(host.name).toMatch(/^veth[0-9a-f]{8}$/);
      expect(host.sandbox).toBeUndefined();
      expect((result.interfaces as { sandbox?: string }[])[1]!.sandbox).toBe(pod.path);

      // The kernel's view: addresses and routes in the pod, alias and pod-table routes on the node.
      expect((await addrsIn(pod, "eth0")).sort()).toEqual([v4!, v6!].sort());
      expect(await pod.ip("route", "show")).toContain("default via 192.0.2.1 dev eth0");
      expect(await pod.ip("-6", "route", "show", "default")).toContain("via 2001:db8:ff::1 dev eth0");
      expect((await node.sartVeths()).find((l) => l.ifname === host.name)?.ifalias).toBe(`SART:pods4,pods6:${id}:eth0`);
      expect(await node.ns.ip("route", "show", "table", "120")).toContain(`${v4} dev ${host.name}`);
      expect(await node.ns.ip("-6", "route", "show", "table", "120")).toContain(`${v6} dev ${host.name}`);
      await pod.exec("busybox", ["ping", "-c1", "-W2", "192.0.2.1"]);
      await node.ns.exec("busybox", ["ping6", "-c1", "-W2", v6!]);

      if (version >= "0.4.0") {
        ok(await runCni({ command: "CHECK", ...call, config: node.config(version, { prevResult: result }) }));
      }
      ok(await runCni({ command: "DEL", ...call, config: node.config(version, { prevResult: result }) }));
      expect((await node.sartVeths()).map((l) => l.ifname)).not.toContain(host.name);
      expect(await node.ns.ip("route", "show", "table", "120")).not.toContain(`${v4} `);
      // DEL again (the spec allows repeats) succeeds, and the address is free for the next pod.
      ok(await runCni({ command: "DEL", ...call }));
      const again = ok(await runCni({ command: "ADD", ...call, containerId: cid() }));
      expect(ipsOf(again)[0]).toBe(v4);
      ok(await runCni({ command: "DEL", ...call, containerId: `lc${process.pid}x${seq}` }));
    }, 60_000);
  }

  for (const runtime of ["node", "compiled"] as const) {
    test(`the same ADD and DEL ${runtime === "node" ? "under Node (SART_RUNTIME=node)" : "with the compiled executable"}`, async () => {
      const pod = await pods.create();
      const call = { containerId: cid(), netns: pod.path, ifname: "eth0", config: node.config("1.0.0") };
      const result = ok(await runCni({ command: "ADD", ...call }, 30_000, runtime));
      expect(resultProblems("1.0.0", result)).toEqual([]);
      ok(await runCni({ command: "DEL", ...call }, 30_000, runtime));
    }, 60_000);
  }
});

describe("pods on one node", () => {
  test("reach each other over IPv4 and IPv6", async () => {
    const [a, b] = [await pods.create(), await pods.create()];
    const ra = ok(await runCni({ command: "ADD", containerId: cid(), netns: a.path, ifname: "eth0", config: node.config() }));
    const rb = ok(await runCni({ command: "ADD", containerId: cid(), netns: b.path, ifname: "eth0", config: node.config() }));
    const [b4, b6] = ipsOf(rb);
    await a.exec("busybox", ["ping", "-c1", "-W2", b4!]);
    await a.exec("busybox", ["ping6", "-c1", "-W2", b6!]);
    expect(ipsOf(ra)[0]).not.toBe(b4);
  }, 60_000);
});

describe("what the config and CNI_ARGS ask", () => {
  test("args.cni.pool and SART_POOL name the pool; only its family is given", async () => {
    const pod = await pods.create();
    const byConfig = ok(await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", config: node.config("1.0.0", { args: { cni: { pool: "other4" } } }) }));
    expect(ipsOf(byConfig)).toEqual([expect.stringMatching(/^203\.0\.113\./)]);
    const pod2 = await pods.create();
    const byArgs = ok(await runCni({ command: "ADD", containerId: cid(), netns: pod2.path, ifname: "eth0", args: "IgnoreUnknown=1;K8S_POD_NAME=x;SART_POOL=other4", config: node.config() }));
    expect(ipsOf(byArgs)).toEqual([expect.stringMatching(/^203\.0\.113\./)]);
    expect(ipsOf(byArgs)[0]).not.toBe(ipsOf(byConfig)[0]);
  }, 60_000);

  test("a requested address (ips capability, IP=) is given; a second claim is 102 naming the holder", async () => {
    const first = await pods.create();
    const id1 = cid();
    const r1 = ok(await runCni({ command: "ADD", containerId: id1, netns: first.path, ifname: "eth0", config: node.config("1.0.0", { runtimeConfig: { ips: ["198.51.100.13/24"] } }) }));
    expect(ipsOf(r1)[0]).toBe("198.51.100.13");
    expect(ipsOf(r1)[1]).toMatch(/^2001:db8:1::/); // the other family still comes from its auto-assign pool
    const second = await pods.create();
    const clash = await runCni({ command: "ADD", containerId: cid(), netns: second.path, ifname: "eth0", args: "IgnoreUnknown=1;IP=198.51.100.13", config: node.config() });
    expect(clash.exitCode).toBe(1);
    expect(errorProblems("1.0.0", clash.json)).toEqual([]);
    expect(clash.json).toMatchObject({ code: 102, details: expect.stringContaining(`198.51.100.13 of pool pods4 is held by ${id1}/eth0`) });
    const r2 = ok(await runCni({ command: "ADD", containerId: cid(), netns: second.path, ifname: "eth0", args: "IP=198.51.100.14", config: node.config() }));
    expect(ipsOf(r2)[0]).toBe("198.51.100.14");
  }, 60_000);

  test("an address outside this node's blocks is 103; outside every pod pool too", async () => {
    const pod = await pods.create();
    const far = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", args: "IP=198.51.100.200", config: node.config() });
    expect(far.json).toMatchObject({ code: 103, details: expect.stringContaining("198.51.100.200 is not in an AddressBlock of pool pods4") });
    const none = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", args: "IP=192.0.2.77", config: node.config() });
    expect(none.json).toMatchObject({ code: 103, details: expect.stringContaining("192.0.2.77 is in no pod AddressPool") });
    const bad = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", args: "IP=300.1.1.1", config: node.config() });
    expect(bad.json).toMatchObject({ code: 7, details: expect.stringContaining("'300.1.1.1' is not an IPv4 or IPv6 address") });
  }, 60_000);

  test("mtu from the config on both ends of the veth", async () => {
    const pod = await pods.create();
    const r = ok(await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "net1", config: node.config("1.1.0", { mtu: 1400 }) }));
    const host = (r.interfaces as { name: string; mtu?: number }[])[0]!;
    expect(host.mtu).toBe(1400);
    expect(await pod.ip("link", "show", "net1")).toContain("mtu 1400");
    expect(await node.ns.ip("link", "show", host.name)).toContain("mtu 1400");
  }, 60_000);

  test("unknown pool 101, bad mtu 7, ipam section 2, missing netns 999: nothing stays held", async () => {
    const pod = await pods.create();
    const before = await node.total("sart_cni_block_addresses_allocated");
    const unknown = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", config: node.config("1.0.0", { args: { cni: { pool: "nope" } } }) });
    expect(unknown.json).toMatchObject({ code: 101, details: "AddressPool nope does not exist" });
    const mtu = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", config: node.config("1.0.0", { mtu: 20 }) });
    expect(mtu.json).toMatchObject({ code: 7, details: expect.stringContaining("mtu 20") });
    const ipam = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", config: node.config("1.0.0", { ipam: { type: "host-local" } }) });
    expect(ipam.json).toMatchObject({ code: 2, details: expect.stringContaining("ipam") });
    const gone = await runCni({ command: "ADD", containerId: cid(), netns: "/var/run/netns/no-such-ns-here", ifname: "eth0", config: node.config() });
    expect(gone.json).toMatchObject({ code: 999, details: expect.stringContaining("no-such-ns-here") });
    expect(await node.total("sart_cni_block_addresses_allocated")).toBe(before);
  }, 60_000);
});

describe("CHECK", () => {
  test("a prevResult with another address, or a missing host route, is 104 naming it", async () => {
    const pod = await pods.create();
    const call = { containerId: cid(), netns: pod.path, ifname: "eth0" };
    const result = ok(await runCni({ command: "ADD", ...call, config: node.config("1.0.0") }));
    const [v4] = ipsOf(result);
    const forged = structuredClone(result) as { ips: { address: string }[] };
    forged.ips[0]!.address = "198.51.100.250/32";
    const wrong = await runCni({ command: "CHECK", ...call, config: node.config("1.0.0", { prevResult: forged }) });
    expect(wrong.json).toMatchObject({ code: 104, details: expect.stringContaining(`sart holds ${v4}`) });
    await node.ns.ip("route", "del", `${v4}/32`, "table", "120");
    const noRoute = await runCni({ command: "CHECK", ...call, config: node.config("1.0.0", { prevResult: result }) });
    expect(noRoute.json).toMatchObject({ code: 104, details: expect.stringContaining(`no route to ${v4}`) });
    const unknown = await runCni({ command: "CHECK", ...call, containerId: "never-added", config: node.config("1.0.0", { prevResult: result }) });
    expect(unknown.json).toMatchObject({ code: 104, details: expect.stringContaining("never-added/eth0") });
  }, 60_000);
});

describe("DEL", () => {
  test("succeeds when the netns is already gone, and releases the address", async () => {
    const pod = await pods.create();
    const call = { containerId: cid(), ifname: "eth0", config: node.config() };
    const r = ok(await runCni({ command: "ADD", ...call, netns: pod.path }));
    const host = (r.interfaces as { name: string }[])[0]!.name;
    await pod.delete(); // the runtime removed the netns first: the veth pair went with it
    ok(await runCni({ command: "DEL", ...call, netns: pod.path }));
    expect((await node.sartVeths()).map((l) => l.ifname)).not.toContain(host);
    const reuse = await pods.create();
    const r2 = ok(await runCni({ command: "ADD", containerId: cid(), netns: reuse.path, ifname: "eth0", args: `IP=${ipsOf(r)[0]}`, config: node.config() }));
    expect(ipsOf(r2)[0]).toBe(ipsOf(r)[0]);
  }, 60_000);

  test("of a container never added succeeds", async () => {
    ok(await runCni({ command: "DEL", containerId: "never-seen", ifname: "eth0", config: node.config() }));
  });
});

describe("1.1.0 GC and STATUS", () => {
  test("GC releases what cni.dev/valid-attachments leaves out, on this network only", async () => {
    const [keep, drop, other] = [await pods.create(), await pods.create(), await pods.create()];
    const k = { containerId: cid(), netns: keep.path, ifname: "eth0" };
    const d = { containerId: cid(), netns: drop.path, ifname: "eth0" };
    const o = { containerId: cid(), netns: other.path, ifname: "eth0" };
    const gcNet = (extra: Record<string, unknown> = {}) => node.config("1.1.0", { name: "gcnet", ...extra });
    const rk = ok(await runCni({ command: "ADD", ...k, config: gcNet() }));
    const rd = ok(await runCni({ command: "ADD", ...d, config: gcNet() }));
    ok(await runCni({ command: "ADD", ...o, config: node.config("1.1.0", { name: "othernet" }) }));
    const before = await node.total("sart_cni_attachments");
    ok(await runCni({ command: "GC", config: gcNet({ "cni.dev/valid-attachments": [{ containerID: k.containerId, ifname: "eth0" }] }) }));
    expect(await node.total("sart_cni_attachments")).toBe(before - 1);
    const veths = (await node.sartVeths()).map((l) => l.ifname);
    expect(veths).toContain((rk.interfaces as { name: string }[])[0]!.name);
    expect(veths).not.toContain((rd.interfaces as { name: string }[])[0]!.name);
    ok(await runCni({ command: "CHECK", ...k, config: gcNet({ prevResult: rk }) }));
    ok(await runCni({ command: "CHECK", ...o, config: node.config("1.1.0", { name: "othernet" }) }));
    const bad = await runCni({ command: "GC", config: gcNet({ "cni.dev/valid-attachments": "all" }) });
    expect(bad.json).toMatchObject({ code: 7, details: expect.stringContaining("cni.dev/valid-attachments") });
  }, 60_000);

  test("STATUS succeeds while the pools have room; 51 when the pod route rule is gone", async () => {
    ok(await runCni({ command: "STATUS", config: node.config("1.1.0") }));
    await node.ns.ip("rule", "del", "pref", "2000");
    try {
      const r = await runCni({ command: "STATUS", config: node.config("1.1.0") });
      expect(r.json).toMatchObject({ cniVersion: "1.1.0", code: 51, details: expect.stringContaining("ip rule") });
    } finally {
      await node.ns.ip("rule", "add", "pref", "2000", "table", "120");
    }
    ok(await runCni({ command: "STATUS", config: node.config("1.1.0") }));
  }, 60_000);
});

describe("a small pool", () => {
  let small: CniNode;
  beforeAll(async () => {
    small = await CniNode.create({ ipv4: "192.0.2.9", pools: [{ name: "small4", cidr: "203.0.113.64/30", blockSize: 31, autoAssign: true }] });
  }, 60_000);
  afterAll(async () => small?.destroy());

  test("full: the next ADD is 100 naming the pool at once, STATUS is 50; a DEL makes room", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const pod = await pods.create();
      ids.push(cid());
      ok(await runCni({ command: "ADD", containerId: ids[i], netns: pod.path, ifname: "eth0", config: small.config() }));
    }
    const pod = await pods.create();
    // The config allows 60 s; a pool that hangs when full (the original did) fails this 10 s bound.
    const full = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", config: small.config("1.0.0", { timeout: 60 }) }, 10_000);
    expect(errorProblems("1.0.0", full.json)).toEqual([]);
    expect(full.json).toMatchObject({ code: 100, msg: "Address pool exhausted", details: expect.stringContaining("pool small4 (203.0.113.64/30)") });
    const status = await runCni({ command: "STATUS", config: small.config("1.1.0") });
    expect(status.json).toMatchObject({ code: 50, details: expect.stringContaining("small4") });
    ok(await runCni({ command: "DEL", containerId: ids[2], ifname: "eth0", config: small.config() }));
    ok(await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", config: small.config() }));
  }, 60_000);
});
