// The controller's RBAC covers exactly what `sart controller` does: two real controller
// processes (leader and standby, then a failover), started with the Deployment's own command line, run the LoadBalancer, pool,
// pod block and ClusterBGP scenarios against the test API server through a recording proxy;
// every request it made must be allowed by the rules bound to its ServiceAccount in
// crds/deploy, and every rule it holds must have been used (or be listed below with the
// code path that needs it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import yaml from "js-yaml";
import { KubeStore } from "../../host/kube/kube-store.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import type { AddressBlock, AddressPool, BGPAdvertisement, BGPPeer, Node, NodeBGP, Service } from "../../host/kube/types.ts";
import { API_VERSION } from "../../host/kube/types.ts";
import { type ApiServer, kubeconfigYaml, startApiServer } from "../kube/apiserver/index.ts";
import { addressesOf, eventually, slice } from "../kube/controller-harness.ts";
import { commandLine, find, type Manifest, renderDeploy, ROOT } from "./manifests.ts";
import { Authorizer, rbacCoverage } from "./rbac.ts";
import { type RecordingProxy, startRecordingProxy } from "./recording-proxy.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");
const SAMPLES = join(ROOT, "crds/samples/lb");
const NAMESPACE = "kube-system";

/**
 * Granted but not reached by this scenario: each needs a race or a repeat the scenario cannot
 * force without timing. The code path that makes the call is named.
 */
const UNEXERCISED: Record<string, string> = {
  "get core/services": "setFinalizer (host/kube/controller/context.ts) re-reads after a 409 Conflict",
  "get sart.terassyi.net/addresspools": "setFinalizer re-reads a pool after a 409 Conflict",
  "get sart.terassyi.net/clusterbgps": "setFinalizer re-reads a ClusterBGP after a 409 Conflict",
  "get sart.terassyi.net/bgpadvertisements": "createAdvertisement (advertisement.ts) reads the existing object after 409 AlreadyExists",
  "patch core/events": "EventRecorder (host/kube/store.ts) bumps count/lastTimestamp of an identical repeated Event",
};

interface Replica {
  podName: string;
  child: ChildProcess;
  stderr: string;
  exit: Promise<number>;
}

function node(name: string, labels: Record<string, string>, internalIP: string): Node {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels }, spec: {}, status: { addresses: [{ type: "InternalIP", address: internalIP }] } };
}

async function samples(file: string): Promise<KubeObject[]> {
  return (yaml.loadAll(await readFile(join(SAMPLES, file), "utf8")) as KubeObject[]).filter(Boolean);
}

