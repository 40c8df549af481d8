// Pods across the agent lab (tests/lab: the test API server and sart controller, three nodes
// with sart agent, two FRR routers): the original's CNI samples (the two pod pools, the
// annotated Namespace and Pod, plain Pods) with its netconf.json unchanged, through a runtime
// chain on each Pod's node. The pool comes from the Pod's annotation, its Namespace's, or the
// auto-assign pool; each node's blocks reach both routers over BGP from that node alone, the
// other nodes' kernels get them from the routers; and a pod reaches pods on the other nodes
// through the routers (whose kernels get, from their BGP tables, what zebra would install:
// the lab runs bgpd alone).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import type { AddressBlock } from "../../host/kube/types.ts";
import { waitFor } from "../helpers/net.ts";
import type { Netns } from "../helpers/netns.ts";
import { ROOT } from "../helpers/sart.ts";
import { nodeLink } from "../lab/addressing.ts";
import { Lab } from "../lab/lab.ts";
import { atRouters, sample } from "../lab/scenario.ts";
import { Pods } from "./harness.ts";
import { resultProblems } from "./result-shape.ts";
import { addChain, runChain, type Conflist } from "./runtime.ts";

const SAMPLES = join(ROOT, "crds/samples/cni");
let lab: Lab;
const pods = new Pods();

/** The sample Pods of `file` on the lab's nodes (their nodeSelector's hostname as spec.nodeName: no scheduler here). */
function samplePods(file: string, nodes: string[]): string {
  return yaml.loadAll(readFileSync(join(SAMPLES, file), "utf8")).flatMap((o) => {
    const obj = o as { kind: string; spec: { nodeSelector?: Record<string, string>; nodeName?: string } };
    if (obj.kind === "Pod") {
      const host = obj.spec.nodeSelector?.["kubernetes.io/hostname"];
      if (!host || !nodes.includes(host)) return []; // sart-control-plane: not a node of the lab
      obj.spec.nodeName = host;
    }
    return [yaml.dump(obj)];
  }).join("---\n");
}

beforeAll(async () => {
  lab = await Lab.start({ mode: "kubernetes" });
  const nodes = lab.nodes.map((n) => n.name);
  // BGP as the lab's own tests set it up (the LoadBalancer samples' peers match its routers).
  await lab.kubectl(["apply", "-f", "-"], [sample("peer_template.yaml"), sample("cluster_bgp_a.yaml"), sample("cluster_bgp_c.yaml")].join("\n---\n"));
  await lab.kubectl(["apply", "-f", join(SAMPLES, "pool.yaml")]);
  await lab.kubectl(["apply", "-f", join(SAMPLES, "namespace.yaml")]);
  for (const f of ["test_pod.yaml", "test_pod_another_pool.yaml", "test_pod_in_namespace.yaml"]) await lab.kubectl(["apply", "-f", "-"], samplePods(f, nodes));
}, 120_000);

afterAll(async () => {
  await pods.destroy();
  await lab?.stop();
}, 60_000);

test("pools by Pod annotation, Namespace annotation and default; blocks over BGP; pods reach each other across nodes", async () => {
  const list = JSON.parse(readFileSync(join(SAMPLES, "netconf.json"), "utf8")) as Conflist;
  const cases = [
    { ns: "test", pod: "test-worker", node: 0, pool: /^10\.1\.0\.\d+$/ }, // auto-assign default-pod-pool
    { ns: "test", pod: "test-worker2", node: 1, pool: /^10\.1\.0\.\d+$/ },
    { ns: "test", pod: "test-worker3", node: 2, pool: /^10\.1\.0\.\d+$/ },
    { ns: "test", pod: "test-worker-non-default", node: 0, pool: /^10\.10\.0\.[0-7]$/ }, // the Pod's annotation
    { ns: "test-non-default", pod: "test-worker2-non-default", node: 1, pool: /^10\.10\.0\.[0-7]$/ }, // the Namespace's
  ];
  const attached: { c: (typeof cases)[number]; netns: Netns; address: string; a: Parameters<typeof addChain>[1]; result: Record<string, unknown> }[] = [];
  for (const c of cases) {
    const node = lab.nodes[c.node]!;
    const netns = await pods.create("cnilp");
    const a = {
      runtimeNetns: node.ns.path,
      containerId: `${c.pod}-${process.pid}`,
      netns: netns.path,
      ifname: "eth0",
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${c.ns};K8S_POD_NAME=${c.pod}`,
      capabilities: { portMappings: [] },
      env: { SART_CNI_SOCKET: node.cniSocket }, // netconf.json's endpoint is the original's TCP URL
    };
    const result = await addChain(list, a);
    expect(resultProblems("1.0.0", result)).toEqual([]);
    const address = (result.ips as { address: string }[])[0]!.address.replace(/\/32$/, "");
    expect(address, `${c.ns}/${c.pod}`).toMatch(c.pool);
    // The pod's gateway is its node's InternalIP.
    expect((result.ips as { gateway: string }[])[0]!.gateway).toBe(node.plan.address);
    attached.push({ c, netns, address, a, result });
  }

  // Each node's blocks of the default pool: at both routers via that node only, and in the
  // other nodes' kernels; the routers' kernels get them from their BGP tables.
  const blocks = (await lab.store!.list<AddressBlock>("AddressBlock", {})).filter((b) => b.spec.type === "pod");
  for (const b of blocks) {
    const i = lab.nodes.findIndex((n) => n.name === b.spec.nodeRef);
    await atRouters(lab.routers, b.spec.cidr, [lab.nodes[i]!.plan.address]);
    for (const [k, other] of lab.nodes.entries()) {
      if (k === i) continue;
      await waitFor(`${b.spec.cidr} in ${other.name}'s kernel`, async () => (await other.routes([b.spec.cidr])).length === 1);
    }
    // What zebra would install from the routers' BGP tables (the lab runs bgpd alone).
    for (const r of lab.routers) await r.ns.ip("route", "replace", b.spec.cidr, "via", nodeLink(r.plan, lab.nodes[i]!.plan.index).node);
  }
  expect(new Set(blocks.map((b) => b.spec.nodeRef)).size).toBe(3);

  // Every pod reaches every pod on another node, through the routers.
  for (const from of attached) {
    for (const to of attached) {
      if (from.c.node === to.c.node) continue;
      await waitFor(`${from.c.pod} (${from.address}) reaches ${to.c.pod} (${to.address})`, () =>
        from.netns.exec("busybox", ["ping", "-c", "1", "-W", "2", to.address]).then((out) => out.includes("1 packets received")), 15_000, 200);
    }
  }

  for (const { a, result } of attached) await runChain("DEL", list, a, result);
  for (const n of lab.nodes) {
    const m = (await n.health("/metrics")).body;
    expect(m).toMatch(/^sart_cni_attachments 0$/m);
  }
}, 180_000);
