// The cluster around sart in the lab, for the demo: what kubelets, the scheduler, the
// Deployment and EndpointSlice controllers and kube-proxy would do, reduced to what makes
// traffic flow. Test code, not part of sart. One reconcile pass at a time, every 250 ms:
// - Deployments get their replicas as Pods, spread over the lab's nodes; bare Pods are
//   bound to the node their nodeSelector names, else to the least loaded one;
// - each node's "kubelet" makes a sandbox for its Pods (tests/lab/pod-sandbox.ts: a netns,
//   the original's netconf.json through sart-cni and portmap, an HTTP responder) and
//   writes the Pod's status (Running, podIP, hostIP); a Pod that is gone has its sandbox
//   torn down (CNI DEL);
// - every Service with a selector gets an EndpointSlice of its ready Pods;
// - every node gets nftables rules for the LoadBalancer addresses (tests/lab/kube-proxy.ts).
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { KubeObject } from "../../host/kube/store.ts";
import type { EndpointSlice, Pod, Service } from "../../host/kube/types.ts";
import { uniqueSuffix } from "../helpers/netns.ts";
import { ROOT } from "../helpers/sart.ts";
import type { Conflist } from "../cni/runtime.ts";
import { type LbRule, applyRuleset, proxyRuleset } from "./kube-proxy.ts";
import type { Lab, LabNode } from "./lab.ts";
import { PodSandbox } from "./pod-sandbox.ts";

type Deployment = KubeObject<{ replicas?: number; selector?: { matchLabels?: Record<string, string> }; template: { metadata?: { labels?: Record<string, string> }; spec: Pod["spec"] } }>;

const MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
const STAND_IN = "sart-lab-kubelet";
/** Sandboxes made at once (sart-cni, portmap, nsenter: CPU is short on 2 cores). */
const PARALLEL_ADDS = 4;
const RETRY_MS = 2000;

/** Kubernetes-looking name suffixes (consonants and digits, as the API server generates). */
function suffix(seed: string, length: number): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let h = 2166136261;
  for (const c of seed) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  let out = "";
  for (let i = 0; i < length; i++) {
    out += alphabet[h % alphabet.length];
    h = Math.imul(h ^ i, 16777619) >>> 0;
  }
  return out;
}

