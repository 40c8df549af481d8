// The three ways the agent builds a pod's network, each through the real sart-cni against
// an agent in a node namespace: rtnetlink under Bun (bun:ffi), rtnetlink under Node (the
// sart-sockopt addon), and `ip` under Node without the addon or with one built before
// rtnetlink (supported configurations).
// The same pod network as the kernel shows it, CHECK and DEL, and the two failures a
// runtime can cause: a taken interface name (nothing is made) and a step that fails after
// the pair exists (the pair is taken away); each is 999 naming the step, nothing stays held.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SART_RT_PROTO } from "../../host/fib/fib.ts";
import type { Netns } from "../helpers/netns.ts";
import { ROOT } from "../helpers/sart.ts";
import { CniNode, Pods, runCni, type CniOutcome } from "./harness.ts";

// An addon as built before rtnetlink: the socket-option calls only.
const oldAddonDir = mkdtempSync(join(tmpdir(), "sart-old-addon-"));
const OLD_ADDON = join(oldAddonDir, "sart-sockopt.js");
writeFileSync(OLD_ADDON, `const a = require(${JSON.stringify(join(ROOT, "build/sart-sockopt.node"))});
module.exports = { socket: a.socket, setsockopt: a.setsockopt, getsockopt: a.getsockopt, bind: a.bind, connect: a.connect, poll: a.poll, close: a.close, attachFilter: a.attachFilter };
`);

const PATHS = [
  { name: "rtnetlink under Bun", runtime: "bun" as const, env: {}, ip: undefined },
  { name: "rtnetlink under Node (the addon)", runtime: "node" as const, env: {}, ip: undefined },
  { name: "ip under Node without the addon", runtime: "node" as const, env: { SART_SOCKOPT: "/nonexistent/sart-sockopt.node" }, ip: "cannot load /nonexistent/sart-sockopt.node" },
  { name: "ip under Node with an addon from older sources", runtime: "node" as const, env: { SART_SOCKOPT: OLD_ADDON }, ip: `${OLD_ADDON} lacks setns, send, recv` },
];

const pods = new Pods();
let seq = 0;
const cid = () => `pp${process.pid}x${++seq}`;

afterAll(async () => {
  await pods.destroy();
  rmSync(oldAddonDir, { recursive: true, force: true });
});

function ok(out: CniOutcome): Record<string, unknown> {
  if (out.exitCode !== 0) throw new Error(`sart-cni failed: ${out.stdout} ${out.stderr}`);
  return out.json ?? {};
}

const json = async (ns: Netns, ...args: string[]) => JSON.parse((await ns.ip("-j", ...args)) || "[]");

