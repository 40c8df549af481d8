// Test helpers for the agent below the lab: the test API server in-process, an Agent
// in-process (no FIB: these tests run in the root namespace) on loopback addresses,
// and routers as embedded speakers with cores of their own (real BGP over TCP).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { Agent, type AgentOptions } from "../../host/agent/agent.ts";
import { checkConfig, neighborFromJson } from "../../host/bgp/config.ts";
import { Speaker } from "../../host/bgp/speaker.ts";
import { locateWasm } from "../../host/core/node.ts";
import { instantiateCore } from "../../host/core/wasm.ts";
import { KubeStore } from "../../host/kube/kube-store.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import { API_VERSION, type BGPPeer, type Node, type NodeBGP } from "../../host/kube/types.ts";
import { type ApiServer, startApiServer } from "../kube/apiserver/index.ts";
import { loopbackBlock, waitFor } from "../helpers/net.ts";

const wasm = readFileSync(locateWasm());

export class TestRouter {
  private constructor(readonly s: Speaker, readonly address: string, readonly port: number, readonly asn: number) {}

  /** An embedded speaker on `address` port 179 (BGPPeers have no port; the address is ours alone), passive towards its neighbours. */
  static async start(address: string, asn: number, routerId: string): Promise<TestRouter> {
    const port = 179;
    const config = checkConfig({ asn, routerId, listen: { address, port }, api: { listen: "" } }, "router");
    const s = new Speaker(config, { core: instantiateCore(wasm), log: () => undefined, timings: { connectRetry: 1, idleHoldMin: 1 } });
    await s.start();
    return new TestRouter(s, address, port, asn);
  }

  accept(address: string, asn: number, families = ["ipv4-unicast", "ipv6-unicast"]): void {
    this.s.addNeighbor(neighborFromJson({ address, asn, passive: true, holdTime: 9, families }));
  }

  has(prefix: string): boolean {
    return this.s.rib.lookup(prefix) !== undefined;
  }

  stop(): Promise<void> {
    return this.s.stop();
  }
}

export interface AgentEnv {
  server: ApiServer;
  admin: KubeStore;
  kubeconfig: string;
  dir: string;
  addr: (host: number) => string;
  cleanup(): Promise<void>;
}

export async function agentEnv(): Promise<AgentEnv> {
  const dir = mkdtempSync(join(tmpdir(), "sart-agent-test-"));
  const server = await startApiServer({ namespaces: ["default", "kube-system", "test"] });
  const kubeconfig = join(dir, "kubeconfig");
  await server.writeKubeconfig(kubeconfig);
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig());
  const admin = new KubeStore(kc);
  return {
    server, admin, kubeconfig, dir, addr: loopbackBlock(),
    async cleanup() {
      admin.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An agent in this process (no FIB), speaking BGP from `address`, API and health off unless asked. */
export async function startAgent(env: AgentEnv, node: string, extra: Partial<AgentOptions> = {}, lines: string[] = []): Promise<Agent> {
  const agent = new Agent({
    node,
    mode: { kind: "kubernetes", kubeconfig: env.kubeconfig },
    api: "",
    cniSocket: join(env.dir, `${node}-cni.sock`),
    health: "",
    stateDir: join(env.dir, `${node}-state`),
    fib: { enabled: false, table: 254 },
    bgpListen: { port: 0 },
    timings: { connectRetry: 1, idleHoldMin: 1 },
    log: (l) => lines.push(l),
    ...extra,
  });
  await agent.start();
  return agent;
}

/**
 * node-a (AS 65010 at env.addr(10): its Node and NodeBGP) and two routers (AS 65000 at
 * env.addr(100) and env.addr(101)) that accept its sessions; no BGPPeers yet.
 */
export async function nodeWithTwoRouters(env: AgentEnv): Promise<{ nodeIp: string; r0: TestRouter; r1: TestRouter }> {
  const nodeIp = env.addr(10);
  const r0 = await TestRouter.start(env.addr(100), 65000, "192.0.2.100");
  const r1 = await TestRouter.start(env.addr(101), 65000, "192.0.2.101");
  for (const r of [r0, r1]) r.accept(nodeIp, 65010);
  await env.admin.create(nodeObject("node-a", nodeIp));
  await env.admin.create(nodeBgp("node-a", 65010, nodeIp));
  return { nodeIp, r0, r1 };
}

export function nodeObject(name: string, internalIP: string, labels: Record<string, string> = {}): Node {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels }, spec: {}, status: { addresses: [{ type: "InternalIP", address: internalIP }] } };
}

export function nodeBgp(name: string, asn: number, routerId: string, multipath = true): NodeBGP {
  return { apiVersion: API_VERSION, kind: "NodeBGP", metadata: { name }, spec: { asn, routerId, speaker: { path: "127.0.0.1:5000", multipath } } };
}

export function bgpPeer(name: string, node: string, r: TestRouter, extra: Partial<BGPPeer["spec"]> = {}): BGPPeer {
  return {
    apiVersion: API_VERSION,
    kind: "BGPPeer",
    metadata: { name, labels: { "bgppeer.sart.terassyi.net/node": node } },
    spec: { asn: r.asn, addr: r.address, nodeBGPRef: node, speaker: { path: "127.0.0.1:5000" }, ...extra },
  };
}

/** A BGPAdvertisement as the controller creates it (no status yet: the tests write status.peers). */
export function advertisement(name: string, cidr: string, namespace = "test"): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: "BGPAdvertisement",
    metadata: { name, namespace, labels: { "kubernetes.io/service-name": name } },
    spec: { cidr, type: "service", protocol: cidr.includes(":") ? "ipv6" : "ipv4" },
  } as KubeObject;
}

export { waitFor };