/** A Service port's target as a number (a named targetPort is taken as the port itself). */
const targetPort = (sp: { port: number; targetPort?: number | string }) => (typeof sp.targetPort === "number" ? sp.targetPort : sp.port);
const key = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;
const matches = (labels: Record<string, string> | undefined, selector: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

export interface KubeletOptions {
  /** Prefix of the pod namespaces' names. */
  netnsPrefix: string;
  /** Where the pods' files and the log go. */
  dir: string;
}

export class Kubelets {
  private readonly sandboxes = new Map<string, { uid: string; sandbox: PodSandbox }>();
  private readonly starting = new Set<string>();
  private readonly failedAt = new Map<string, number>();
  private readonly rulesets = new Map<string, string>();
  private readonly conflist: Conflist;
  private readonly server: string;
  private timer?: ReturnType<typeof setTimeout>;
  private running?: Promise<void>;
  private stopped = false;
  /** The last error of a reconcile pass, for the demo's failure message. */
  lastError?: string;

  constructor(private readonly lab: Lab, private readonly opts: KubeletOptions) {
    // The original's network config, unchanged: its http `endpoint` means the default socket,
    // and SART_CNI_SOCKET (in the runtime's environment) says where each node's agent listens.
    this.conflist = JSON.parse(readFileSync(join(ROOT, "crds/samples/cni/netconf.json"), "utf8"));
    const kc = new KubeConfig();
    kc.loadFromFile(lab.kubeconfig!);
    this.server = kc.getCurrentCluster()!.server;
    mkdirSync(opts.dir, { recursive: true });
  }

  private log(line: string): void {
    appendFileSync(join(this.opts.dir, "kubelet.log"), `${new Date().toISOString()} ${line}\n`);
  }

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.pass().catch((e) => {
        this.lastError = (e as Error).message;
        this.log(`pass failed: ${this.lastError}`);
      });
      await this.running;
      if (!this.stopped) this.timer = setTimeout(loop, 250);
    };
    void loop();
  }

  /** Stops reconciling and tears every sandbox down (CNI DEL, namespace deleted). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    while (this.starting.size) await new Promise((r) => setTimeout(r, 50));
    await Promise.all([...this.sandboxes.values()].map((s) => s.sandbox.destroy().catch(() => {})));
    this.sandboxes.clear();
  }

  /** The sandbox of a pod ("namespace/name"), once it runs. */
  sandbox(pod: string): PodSandbox | undefined {
    return this.sandboxes.get(pod)?.sandbox;
  }

  private async listDeployments(): Promise<Deployment[]> {
    const res = await fetch(`${this.server}/apis/apps/v1/deployments`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`GET deployments: HTTP ${res.status}`);
    return ((await res.json()) as { items: Deployment[] }).items;
  }

  private async pass(): Promise<void> {
    const store = this.lab.store!;
    const [deployments, pods] = await Promise.all([this.listDeployments(), store.list<Pod>("Pod")]);
    await this.scaleDeployments(deployments, pods);
    await this.bindPods(pods);
    this.runSandboxes(pods);
    await this.removeGoneSandboxes(pods);
    const [services, slices, current] = await Promise.all([store.list<Service>("Service"), store.list<EndpointSlice>("EndpointSlice"), store.list<Pod>("Pod")]);
    const endpoints = await this.writeEndpointSlices(services, current, slices);
    await this.programProxies(services, endpoints);
  }

  // ---- Deployment controller and scheduler ----

  private nodeFor(pods: Pod[], fits: (p: Pod) => boolean): string {
    const load = (node: string) => [pods.filter((p) => p.spec?.nodeName === node && fits(p)).length, pods.filter((p) => p.spec?.nodeName === node).length];
    return this.lab.nodes.map((n) => n.name).sort((a, b) => {
      const [la, lb] = [load(a), load(b)];
      return la[0]! - lb[0]! || la[1]! - lb[1]! || a.localeCompare(b);
    })[0]!;
  }

  private async scaleDeployments(deployments: Deployment[], pods: Pod[]): Promise<void> {
    const store = this.lab.store!;
    for (const d of deployments) {
      const owned = pods.filter((p) => p.metadata.namespace === d.metadata.namespace && p.metadata.ownerReferences?.some((o) => o.uid === d.metadata.uid));
      const want = d.spec?.replicas ?? 1;
      for (const extra of owned.slice(want)) await store.delete("Pod", { name: extra.metadata.name, namespace: extra.metadata.namespace });
      for (let i = owned.length; i < want; i++) {
        const hash = suffix(d.metadata.uid ?? d.metadata.name, 10);
        const ownedNow = (p: Pod) => p.metadata.ownerReferences?.some((o) => o.uid === d.metadata.uid) ?? false;
        const pod: Pod = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: `${d.metadata.name}-${hash}-${suffix(uniqueSuffix(8), 5)}`,
            namespace: d.metadata.namespace,
            labels: { ...d.spec!.template.metadata?.labels, "pod-template-hash": hash },
            ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: d.metadata.name, uid: d.metadata.uid!, controller: true }],
          },
          spec: { ...d.spec!.template.spec, nodeName: this.nodeFor(pods, ownedNow) },
        };
        pods.push(await store.create(pod));
        this.log(`deployment ${key(d)}: created pod ${pod.metadata.name} on ${pod.spec!.nodeName}`);
      }
    }
    // Pods of a deleted Deployment go with it (no garbage collector here).
    const uids = new Set(deployments.map((d) => d.metadata.uid));
    for (const p of pods) {
      const owner = p.metadata.ownerReferences?.find((o) => o.kind === "Deployment");
      if (owner && !uids.has(owner.uid)) await store.delete("Pod", { name: p.metadata.name, namespace: p.metadata.namespace });
    }
  }

  private async bindPods(pods: Pod[]): Promise<void> {
    for (const p of pods) {
      if (p.spec?.nodeName) continue;
      const wanted = p.spec?.nodeSelector?.["kubernetes.io/hostname"];
      if (wanted && !this.lab.nodes.some((n) => n.name === wanted)) continue; // no such node: stays Pending
      const node = wanted ?? this.nodeFor(pods, () => true);
      await this.lab.store!.patch("Pod", { name: p.metadata.name, namespace: p.metadata.namespace }, { spec: { nodeName: node } });
      p.spec = { ...p.spec, nodeName: node };
      this.log(`scheduler: pod ${key(p)} bound to ${node}`);
    }
  }

  // ---- kubelets ----

  private runSandboxes(pods: Pod[]): void {
    for (const p of pods) {
      const k = key(p);
      const node = this.lab.nodes.find((n) => n.name === p.spec?.nodeName);
      if (!node || p.metadata.deletionTimestamp || this.sandboxes.has(k) || this.starting.has(k)) continue;
      if (this.starting.size >= PARALLEL_ADDS || Date.now() - (this.failedAt.get(k) ?? 0) < RETRY_MS) continue;
      this.starting.add(k);
      void this.startSandbox(p, node).finally(() => this.starting.delete(k));
    }
  }

  private async startSandbox(p: Pod, node: LabNode): Promise<void> {
    const k = key(p);
    try {
      const sandbox = await PodSandbox.create({
        namespace: p.metadata.namespace!,
        name: p.metadata.name,
        node: node.name,
        nodeNs: node.ns,
        cniSocket: node.cniSocket,
        images: (p.spec?.containers ?? []).map((c) => c.image ?? ""),
        netnsPrefix: this.opts.netnsPrefix,
        dir: join(this.opts.dir, `${p.metadata.namespace}-${p.metadata.name}`),
      }, this.conflist);
      if (this.stopped) return void (await sandbox.destroy());
      this.sandboxes.set(k, { uid: p.metadata.uid!, sandbox });
      this.failedAt.delete(k);
      await this.lab.store!.patchStatus("Pod", { name: p.metadata.name, namespace: p.metadata.namespace }, {
        phase: "Running",
        hostIP: node.plan.address,
        podIP: sandbox.ip,
        podIPs: [{ ip: sandbox.ip }],
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: (p.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image, ready: true, restartCount: 0, started: true })),
      });
      this.log(`kubelet ${node.name}: pod ${k} running at ${sandbox.ip}`);
    } catch (e) {
      this.failedAt.set(k, Date.now());
      this.lastError = `pod ${k} on ${node.name}: ${(e as Error).message}`;
      this.log(`kubelet ${node.name}: ${this.lastError}`);
    }
  }

  private async removeGoneSandboxes(pods: Pod[]): Promise<void> {
    const live = new Map(pods.map((p) => [key(p), p.metadata.uid]));
    for (const [k, s] of this.sandboxes) {
      if (live.get(k) === s.uid) continue;
      this.sandboxes.delete(k);
      await s.sandbox.destroy().catch((e) => this.log(`kubelet: tearing down ${k}: ${(e as Error).message}`));
      this.log(`kubelet ${s.sandbox.spec.node}: pod ${k} gone, sandbox removed (CNI DEL)`);
    }
  }

  // ---- EndpointSlice controller ----

  /** Writes each selecting Service's EndpointSlice; returns the ready endpoints per Service. */
  private async writeEndpointSlices(services: Service[], pods: Pod[], slices: EndpointSlice[]): Promise<Map<string, { ip: string; node: string }[]>> {
    const store = this.lab.store!;
    const out = new Map<string, { ip: string; node: string }[]>();
    for (const svc of services) {
      const selector = svc.spec?.selector;
      if (!selector || Object.keys(selector).length === 0) continue;
      const ready = pods.filter((p) => p.metadata.namespace === svc.metadata.namespace && matches(p.metadata.labels, selector) && p.status?.phase === "Running" && p.status.podIP && !p.status.podIP.includes(":"));
      out.set(key(svc), ready.map((p) => ({ ip: p.status!.podIP!, node: p.spec!.nodeName! })));
      const body = {
        endpoints: ready.map((p) => ({
          addresses: [p.status!.podIP!],
          conditions: { ready: true, serving: true, terminating: false },
          nodeName: p.spec!.nodeName,
          targetRef: { kind: "Pod", name: p.metadata.name, namespace: p.metadata.namespace, uid: p.metadata.uid },
        })),
        ports: (svc.spec?.ports ?? []).map((sp) => ({ name: sp.name ?? "", port: targetPort(sp), protocol: sp.protocol ?? "TCP" })),
      };
      const name = `${svc.metadata.name}-${suffix(svc.metadata.uid ?? svc.metadata.name, 5)}`;
      const existing = slices.find((s) => s.metadata.namespace === svc.metadata.namespace && s.metadata.name === name);
      if (!existing) {
        await store.create<EndpointSlice>({
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          metadata: { name, namespace: svc.metadata.namespace, labels: { "kubernetes.io/service-name": svc.metadata.name, [MANAGED_BY]: STAND_IN } },
          addressType: "IPv4",
          ...body,
        } as EndpointSlice);
      } else if (JSON.stringify({ endpoints: existing.endpoints ?? [], ports: existing.ports ?? [] }) !== JSON.stringify(body)) {
        await store.patch("EndpointSlice", { name, namespace: svc.metadata.namespace }, body);
      }
    }
    // Slices of Services that are gone (no garbage collector here either).
    const names = new Set(services.map((s) => key(s)));
    for (const s of slices) {
      if (s.metadata.labels?.[MANAGED_BY] !== STAND_IN) continue;
      if (!names.has(`${s.metadata.namespace}/${s.metadata.labels["kubernetes.io/service-name"]}`)) await store.delete("EndpointSlice", { name: s.metadata.name, namespace: s.metadata.namespace });
    }
    return out;
  }

  // ---- kube-proxy ----

  private async programProxies(services: Service[], endpoints: Map<string, { ip: string; node: string }[]>): Promise<void> {
    const rules: LbRule[] = services.flatMap((svc) => {
      if (svc.spec?.type !== "LoadBalancer") return [];
      const eps = endpoints.get(key(svc)) ?? [];
      return (svc.status?.loadBalancer?.ingress ?? []).flatMap((ing) => (svc.spec?.ports ?? []).map((sp): LbRule => ({
        service: key(svc),
        address: ing.ip ?? "",
        port: sp.port,
        protocol: (sp.protocol ?? "TCP").toLowerCase() as "tcp" | "udp",
        targetPort: targetPort(sp),
        policy: svc.spec?.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
        endpoints: eps,
      })));
    }).filter((r) => r.address);
    for (const n of this.lab.nodes) {
      const ruleset = proxyRuleset(n.name, n.plan.address, rules);
      if (this.rulesets.get(n.name) === ruleset) continue;
      await applyRuleset(n.ns, ruleset);
      this.rulesets.set(n.name, ruleset);
      this.log(`kube-proxy ${n.name}: ${rules.length} LoadBalancer rules`);
    }
  }
}
