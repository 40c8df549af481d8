// docs/bgp-peers.md's Kubernetes example, as written: its Secret, BFDProfile and two
// BGPPeers go into the config directory of a real `sart agent --standalone` (the same
// BGPPeer code as in Kubernetes mode; the test adds node1's NodeBGP, which a ClusterBGP
// would make) in a network namespace holding node1's address. The routers are FRR as the
// page configures them: the top-of-rack router (zebra, bfdd: TCP MD5, BFD profile fast,
// timers 3 9) on node1's link, and a route server two hops away behind it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import type { KubeObject } from "../../host/kube/store.ts";
import { Frr, frrBgpConfig } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { Netns, veth } from "../helpers/netns.ts";
import { type Daemon, removeDir, startDaemon, tempDir } from "../helpers/proc.ts";
import { ROOT, SART_BIN } from "../helpers/sart.ts";
import { unixGet } from "../lab/lab.ts";

const MARKER = "<!-- the example below is loaded by tests/agent/docs-bgp-peers.test.ts -->";

function example(): string {
  const text = readFileSync(join(ROOT, "docs/bgp-peers.md"), "utf8");
  const at = text.indexOf(MARKER);
  if (at < 0) throw new Error("docs/bgp-peers.md: the example marker is gone");
  return /```yaml\n([\s\S]*?)```/.exec(text.slice(at))![1];
}

let dir: string;
const namespaces: Netns[] = [];
const routers: Frr[] = [];
let agent: Daemon;
let tor: Frr;
let rs: Frr;

beforeAll(async () => {
  dir = tempDir("agent-docs-peers");
  const config = join(dir, "config");
  mkdirSync(config);
  const objs = (yaml.loadAll(example()) as KubeObject[]).filter(Boolean);
  expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["Secret/sart-bgp-passwords", "BFDProfile/fast", "BGPPeer/node1-tor", "BGPPeer/node1-rs"]);
  writeFileSync(join(config, "peers.yaml"), example(), { mode: 0o600 });
  writeFileSync(join(config, "node.yaml"), "apiVersion: sart.terassyi.net/v1alpha2\nkind: NodeBGP\nmetadata: { name: node1 }\nspec: { asn: 65001, routerId: 192.0.2.1, speaker: { path: 127.0.0.1:5000 } }\n");

  const [node, torNs, rsNs] = await Promise.all(["docs-node1", "docs-tor", "docs-rs"].map((n) => Netns.create(n)));
  namespaces.push(node, torNs, rsNs);
  await veth({ ns: node, ifname: "eth0", addresses: ["192.0.2.1/24"] }, { ns: torNs, ifname: "node1", addresses: ["192.0.2.254/24"] });
  await veth({ ns: torNs, ifname: "rs", addresses: ["198.51.100.1/24"] }, { ns: rsNs, ifname: "eth0", addresses: ["198.51.100.7/24"] });
  await node.ip("route", "add", "default", "via", "192.0.2.254");
  await rsNs.ip("route", "add", "default", "via", "198.51.100.1");
  await torNs.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
  // The router's side, as the page says it.
  tor = await Frr.start(torNs, frrBgpConfig({
    asn: 65000, routerId: "192.0.2.254", neighbor: "192.0.2.1", remoteAs: 65001,
    neighborOptions: ["password s3cret-tor", "timers 3 9", "bfd", "bfd profile fast"],
    lines: [" address-family ipv4 unicast", "  neighbor 192.0.2.1 activate", " exit-address-family"],
  }), { bfd: true, bfddConfig: "bfd\n profile fast\n  receive-interval 100\n  transmit-interval 100\n !\n!\n" });
  routers.push(tor);
  rs = await Frr.start(rsNs, frrBgpConfig({ asn: 65100, routerId: "198.51.100.7", neighbor: "192.0.2.1", remoteAs: 65001, neighborOptions: ["ebgp-multihop 2"] }));
  routers.push(rs);

  const [cmd, args] = node.wrap(SART_BIN, [
    "agent", "--standalone", "--config", config, "--node", "node1", "--state-dir", join(dir, "state"),
    "--api", `unix:${join(dir, "api.sock")}`, "--health", `unix:${join(dir, "health.sock")}`, "--cni-socket", "none",
  ]);
  agent = startDaemon("agent-docs-peers", cmd, args, join(dir, "agent.log"));
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  for (const r of routers) await r.stop();
  for (const ns of namespaces) await ns.delete();
  if (dir) removeDir(dir);
});

interface NeighborApi {
  state: string;
  holdTime: number;
  keepaliveTime?: number;
  connectRetryTime?: number;
  ebgpMultihop?: number;
  ttl?: number;
  localAddress?: string;
  families: string[];
  passwordSet: boolean;
  bfd?: { state: string; profile: unknown };
}

test("docs/bgp-peers.md's Kubernetes example: an MD5 session with BFD to the router, a multihop one to the route server", async () => {
  const api = async (a: string) => JSON.parse((await unixGet(join(dir, "api.sock"), `/v1/neighbors/${a}`)).body) as NeighborApi;
  await waitFor("both sessions Established at the routers", async () => {
    if (!agent.running) throw new Error(agent.tail());
    return (await tor.neighborState("192.0.2.1")) === "Established" && (await rs.neighborState("192.0.2.1")) === "Established";
  }, 40_000, 250);
  await waitFor("BFD up at the router with node1's timers", async () =>
    (await tor.bfdPeers()).some((p) => p.peer === "192.0.2.1" && p.status === "up" && p["remote-receive-interval"] === 100 && p["remote-detect-multiplier"] === 3), 30_000, 200);
  const t = await waitFor("node1's BFD Up", async () => {
    const n = await api("192.0.2.254");
    return n.state === "Established" && n.bfd?.state === "Up" && n;
  }, 30_000, 200);
  expect(t).toMatchObject({ holdTime: 9, keepaliveTime: 3, localAddress: "192.0.2.1", passwordSet: true, bfd: { profile: { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 } } });
  const r = await api("198.51.100.7");
  expect(r).toMatchObject({ state: "Established", ebgpMultihop: 2, ttl: 2, connectRetryTime: 10, passwordSet: false, families: ["ipv4-unicast", "ipv6-unicast"] });
  expect(readFileSync(join(dir, "agent.log"), "utf8")).not.toContain("s3cret-tor");
}, 90_000);
