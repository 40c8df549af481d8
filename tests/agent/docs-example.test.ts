// docs/agent.md's standalone example, as written: its YAML blocks become a config
// directory, a real `sart agent --standalone` runs on it in a network namespace holding
// host1's address, and two BIRD routers (192.0.2.1 and 192.0.2.2, AS 65000) in another
// namespace receive what the example says they receive.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Bird } from "../helpers/bird.ts";
import { waitFor } from "../helpers/net.ts";
import { Netns, veth } from "../helpers/netns.ts";
import { type Daemon, removeDir, startDaemon, tempDir } from "../helpers/proc.ts";
import { ROOT, SART_BIN } from "../helpers/sart.ts";
import { unixGet } from "../lab/lab.ts";

const MARKER = "<!-- the example below is loaded by tests/agent/docs-example.test.ts -->";

/** The ```yaml blocks after the marker, by the file name on their first line (`# DIR/name.yaml`). */
function exampleFiles(markdown: string): Record<string, string> {
  const at = markdown.indexOf(MARKER);
  if (at < 0) throw new Error("docs/agent.md: the example marker is gone");
  const files: Record<string, string> = {};
  for (const m of markdown.slice(at).matchAll(/```yaml\n# DIR\/(\S+?\.yaml)[^\n]*\n([\s\S]*?)```/g)) files[m[1]] = m[2];
  return files;
}

let dir: string;
let hostNs: Netns;
let routerNs: Netns;
const routers: Bird[] = [];
let agent: Daemon;

function birdConfig(self: string): string {
  return `router id ${self};
protocol device { }
protocol direct { ipv4; }
protocol bgp host1 {
  local ${self} as 65000;
  neighbor 192.0.2.11 as 65011;
  strict bind on;
  connect retry time 1;
  error wait time 1, 2;
  graceful restart on;
  ipv4 { import all; export none; };
}
`;
}

beforeAll(async () => {
  dir = tempDir("agent-docs");
  const config = join(dir, "config");
  mkdirSync(config);
  const files = exampleFiles(readFileSync(join(ROOT, "docs/agent.md"), "utf8"));
  expect(Object.keys(files).sort()).toEqual(["bgp.yaml", "pools.yaml", "web.yaml"]);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(config, name), text);

  hostNs = await Netns.create("docs-host1");
  routerNs = await Netns.create("docs-routers");
  await veth({ ns: hostNs, ifname: "eth0", addresses: ["192.0.2.11/24"] }, { ns: routerNs, ifname: "host1", addresses: ["192.0.2.1/24", "192.0.2.2/24"] });
  for (const self of ["192.0.2.1", "192.0.2.2"]) routers.push(await Bird.start(birdConfig(self), 15000, routerNs));
  const [cmd, args] = hostNs.wrap(SART_BIN, [
    "agent", "--standalone", "--config", config, "--node", "host1", "--state-dir", join(dir, "state"),
    "--api", `unix:${join(dir, "api.sock")}`, "--health", `unix:${join(dir, "health.sock")}`, "--cni-socket", join(dir, "cni.sock"),
  ]);
  agent = startDaemon("agent-docs", cmd, args, join(dir, "agent.log"));
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  for (const r of routers) await r.stop();
  await hostNs?.delete();
  await routerNs?.delete();
  if (dir) removeDir(dir);
});

test("docs/agent.md's standalone example: both sessions up, both routers get the Service's address and the plain advertisement", async () => {
  await waitFor("the agent ready", async () => {
    if (!agent.running) throw new Error(agent.tail());
    return (await unixGet(join(dir, "health.sock"), "/readyz")).status === 200;
  }, 30_000);
  const neighbors = await waitFor("both sessions Established", async () => {
    const r = await unixGet(join(dir, "api.sock"), "/v1/neighbors");
    const list = JSON.parse(r.body) as { address: string; state: string; holdTime: number }[];
    return list.length === 2 && list.every((n) => n.state === "Established") && list;
  }, 30_000, 200);
  expect(neighbors.map((n) => n.address).sort()).toEqual(["192.0.2.1", "192.0.2.2"]);
  expect(neighbors.find((n) => n.address === "192.0.2.2")!.holdTime).toBe(30);
  for (const r of routers) {
    await waitFor("both routes at the router", async () => {
      const routes = await r.routes();
      return ["198.51.100.10/32", "203.0.113.53/32"].every((p) => routes.get(p)?.[0]?.attrs["BGP.next_hop"] === "192.0.2.11");
    }, 30_000, 200);
  }
});
