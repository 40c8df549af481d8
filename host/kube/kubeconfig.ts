// Finding the API server, as every Kubernetes tool does: `--kubeconfig FILE`,
// else $KUBECONFIG, else in-cluster config (service account token + CA, when
// running in a pod), else ~/.kube/config. Unlike client-node's loadFromDefault,
// never falls back to http://localhost:8080: no configuration is an error.
//
// Lean on purpose: importing client-node's KubeConfig loads every generated API model
// (its config.js imports gen/index.js): about 40 MiB of RSS under Bun and 60 MiB under
// Node, for a node agent that needs a server URL, TLS material and a token. The file is
// parsed here with client-node's own entry parsers (config_types.js: plain functions,
// no models), and the static credentials it covers (CA, client certificate and key,
// insecure-skip-tls-verify, tls-server-name, token and token file, basic auth,
// impersonation) are applied here. What needs client-node's machinery (exec
// credential plugins, auth providers such as OIDC, proxy-url) is handed to a full
// client-node KubeConfig, imported on first use only when the config asks for it.

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isIPv6 } from "node:net";
import { dirname, isAbsolute, join } from "node:path";
import type { RequestOptions } from "node:https";
import { type Cluster, type Context, type User, newClusters, newContexts, newUsers } from "@kubernetes/client-node/dist/config_types.js";
import yaml from "js-yaml";

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";
const SERVICE_ACCOUNT_TOKEN = `${SERVICE_ACCOUNT}/token`;
const SERVICE_ACCOUNT_CA = `${SERVICE_ACCOUNT}/ca.crt`;
const SERVICE_ACCOUNT_NAMESPACE = `${SERVICE_ACCOUNT}/namespace`;
/** A token file (the kubelet rotates service account tokens) is read again after this long, as client-go does. */
const TOKEN_FILE_REFRESH_MS = 60_000;

/**
 * What KubeStore needs of a kubeconfig: the current cluster, and per request its TLS material
 * and credentials. Both our KubeConfigFile and client-node's KubeConfig have these methods.
 */
export interface ClusterAccess {
  getCurrentCluster(): { server: string; proxyUrl?: string } | null;
  /** Sets ca, cert, key, rejectUnauthorized, servername, auth, headers (and agent, for a proxy) on `opts`. */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

type FullKubeConfig = ClusterAccess & { loadFromOptions(o: object): void };

/** A parsed kubeconfig: its clusters, contexts and users, and the current context. */
export class KubeConfigFile implements ClusterAccess {
  private currentContext: string;
  private tokenFile?: { path: string; token: string; readAt: number };
  private full?: Promise<FullKubeConfig>;

  constructor(
    readonly clusters: Cluster[],
    readonly contexts: Context[],
    readonly users: User[],
    currentContext: string,
  ) {
    this.currentContext = currentContext;
  }

  /** Parses kubeconfig YAML (or JSON); relative file paths in it are taken from `baseDir`. */
  static parse(text: string, baseDir?: string): KubeConfigFile {
    const obj = (yaml.load(text) ?? {}) as Record<string, unknown>;
    if (typeof obj !== "object") throw new Error("not a kubeconfig (a YAML mapping)");
    const kc = new KubeConfigFile(newClusters(obj.clusters), newContexts(obj.contexts), newUsers(obj.users), String(obj["current-context"] ?? ""));
    if (baseDir) {
      const abs = (f: string | undefined) => (f && !isAbsolute(f) ? join(baseDir, f) : f);
      for (const c of kc.clusters) c.caFile = abs(c.caFile);
      for (const u of kc.users) {
        u.certFile = abs(u.certFile);
        u.keyFile = abs(u.keyFile);
      }
    }
    return kc;
  }

