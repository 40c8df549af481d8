// Finding the API server, as every Kubernetes tool does: `--kubeconfig FILE`,
// else $KUBECONFIG, else in-cluster config (service account token + CA, when
// running in a pod), else ~/.kube/config. Unlike client-node's loadFromDefault,
// never falls back to http://localhost:8080: no configuration is an error.

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export interface LoadedKubeConfig {
  kc: KubeConfig;
  /** Where it came from, for logs: the file, or "in-cluster". */
  source: string;
  /** The context's namespace, or the pod's namespace in-cluster; "default" otherwise. */
  namespace: string;
}

export function loadKubeConfig(opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv } = {}): LoadedKubeConfig {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  let source: string;
  const fromFile = (file: string) => {
    if (!existsSync(file)) throw new Error(`kubeconfig ${file} does not exist`);
    try {
      kc.loadFromFile(file);
    } catch (e) {
      throw new Error(`kubeconfig ${file}: ${(e as Error).message}`);
    }
    source = file;
  };
  if (opts.kubeconfig) {
    fromFile(opts.kubeconfig);
  } else if (env.KUBECONFIG) {
    // Only the first file of a KUBECONFIG list: merging is kubectl's job.
    fromFile(env.KUBECONFIG.split(":").filter(Boolean)[0]);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
    source = "in-cluster";
  } else if (existsSync(join(homedir(), ".kube", "config"))) {
    fromFile(join(homedir(), ".kube", "config"));
  } else {
    throw new Error(
      "no Kubernetes configuration: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod with a service account",
    );
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw new Error(`kubeconfig ${source!}: no context "${opts.context}"`);
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new Error(`kubeconfig ${source!}: the current context has no cluster server`);
  let namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  if (!namespace && source! === "in-cluster" && existsSync(SERVICE_ACCOUNT_NAMESPACE)) {
    namespace = readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim();
  }
  return { kc, source: source!, namespace: namespace || "default" };
}