for (const path of PATHS) {
  describe(path.name, () => {
    let node: CniNode;

    beforeAll(async () => {
      // Standalone: the IPv4 gateway is the node's address, the IPv6 one the host veth's fe80::1.
      node = await CniNode.create({
        name: "cnipp",
        ipv4: "192.0.2.1",
        agentRuntime: path.runtime,
        agentEnv: path.env,
        pools: [
          { name: "pp4", cidr: "198.51.100.0/24", blockSize: 28, autoAssign: true },
          { name: "pp6", cidr: "2001:db8:7::/112", blockSize: 124, autoAssign: true },
        ],
      });
    }, 60_000);

    afterAll(async () => {
      await node?.destroy();
    });

    test("the agent says which way it builds pod networks", () => {
      const log = node.daemon!.log();
      expect(log).toContain(path.ip ? `pod networks through ip (${path.ip}` : "pod networks through rtnetlink");
    });

    test("ADD builds the pod's network, CHECK passes, DEL removes it", async () => {
      const pod = await pods.create();
      const id = cid();
      const call = { containerId: id, netns: pod.path, ifname: "eth0", config: node.config("1.0.0", { mtu: 1400 }) };
      const result = ok(await runCni({ command: "ADD", ...call }));
      const [v4, v6] = (result.ips as { address: string }[]).map((i) => i.address.replace(/\/\d+$/, ""));
      const veth = (result.interfaces as { name: string }[])[0]!.name;

      const [eth0] = await json(pod, "addr", "show", "dev", "eth0");
      expect(eth0).toMatchObject({ mtu: 1400, address: `0a:58:${v4!.split(".").map((b) => Number(b).toString(16).padStart(2, "0")).join(":")}` });
      expect(eth0.flags).toContain("UP");
      const global = eth0.addr_info.filter((a: { scope: string }) => a.scope === "global");
      expect(global).toEqual([expect.objectContaining({ local: v4, prefixlen: 32 }), expect.objectContaining({ local: v6, prefixlen: 128, nodad: true })]);
      expect(await json(pod, "-4", "route", "show")).toEqual([
        expect.objectContaining({ dst: "default", gateway: "192.0.2.1", dev: "eth0" }),
        expect.objectContaining({ dst: "192.0.2.1", dev: "eth0", scope: "link" }),
      ]);
      expect(await json(pod, "-6", "route", "show", "default")).toEqual([expect.objectContaining({ gateway: "fe80::1", dev: "eth0" })]);

      const [host] = await json(node.ns, "link", "show", "dev", veth);
      expect(host).toMatchObject({ mtu: 1400, address: "ee:ee:ee:ee:ee:ee", ifalias: `SART:pp4,pp6:${id}:eth0` });
      expect(host.flags).toContain("UP");
      const [hostAddrs] = await json(node.ns, "addr", "show", "dev", veth);
      // Beside the kernel's own link-local address (from the MAC).
      expect(hostAddrs.addr_info).toEqual(expect.arrayContaining([
        expect.objectContaining({ local: "192.0.2.1", prefixlen: 32 }),
        expect.objectContaining({ local: "fe80::1", prefixlen: 64, nodad: true }),
      ]));
      expect(await json(node.ns, "-d", "-4", "route", "show", "table", "120", "dev", veth)).toEqual([expect.objectContaining({ dst: v4, scope: "link", protocol: String(SART_RT_PROTO) })]);
      expect(await json(node.ns, "-d", "-6", "route", "show", "table", "120", "dev", veth)).toEqual([expect.objectContaining({ dst: v6, protocol: String(SART_RT_PROTO) })]);
      await pod.exec("busybox", ["ping", "-c1", "-W2", "192.0.2.1"]);
      await node.ns.exec("busybox", ["ping6", "-c1", "-W2", v6!]);

      ok(await runCni({ command: "CHECK", ...call, config: node.config("1.0.0", { mtu: 1400, prevResult: result }) }));
      ok(await runCni({ command: "DEL", ...call }));
      expect(await json(node.ns, "link", "show", "type", "veth")).toEqual([]);
      expect(await json(node.ns, "-4", "route", "show", "table", "120")).toEqual([]);
      ok(await runCni({ command: "DEL", ...call })); // again, and nothing to delete: fine
      expect(await node.total("sart_cni_attachments")).toBe(0);
    });

    test("a taken interface name is 999 naming the step; nothing is made or held", async () => {
      const pod = await pods.create();
      await pod.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
      const out = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", config: node.config("1.0.0") });
      expect(out.json?.code).toBe(999);
      if (!path.ip) expect(out.json?.details).toMatch(new RegExp(`RTM_NEWLINK eth0 type veth peer veth[0-9a-f]{8} in ${pod.path}: File exists`));
      else expect(out.json?.details).toMatch(/File exists \(at "link add eth0 /);
      expect(await json(node.ns, "link", "show", "type", "veth")).toEqual([]);
      expect((await json(pod, "link", "show", "type", "veth")).map((l: { ifname: string }) => l.ifname).sort()).toEqual(["eth0", "eth0p"]);
      expect(await node.total("sart_cni_attachments")).toBe(0);
    });

    test("a step failing after the pair exists is 999 naming it; the pair is taken away", async () => {
      const pod = await pods.create();
      // The pod already routes the gateway elsewhere: ADD's own route to it is refused.
      await pod.ip("link", "add", "d0", "up", "type", "veth", "peer", "name", "d0p");
      await pod.ip("route", "add", "192.0.2.1/32", "dev", "d0");
      const out = await runCni({ command: "ADD", containerId: cid(), netns: pod.path, ifname: "eth0", config: node.config("1.0.0") });
      expect(out.json?.code).toBe(999);
      if (!path.ip) expect(out.json?.details).toContain(`RTM_NEWROUTE 192.0.2.1/32 dev eth0 in ${pod.path}: File exists`);
      else expect(out.json?.details).toContain('File exists (at "route add 192.0.2.1/32 dev eth0 scope link")');
      expect(await json(node.ns, "link", "show", "type", "veth")).toEqual([]);
      expect((await json(pod, "link", "show", "type", "veth")).map((l: { ifname: string }) => l.ifname).sort()).toEqual(["d0", "d0p"]);
      expect(await node.total("sart_cni_attachments")).toBe(0);
    });
  });
}