  /**
   * In a pod: the API server from KUBERNETES_SERVICE_HOST/PORT, the service account's CA and
   * token (re-read every minute: the kubelet rotates it), the pod's namespace. `root` prefixes
   * the service account's paths (tests).
   */
  static inCluster(env: NodeJS.ProcessEnv, root = ""): KubeConfigFile {
    const host = env.KUBERNETES_SERVICE_HOST ?? "";
    const port = env.KUBERNETES_SERVICE_PORT ?? "443";
    const scheme = ["80", "8080", "8001"].includes(port) ? "http" : "https";
    const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
    const nsFile = root + SERVICE_ACCOUNT_NAMESPACE;
    const namespace = existsSync(nsFile) ? readFileSync(nsFile, "utf8").trim() : undefined;
    return new KubeConfigFile(
      [{ name: "inCluster", server, caFile: root + SERVICE_ACCOUNT_CA, skipTLSVerify: false }],
      [{ name: "inClusterContext", cluster: "inCluster", user: "inClusterUser", namespace }],
      [{ name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: root + SERVICE_ACCOUNT_TOKEN } } }],
      "inClusterContext",
    );
  }

  getContexts(): Context[] {
    return this.contexts;
  }

  getCurrentContext(): string {
    return this.currentContext;
  }

  setCurrentContext(name: string): void {
    this.currentContext = name;
    this.full = undefined;
  }

  getContextObject(name: string): Context | undefined {
    return this.contexts.find((c) => c.name === name);
  }

  getCurrentCluster(): Cluster | null {
    const ctx = this.getContextObject(this.currentContext);
    return (ctx && this.clusters.find((c) => c.name === ctx.cluster)) || null;
  }

  getCurrentUser(): User | null {
    const ctx = this.getContextObject(this.currentContext);
    return (ctx && this.users.find((u) => u.name === ctx.user)) || null;
  }

  /** Whether the credentials or the connection need client-node's machinery (see the file's head). */
  private needsClientNode(): boolean {
    const user = this.getCurrentUser();
    const provider = user?.authProvider as { name?: string; config?: { tokenFile?: string } } | undefined;
    return !!(this.getCurrentCluster()?.proxyUrl || user?.exec || (provider && !provider.config?.tokenFile));
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    if (this.needsClientNode()) return (await this.clientNode()).applyToHTTPSOptions(opts);
    const cluster = this.getCurrentCluster();
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster?.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = fileOrData(cluster?.caFile, cluster?.caData);
    if (ca) opts.ca = ca;
    // A context without a user is anonymous access (client-node would then drop the CA too).
    const user = this.getCurrentUser();
    if (!user) return;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    const headers = (opts.headers ??= {}) as Record<string, string>;
    if (user.impersonateUser != null) headers["Impersonate-User"] = user.impersonateUser;
    const tokenFile = (user.authProvider as { config?: { tokenFile?: string } } | undefined)?.config?.tokenFile;
    const token = user.token?.trim() || (tokenFile ? this.readTokenFile(tokenFile) : undefined);
    if (token) headers.Authorization = `Bearer ${token}`;
    if (user.username) opts.auth = `${user.username}:${user.password}`;
  }

  private readTokenFile(path: string): string {
    const now = Date.now();
    const t = this.tokenFile;
    if (t?.path === path && now - t.readAt <= TOKEN_FILE_REFRESH_MS) return t.token;
    const token = readFileSync(path, "utf8").trim();
    this.tokenFile = { path, token, readAt: now };
    return token;
  }

  /** client-node's KubeConfig over the same entries, for exec plugins, auth providers and proxies. */
  private clientNode(): Promise<FullKubeConfig> {
    this.full ??= import("@kubernetes/client-node").then(({ KubeConfig }) => {
      const kc = new KubeConfig() as unknown as FullKubeConfig;
      kc.loadFromOptions({ clusters: this.clusters, contexts: this.contexts, users: this.users, currentContext: this.currentContext });
      reuseConnections(kc);
      return kc;
    });
    return this.full;
  }
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  return data ? Buffer.from(data, "base64") : undefined;
}

/**
 * client-node 1.4's KubeConfig builds a new http(s).Agent for every request, so every
 * request opens a new connection (and a new TLS handshake against a real API server).
 * Keep one keep-alive agent per distinct option set instead. createAgent is client-node's
 * own (unexported) hook; a KubeConfig is patched at most once. Objects without it (our
 * KubeConfigFile) are left alone: KubeStore's transport keeps their connections alive.
 */
export function reuseConnections(kc: object): void {
  const target = kc as {
    createAgent?: (cluster: { server?: string; proxyUrl?: string } | null, opts: object) => unknown;
    sartKeepAlive?: boolean;
  };
  if (typeof target.createAgent !== "function" || target.sartKeepAlive) return;
  target.sartKeepAlive = true;
  const create = target.createAgent.bind(kc);
  const agents = new Map<string, unknown>();
  target.createAgent = (cluster, opts) => {
    // CA, certificate and key are fresh Buffers on every call: key them by content
    // (base64 is much cheaper than JSON.stringify's array of bytes).
    const key = JSON.stringify([
      cluster?.server,
      cluster?.proxyUrl,
      Object.entries(opts).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString("base64") : v]),
    ]);
    let agent = agents.get(key);
    if (!agent) agents.set(key, (agent = create(cluster, { ...opts, keepAlive: true })));
    return agent;
  };
}

export interface LoadedKubeConfig {
  kc: KubeConfigFile;
  /** Where it came from, for logs: the file, or "in-cluster". */
  source: string;
  /** The context's namespace, or the pod's namespace in-cluster; "default" otherwise. */
  namespace: string;
}

export function loadKubeConfig(opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv } = {}): LoadedKubeConfig {
  const env = opts.env ?? process.env;
  let kc: KubeConfigFile;
  let source: string;
  const fromFile = (file: string) => {
    if (!existsSync(file)) throw new Error(`kubeconfig ${file} does not exist`);
    try {
      kc = KubeConfigFile.parse(readFileSync(file, "utf8"), dirname(file));
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
    kc = KubeConfigFile.inCluster(env);
    source = "in-cluster";
  } else if (existsSync(join(homedir(), ".kube", "config"))) {
    fromFile(join(homedir(), ".kube", "config"));
  } else {
    throw new Error(
      "no Kubernetes configuration: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod with a service account",
    );
  }
  if (opts.context) {
    if (!kc!.getContexts().some((c) => c.name === opts.context)) {
      throw new Error(`kubeconfig ${source!}: no context "${opts.context}"`);
    }
    kc!.setCurrentContext(opts.context);
  }
  const cluster = kc!.getCurrentCluster();
  if (!cluster?.server) throw new Error(`kubeconfig ${source!}: the current context has no cluster server`);
  const namespace = kc!.getContextObject(kc!.getCurrentContext())?.namespace;
  return { kc: kc!, source: source!, namespace: namespace || "default" };
}
