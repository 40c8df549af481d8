// Every BGPPeer session option reaches the agent's speaker (Kubernetes mode, the test API
// server, routers as embedded speakers on loopback): timers, TTL, source address,
// families; the TCP MD5 password from the Secret `passwordSecret` names (a missing one is
// a condition and an Event naming it, never a session without it; a rotated one resets
// the session with the new key; a deleted one leaves the running session as it is); a
// missing BFDProfile is a condition too. BFD sessions themselves run in the lab
// (tests/lab/peer-options.test.ts, against FRR's bfdd). Standalone mode reads the Secret
// from the config directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Agent } from "../../host/agent/agent.ts";
import { neighborFromJson } from "../../host/bgp/config.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import type { BGPPeer, Secret } from "../../host/kube/types.ts";
import { type AgentEnv, TestRouter, agentEnv, bgpPeer, nodeBgp, nodeObject, startAgent, waitFor } from "./harness.ts";

let env: AgentEnv;
let router: TestRouter;
let agent: Agent;
const lines: string[] = [];
let nodeIp: string;

type Event = KubeObject & { reason: string; message: string; involvedObject: { name: string } };

beforeAll(async () => {
  env = await agentEnv();
  nodeIp = env.addr(10);
  router = await TestRouter.start(env.addr(100), 65000, "192.0.2.100");
  await env.admin.create(nodeObject("node-a", nodeIp));
  await env.admin.create(nodeBgp("node-a", 65010, nodeIp));
  agent = await startAgent(env, "node-a", {}, lines);
});

afterAll(async () => {
  await agent?.stop();
  await router?.stop();
  await env?.cleanup();
});

const condition = async (name: string) => (await env.admin.get<BGPPeer>("BGPPeer", { name }))?.status?.conditions?.at(-1);
const events = async (name: string) => (await env.admin.list<Event>("Event", { namespace: "default" })).filter((e) => e.involvedObject.name === name);
const secret = (password: string, key = "password"): Secret => ({
  apiVersion: "v1", kind: "Secret", type: "kubernetes.io/basic-auth",
  metadata: { name: "bgp-auth", namespace: "kube-system" },
  data: { [key]: Buffer.from(password).toString("base64") },
});

