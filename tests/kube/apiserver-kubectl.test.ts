// The real kubectl (/usr/bin/kubectl, 1.32) against the test API server: apply (create, then
// re-apply changes), get -o json, get of custom resources, delete, CRDs applied from files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApiServer, type ApiServer } from "./apiserver/index.ts";

let dir: string;

async function kubectl(server: ApiServer, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const kubeconfig = join(dir, `kubeconfig-${server.port}`);
  await server.writeKubeconfig(kubeconfig);
  return new Promise((resolve) => {
    execFile("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, `cache-${server.port}`), "--request-timeout", "20s", ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function ok(server: ApiServer, ...args: string[]): Promise<string> {
  const r = await kubectl(server, ...args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const MANIFEST = `apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: sart.terassyi.net/v1alpha2
kind: AddressPool
metadata:
  name: default-lb-pool
spec:
  cidr: 192.0.2.0/24
  type: service
  allocType: bit
  blockSize: 24
  autoAssign: true
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: demo
  annotations:
    sart.terassyi.net/addresspool: default-lb-pool
spec:
  type: LoadBalancer
  externalTrafficPolicy: Cluster
  selector:
    app: app
  ports:
  - name: http
    port: 80
    targetPort: 8080
  - name: https
    port: 443
    targetPort: 8443
`;

let server: ApiServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sart-kubectl-"));
  server = await startApiServer();
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("kubectl", () => {
  test("apply -f creates, get -o json reads, re-apply patches, delete -f deletes", async () => {
    const file = join(dir, "demo.yaml");
    await writeFile(file, MANIFEST);
    const created = await ok(server, "apply", "-f", file);
    expect(created).toContain("namespace/demo created");
    expect(created).toContain("addresspool.sart.terassyi.net/default-lb-pool created");
    expect(created).toContain("service/app created");

    const svc = JSON.parse(await ok(server, "get", "service", "app", "-n", "demo", "-o", "json"));
    expect(svc.spec.type).toBe("LoadBalancer");
    expect(svc.spec.ports.map((p: any) => p.port)).toEqual([80, 443]);
    expect(svc.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).toBeDefined();
    const pools = JSON.parse(await ok(server, "get", "addresspools", "-o", "json"));
    expect(pools.kind).toBe("List");
    expect(pools.items.map((p: any) => p.metadata.name)).toEqual(["default-lb-pool"]);
    // Server-side printing: the CRD's printer columns, the Service columns kubectl users know.
    const poolTable = (await ok(server, "get", "addresspools")).trim().split("\n").map((l) => l.trim().split(/\s{2,}/));
    expect(poolTable[0]).toEqual(["NAME", "CIDR", "TYPE", "BLOCKSIZE", "AUTO", "READY", "IN USE", "FREE", "AGE"]);
    expect(poolTable[1].slice(0, 5)).toEqual(["default-lb-pool", "192.0.2.0/24", "service", "24", "true"]);
    await ok(server, "patch", "service", "app", "-n", "demo", "--subresource=status", "-p", '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"}]}}}');
    const svcTable = (await ok(server, "get", "services", "-n", "demo")).trim().split("\n").map((l) => l.trim().split(/\s+/));
    expect(svcTable[0]).toEqual(["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
    expect(svcTable[1].slice(0, 4)).toEqual(["app", "LoadBalancer", svc.spec.clusterIP, "192.0.2.1"]);

    // Re-apply with a changed label and port: kubectl sends a strategic merge patch for the
    // Service and a JSON merge patch for the custom resource.
    await writeFile(file, MANIFEST.replace("autoAssign: true", "autoAssign: false").replace("port: 443", "port: 8443").replace("app: app\n", "app: app2\n"));
    const reapplied = await ok(server, "apply", "-f", file);
    expect(reapplied).toContain("namespace/demo unchanged");
    expect(reapplied).toContain("service/app configured");
    expect(reapplied).toContain("addresspool.sart.terassyi.net/default-lb-pool configured");
    const svc2 = JSON.parse(await ok(server, "get", "service", "app", "-n", "demo", "-o", "json"));
    expect(svc2.spec.ports.map((p: any) => `${p.name}:${p.port}`)).toEqual(["http:80", "https:8443"]);
    expect(svc2.spec.selector).toEqual({ app: "app2" });
    expect(svc2.spec.clusterIP).toBe(svc.spec.clusterIP);
    const pool = JSON.parse(await ok(server, "get", "addresspool", "default-lb-pool", "-o", "json"));
    expect(pool.spec.autoAssign).toBe(false);
    expect(pool.metadata.generation).toBe(2);

    // The namespace comes first in the file; its objects may already be gone when kubectl gets to them.
    const deleted = await ok(server, "delete", "-f", file, "--ignore-not-found");
    expect(deleted).toContain('namespace "demo" deleted');
    expect(deleted).toContain('addresspool.sart.terassyi.net "default-lb-pool" deleted');
    const gone = await kubectl(server, "get", "service", "app", "-n", "demo");
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain("NotFound");
  });

  test("get -w streams changes; the out-of-process test controls compact and close watches", async () => {
    const kubeconfig = join(dir, `kubeconfig-${server.port}`);
    await server.writeKubeconfig(kubeconfig);
    const watchesBefore = server.stats.watches;
    const child = spawn("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, `cache-${server.port}`), "get", "configmaps", "-n", "default", "-w", "-o", "custom-columns=NAME:.metadata.name,V:.data.v", "--no-headers"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    try {
      const lines = () => out.split("\n").filter(Boolean).map((l) => l.trim().replace(/\s+/g, " "));
      const deadline = Date.now() + 10_000;
      // kubectl lists, then watches: change things only once its watch is open.
      while (server.stats.watches === watchesBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const file = join(dir, "cm.yaml");
      await writeFile(file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\n  namespace: default\ndata:\n  v: one\n");
      await ok(server, "apply", "-f", file);
      await ok(server, "patch", "configmap", "watched", "-n", "default", "-p", '{"data":{"v":"two"}}');
      while (lines().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(lines()).toEqual(["watched one", "watched two"]);
    } finally {
      child.kill();
    }
    const res = await fetch(`${server.url}/sart-test/compact`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(server.store.compactedRV).toBe(server.resourceVersion());
  });

  test("the original project's sample manifests apply (kustomize), and re-apply unchanged", async () => {
    const samples = new URL("../../crds/samples/", import.meta.url).pathname;
    const srv = await startApiServer();
    try {
      for (const dirName of ["lb", "cni"]) {
        const out = await ok(srv, "apply", "-k", join(samples, dirName));
        expect(out).toContain("created");
        const again = await ok(srv, "apply", "-k", join(samples, dirName));
        expect(again.trim().split("\n").every((l) => l.endsWith(" unchanged"))).toBe(true);
      }
      const pools = JSON.parse(await ok(srv, "get", "addresspools", "-o", "json"));
      expect(pools.items.map((p: any) => p.metadata.name).sort()).toEqual(["default-lb-pool", "default-pod-pool", "non-default-lb-pool", "non-default-pod-pool"]);
    } finally {
      await srv.stop();
    }
  });

  test("server-side schema errors come back as kubectl shows them for a real API server", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, "apiVersion: sart.terassyi.net/v1alpha2\nkind: AddressPool\nmetadata:\n  name: bad\nspec:\n  cidr: 192.0.2.0/33\n  type: service\n");
    const r = await kubectl(server, "apply", "-f", file);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("spec.cidr");
  });

  test("apply -k crds/ on an empty server, then the CRD's kinds work", async () => {
    const bare = await startApiServer({ crds: "none" });
    try {
      expect((await kubectl(bare, "get", "addresspools")).code).not.toBe(0);
      const crdDir = new URL("../../crds/", import.meta.url).pathname;
      const out = await ok(bare, "apply", "-k", crdDir);
      expect(out).toContain("customresourcedefinition.apiextensions.k8s.io/addresspools.sart.terassyi.net created");
      const crds = JSON.parse(await ok(bare, "get", "crd", "-o", "json"));
      expect(crds.items.length).toBeGreaterThanOrEqual(8);
      const file = join(dir, "pool.yaml");
      await writeFile(file, MANIFEST.split("---")[1]);
      expect(await ok(bare, "apply", "-f", file)).toContain("created");
      expect(await ok(bare, "get", "addresspools", "-o", "name")).toBe("addresspool.sart.terassyi.net/default-lb-pool\n");
    } finally {
      await bare.stop();
    }
  });
});
