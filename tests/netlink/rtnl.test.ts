// host/netlink against the kernel: links, addresses and routes made through the module in
// test namespaces, read back with `ip -j`; the errors for a taken name, a duplicate address
// and a missing namespace; the thread back in its own namespace after each socket made in
// another. Under Bun (bun:ffi); tests/netlink/node.test.ts runs the same module under Node.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { closeSync, openSync, readlinkSync } from "node:fs";
import { NetlinkError, Rtnl } from "../../host/netlink/socket.ts";
import { RT_SCOPE_LINK } from "../../host/netlink/message.ts";
import { Netns } from "../helpers/netns.ts";

let pod: Netns;
let node: Netns;
let nodeFd: number;

beforeAll(async () => {
  pod = await Netns.create("nlpod");
  node = await Netns.create("nlnode");
  nodeFd = openSync(node.path, "r");
});

afterAll(async () => {
  closeSync(nodeFd);
  await pod?.delete();
  await node?.delete();
});

const json = async (ns: Netns, ...args: string[]) => JSON.parse((await ns.ip("-j", ...args)) || "[]");

test("a veth pair made in one namespace with its peer in another, as ip shows them", async () => {
  const here = readlinkSync("/proc/thread-self/ns/net");
  let peerIndex: number | undefined;
  const rtnl = Rtnl.open(pod.path);
  expect(readlinkSync("/proc/thread-self/ns/net")).toBe(here); // back at once
  try {
    rtnl.addVeth({ name: "eth0", mtu: 1400, mac: "0a:58:c0:00:02:05", up: true }, { name: "vethnl0", mtu: 1400, mac: "ee:ee:ee:ee:ee:ee", netnsFd: nodeFd });
    const eth0 = rtnl.link("eth0");
    expect(eth0.index).toBeGreaterThan(0);
    peerIndex = eth0.peerIndex;
    rtnl.addAddress(eth0, "192.0.2.5", 32);
    rtnl.addAddress(eth0, "2001:db8::5", 128, { nodad: true });
    rtnl.addRoute(eth0, { dst: "192.0.2.1", dstLength: 32, scope: RT_SCOPE_LINK });
    rtnl.addRoute(eth0, { dst: "0.0.0.0", dstLength: 0, via: "192.0.2.1" });
    rtnl.addRoute(eth0, { dst: "::", dstLength: 0, via: "fe80::1" });
  } finally {
    rtnl.close();
  }
  const [link] = await json(pod, "link", "show", "dev", "eth0");
  expect(link).toMatchObject({ ifname: "eth0", mtu: 1400, address: "0a:58:c0:00:02:05", link_type: "ether" });
  expect(link.flags).toContain("UP");
  const [addrs] = await json(pod, "addr", "show", "dev", "eth0");
  const v4 = addrs.addr_info.find((a: { local: string }) => a.local === "192.0.2.5");
  const v6 = addrs.addr_info.find((a: { local: string }) => a.local === "2001:db8::5");
  expect(v4).toMatchObject({ family: "inet", prefixlen: 32 });
  expect(v6).toMatchObject({ family: "inet6", prefixlen: 128, nodad: true });
  expect(v6.tentative).toBeUndefined();
  expect(await json(pod, "-d", "-4", "route", "show", "dev", "eth0")).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ dst: "default", gateway: "192.0.2.1", protocol: "boot" }),
      expect.objectContaining({ dst: "192.0.2.1", scope: "link", protocol: "boot" }),
    ]),
  );
  expect(await json(pod, "-6", "route", "show", "default")).toEqual([expect.objectContaining({ gateway: "fe80::1", dev: "eth0" })]);

  const [peer] = await json(node, "link", "show", "dev", "vethnl0");
  expect(peer).toMatchObject({ ifname: "vethnl0", ifindex: peerIndex, mtu: 1400, address: "ee:ee:ee:ee:ee:ee" });
  expect(peer.flags).not.toContain("UP");
});

test("the host end: alias, up, addresses and routes in a table with a protocol id", async () => {
  const rtnl = Rtnl.open(node.path);
  try {
    rtnl.setLink({ name: "vethnl0", alias: "SART:p:abc:eth0", up: true });
    const veth = rtnl.link("vethnl0");
    expect(veth.alias).toBe("SART:p:abc:eth0");
    rtnl.addAddress(veth, "fe80::1", 64, { nodad: true });
    rtnl.addRoute(veth, { dst: "192.0.2.5", dstLength: 32, scope: RT_SCOPE_LINK, table: 4321, protocol: 77 });
    rtnl.addRoute(veth, { dst: "2001:db8::5", dstLength: 128, table: 4321, protocol: 77 });
  } finally {
    rtnl.close();
  }
  const [link] = await json(node, "link", "show", "dev", "vethnl0");
  expect(link.ifalias).toBe("SART:p:abc:eth0");
  expect(link.flags).toContain("UP");
  expect(await json(node, "-4", "route", "show", "table", "4321")).toEqual([expect.objectContaining({ dst: "192.0.2.5", dev: "vethnl0", scope: "link", protocol: "77" })]);
  expect(await json(node, "-6", "route", "show", "table", "4321")).toEqual([expect.objectContaining({ dst: "2001:db8::5", dev: "vethnl0", protocol: "77" })]);
});

test("refusals name the request, the namespace and the kernel's reason; a taken name makes nothing", async () => {
  const rtnl = Rtnl.open(pod.path);
  try {
    // eth0 is taken in the pod: neither end is made, so the peer's name stays free in the node.
    expect(() => rtnl.addVeth({ name: "eth0" }, { name: "vethnl1", netnsFd: nodeFd })).toThrow(
      `RTM_NEWLINK eth0 type veth peer vethnl1 in ${pod.path}: File exists`,
    );
    const eth0 = rtnl.link("eth0");
    let error: unknown;
    try {
      rtnl.addAddress(eth0, "192.0.2.5", 32);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NetlinkError);
    expect((error as NetlinkError).errno).toBe(17);
    expect((error as Error).message).toBe(`RTM_NEWADDR 192.0.2.5/32 dev eth0 in ${pod.path}: File exists (ipv4: Address already assigned)`);
    expect(() => rtnl.link("eth9")).toThrow(`RTM_GETLINK eth9 in ${pod.path}: No such device`);
    // The gateway is not on a link: the kernel says so.
    expect(() => rtnl.addRoute(eth0, { dst: "0.0.0.0", dstLength: 0, via: "203.0.113.1", table: 77 })).toThrow(/^RTM_NEWROUTE 0\.0\.0\.0\/0 via 203\.0\.113\.1 dev eth0 table 77 in \S+: Network is unreachable/);
  } finally {
    rtnl.close();
  }
  expect(await json(node, "link", "show", "type", "veth")).toEqual([expect.objectContaining({ ifname: "vethnl0" })]);
  expect(() => Rtnl.open("/var/run/netns/sart-no-such-netns")).toThrow("network namespace /var/run/netns/sart-no-such-netns: ENOENT");
});
