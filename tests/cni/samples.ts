// The original sart's CNI samples (crds/samples/cni), as the CNI tests use them unchanged: the
// pod pools, the Pods placed on nodes (no scheduler runs here: spec.nodeName is set as one
// would), the original's netconf.json, and the runtime's attachment of a sample Pod.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { ROOT } from "../helpers/sart.ts";
import type { Pool } from "./harness.ts";
import type { Attachment, Conflist } from "./runtime.ts";

export const SAMPLES = join(ROOT, "crds/samples/cni");

export function samplePools(): Pool[] {
  const pools = yaml.loadAll(readFileSync(join(SAMPLES, "pool.yaml"), "utf8")) as { metadata: { name: string }; spec: { cidr: string; blockSize: number; autoAssign: boolean } }[];
  return pools.map((p) => ({ name: p.metadata.name, cidr: p.spec.cidr, blockSize: p.spec.blockSize, autoAssign: p.spec.autoAssign }));
}

/**
 * The YAML of a sample file with each Pod on the node `place` gives for its nodeSelector's
 * hostname; a Pod for which it gives none is left out.
 */
export function samplePods(file: string, place: (hostname: string | undefined) => string | undefined): string {
  return yaml.loadAll(readFileSync(join(SAMPLES, file), "utf8")).flatMap((o) => {
    const obj = o as { kind: string; spec: { nodeSelector?: Record<string, string>; nodeName?: string } };
    if (obj.kind === "Pod") {
      const node = place(obj.spec.nodeSelector?.["kubernetes.io/hostname"]);
      if (!node) return [];
      obj.spec.nodeName = node;
    }
    return [yaml.dump(obj)];
  }).join("---\n");
}

/** The original's netconf.json: sart-cni with `endpoint: http://localhost:6000`, then portmap. */
export function sampleNetconf(): Conflist {
  return JSON.parse(readFileSync(join(SAMPLES, "netconf.json"), "utf8")) as Conflist;
}

/**
 * A sample Pod's attachment as a kubelet-driven runtime makes it: CNI_ARGS with the Pod, and
 * SART_CNI_SOCKET for the node's agent (netconf.json's endpoint is the original's TCP URL).
 */
export function podAttachment(o: { runtimeNetns: string; netns: string; namespace: string; pod: string; socket: string }): Attachment {
  return {
    runtimeNetns: o.runtimeNetns,
    containerId: `${o.pod}-${process.pid}`,
    netns: o.netns,
    ifname: "eth0",
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${o.namespace};K8S_POD_NAME=${o.pod}`,
    capabilities: { portMappings: [] },
    env: { SART_CNI_SOCKET: o.socket },
  };
}