describe("BGPPeer session options in the agent", () => {
  test("timers, TTL, source address and families reach the session; keepaliveTime 0 is unset", async () => {
    const source = env.addr(11);
    router.s.addNeighbor(neighborFromJson({ address: source, asn: 65010, passive: true, holdTime: 30, families: ["ipv4-unicast", "ipv6-unicast"] }));
    await env.admin.create(bgpPeer("opts", "node-a", router, {
      holdTime: 30, keepaliveTime: 0, connectRetryTime: 7, ebgpMultihop: 3, sourceAddress: source, families: ["ipv4-unicast", "ipv6-unicast"],
    }));
    await waitFor("opts Established", async () => (await condition("opts"))?.status === "Established", 20_000);
    const cfg = agent.speaker!.neighbors.get(router.address)!.config;
    expect(cfg).toMatchObject({ localAddress: source, holdTime: 30, connectRetryTime: 7, ebgpMultihop: 3, families: ["ipv4-unicast", "ipv6-unicast"] });
    expect(cfg.keepaliveTime).toBeUndefined();
    expect(cfg.password).toBeUndefined();
    expect(cfg.bfd).toBeUndefined();
    // The router sees the session from the source address, with both families.
    expect(router.s.neighbors.get(source)!.negotiated).toMatchObject({ holdTime: 30, families: ["ipv4-unicast", "ipv6-unicast"] });
    // connectRetryTime changes in place: no reset.
    const transitions = router.s.neighbors.get(source)!.establishedTransitions;
    await env.admin.patch("BGPPeer", { name: "opts" }, { spec: { connectRetryTime: 9 } });
    await waitFor("connectRetryTime 9", () => agent.speaker!.neighbors.get(router.address)!.config.connectRetryTime === 9);
    expect(router.s.neighbors.get(source)!.establishedTransitions).toBe(transitions);
    expect(agent.speaker!.neighbors.get(router.address)!.state).toBe("Established");
    await env.admin.delete("BGPPeer", { name: "opts" });
    await waitFor("the session gone", () => !agent.speaker!.neighbors.has(router.address));
    await router.s.removeNeighbor(source);
  });

  test("passwordSecret: missing, then created (an MD5 session), rotated (reset with the new key), deleted (the session keeps its key)", async () => {
    router.s.addNeighbor(neighborFromJson({ address: nodeIp, asn: 65010, passive: true, holdTime: 9, password: "first-key" }));
    await env.admin.create(bgpPeer("md5", "node-a", router, { passwordSecret: { name: "bgp-auth", namespace: "kube-system" } }));
    await waitFor("SecretNotFound in status", async () => (await condition("md5"))?.reason.startsWith("SecretNotFound: "));
    expect(await condition("md5")).toEqual({ status: "Idle", reason: 'SecretNotFound: spec.passwordSecret: Secret "kube-system/bgp-auth" not found' });
    // Never a session without its password: the status above was written after the pass that decided.
    expect(agent.speaker!.neighbors.has(router.address)).toBe(false);
    await waitFor("the Warning Event", async () => (await events("md5")).some((e) => e.reason === "SecretNotFound" && e.message.includes('Secret "kube-system/bgp-auth"')));
    expect(agent.ready).toBe(true);

    await env.admin.create(secret("first-key"));
    await waitFor("md5 Established", async () => (await condition("md5"))?.status === "Established", 20_000);
    const nb = () => agent.speaker!.neighbors.get(router.address)!;
    expect(nb().config.password).toBe("first-key");
    expect(router.s.neighbors.get(nodeIp)!.state).toBe("Established");
    // The key is in no log line.
    expect(lines.some((l) => l.includes("first-key"))).toBe(false);

    // Rotation: the router takes the new key first (its session resets and cannot come back
    // with the old key), then the Secret changes and the agent follows.
    const atRouter = router.s.neighbors.get(nodeIp)!;
    const before = atRouter.establishedTransitions;
    expect(await router.s.reconfigureNeighbor({ ...atRouter.config, password: "second-key" })).toBe("reset");
    // The old key: the router's kernel drops our SYNs, and the status says the attempts time out.
    await waitFor("a timed-out attempt in status", async () => (await condition("md5"))?.reason === `connect to ${router.address}: timed out after 1 s`, 20_000);
    await env.admin.patch("Secret", { name: "bgp-auth", namespace: "kube-system" }, { data: { password: Buffer.from("second-key").toString("base64") } });
    await waitFor("re-established with the new key", () => atRouter.establishedTransitions > before && atRouter.state === "Established" && nb().state === "Established", 30_000);
    expect(nb().config.password).toBe("second-key");
    await waitFor("md5 Established in status", async () => (await condition("md5"))?.reason === "Established");

    // Deleted: the running session keeps its key; the condition says why it has no new one.
    const transitions = nb().establishedTransitions;
    await env.admin.delete("Secret", { name: "bgp-auth", namespace: "kube-system" });
    await waitFor("SecretNotFound on the running session", async () => (await condition("md5"))?.reason.startsWith("SecretNotFound: "));
    expect((await condition("md5"))!.status).toBe("Established");
    expect(nb().establishedTransitions).toBe(transitions);
    expect(nb().config.password).toBe("second-key");

    // A Secret without the key: named, with the keys it has (never their values).
    await env.admin.create(secret("second-key", "pass"));
    await waitFor("InvalidSecret", async () => (await condition("md5"))?.reason.startsWith("InvalidSecret: "));
    expect((await condition("md5"))!.reason).toBe('InvalidSecret: spec.passwordSecret: Secret "kube-system/bgp-auth": has no key "password" (its keys: pass)');
    await env.admin.patch("BGPPeer", { name: "md5" }, { spec: { passwordSecret: { name: "bgp-auth", namespace: "kube-system", key: "pass" } } });
    await waitFor("md5 Established, no problem left", async () => (await condition("md5"))?.reason === "Established");
    expect(nb().establishedTransitions).toBe(transitions);

    await env.admin.delete("BGPPeer", { name: "md5" });
    await waitFor("the session gone", () => !agent.speaker!.neighbors.has(router.address));
    await router.s.removeNeighbor(nodeIp);
  }, 60_000);

  test("bfdProfile naming no BFDProfile: a condition and an Event, no session", async () => {
    await env.admin.create(bgpPeer("bfd", "node-a", router, { bfdProfile: "fast" }));
    await waitFor("BFDProfileNotFound", async () => (await condition("bfd"))?.reason.startsWith("BFDProfileNotFound: "));
    expect(await condition("bfd")).toEqual({ status: "Idle", reason: 'BFDProfileNotFound: spec.bfdProfile: BFDProfile "fast" not found' });
    expect(agent.speaker!.neighbors.has(router.address)).toBe(false);
    await waitFor("the Warning Event", async () => (await events("bfd")).some((e) => e.reason === "BFDProfileNotFound"));
    await env.admin.delete("BGPPeer", { name: "bfd" });
  });
});

