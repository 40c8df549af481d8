// `sart controller` as a process: against the test API server with --kubeconfig and
// --leader-elect (allocates, holds the Lease, releases it on SIGTERM), and --standalone over
// a directory of manifests (the original's sample pools) with its state file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeStore } from "../../host/kube/kube-store.ts";
import type { Lease } from "../../host/kube/leader.ts";
import { type ApiServer, startApiServer } from "./apiserver/index.ts";
import { addressesOf, eventually, lbService, pool } from "./controller-harness.ts";

const ROOT = join(import.meta.dir, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");

/** Bun runs the sources; Node runs the `make build` bundle through build/bin/sart. */
function sart(args: string[], runtime: "bun" | "node" = "bun"): { child: ChildProcess; stderr: () => string; exit: Promise<number> } {
  const child =
    runtime === "bun"
      ? spawn(BUN, [join(ROOT, "host/cli/main.ts"), ...args], { stdio: ["ignore", "ignore", "pipe"] })
      : spawn(join(ROOT, "build/bin/sart"), args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SART_RUNTIME: "node" } });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const exit = new Promise<number>((r) => child.on("exit", (code) => r(code ?? -1)));
  return { child, stderr: () => err, exit };
}

async function stop(p: ReturnType<typeof sart>): Promise<number> {
  p.child.kill("SIGTERM");
  const code = await Promise.race([p.exit, new Promise<number>((r) => setTimeout(() => r(-2), 10_000))]);
  if (code === -2) p.child.kill("SIGKILL");
  return code;
}

describe("sart controller (process)", () => {
  let server: ApiServer;
  let dir: string;
  beforeAll(async () => {
    server = await startApiServer({ namespaces: ["default", "kube-system", "test"] });
    dir = await mkdtemp(join(tmpdir(), "sart-ctl-cli-"));
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test.each(["bun", "node"] as const)("under %s: --kubeconfig --leader-elect allocates while holding the Lease, serves /readyz and /metrics, releases the Lease on SIGTERM", async (runtime) => {
    const kubeconfig = await server.writeKubeconfig(join(dir, `kubeconfig-${runtime}`));
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const store = new KubeStore(kc);
    try {
      const poolName = `cli-pool-${runtime}`;
      const cidr = runtime === "bun" ? "203.0.113.0/25" : "203.0.113.128/25";
      await store.create(pool(poolName, cidr));
      const lease = `sart-controller-${runtime}`;
      const p = sart(["controller", "--kubeconfig", kubeconfig, "--leader-elect", "--id", `cli-${runtime}`, "--lease-name", lease, "--lease-namespace", "kube-system", "--health", "127.0.0.1:0"], runtime);
      try {
        const svc = `cli-svc-${runtime}`;
        await store.create(lbService(svc, { annotations: { "sart.terassyi.net/addresspool": poolName }, spec: { allocateLoadBalancerNodePorts: false } }));
        expect(await addressesOf(store, svc)).toEqual([cidr.split("/")[0]]);
        const held = await store.get<Lease>("Lease", { name: lease, namespace: "kube-system" });
        expect(held?.spec?.holderIdentity).toBe(`cli-${runtime}`);
        const health = /health endpoint on (http:\/\/[0-9.]+:[0-9]+)/.exec(p.stderr())![1];
        expect((await fetch(`${health}/readyz`)).status).toBe(200);
        const metrics = await eventually(async () => {
          const text = await (await fetch(`${health}/metrics`)).text();
          return text.includes(`sart_addresspool_addresses_in_use{pool="${poolName}"} 1`) ? text : undefined;
        }, "pool usage in /metrics");
        expect(metrics).toContain(`sart_addresspool_addresses_free{pool="${poolName}"} 127`);
        expect(metrics).toContain("sart_controller_leader 1");
        expect(metrics).toMatch(/sart_controller_addresses_allocated_total [1-9]/);
      } finally {
        expect(await stop(p)).toBe(0);
      }
      const released = await store.get<Lease>("Lease", { name: lease, namespace: "kube-system" });
      expect(released?.spec?.holderIdentity).toBe("");
    } finally {
      store.close();
    }
  }, 60_000);

  test("--standalone --config DIR: the sample pools and a Service from manifests, state written", async () => {
    const config = join(dir, "standalone");
    await rm(config, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(config, { recursive: true }));
    await copyFile(join(ROOT, "crds/samples/lb/lb_address_pool.yaml"), join(config, "pools.yaml"));
    await writeFile(join(config, "svc.yaml"), [
      "apiVersion: v1",
      "kind: Service",
      "metadata:",
      "  name: app-svc-cluster2",
      "  namespace: test",
      "  annotations:",
      "    sart.terassyi.net/addresspool: non-default-lb-pool",
      '    sart.terassyi.net/loadBalancerIPs: "10.0.100.20"',
      "spec:",
      "  type: LoadBalancer",
      "  ports: [{ name: http, port: 80, targetPort: 8080 }]",
      "",
    ].join("\n"));
    const p = sart(["controller", "--standalone", "--config", config, "--health", "off"]);
    const state = join(config, "sart-state.json");
    try {
      await eventually(async () => {
        const s = JSON.parse(await readFile(state, "utf8"));
        const svc = s.objects.find((o: { kind: string; metadata: { name: string } }) => o.kind === "Service" && o.metadata.name === "app-svc-cluster2");
        return svc?.status?.loadBalancer?.ingress?.[0]?.ip === "10.0.100.20";
      }, "the address in the state file", 20_000);
    } finally {
      expect(await stop(p)).toBe(0);
    }
  }, 60_000);

  test("usage errors exit 2", async () => {
    const p = sart(["controller", "--standalone"]);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toContain("--standalone needs --config DIR");
    const bad = sart(["controller", "--health", "9466"]);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toContain('listen address "9466" is not HOST:PORT');
  });
});