describe("controller RBAC (crds/deploy) against the calls sart controller makes", () => {
  let server: ApiServer;
  let proxy: RecordingProxy;
  let dir: string;
  let manifests: Manifest[];
  let admin: KubeStore;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    manifests = await renderDeploy();
    server = await startApiServer({ namespaces: ["default", "kube-system", "test"] });
    proxy = await startRecordingProxy(server.url);
    dir = await mkdtemp(join(tmpdir(), "sart-deploy-rbac-"));
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfig());
    admin = new KubeStore(kc);
  });

  afterAll(async () => {
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    admin?.close();
    await proxy?.stop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("every request of the controller is allowed, every grant is used", async () => {
    // The Deployment's command line, with the values its fieldRefs would have in a pod.
    const deployment = find(manifests, "Deployment", "sart-controller");
    const pod = deployment.spec.template.spec;
    const container = pod.containers.find((c: Manifest) => c.name === "controller");
    expect(commandLine(container, {}).slice(0, 2)).toEqual(["sart", "controller"]);
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, kubeconfigYaml(proxy.url, NAMESPACE));

    // Nodes first (an agent's kubelet would have registered them).
    await admin.create(node("node-a", { bgp: "a", "sart.terassyi.net/asn": "65001" }, "192.0.2.11"));
    await admin.create(node("node-b", { bgp: "a", bgp2: "c", "sart.terassyi.net/asn": "65002" }, "192.0.2.12"));

    // Two replicas, as the Deployment runs them: one leads, the other stands by.
    const start = (podName: string): Replica => {
      const env = { POD_NAME: podName, POD_NAMESPACE: NAMESPACE, NODE_NAME: "node-a" };
      const child = spawn(BUN, [join(ROOT, "host/cli/main.ts"), ...commandLine(container, env).slice(1), "--kubeconfig", kubeconfig], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, ...env, KUBECONFIG: "" },
      });
      const r: Replica = { podName, child, stderr: "", exit: new Promise<number>((done) => child.on("exit", (code) => done(code ?? -1))) };
      child.stderr!.on("data", (d) => (r.stderr += d));
      replicas.push(r);
      return r;
    };
    const holder = async () => (await admin.get<KubeObject & { spec?: { holderIdentity?: string } }>("Lease", { name: "sart-controller", namespace: NAMESPACE }))?.spec?.holderIdentity ?? "";
    const stop = async (r: Replica) => {
      r.child.kill("SIGTERM");
      const code = await Promise.race([r.exit, new Promise<number>((done) => setTimeout(() => done(-2), 15_000))]);
      if (code !== 0) throw new Error(`sart controller ${r.podName} exited ${code}: ${r.stderr.slice(-2000)}`);
    };
    const first = start("sart-controller-7d9f-aaaaa");
    let second: Replica | undefined;

    try {
      // Leading: the Lease in the pod's namespace; then the standby starts.
      await eventually(async () => (await holder()).startsWith(first.podName), "the first replica holding the Lease");
      second = start("sart-controller-7d9f-bbbbb");

      // The original's LB samples: pools, template, ClusterBGPs, Services with annotations.
      for (const f of ["lb_address_pool.yaml", "peer_template.yaml", "cluster_bgp_a.yaml", "cluster_bgp_c.yaml", "lb.yaml", "lb_another.yaml"]) {
        for (const o of await samples(f)) {
          if (o.kind === "Namespace" || o.kind === "Deployment" || o.kind === "Pod") continue; // test namespace exists; no workloads needed
          if (o.kind === "Service") (o as Service).spec!.allocateLoadBalancerNodePorts = false;
          await admin.create(o);
        }
      }
      // The endpointslice controller's slices: Local Services follow ready endpoints.
      for (const svc of ["app-svc-cluster", "app-svc-local", "app-svc-cluster2", "app-svc-cluster3", "app-svc-local2"]) {
        await admin.create(slice(svc, [{ node: "node-a" }, { node: "node-b", ready: svc !== "app-svc-local" }]));
      }
      expect(await addressesOf(admin, "app-svc-cluster2")).toEqual(["10.0.100.20"]);
      await addressesOf(admin, "app-svc-local");
      await eventually(() => admin.get<NodeBGP>("NodeBGP", { name: "node-b" }).then((n) => (n?.spec.peers?.length ?? 0) === 2), "NodeBGP node-b with both ClusterBGPs' peers");
      await eventually(async () => (await admin.list<BGPAdvertisement>("BGPAdvertisement", { namespace: "test" })).length === 5, "5 BGPAdvertisements");

      // A requested address already held: a Warning Event, twice (the repeat patches its count).
      const taken = { apiVersion: "v1", kind: "Service", metadata: { name: "taken", namespace: "test", annotations: { "sart.terassyi.net/loadBalancerIPs": "10.0.100.20" } }, spec: { type: "LoadBalancer", allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] } } as Service;
      await admin.create(taken);
      await eventually(async () => (await admin.list<KubeObject & { reason?: string; count?: number }>("Event", { namespace: "test" })).some((e) => e.reason === "AddressInUse"), "AddressInUse Event");

      // Endpoint readiness changes move Local advertisements' targets (status patches).
      await admin.patch("EndpointSlice", { name: "app-svc-local-abcde", namespace: "test" }, { endpoints: [{ addresses: ["10.244.0.10"], conditions: { ready: true }, nodeName: "node-b" }] });

      // Pod pool and a BlockRequest: a block `{pool}-0` with status.index, the request deleted.
      await admin.create({ apiVersion: API_VERSION, kind: "AddressPool", metadata: { name: "pods" }, spec: { cidr: "198.51.100.0/24", type: "pod", allocType: "bit", blockSize: 28, autoAssign: true } } as AddressPool);
      await admin.create({ apiVersion: API_VERSION, kind: "BlockRequest", metadata: { name: "node-a-pods" }, spec: { pool: "pods", node: "node-a" } } as KubeObject);
      await eventually(() => admin.get<AddressBlock>("AddressBlock", { name: "pods-0" }).then((b) => b?.status?.index === 0), "pod block pods-0 with its index");
      await eventually(async () => (await admin.list("BlockRequest", {})).length === 0, "the BlockRequest answered and deleted");

      // autoAssign flips on a service pool: its block follows (patch addressblocks).
      await admin.patch("AddressPool", { name: "non-default-lb-pool" }, { spec: { autoAssign: true } });
      await eventually(() => admin.get<AddressBlock>("AddressBlock", { name: "non-default-lb-pool" }).then((b) => b?.spec.autoAssign === true), "the block's autoAssign");
      // Its route attributes change: the advertisements of its addresses follow (patch bgpadvertisements).
      await admin.patch("AddressPool", { name: "non-default-lb-pool" }, { spec: { bgp: { communities: ["65000:1"] } } });
      await eventually(async () => (await admin.list<BGPAdvertisement>("BGPAdvertisement", { namespace: "test" })).some((a) => a.spec.attrs?.includes("community:65000:1")), "attrs on the pool's advertisements");

      // A pool in use cannot go: its finalizer stays and its status says why.
      await admin.delete("AddressPool", { name: "default-lb-pool" });
      await eventually(() => admin.get<AddressPool>("AddressPool", { name: "default-lb-pool" }).then((p) => p?.status?.conditions?.some((c) => c.reason === "PoolInUse")), "PoolInUse on the deleted pool");

      // Deletions: Services (addresses released, advertisements withdrawn and deleted),
      // a node leaving a ClusterBGP, a ClusterBGP, a pod block, then the pool goes.
      for (const s of ["app-svc-cluster", "app-svc-local", "app-svc-cluster3", "taken"]) await admin.delete("Service", { name: s, namespace: "test" });
      await eventually(async () => !(await admin.get("AddressPool", { name: "default-lb-pool" })), "the released pool deleted");
      await admin.patch("Node", { name: "node-b" }, { metadata: { labels: { bgp2: null } } });
      await eventually(() => admin.get<NodeBGP>("NodeBGP", { name: "node-b" }).then((n) => n?.spec.peers?.length === 1), "node-b down to one peer");
      // A template change reaches its BGPPeers (patch bgppeers).
      await admin.patch("BGPPeerTemplate", { name: "bgppeertemplate-sample" }, { spec: { groups: ["to-router0", "to-router2"] } });
      await eventually(() => admin.get<BGPPeer>("BGPPeer", { name: "bgppeertemplate-sample-node-a-65000-9.9.9.9" }).then((p) => p?.spec.groups?.includes("to-router2")), "the template's groups on its BGPPeer");
      await admin.delete("ClusterBGP", { name: "clusterbgp-sample-a" });
      await eventually(async () => !(await admin.get("NodeBGP", { name: "node-a" })), "NodeBGP node-a deleted with its ClusterBGP");
      await eventually(async () => (await admin.list<BGPPeer>("BGPPeer", {})).length === 0, "the BGPPeers deleted");
      await admin.delete("AddressBlock", { name: "pods-0" });
      await admin.create({ apiVersion: API_VERSION, kind: "BlockRequest", metadata: { name: "node-b-pods" }, spec: { pool: "pods", node: "node-b" } } as KubeObject);
      await eventually(() => admin.get<AddressBlock>("AddressBlock", { name: "pods-0" }).then((b) => b?.spec.nodeRef === "node-b"), "index 0 reused for node-b");
      // Failover: the leader stops and releases the Lease, the standby takes it and goes on.
      await stop(first);
      await eventually(async () => (await holder()).startsWith(second!.podName), "the standby holding the Lease", 30_000);
      await admin.create({ apiVersion: "v1", kind: "Service", metadata: { name: "after-failover", namespace: "test" }, spec: { type: "LoadBalancer", allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] } } as Service);
      await addressesOf(admin, "after-failover");
    } finally {
      for (const r of [first, second]) if (r && r.child.exitCode === null) await stop(r);
    }

    // What it did.
    const authz = new Authorizer(manifests as never, { name: pod.serviceAccountName, namespace: NAMESPACE });
    const cov = rbacCoverage(authz, proxy.requests, UNEXERCISED);
    console.log(`sart controller made ${proxy.requests.length} requests:\n  ${cov.calls.join("\n  ")}`);
    expect(cov.denied).toEqual([]);
    // Discovery and other non-resource paths: the controller uses none.
    expect(cov.nonResource).toEqual([]);
    // Nothing granted that it does not use: each grant was seen, or is a named rare path.
    expect(cov.unused).toEqual([]);
    // The exceptions name grants that exist (a retry may reach one in some runs: fine).
    expect(cov.staleExceptions).toEqual([]);
  }, 180_000);
});
