// Kubernetes mode against the test API server: the original's CNI samples (crds/samples/cni:
// the two pod pools, the annotated Pod and Namespace, plain Pods) and its netconf.json used
// unchanged through a runtime chain (sart-cni then portmap). The pool comes from the Pod's
// annotation, else its Namespace's, else the auto-assign pool; the agent reads them from
// informer caches (Pods of its node only). DEL works once the Pod is gone.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { CniNode, Pods } from "./harness.ts";
import { resultProblems } from "./result-shape.ts";
import { addChain, runChain, type Attachment } from "./runtime.ts";
import { SAMPLES, podAttachment, sampleNetconf, samplePods, samplePools } from "./samples.ts";

let node: CniNode;
const pods = new Pods();

beforeAll(async () => {
  node = await CniNode.create({ name: "cnikube", kube: true, ipv4: "192.0.2.1", pools: samplePools() });
  await node.kubectl(["apply", "-f", join(SAMPLES, "namespace.yaml")]);
  for (const f of ["test_pod.yaml", "test_pod_another_pool.yaml", "test_pod_in_namespace.yaml"]) await node.kubectl(["apply", "-f", "-"], samplePods(f, () => node.nodeName));
}, 120_000);

afterAll(async () => {
  await pods.destroy();
  await node?.destroy();
});

test("pool by Pod annotation, by Namespace annotation, by default; the original's netconf.json unchanged", async () => {
  const list = sampleNetconf();
  expect(list.plugins[0]).toMatchObject({ type: "sart-cni", endpoint: "http://localhost:6000" });
  const cases = [
    { ns: "test", pod: "test-worker-non-default", pool: /^10\.10\.0\.[0-7]\/32$/ }, // Pod annotation
    { ns: "test-non-default", pod: "test-worker2-non-default", pool: /^10\.10\.0\.[0-7]\/32$/ }, // Namespace annotation
    { ns: "test", pod: "test-cp", pool: /^10\.1\.0\.\d+\/32$/ }, // auto-assign default-pod-pool
    { ns: "test", pod: "test-worker", pool: /^10\.1\.0\.\d+\/32$/ },
  ];
  const attached: { a: Attachment; result: Record<string, unknown> }[] = [];
  for (const c of cases) {
    const netns = await pods.create("cnikp");
    const a = podAttachment({ runtimeNetns: node.ns.path, netns: netns.path, namespace: c.ns, pod: c.pod, socket: node.socket });
    const result = await addChain(list, a);
    expect(resultProblems("1.0.0", result)).toEqual([]);
    expect((result.ips as { address: string }[]).map((i) => i.address), `${c.ns}/${c.pod}`).toEqual([expect.stringMatching(c.pool)]);
    attached.push({ a, result });
  }
  // non-default-pod-pool has blockSize 32: each of its pods took a block of its own.
  expect((await node.kubectl(["get", "addressblocks", "-o", "name"])).split("\n").filter((l) => l.includes("non-default-pod-pool")).length).toBe(2);

  // The hot path needs no API call: with the API server frozen (SIGSTOP), a pod whose pool
  // has room in this node's block is attached from the caches; one API call would hang it.
  const netns = await pods.create("cnikp");
  const frozen = { ...attached[2]!.a, containerId: `test-worker3-${process.pid}`, netns: netns.path, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME=test-worker3` };
  node.apiserver!.signal("SIGSTOP");
  let result: Record<string, unknown>;
  try {
    result = await addChain({ ...list, plugins: list.plugins.map((p) => (p.type === "sart-cni" ? { ...p, timeout: 5 } : p)) }, frozen);
  } finally {
    node.apiserver!.signal("SIGCONT");
  }
  expect((result.ips as { address: string }[]).map((i) => i.address)).toEqual([expect.stringMatching(/^10\.1\.0\.[0-7]\/32$/)]);
  attached.push({ a: frozen, result });
  // A Pod deleted before its DEL: the DEL needs neither it nor its netns.
  await node.kubectl(["delete", "pod", "-n", "test", "test-worker-non-default", "--wait=false"]);
  for (const { a, result } of attached) await runChain("DEL", list, a, result);
  expect(await node.total("sart_cni_attachments")).toBe(0);
}, 120_000);
