// Pods across the agent lab (tests/lab: the test API server and sart controller, three nodes
// with sart agent, two FRR routers): the original's CNI samples (the two pod pools, the
// annotated Namespace and Pod, plain Pods) with its netconf.json unchanged, through a runtime
// chain on each Pod's node. The pool comes from the Pod's annotation, its Namespace's, or the
// auto-assign pool; each node's blocks reach both routers over BGP from that node alone, the
// other nodes' kernels get them from the routers; and a pod reaches pods on the other nodes
// through the routers (whose kernels get, from their BGP tables, what zebra would install:
// the lab runs bgpd alone).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { AddressBlock } from "../../host/kube/types.ts";
import { waitFor } from "../helpers/net.ts";
import type { Netns } from "../helpers/netns.ts";
import { nodeLink } from "../lab/addressing.ts";
import { Lab } from "../lab/lab.ts";
import { atRouters, sample } from "../lab/scenario.ts";
import { Pods } from "./harness.ts";
import { resultProblems } from "./result-shape.ts";
import { addChain, runChain, type Attachment } from "./runtime.ts";
import { SAMPLES, podAttachment, sampleNetconf, samplePods } from "./samples.ts";

let lab: Lab;
const pods = new Pods();

beforeAll(async () => {
  lab = await Lab.start({ mode: "kubernetes" });
  const nodes = lab.nodes.map((n) => n.name);
  // BGP as the lab's own tests set it up (the LoadBalancer samples' peers match its routers).
  await lab.kubectl(["apply", "-f", "-"], [sample("peer_template.yaml"), sample("cluster_bgp_a.yaml"), sample("cluster_bgp_c.yaml")].join("\n---\n"));
  await lab.kubectl(["apply", "-f", join(SAMPLES, "pool.yaml")]);
  await lab.kubectl(["apply", "-f", join(SAMPLES, "namespace.yaml")]);
  // The Pods of the lab's three nodes (sart-control-plane is not one).
  const place = (host: string | undefined) => (host && nodes.includes(host) ? host : undefined);
  for (const f of ["test_pod.yaml", "test_pod_another_pool.yaml", "test_pod_in_namespace.yaml"]) await lab.kubectl(["apply", "-f", "-"], samplePods(f, place));
}, 120_000);

afterAll(async () => {
  await pods.destroy();
  await lab?.stop();
}, 60_000);

test("pools by Pod annotation, Namespace annotation and default; blocks over BGP; pods reach each other across nodes", async () => {
  const list = sampleNetconf();
  const cases = [
    { ns: "test", pod: "test-worker", node: 0, pool: /^10\.1\.0\.\d+$/ }, // auto-assign default-pod-pool
    { ns: "test", pod: "test-worker2", node: 1, pool: /^10\.1\.0\.\d+$/ },
    { ns: "test", pod: "test-worker3", node: 2, pool: /^10\.1\.0\.\d+$/ },
    { ns: "test", pod: "test-worker-non-default", node: 0, pool: /^10\.10\.0\.[0-7]$/ }, // the Pod's annotation
    { ns: "test-non-default", pod: "test-worker2-non-default", node: 1, pool: /^10\.10\.0\.[0-7]$/ }, // the Namespace's
  ];
  const attached: { c: (typeof cases)[number]; netns: Netns; address: string; a: Attachment; result: Record<string, unknown> }[] = [];
  for (const c of cases) {
    const node = lab.nodes[c.node]!;
    const netns = await pods.create("cnilp");
    const a = podAttachment({ runtimeNetns: node.ns.path, netns: netns.path, namespace: c.ns, pod: c.pod, socket: node.cniSocket });
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
