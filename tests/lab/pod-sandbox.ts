// A pod's sandbox on a lab node, as a container runtime makes it: a network namespace, the
// node's CNI network config run through its plugins (sart-cni, then portmap) with the CNI
// environment and the config on stdin (tests/cni/runtime.ts), and the pod's "container":
// for an image the lab knows, an HTTP responder on the port that image serves (busybox
// httpd, a CGI naming the pod, its node and address, and the client address it sees).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Netns, uniqueSuffix } from "../helpers/netns.ts";
import { type Daemon, startDaemon } from "../helpers/proc.ts";
import { type Attachment, type Conflist, addChain, runChain } from "../cni/runtime.ts";

/** What the images of the original's samples serve: the test server on 8080, nginx on 80. */
const IMAGE_PORTS: Record<string, number> = {
  "ghcr.io/terassyi/test-server:0.1.2": 8080,
  "nginx:latest": 80,
};

export interface SandboxSpec {
  namespace: string;
  name: string;
  node: string;
  /** The node's network namespace: the runtime runs the plugins there. */
  nodeNs: Netns;
  /** The node agent's CNI socket (the runtime passes its environment to the plugins). */
  cniSocket: string;
  images: string[];
  /** Prefix of the pod namespace's name (the lab's, so a sweep finds it). */
  netnsPrefix: string;
  /** Where the responder's files and log go. */
  dir: string;
}

export class PodSandbox {
  private responders: Daemon[] = [];

  private constructor(
    readonly spec: SandboxSpec,
    readonly ns: Netns,
    private readonly attachment: Attachment,
    private readonly conflist: Conflist,
    /** The last plugin's result (the runtime keeps it for DEL). */
    private readonly result: Record<string, unknown>,
    /** The pod's IPv4 address from the result. */
    readonly ip: string,
  ) {}

  /** Creates the namespace and runs ADD through the conflist; on failure nothing is left behind. */
  static async create(spec: SandboxSpec, conflist: Conflist): Promise<PodSandbox> {
    const ns = await Netns.create(`${spec.netnsPrefix}-pod`);
    const attachment: Attachment = {
      runtimeNetns: spec.nodeNs.path,
      containerId: `${uniqueSuffix(12)}${uniqueSuffix(12)}`,
      netns: ns.path,
      ifname: "eth0",
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${spec.namespace};K8S_POD_NAME=${spec.name};K8S_POD_INFRA_CONTAINER_ID=${spec.name}`,
      capabilities: { portMappings: [] },
      env: { SART_CNI_SOCKET: spec.cniSocket },
    };
    let result: Record<string, unknown>;
    try {
      result = await addChain(conflist, attachment);
    } catch (e) {
      await ns.delete();
      throw e;
    }
    const ips = (result.ips as { address: string }[] | undefined) ?? [];
    const ip = ips.map((i) => i.address.split("/")[0]!).find((a) => !a.includes(":"));
    const sandbox = new PodSandbox(spec, ns, attachment, conflist, result, ip ?? "");
    if (!ip) {
      await sandbox.destroy();
      throw new Error(`pod ${spec.namespace}/${spec.name}: the CNI result has no IPv4 address: ${JSON.stringify(result)}`);
    }
    sandbox.startContainers();
    return sandbox;
  }

  private startContainers(): void {
    const { spec } = this;
    for (const image of spec.images) {
      const port = IMAGE_PORTS[image];
      if (port === undefined) continue; // e.g. curlimages/curl running `sleep infinity`
      const www = join(spec.dir, `www-${port}`);
      mkdirSync(join(www, "cgi-bin"), { recursive: true });
      const cgi = join(www, "cgi-bin", "index.cgi");
      // busybox httpd runs cgi-bin/index.cgi for "/" when there is no index.html.
      writeFileSync(cgi, [
        "#!/bin/sh",
        "printf 'Content-Type: text/plain\\r\\n\\r\\n'",
        'client=${REMOTE_ADDR#\\[::ffff:}; client=${client%\\]}',
        `echo "${spec.name} on ${spec.node} (${this.ip}:${port}) answered $client"`,
        "",
      ].join("\n"));
      chmodSync(cgi, 0o755);
      const [cmd, args] = this.ns.wrap("busybox", ["httpd", "-f", "-p", String(port), "-h", www]);
      this.responders.push(startDaemon(`pod ${spec.name}`, cmd, args, join(spec.dir, `httpd-${port}.log`)));
    }
  }

  /** Stops the containers, runs DEL through the conflist and deletes the namespace. */
  async destroy(): Promise<void> {
    await Promise.all(this.responders.map((d) => d.stop("SIGTERM", 2000)));
    this.responders = [];
    try {
      await runChain("DEL", this.conflist, this.attachment, this.result);
    } finally {
      await this.ns.delete();
    }
  }
}