describe("standalone mode", () => {
  test("passwordSecret names a Secret in the config directory; an edit applies; the state file holds no copy", async () => {
    const source = env.addr(12);
    const config = join(env.dir, "standalone-config");
    const stateDir = join(env.dir, "standalone-state");
    mkdirSync(config);
    const secretYaml = (password: string) => `apiVersion: v1
kind: Secret
metadata: { name: bgp-auth, namespace: default }
stringData: { password: ${password} }
`;
    writeFileSync(join(config, "bgp.yaml"), `apiVersion: sart.terassyi.net/v1alpha2
kind: NodeBGP
metadata: { name: host1 }
spec: { asn: 65012, routerId: 192.0.2.12, speaker: { path: 127.0.0.1:5000 } }
---
apiVersion: sart.terassyi.net/v1alpha2
kind: BGPPeer
metadata: { name: host1-router, labels: { bgppeer.sart.terassyi.net/node: host1 } }
spec:
  asn: 65000
  addr: ${router.address}
  sourceAddress: ${source}
  nodeBGPRef: host1
  speaker: { path: 127.0.0.1:5000 }
  passwordSecret: { name: bgp-auth, namespace: default }
`);
    writeFileSync(join(config, "secret.yaml"), secretYaml("standalone-key"));
    router.s.addNeighbor(neighborFromJson({ address: source, asn: 65012, passive: true, holdTime: 9, password: "standalone-key" }));
    const standalone = await startAgent(env, "host1", { mode: { kind: "standalone", configDir: config }, stateDir }, lines);
    try {
      const atRouter = router.s.neighbors.get(source)!;
      await waitFor("the signed session up", () => atRouter.state === "Established" && standalone.speaker?.neighbors.get(router.address)?.state === "Established", 20_000);
      const before = atRouter.establishedTransitions;
      expect(await router.s.reconfigureNeighbor({ ...atRouter.config, password: "edited-key" })).toBe("reset");
      writeFileSync(join(config, "secret.yaml"), secretYaml("edited-key"));
      await waitFor("back with the edited key", () => atRouter.establishedTransitions > before && atRouter.state === "Established", 30_000);
      expect(standalone.speaker!.neighbors.get(router.address)!.config.password).toBe("edited-key");
      const state = readFileSync(join(stateDir, "standalone-store.json"), "utf8");
      expect(state).toContain("host1-router");
      expect(state).not.toMatch(/standalone-key|edited-key/);
      expect(state).not.toContain('"kind":"Secret"');
      expect(state).not.toContain("Secret/default/bgp-auth"); // nor a hash of its document
    } finally {
      await standalone.stop();
      await router.s.removeNeighbor(source);
    }
  }, 60_000);
});
