// An in-process HTTP server speaking the Kubernetes API protocol for the kinds sart uses, for tests
// and benchmarks driven through the real @kubernetes/client-node and kubectl. See README.md.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { REPO_CRD_DIR, readCrdFiles } from "./crds.ts";
import { ApiHandler, type HttpStats } from "./http.ts";
import { ObjectStore, type CustomResourceValidator } from "./store.ts";
import { defaultTransport, listen, type TransportKind } from "./transport.ts";
import { loadProjectValidator } from "./validation.ts";

export { ApiError } from "./errors.ts";
export { ObjectStore, type CustomResourceValidator } from "./store.ts";

export interface ApiServerOptions {
  /** Listen address (default 127.0.0.1) and port (default 0: any free port). */
  host?: string;
  port?: number;
  /**
   * CRDs installed at start: "sart" (default) = the repository's crds/*.yaml; "none" = no CRDs;
   * or directories to read.
   */
  crds?: "sart" | "none" | string[];
  /** Namespaces that exist at start (default: default, kube-system, kube-public, kube-node-lease). */
  namespaces?: string[];
  /** Watch events kept per resource for resumption (default 100000); older versions answer 410. */
  historyLimit?: number;
  /** Interval of BOOKMARK events to watchers that allow them (default 5000 ms; the real server uses about a minute). */
  bookmarkIntervalMs?: number;
  /** Custom resource validation: "auto" (default) uses host/kube/schema's admit(); "none"; or a function. */
  validator?: "auto" | "none" | CustomResourceValidator;
  /**
   * Service node port range, like kube-apiserver's --service-node-port-range (default "30000-32767":
   * 2768 ports, so more LoadBalancer Services than that need spec.allocateLoadBalancerNodePorts: false).
   */
  serviceNodePortRange?: string;
  /** HTTP implementation: Bun.serve under Bun (default there), node:http otherwise; env SART_TEST_APISERVER_TRANSPORT overrides the default. */
  transport?: TransportKind;
  /** When set, the kubeconfig is written there at start. */
  kubeconfigPath?: string;
}

export interface ApiServer {
  /** http://host:port */
  url: string;
  host: string;
  port: number;
  kubeconfigPath?: string;
  store: ObjectStore;
  stats: HttpStats;
  /** The kubeconfig text (YAML) for client-node (`kc.loadFromString`) and kubectl. */
  kubeconfig(namespace?: string): string;
  writeKubeconfig(path: string): Promise<string>;
  /** The current (latest) resourceVersion. */
  resourceVersion(): number;
  /** Forgets the event history up to `rv` (default: now): watches/continue tokens from before get 410 Gone. */
  compact(rv?: number): void;
  /** Ends every open watch stream, as an API server restart or a load balancer timeout would. */
  closeWatches(): void;
  /** Sends a BOOKMARK now to every watcher that allows bookmarks. */
  sendBookmarks(): void;
  stop(): Promise<void>;
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const host = opts.host ?? "127.0.0.1";
  const store = new ObjectStore({ historyLimit: opts.historyLimit ?? 100_000, nodePortRange: parsePortRange(opts.serviceNodePortRange ?? "30000-32767") });
  if (opts.validator === undefined || opts.validator === "auto") store.setValidator(await loadProjectValidator());
  else if (typeof opts.validator === "function") store.setValidator(opts.validator);

  const nsType = store.resolve("v1", "namespaces")!;
  for (const ns of opts.namespaces ?? ["default", "kube-system", "kube-public", "kube-node-lease"]) {
    await store.create(nsType, "", { metadata: { name: ns } });
  }
  const crdType = store.resolve("apiextensions.k8s.io/v1", "customresourcedefinitions")!;
  const crdMode = opts.crds ?? "sart";
  const crds = crdMode === "none" ? [] : (crdMode === "sart" ? [REPO_CRD_DIR] : crdMode).flatMap(readCrdFiles);
  for (const crd of crds) {
    try {
      await store.create(crdType, "", crd);
    } catch (e) {
      throw new Error(`test apiserver: cannot install CRD ${crd?.metadata?.name}: ${(e as Error).message}`);
    }
  }

  let address = "";
  const handler = new ApiHandler(store, () => address);
  const listening = await listen(handler, host, opts.port ?? 0, opts.transport ?? (process.env.SART_TEST_APISERVER_TRANSPORT as TransportKind | undefined) ?? defaultTransport());
  const port = listening.port;
  address = `${host}:${port}`;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const bookmarkTimer = setInterval(() => store.bookmarkAll(), opts.bookmarkIntervalMs ?? 5000);
  bookmarkTimer.unref?.();

  const api: ApiServer = {
    url,
    host,
    port,
    store,
    stats: handler.stats,
    kubeconfig: (namespace = "default") => kubeconfigYaml(url, namespace),
    async writeKubeconfig(path: string) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, kubeconfigYaml(url, "default"), { mode: 0o600 });
      api.kubeconfigPath = path;
      return path;
    },
    resourceVersion: () => store.rv,
    compact: (rv?: number) => store.compact(rv),
    closeWatches: () => store.closeWatches(),
    sendBookmarks: () => store.bookmarkAll(),
    async stop() {
      clearInterval(bookmarkTimer);
      store.dispose();
      store.closeWatches();
      await listening.stop();
    },
  };
  if (opts.kubeconfigPath) await api.writeKubeconfig(opts.kubeconfigPath);
  return api;
}

function parsePortRange(r: string): { min: number; max: number } {
  const m = /^(\d+)-(\d+)$/.exec(r);
  const min = Number(m?.[1]);
  const max = Number(m?.[2]);
  if (!m || min < 1 || max > 65535 || min > max) throw new Error(`test apiserver: serviceNodePortRange ${JSON.stringify(r)} is not "MIN-MAX"`);
  return { min, max };
}

/**
 * Plain HTTP on loopback: client-node 1.4 accepts an http:// server only with
 * insecure-skip-tls-verify set; kubectl accepts it as is. No authentication is checked.
 */
export function kubeconfigYaml(url: string, namespace: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: sart-test
  cluster:
    server: ${url}
    insecure-skip-tls-verify: true
contexts:
- name: sart-test
  context:
    cluster: sart-test
    user: sart-test
    namespace: ${namespace}
current-context: sart-test
users:
- name: sart-test
  user:
    token: sart-test
preferences: {}
`;
}
