// What an operator sees with the real kubectl (server-side printing from the CRDs' printer
// columns) while the controller runs against the test API server: an AddressPool that
// overlaps another shows READY False, pools show addresses (or blocks) IN USE and FREE, and
// BFDProfiles show their timers with MetalLB's defaults filled in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Controller } from "../../host/kube/controller/controller.ts";
import { KubeStore } from "../../host/kube/kube-store.ts";
import type { AddressPool } from "../../host/kube/types.ts";
import { type ApiServer, startApiServer } from "./apiserver/index.ts";
import { addressesOf, eventually, lbService, pool, startController } from "./controller-harness.ts";

/** Rows of `kubectl get` as column name -> cell, cut at the header's column starts (names may hold spaces). */
function table(stdout: string): Record<string, string>[] {
  const [header, ...rows] = stdout.trimEnd().split("\n");
  const names = header!.split(/ {2,}/);
  const starts = names.map((n) => header!.indexOf(n));
  return rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row.slice(starts[i], starts[i + 1]).trim()])));
}

describe("kubectl get against the controller's status", () => {
  let server: ApiServer;
  let store: KubeStore;
  let ctl: Controller;
  let dir: string;
  let kubeconfig: string;

  const kubectl = (...args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), "--request-timeout", "20s", ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr}`)) : resolve(stdout),
      ),
    );

  beforeAll(async () => {
    server = await startApiServer({ namespaces: ["default", "kube-system", "test"] });
    dir = await mkdtemp(join(tmpdir(), "sart-kubectl-"));
    kubeconfig = await server.writeKubeconfig(join(dir, "kubeconfig"));
    const kc = new KubeConfig();
    kc.loadFromString(server.kubeconfig());
    store = new KubeStore(kc);
    ctl = await startController(store);
  });
  afterAll(async () => {
    await ctl.stop();
    store.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("AddressPool: READY False for an overlapping pool, IN USE and FREE for addresses and pod blocks", async () => {
    await store.create(pool("lb", "198.51.100.0/28", { autoAssign: true }));
    await new Promise((r) => setTimeout(r, 1100)); // a later creationTimestamp: the older pool is admitted
    await store.create(pool("overlap", "198.51.100.8/29"));
    await store.create(pool("pods", "192.0.2.0/24", { type: "pod", blockSize: 26 }));
    await store.create(lbService("one"));
    await store.create(lbService("two"));
    await addressesOf(store, "two");
    await store.create({ apiVersion: "sart.terassyi.net/v1alpha2", kind: "BlockRequest", metadata: { name: "node-a-req" }, spec: { pool: "pods", node: "node-a" } });
    await eventually(async () => {
      const [lb, pods, overlap] = await Promise.all(["lb", "pods", "overlap"].map((name) => store.get<AddressPool>("AddressPool", { name })));
      return lb?.status?.inUse === 2 && pods?.status?.inUse === 1 && overlap?.status?.conditions?.some((c) => c.type === "Ready");
    }, "pool status written");

    const rows = Object.fromEntries(table(await kubectl("get", "addresspools")).map((r) => [r.NAME, r]));
    expect(Object.keys(rows.lb!)).toEqual(["NAME", "CIDR", "TYPE", "BLOCKSIZE", "AUTO", "READY", "IN USE", "FREE", "AGE"]);
    expect(rows.lb).toMatchObject({ CIDR: "198.51.100.0/28", TYPE: "service", AUTO: "true", READY: "True", "IN USE": "2", FREE: "14" });
    expect(rows.overlap).toMatchObject({ CIDR: "198.51.100.8/29", READY: "False", "IN USE": "", FREE: "" });
    expect(rows.pods).toMatchObject({ TYPE: "pod", BLOCKSIZE: "26", READY: "True", "IN USE": "1", FREE: "3" });
    const why = await kubectl("get", "addresspool", "overlap", "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].message}');
    expect(why).toBe("spec.cidr 198.51.100.8/29 overlaps pool lb (198.51.100.0/28)");
  });

  test("BFDProfile: timers with the defaults the schema fills in", async () => {
    await store.create({ apiVersion: "sart.terassyi.net/v1alpha2", kind: "BFDProfile", metadata: { name: "default" }, spec: {} });
    await store.create({ apiVersion: "sart.terassyi.net/v1alpha2", kind: "BFDProfile", metadata: { name: "fast" }, spec: { receiveInterval: 50, transmitInterval: 50, detectMultiplier: 4 } });
    const rows = table(await kubectl("get", "bfdprofiles"));
    expect(rows.map(({ AGE: _age, ...r }) => r)).toEqual([
      { NAME: "default", RECEIVE: "300", TRANSMIT: "300", MULTIPLIER: "3" },
      { NAME: "fast", RECEIVE: "50", TRANSMIT: "50", MULTIPLIER: "4" },
    ]);
  });
});
