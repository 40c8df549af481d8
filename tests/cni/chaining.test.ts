// The example conflist of docs/cni.md, run as a runtime runs a chain: sart-cni, then portmap
// and bandwidth from containernetworking-plugins, each given the previous result. portmap's
// DNAT reaches a server in the pod through the node's address (dual-stack pools); bandwidth
// shapes the host veth sart-cni reported; CHECK passes; DEL in reverse removes all of it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../helpers/net.ts";
import { Daemon, startDaemon } from "../helpers/proc.ts";
import { ROOT } from "../helpers/sart.ts";
import { CniNode, Pods } from "./harness.ts";
import { resultProblems } from "./result-shape.ts";
import { addChain, runChain, type Conflist } from "./runtime.ts";

let node: CniNode;
const pods = new Pods();
let server: Daemon | undefined;

/** The first JSON block of docs/cni.md: the example network config. */
function exampleConflist(): Conflist {
  const md = readFileSync(join(ROOT, "docs/cni.md"), "utf8");
  const m = /```json\n([\s\S]*?)\n```/.exec(md);
  if (!m) throw new Error("docs/cni.md has no json block");
  return JSON.parse(m[1]!) as Conflist;
}

beforeAll(async () => {
  node = await CniNode.create({
    ipv4: "192.0.2.1",
    pools: [
      { name: "chain4", cidr: "198.51.100.0/24", blockSize: 28, autoAssign: true },
      { name: "chain6", cidr: "2001:db8:2::/112", blockSize: 124, autoAssign: true },
    ],
  });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await pods.destroy();
  await node?.destroy();
});

test("sart-cni, portmap and bandwidth in one conflist: ADD, CHECK, DEL", async () => {
  const list = exampleConflist();
  expect(list.plugins.map((p) => p.type)).toEqual(["sart-cni", "portmap", "bandwidth"]);
  list.plugins[0]!.socket = node.socket; // this test's agent instead of /run/sart/cni.sock
  const pod = await pods.create();
  const a = {
    runtimeNetns: node.ns.path,
    containerId: `chain${process.pid}`,
    netns: pod.path,
    ifname: "eth0",
    capabilities: {
      portMappings: [{ hostPort: 18080, containerPort: 80, protocol: "tcp" }],
      bandwidth: { ingressRate: 8_000_000, ingressBurst: 80_000 },
    },
  };
  const result = await addChain(list, a);
  expect(resultProblems("1.0.0", result)).toEqual([]);
  const podAddress = (result.ips as { address: string }[])[0]!.address.replace(/\/32$/, "");
  const hostVeth = (result.interfaces as { name: string }[])[0]!.name;
  // The node has no IPv6 address here: the pod's IPv6 gateway is fe80::1 on the host veth.
  expect(await pod.ip("-6", "route", "show", "default")).toContain("via fe80::1 dev eth0");
  expect(result.routes).toContainEqual({ dst: "::/0", gw: "fe80::1" });

  // bandwidth put its token bucket on the host veth that sart-cni reported.
  expect(await node.ns.exec("tc", ["qdisc", "show", "dev", hostVeth])).toContain("tbf");
  // portmap: the node's port 18080 leads to port 80 in the pod.
  const www = join(node.dir, "www");
  mkdirSync(www);
  writeFileSync(join(www, "index.html"), `hello from ${podAddress}\n`);
  server = startDaemon("httpd in pod", "ip", ["netns", "exec", pod.name, "busybox", "httpd", "-f", "-p", "80", "-h", www], join(node.dir, "httpd.log"));
  const page = await waitFor("the pod's httpd through portmap's DNAT", () =>
    node.ns.exec("curl", ["-sS", "-m", "2", "http://192.0.2.1:18080/"]), 15_000, 200);
  expect(page).toBe(`hello from ${podAddress}\n`);

  // portmap 1.1.1 (Debian's) cannot CHECK: it looks for its IPv4 rules in ip6tables
  // (containernetworking/plugins#819, fixed upstream), so CHECK runs the other two.
  await runChain("CHECK", { ...list, plugins: list.plugins.filter((p) => p.type !== "portmap") }, a, result);
  await runChain("DEL", list, a, result);
  expect((await node.sartVeths()).length).toBe(0);
  expect(await node.ns.exec("iptables", ["-t", "nat", "-S"])).not.toContain("18080");
  expect(await node.total("sart_cni_attachments")).toBe(0);
}, 60_000);
