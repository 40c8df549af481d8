// sart's kubeconfig loader (host/kube/kubeconfig.ts) against the test API server behind a
// proxy that records the credentials each request carries: a bearer token, a token file,
// basic auth, impersonation, and an exec credential plugin (handed to client-node, imported
// only for it). Reads, writes and watches all carry them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeStore } from "../../host/kube/kube-store.ts";
import { KubeConfigFile, loadKubeConfig } from "../../host/kube/kubeconfig.ts";
import type { KubeObject } from "../../host/kube/store.ts";
import { startApiServer, type ApiServer } from "./apiserver/index.ts";

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  impersonate?: string;
}

/** Forwards to the API server, recording each request's credentials. */
async function recordingProxy(target: string): Promise<{ url: string; seen: Seen[]; stop(): Promise<void> }> {
  const t = new URL(target);
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, impersonate: req.headers["impersonate-user"] as string | undefined });
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      res.flushHeaders();
      ur.pipe(res);
      res.on("close", () => ur.destroy());
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let api: ApiServer;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
let dir: string;
const stores: KubeStore[] = [];

beforeAll(async () => {
  api = await startApiServer();
  proxy = await recordingProxy(api.url);
  dir = await mkdtemp(join(tmpdir(), "sart-kubeconfig-"));
});
afterAll(async () => {
  for (const s of stores) s.close();
  await proxy.stop();
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A kubeconfig file whose user is `user` (YAML flow mapping), and a store from it. */
function storeWith(name: string, user: string): KubeStore {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "${proxy.url}", insecure-skip-tls-verify: true}
contexts:
- name: c
  context: {cluster: c, user: u, namespace: ${name}}
current-context: c
users:
- name: u
  user: ${user}
`);
  const loaded = loadKubeConfig({ kubeconfig: file, env: {} });
  expect(loaded.namespace).toBe(name);
  const s = new KubeStore(loaded.kc, { log: () => {} });
  stores.push(s);
  return s;
}

/** A get, a write and a watch event through `store`; the credentials every one of its requests carried. */
async function credentialsOf(store: KubeStore, name: string): Promise<Set<string>> {
  const from = proxy.seen.length;
  const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 });
  let added = false;
  inf.on((e) => (added ||= e.object.metadata.name === name));
  await inf.start();
  await store.create({ apiVersion: "sart.terassyi.net/v1alpha2", kind: "AddressPool", metadata: { name }, spec: { cidr: "192.0.2.0/24", type: "service", blockSize: 24 } });
  expect(await store.get("AddressPool", { name })).toBeDefined();
  const end = Date.now() + 5000;
  while (!added && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  expect(added).toBe(true);
  await store.delete("AddressPool", { name });
  inf.stop();
  const mine = proxy.seen.slice(from).filter((r) => r.url.includes("addresspools"));
  expect(new Set(mine.map((r) => (r.url.includes("watch=true") ? "watch" : r.method)))).toEqual(new Set(["GET", "watch", "POST", "DELETE"]));
  return new Set(mine.map((r) => `${r.authorization ?? "-"} ${r.impersonate ?? "-"}`));
}

describe("kubeconfig credentials on every request", () => {
  test("a bearer token, and impersonation", async () => {
    const s = storeWith("token", "{token: t0k3n, as: alice}");
    expect(await credentialsOf(s, "kc-token")).toEqual(new Set(["Bearer t0k3n alice"]));
  });

  test("a token file, read from the file", async () => {
    writeFileSync(join(dir, "token"), "from-file\n");
    const s = storeWith("tokenfile", `{token-file: ${join(dir, "token")}}`);
    expect(await credentialsOf(s, "kc-tokenfile")).toEqual(new Set(["Bearer from-file -"]));
  });

  test("basic auth", async () => {
    const s = storeWith("basic", "{username: admin, password: secret}");
    expect(await credentialsOf(s, "kc-basic")).toEqual(new Set([`Basic ${Buffer.from("admin:secret").toString("base64")} -`]));
  });

  test("an exec credential plugin (through client-node's KubeConfig)", async () => {
    const plugin = join(dir, "credential-plugin");
    writeFileSync(plugin, `#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"from-exec"}}'
`);
    chmodSync(plugin, 0o755);
    const s = storeWith("exec", `{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ${plugin}, interactiveMode: Never}}`);
    expect(await credentialsOf(s, "kc-exec")).toEqual(new Set(["Bearer from-exec -"]));
  });
});

describe("in-cluster configuration", () => {
  test("the service's address (IPv6 in brackets), the service account's CA and token, the pod's namespace", async () => {
    const sa = join(dir, "root/var/run/secrets/kubernetes.io/serviceaccount");
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, "token"), "sa-token\n");
    writeFileSync(join(sa, "ca.crt"), "-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n");
    writeFileSync(join(sa, "namespace"), "kube-system");
    const kc = KubeConfigFile.inCluster({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }, join(dir, "root"));
    expect(kc.getCurrentCluster()?.server).toBe("https://[fd00::1]:6443");
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe("kube-system");
    const opts: { ca?: Buffer; headers?: Record<string, string>; rejectUnauthorized?: boolean } = {};
    await kc.applyToHTTPSOptions(opts as never);
    expect(opts.ca?.toString()).toContain("not really");
    expect(opts.headers?.Authorization).toBe("Bearer sa-token");
    expect(opts.rejectUnauthorized).toBeUndefined();
    expect(KubeConfigFile.inCluster({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }, join(dir, "root")).getCurrentCluster()?.server).toBe("https://10.96.0.1:443");
  });
});
