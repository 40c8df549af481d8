// The agent when things around it fail: an API server that goes away is one log line
// naming its URL (then at most one a minute) and one when it is back; the FailureLog's
// rules on a clock of its own; a standalone directory that does not load changes nothing.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "../../host/agent/agent.ts";
import { FailureLog } from "../../host/agent/log.ts";
import { kubeconfigYaml } from "../kube/apiserver/index.ts";
import { freePort } from "../helpers/net.ts";
import { forward } from "../lab/forward.ts";
import { TestRouter, agentEnv, nodeBgp, nodeObject, startAgent, waitFor } from "./harness.ts";

describe("FailureLog", () => {
  test("first failure at once, then one summary per interval, one line when it works again", () => {
    const lines: string[] = [];
    let now = 0;
    const f = new FailureLog((l) => lines.push(l), 60_000, () => now);
    f.fail("API server http://x", "connect ECONNREFUSED");
    for (let i = 0; i < 50; i++) {
      now += 1000;
      f.fail("API server http://x", `error ${i}`);
    }
    expect(lines).toEqual(["API server http://x: connect ECONNREFUSED"]);
    now += 10_000;
    f.fail("API server http://x", "error last");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe("API server http://x: still failing for 60 s (51 errors since the last report; last: error last)");
    f.ok("API server http://x");
    f.ok("API server http://x");
    expect(lines[2]).toBe("API server http://x: working again after 60 s");
    expect(lines).toHaveLength(3);
  });
});

describe("the API server goes away", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test("one line naming the URL while it is down, one when it is back", async () => {
    const env = await agentEnv();
    cleanups.push(() => env.cleanup());
    // The agent reaches the API server through a forwarder that can go away and come back.
    const port = await freePort("127.0.0.1");
    const upstream = new URL(env.server.url).host;
    let fwd = await forward(`127.0.0.1:${port}`, upstream);
    cleanups.push(() => fwd.close());
    const kubeconfig = join(env.dir, "kubeconfig-fwd");
    writeFileSync(kubeconfig, kubeconfigYaml(`http://127.0.0.1:${port}`, "default"));
    const ip = env.addr(20);
    await env.admin.create(nodeObject("node-b", ip));
    await env.admin.create(nodeBgp("node-b", 65020, ip));
    const lines: string[] = [];
    const agent = await startAgent(env, "node-b", { mode: { kind: "kubernetes", kubeconfig } }, lines);
    cleanups.push(() => agent.stop());
    const source = `API server http://127.0.0.1:${port}`;
    await fwd.close();
    // The witness: the informers failed again and again (restarts with backoff).
    await waitFor("10 informer restarts", () => agent.snapshot().informerRestarts >= 10, 30_000);
    const about = lines.filter((l) => l.startsWith(source));
    expect(about).toHaveLength(1);
    expect(about[0]).toStartWith(`${source} unreachable: `);
    // Back on the same address: one line says so (the informers' watches resume quietly; the agent's probe notices).
    fwd = await forward(`127.0.0.1:${port}`, upstream);
    await waitFor("reachable again", () => lines.some((l) => l.startsWith(`${source} reachable again`)), 30_000);
    expect(lines.filter((l) => l.startsWith(source))).toHaveLength(2);
    // And it works: a NodeBGP change reaches the agent.
    await env.admin.patch("NodeBGP", { name: "node-b" }, { spec: { asn: 65021 } });
    await waitFor("the new ASN", () => agent.speaker?.asn === 65021, 30_000);
  }, 90_000);
});

describe("standalone: a config directory that does not load", () => {
  test("changes nothing and the log names the file and the field", async () => {
    const env = await agentEnv();
    const config = join(env.dir, "config");
    mkdirSync(config);
    const ip = env.addr(30);
    const router = await TestRouter.start(env.addr(130), 65000, "192.0.2.130");
    router.accept(ip, 65030);
    writeFileSync(join(config, "bgp.yaml"), `apiVersion: sart.terassyi.net/v1alpha2
kind: NodeBGP
metadata: { name: host }
spec: { asn: 65030, routerId: ${ip}, speaker: { path: "127.0.0.1:5000" } }
---
apiVersion: sart.terassyi.net/v1alpha2
kind: BGPPeer
metadata: { name: host-r, labels: { bgppeer.sart.terassyi.net/node: host } }
spec: { asn: 65000, addr: ${router.address}, nodeBGPRef: host, speaker: { path: "127.0.0.1:5000" } }
`);
    writeFileSync(join(config, "adv.yaml"), `apiVersion: sart.terassyi.net/v1alpha2
kind: BGPAdvertisement
metadata: { name: a, namespace: default }
spec: { cidr: 203.0.113.7/32, type: service, protocol: ipv4 }
`);
    const lines: string[] = [];
    const agent = new Agent({
      node: "host", mode: { kind: "standalone", configDir: config }, api: "", health: "", cniSocket: join(env.dir, "cni.sock"),
      stateDir: join(env.dir, "state"), fib: { enabled: false, table: 254 }, bgpListen: { address: ip, port: 0 },
      timings: { connectRetry: 1, idleHoldMin: 1 }, log: (l) => lines.push(l),
    });
    try {
      await agent.start();
      await waitFor("the advertisement at the router", () => router.has("203.0.113.7/32"), 20_000);
      // An invalid edit (the AddressPool's CIDR): nothing changes, the log says where.
      writeFileSync(join(config, "adv.yaml"), `apiVersion: sart.terassyi.net/v1alpha2
kind: AddressPool
metadata: { name: broken }
spec: { cidr: not-a-cidr, type: service }
`);
      await agent.reload();
      const line = lines.find((l) => l.includes("not reloaded, nothing changed"));
      expect(line).toContain("adv.yaml document 1");
      expect(line).toContain("spec.cidr");
      expect(router.has("203.0.113.7/32")).toBe(true);
      // Fixed (the advertisement removed): withdrawn.
      writeFileSync(join(config, "adv.yaml"), "");
      await agent.reload();
      await waitFor("withdrawn", () => !router.has("203.0.113.7/32"), 20_000);
    } finally {
      await agent.stop();
      await router.stop();
      await env.cleanup();
    }
  }, 60_000);
});
