// The agent's RBAC covers exactly what `sart agent` does: a real agent process, started
// with the DaemonSet's own command line (plus what this machine needs: no FIB in the root
// namespace, no listener, a scratch state directory), runs against the test API server
// through a recording proxy while the controller (in this process, not recorded) turns a
// ClusterBGP, a pool and Services into NodeBGP, BGPPeer and BGPAdvertisements, and a
// router (an embedded speaker on loopback) brings its session up and down. The session
// is signed with a password from the Secret the Role names (sart-bgp-passwords), and a
// second peer names a BFDProfile that does not exist. Every request
// it made must be allowed by the rules bound to its ServiceAccount in crds/deploy, and
// every rule must have been used (or be listed below with the code path that needs it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { Controller } from "../../host/kube/controller/controller.ts";
import { KubeStore } from "../../host/kube/kube-store.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import { API_VERSION, type AddressBlock, type BGPAdvertisement, type BGPPeer } from "../../host/kube/types.ts";
import { neighborFromJson } from "../../host/bgp/config.ts";
import { TestRouter, nodeObject } from "../agent/harness.ts";
import { loopbackBlock, waitFor } from "../helpers/net.ts";
import { type ApiServer, kubeconfigYaml, startApiServer } from "../kube/apiserver/index.ts";
import { unixGet } from "../lab/lab.ts";
import { endpointSlice, service } from "../lab/scenario.ts";
import { commandLine, find, type Manifest, renderDeploy, ROOT } from "./manifests.ts";
import { Authorizer, rbacCoverage } from "./rbac.ts";
import { type RecordingProxy, startRecordingProxy } from "./recording-proxy.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");
const NAMESPACE = "kube-system";
const PASSWORD = "rbac-test-key";

/** Granted but not reached by this scenario, with the code that needs it. */
const UNEXERCISED: Record<string, string> = {
  "get sart.terassyi.net/nodebgps": "Agent.probeWhileFailing (host/agent/agent.ts) reads it while the API server fails",
  "get core/pods": "the CNI server (host/cni) reads a Pod its informer has not delivered yet",
  "list core/pods": "the CNI server's informer on the node's Pods (the pool annotation)",
  "watch core/pods": "the CNI server's informer on the node's Pods",
  "get core/namespaces": "the CNI server reads a Namespace's pool annotation",
  "list core/namespaces": "the CNI server's informer on Namespaces",
  "watch core/namespaces": "the CNI server's informer on Namespaces",
  "list sart.terassyi.net/addresspools": "the CNI server's informer on pools",
  "watch sart.terassyi.net/addresspools": "the CNI server's informer on pools",
  "create sart.terassyi.net/blockrequests": "the CNI server asks for a block when the node's blocks are full",
  "get sart.terassyi.net/addressblocks": "the CNI server re-reads a block whose finalizer patch met a conflict",
  "delete sart.terassyi.net/addressblocks": "the CNI server gives back a block that stayed empty",
};

