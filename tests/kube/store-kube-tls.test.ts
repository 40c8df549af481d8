// KubeStore over HTTPS with mutual TLS: the kubeconfig's certificate-authority-data,
// client-certificate-data and client-key-data must reach every request, the
// DirectWriter's writes (create/patch/patchStatus/delete) as well as client-node's
// reads and watches. A throwaway CA, server and client certificates are made with
// openssl; a TLS proxy (tls-proxy.ts) that requires a client certificate fronts
// the plain-http test API server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeStore } from "../../host/kube/kube-store.ts";
import { loadKubeConfig } from "../../host/kube/kubeconfig.ts";
import { ConflictError, StoreError, type KubeObject } from "../../host/kube/store.ts";
import { startApiServer, type ApiServer } from "./apiserver/index.ts";
import { startTlsProxy, type TlsProxy } from "./tls-proxy.ts";

const API = "sart.terassyi.net/v1alpha2";
const quiet = () => {};

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function openssl(dir: string, ...args: string[]): void {
  try {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], timeout: 20000 });
  } catch (e) {
    throw new Error(`openssl ${args.join(" ")}: ${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
  }
}

/** A self-signed CA: name.key, name.crt. */
function makeCa(dir: string, name: string): void {
  openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "1", "-subj", `/CN=${name}`);
}
/** A key and certificate signed by the CA, with the given x509v3 extensions. */
function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string): void {
  openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, `${ext}\n`);
  openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", extFile);
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

function kubeconfig(server: string, user: { ca: string; cert?: string; key?: string }): KubeConfig {
  const creds = user.cert && user.key ? `    client-certificate-data: ${b64(user.cert)}\n    client-key-data: ${b64(user.key)}\n` : `    token: no-client-cert\n`;
  const kc = new KubeConfig();
  kc.loadFromString(`apiVersion: v1
kind: Config
clusters:
- name: tls
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(user.ca)}
contexts:
- name: tls
  context: {cluster: tls, user: tls, namespace: default}
current-context: tls
users:
- name: tls
  user:
${creds}`);
  return kc;
}

const pool = (name: string, cidr: string): KubeObject => ({
  apiVersion: API,
  kind: "AddressPool",
  metadata: { name },
  spec: { cidr, type: "service", blockSize: Number(cidr.split("/")[1]) },
});

let dir: string | undefined;
let api: ApiServer | undefined;
let proxy: TlsProxy | undefined;
const stores: KubeStore[] = [];
const pem: Record<string, string> = {};
const storeFor = (kc: KubeConfig) => {
  const s = new KubeStore(kc, { backoffMs: { initial: 50, max: 200 }, log: quiet });
  stores.push(s);
  return s;
};
const prefix = `tls${process.pid}`;

beforeAll(async () => {
  execFileSync("openssl", ["version"], { timeout: 5000 }); // a missing openssl fails here, by name
  dir = await mkdtemp(join(tmpdir(), "sart-kube-tls-"));
  makeCa(dir, "ca");
  makeCa(dir, "other-ca");
  makeLeaf(dir, "ca", "server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  makeLeaf(dir, "ca", "client", "sart-controller", "extendedKeyUsage=clientAuth");
  for (const f of ["ca.crt", "other-ca.crt", "server.crt", "server.key", "client.crt", "client.key"]) pem[f] = await readFile(join(dir, f), "utf8");
  api = await startApiServer();
  proxy = await startTlsProxy(api.url, { ca: pem["ca.crt"], cert: pem["server.crt"], key: pem["server.key"] });
}, 30000);

afterAll(async () => {
  for (const s of stores) s.close();
  await proxy?.stop().catch(() => {});
  await api?.stop().catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("KubeStore over mutual TLS", () => {
  test("create, get, patch, patchStatus, stale write, delete through the client certificate", async () => {
    const store = storeFor(kubeconfig(proxy!.url, { ca: pem["ca.crt"], cert: pem["client.crt"], key: pem["client.key"] }));
    const name = `${prefix}-crud`;
    const a = await store.create<KubeObject>(pool(name, "192.0.2.0/24"));
    expect(a.metadata.uid).toBeDefined();
    expect((await store.get<KubeObject>("AddressPool", { name }))!.metadata.uid).toBe(a.metadata.uid);
    const patched = await store.patch<KubeObject>("AddressPool", { name }, { spec: { autoAssign: true } });
    expect((patched.spec as { autoAssign: boolean }).autoAssign).toBe(true);
    expect(Number(patched.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    const st = await store.patchStatus<KubeObject>("AddressPool", { name }, { allocated: { x: 1 } });
    expect(st.status).toEqual({ allocated: { x: 1 } });
    const stale = await store.patch("AddressPool", { name }, { metadata: { labels: { l: "1" } } }, { resourceVersion: a.metadata.resourceVersion }).catch((e) => e);
    expect(stale).toBeInstanceOf(ConflictError);
    expect(stale.status).toBe(409);
    await store.delete("AddressPool", { name });
    expect(await store.get("AddressPool", { name })).toBeUndefined();
    // Every verb went through the TLS front, none around it.
    const seen = proxy!.requests.join("\n");
    for (const verb of ["POST", "GET", "PATCH", "DELETE"]) expect(seen).toContain(`${verb} /apis/sart.terassyi.net/v1alpha2/addresspools`);
    expect(seen).toContain(`/addresspools/${name}/status`);
    expect(proxy!.counts.secure).toBeGreaterThan(0);
  });

  test("an informer receives ADDED, MODIFIED and DELETED over the TLS watch", async () => {
    const store = storeFor(kubeconfig(proxy!.url, { ca: pem["ca.crt"], cert: pem["client.crt"], key: pem["client.key"] }));
    const name = `${prefix}-watch`;
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 });
    const seen: string[] = [];
    inf.on((e) => {
      if (e.object.metadata.name === name) seen.push(e.type);
    });
    await inf.start();
    await until(() => proxy!.requests.some((r) => r.startsWith("GET /apis/sart.terassyi.net/v1alpha2/addresspools?") && r.includes("watch=true")), "the watch through the proxy");
    await store.create(pool(name, "198.51.100.0/24"));
    await until(() => seen.includes("ADDED"), "ADDED");
    await store.patch("AddressPool", { name }, { spec: { autoAssign: true } });
    await until(() => seen.includes("MODIFIED"), "MODIFIED");
    await store.delete("AddressPool", { name });
    await until(() => seen.includes("DELETED"), "DELETED");
    expect(seen).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    expect((inf as unknown as { errors: number }).errors).toBe(0);
    inf.stop();
  });

  test("sart's own kubeconfig loader: CA, certificate and key files named relative to the kubeconfig", async () => {
    // What `sart agent --kubeconfig FILE` does (loadKubeConfig, no client-node KubeConfig): the
    // files are found next to the kubeconfig, not in the working directory.
    writeFileSync(join(dir!, "kubeconfig"), `apiVersion: v1
kind: Config
clusters:
- name: tls
  cluster: {server: "${proxy!.url}", certificate-authority: ca.crt}
contexts:
- name: tls
  context: {cluster: tls, user: tls}
current-context: tls
users:
- name: tls
  user: {client-certificate: client.crt, client-key: client.key}
`);
    const store = storeFor(loadKubeConfig({ kubeconfig: join(dir!, "kubeconfig"), env: {} }).kc);
    const name = `${prefix}-lean`;
    const inf = store.informer<KubeObject>("AddressPool", { resyncMs: 0 });
    const seen: string[] = [];
    inf.on((e) => {
      if (e.object.metadata.name === name) seen.push(e.type);
    });
    await inf.start();
    const c0 = proxy!.counts.secure;
    await store.create(pool(name, "198.51.100.0/24"));
    await store.patchStatus("AddressPool", { name }, { allocated: { x: 1 } });
    await store.delete("AddressPool", { name });
    await until(() => seen.includes("DELETED"), "DELETED over the watch");
    expect(seen).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    expect((inf as unknown as { errors: number }).errors).toBe(0);
    // Connections are kept alive: three writes did not take three handshakes.
    expect(proxy!.counts.secure - c0).toBeLessThanOrEqual(1);
    inf.stop();
  });

  test("a kubeconfig with the wrong CA fails with status 0 and names the cause", async () => {
    const store = storeFor(kubeconfig(proxy!.url, { ca: pem["other-ca.crt"], cert: pem["client.crt"], key: pem["client.key"] }));
    const before = proxy!.requests.length;
    const c0 = { ...proxy!.counts };
    for (const attempt of [
      store.create(pool(`${prefix}-wrong-ca`, "203.0.113.0/24")), // DirectWriter
      store.get("AddressPool", { name: `${prefix}-wrong-ca` }), // client-node
    ]) {
      const err = await attempt.catch((e) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err.status).toBe(0);
      expect(err.message).toContain(`AddressPool "${prefix}-wrong-ca"`);
      expect(err.message).toMatch(/certificate/i); // e.g. "self signed certificate in certificate chain"
    }
    expect(proxy!.requests.length).toBe(before);
    expect(proxy!.counts.secure).toBe(c0.secure);
  });

  test("a kubeconfig without the client certificate is refused at the handshake", async () => {
    const store = storeFor(kubeconfig(proxy!.url, { ca: pem["ca.crt"] }));
    const before = proxy!.requests.length;
    const c0 = { ...proxy!.counts };
    for (const attempt of [store.create(pool(`${prefix}-no-cert`, "203.0.113.0/24")), store.get("AddressPool", { name: `${prefix}-no-cert` })]) {
      const err = await attempt.catch((e) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err.status).toBe(0);
      expect(err.message).toContain(`AddressPool "${prefix}-no-cert"`);
      expect(err.message).toMatch(/handshake|certificate/i);
    }
    // No TLS session was established and no request got through; the same proxy
    // serves a client with the certificate (the tests above).
    expect(proxy!.counts.secure).toBe(c0.secure);
    expect(proxy!.requests.length).toBe(before);
  });
});