describe("agent RBAC (crds/deploy) against the calls sart agent makes", () => {
  let server: ApiServer;
  let proxy: RecordingProxy;
  let dir: string;
  let manifests: Manifest[];
  let admin: KubeStore;
  let controller: Controller;
  let router: TestRouter;
  let child: ChildProcess | undefined;
  let stderr = "";
  const addr = loopbackBlock();

  beforeAll(async () => {
    manifests = await renderDeploy();
    server = await startApiServer({ namespaces: ["default", "kube-system", "test"] });
    proxy = await startRecordingProxy(server.url);
    dir = await mkdtemp(join(tmpdir(), "sart-deploy-agent-rbac-"));
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfig());
    admin = new KubeStore(kc);
    controller = new Controller({ store: new KubeStore(kc), log: () => {} });
    await controller.start();
    await controller.startLeading();
    router = await TestRouter.start(addr(100), 65000, "192.0.2.100");
    acceptSigned();
  });

  /** The router's side of the session, signed with the password the Secret holds. */
  const acceptSigned = () => router.s.addNeighbor(neighborFromJson({ address: addr(10), asn: 65010, passive: true, holdTime: 9, password: PASSWORD }));

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await router?.stop();
    await controller?.stop();
    admin?.close();
    await proxy?.stop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("every request of the agent is allowed, every grant is used", async () => {
    const ds = find(manifests, "DaemonSet", "sart-agent");
    const pod = ds.spec.template.spec;
    const container = pod.containers.find((c: Manifest) => c.name === "agent");
    const env = { NODE_NAME: "node-a", POD_NAME: "sart-agent-x1", POD_NAMESPACE: NAMESPACE };
    expect(commandLine(container, env)).toEqual(["sart", "agent"]);
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, kubeconfigYaml(proxy.url, NAMESPACE));
    const health = join(dir, "health.sock");

    // The cluster: a node, a ClusterBGP giving it two peers (the router, with its password
    // from the Secret the Role names; another naming a BFDProfile that does not exist), a pool.
    await admin.create(nodeObject("node-a", addr(10), { "sart.terassyi.net/asn": "65010" }));
    await admin.create({
      apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "sart-bgp-passwords", namespace: NAMESPACE },
      data: { router0: Buffer.from(PASSWORD).toString("base64") },
    } as KubeObject);
    await admin.create({
      apiVersion: API_VERSION, kind: "ClusterBGP", metadata: { name: "cb" },
      spec: {
        asnSelector: { from: "label" }, routerIdSelector: { from: "internalAddress" }, speaker: { path: "127.0.0.1:5000", multipath: true },
        peers: [
          { peerConfig: { asn: 65000, addr: addr(100), passwordSecret: { name: "sart-bgp-passwords", namespace: NAMESPACE, key: "router0" } } },
          { peerConfig: { asn: 65000, addr: addr(101), bfdProfile: "absent" } },
        ],
      },
    } as KubeObject);
    await admin.create({ apiVersion: API_VERSION, kind: "AddressPool", metadata: { name: "lb" }, spec: { cidr: "198.51.100.0/24", type: "service", allocType: "bit", autoAssign: true } } as KubeObject);
    await waitFor("the node's BGPPeers", async () => (await admin.list<BGPPeer>("BGPPeer", {})).length === 2);

    // The DaemonSet's command line, as the kubelet would run it (NODE_NAME from the fieldRef).
    child = spawn(BUN, [join(ROOT, "host/cli/main.ts"), ...commandLine(container, env).slice(1),
      "--kubeconfig", kubeconfig, "--no-fib", "--bgp-listen", "0", "--api", "none", "--health", `unix:${health}`, "--state-dir", join(dir, "state"), "--cni-socket", join(dir, "cni.sock"),
    ], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env, KUBECONFIG: "" } });
    child.stderr!.on("data", (d) => (stderr += d));
    const exit = new Promise<number>((done) => child!.on("exit", (code) => done(code ?? -1)));
    try {
      await waitFor("the agent ready", async () => (await unixGet(health, "/readyz")).status === 200, 30_000);
      const condition = async (a: string) => (await admin.list<BGPPeer>("BGPPeer", {})).find((p) => p.spec.addr === a)?.status?.conditions?.at(-1);
      const peerStatus = async () => (await condition(addr(100)))?.status;
      await waitFor("BGPPeer Established (signed)", async () => (await peerStatus()) === "Established", 20_000);
      await waitFor("the other BGPPeer: BFDProfileNotFound", async () => (await condition(addr(101)))?.reason.startsWith("BFDProfileNotFound: "), 20_000);

      // A Service: the controller targets the peer, the agent marks it Advertised...
      await admin.create(service("web"));
      await admin.create(endpointSlice("web", [{ node: "node-a" }]));
      const advState = async () => (await admin.list<BGPAdvertisement>("BGPAdvertisement", { namespace: "test" }))[0]?.status?.peers;
      const routerPeer = (await admin.list<BGPPeer>("BGPPeer", {})).find((p) => p.spec.addr === addr(100))!.metadata.name;
      await waitFor("Advertised", async () => (await advState())?.[routerPeer] === "Advertised", 20_000);
      // ...and removes the Withdraw entry once the route is gone from the peer.
      await admin.patch("EndpointSlice", { name: "web-v4slc", namespace: "test" }, endpointSlice("web", []));
      await admin.patch("Service", { name: "web", namespace: "test" }, { spec: { externalTrafficPolicy: "Local" } });
      await waitFor("the Withdraw entry removed", async () => {
        const p = await advState();
        return p !== undefined && Object.keys(p).length === 0;
      }, 20_000);

      // The router drops the session twice with the same Cease: the repeated Events bump their count.
      for (let i = 0; i < 2; i++) {
        await router.s.removeNeighbor(addr(10));
        await waitFor("the session down", async () => (await peerStatus()) !== "Established", 20_000);
        acceptSigned();
        await waitFor("the session back", async () => (await peerStatus()) === "Established", 20_000);
      }
      await waitFor("the repeated SessionDown Event counted", async () =>
        (await admin.list<KubeObject & { reason: string; count?: number }>("Event", { namespace: "default" })).some((e) => e.reason === "SessionDown" && e.count === 2), 20_000);

      // A pod block of the node: announced (no API writes for it).
      await admin.create({
        apiVersion: API_VERSION, kind: "AddressBlock",
        metadata: { name: "pods-0", labels: { "addressblock.sart.terassyi.net/node": "node-a", "sart.terassyi.net/addresspool": "pods" } },
        spec: { cidr: "10.1.0.0/29", type: "pod", poolRef: "pods", nodeRef: "node-a", autoAssign: true },
      } as AddressBlock);
      await waitFor("the block at the router", () => router.has("10.1.0.0/29"), 20_000);
    } finally {
      child.kill("SIGTERM");
      const code = await Promise.race([exit, new Promise<number>((done) => setTimeout(() => done(-2), 15_000))]);
      if (code !== 0) throw new Error(`sart agent exited ${code}: ${stderr.slice(-2000)}`);
    }

    const cov = rbacCoverage(new Authorizer(manifests as never, { name: pod.serviceAccountName, namespace: NAMESPACE }), proxy.requests, UNEXERCISED);
    console.log(`sart agent made ${proxy.requests.length} requests:\n  ${cov.calls.join("\n  ")}`);
    expect(cov.denied).toEqual([]);
    expect(cov.nonResource).toEqual([]);
    expect(cov.unused).toEqual([]);
    expect(cov.staleExceptions).toEqual([]);
  }, 180_000);
});
