// crds/deploy as a cluster receives it: `kubectl apply -k crds/` then `kubectl apply -k
// crds/deploy/` with the real kubectl against the test API server (a re-apply changes nothing),
// the workloads' shape, and RBAC that a reviewer can trust: no wildcards, the controller's
// Lease rights only in its namespace, and the (provisional) agent's access as DESIGN.md needs it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApiServer, startApiServer } from "../kube/apiserver/index.ts";
import { commandLine, DEPLOY_DIR, find, type Manifest, renderDeploy, ROOT, run } from "./manifests.ts";
import { Authorizer, type PolicyRule, requestAttributes } from "./rbac.ts";

const NAMESPACE = "kube-system";
let dir: string;
let manifests: Manifest[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sart-deploy-"));
  manifests = await renderDeploy();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("kubectl apply -k", () => {
  let server: ApiServer;
  let kubeconfig: string;
  const kubectl = (...args: string[]) => run("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), "--request-timeout", "20s", ...args]);
  const ok = async (...args: string[]) => {
    const r = await kubectl(...args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    // No CRDs at start: `kubectl apply -k crds/` installs them, as in a cluster.
    server = await startApiServer({ crds: "none" });
    kubeconfig = await server.writeKubeconfig(join(dir, "kubeconfig"));
  });
  afterAll(async () => {
    await server?.stop();
  });

  test("crds/ then crds/deploy/ apply; a re-apply is unchanged", async () => {
    await ok("apply", "-k", join(ROOT, "crds"));
    const first = await ok("apply", "-k", DEPLOY_DIR);
    const names = manifests.map((m) => `${m.kind.toLowerCase()}/${m.metadata.name}`);
    for (const n of names) {
      const [kind, name] = n.split("/");
      expect(first).toMatch(new RegExp(`${kind}[.a-z0-9-]*/${name.replace(/[.]/g, "\\.")} created`));
    }
    const again = await ok("apply", "-k", DEPLOY_DIR);
    const lines = again.trim().split("\n");
    expect(lines.length).toBe(manifests.length);
    for (const l of lines) expect(l).toMatch(/ unchanged$/);

    // What the server holds is what was rendered.
    const got = JSON.parse(await ok("get", "-n", NAMESPACE, "deployments,daemonsets,serviceaccounts,roles,rolebindings,configmaps", "-l", "app.kubernetes.io/part-of=sart", "-o", "json"));
    const kinds = got.items.map((o: Manifest) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual(manifests.filter((m) => m.metadata.namespace === NAMESPACE).map((m) => `${m.kind}/${m.metadata.name}`).sort());
    const clusterwide = JSON.parse(await ok("get", "clusterroles,clusterrolebindings", "-l", "app.kubernetes.io/part-of=sart", "-o", "json"));
    expect(clusterwide.items).toHaveLength(4);
  }, 90_000);
});

describe("manifests", () => {
  test("everything namespaced is in kube-system, as the original deployed it", () => {
    const namespaced = manifests.filter((m) => !["ClusterRole", "ClusterRoleBinding"].includes(m.kind));
    expect(namespaced.map((m) => m.metadata.namespace).filter((ns) => ns !== NAMESPACE)).toEqual([]);
  });

  test("controller: 2 replicas with --leader-elect, the Lease in its own namespace, its ServiceAccount", () => {
    const d = find(manifests, "Deployment", "sart-controller");
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    expect(pod.serviceAccountName).toBe("sart-controller");
    expect(pod.hostNetwork).toBe(true);
    const c = pod.containers[0];
    const argv = commandLine(c, { POD_NAMESPACE: NAMESPACE, POD_NAME: "p", NODE_NAME: "n" });
    expect(argv).toEqual(["sart", "controller", "--leader-elect", `--lease-namespace=${NAMESPACE}`]);
    // Its health endpoint is on the node's loopback (127.0.0.1:9466, host network), which a
    // second replica on the same node cannot bind: no kubelet probes.
    expect(c.livenessProbe).toBeUndefined();
    expect(c.readinessProbe).toBeUndefined();
  });

  test("the controller's flags are ones `sart controller` accepts", async () => {
    const d = find(manifests, "Deployment", "sart-controller");
    const usage = (await run(join(ROOT, "node_modules/.bin/bun"), [join(ROOT, "host/cli/main.ts"), "controller", "--help"])).stdout;
    for (const a of d.spec.template.spec.containers[0].args.slice(1)) expect(usage).toContain(`  ${a.split("=")[0]} `);
  });

  test("agent DaemonSet: host network, privileged, CNI host paths, the conflist from the original's netconf.json", async () => {
    const ds = find(manifests, "DaemonSet", "sart-agent");
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.serviceAccountName).toBe("sart-agent");
    const agent = pod.containers.find((c: Manifest) => c.name === "agent");
    expect(agent.securityContext.privileged).toBe(true);
    expect(commandLine(agent, {})).toEqual(["sart", "agent"]);
    const hostPaths = Object.fromEntries(pod.volumes.filter((v: Manifest) => v.hostPath).map((v: Manifest) => [v.name, v.hostPath.path]));
    expect(Object.values(hostPaths)).toEqual(expect.arrayContaining(["/opt/cni/bin", "/etc/cni/net.d", "/run/sart"]));
    const install = pod.initContainers.find((c: Manifest) => c.name === "install-cni");
    const mounts = Object.fromEntries(install.volumeMounts.map((m: Manifest) => [m.name, m.mountPath]));
    expect(hostPaths[Object.keys(mounts).find((n) => mounts[n] === "/host/opt/cni/bin")!]).toBe("/opt/cni/bin");
    expect(hostPaths[Object.keys(mounts).find((n) => mounts[n] === "/host/etc/cni/net.d")!]).toBe("/etc/cni/net.d");

    // The conflist the init container installs: the original's plugins chain (sart-cni, then
    // portmap) with the agent reached over the unix socket in /run/sart.
    const cmVolume = pod.volumes.find((v: Manifest) => v.configMap);
    const cm = find(manifests, "ConfigMap", cmVolume.configMap.name);
    const conf = JSON.parse(cm.data["10-sart.conflist"]);
    const original = JSON.parse(await readFile(join(ROOT, "crds/samples/cni/netconf.json"), "utf8"));
    expect(conf.cniVersion).toBe(original.cniVersion);
    expect(conf.name).toBe(original.name);
    expect(conf.plugins.map((p: { type: string }) => p.type)).toEqual(original.plugins.map((p: { type: string }) => p.type));
    expect(conf.plugins[1]).toEqual(original.plugins[1]);
    expect(conf.plugins[0].endpoint).toStartWith("unix:/run/sart/");
  });

  test("agent DaemonSet: probes on the agent's health address, /var/lib/sart kept on the host, flags `sart agent` accepts", async () => {
    const pod = find(manifests, "DaemonSet", "sart-agent").spec.template.spec;
    const agent = pod.containers.find((c: Manifest) => c.name === "agent");
    expect(agent.env.find((e: Manifest) => e.name === "NODE_NAME").valueFrom.fieldRef.fieldPath).toBe("spec.nodeName");
    for (const [probe, path] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
      expect(agent[probe].httpGet).toEqual({ host: "127.0.0.1", path, port: 9467 });
    }
    const usage = (await run(join(ROOT, "node_modules/.bin/bun"), [join(ROOT, "host/cli/main.ts"), "agent", "--help"])).stdout;
    expect(usage).toMatch(/--health ADDR\s+\/healthz, \/readyz, \/metrics[^\n]*\n[^\n]*default 127\.0\.0\.1:9467/);
    expect(usage).toContain("--state-dir DIR        restart marker, standalone state, pod allocations (default /var/lib/sart)");
    const mount = agent.volumeMounts.find((m: Manifest) => m.mountPath === "/var/lib/sart");
    expect(pod.volumes.find((v: Manifest) => v.name === mount.name).hostPath.path).toBe("/var/lib/sart");
  });
});

describe("RBAC", () => {
  const rbac = () => manifests.filter((m) => m.kind === "ClusterRole" || m.kind === "Role");

  test("no wildcard verbs, groups, resources; no non-resource URLs; no escalation verbs", () => {
    for (const role of rbac()) {
      for (const r of role.rules as PolicyRule[]) {
        const where = `${role.kind} ${role.metadata.name}: ${JSON.stringify(r)}`;
        expect({ where, wildcard: [...r.verbs, ...(r.apiGroups ?? []), ...(r.resources ?? [])].some((x) => x.includes("*")) }).toEqual({ where, wildcard: false });
        expect({ where, nonResource: r.nonResourceURLs }).toEqual({ where, nonResource: undefined });
        expect({ where, verbs: r.verbs.filter((v) => ["escalate", "bind", "impersonate", "deletecollection"].includes(v)) }).toEqual({ where, verbs: [] });
        // Secrets only by name (the agent's BGP passwords), service accounts never.
        const unnamedSecrets = (r.resources ?? []).filter((x) => (x.startsWith("secrets") && !r.resourceNames?.length) || x.startsWith("serviceaccounts"));
        expect({ where, unnamedSecrets }).toEqual({ where, unnamedSecrets: [] });
      }
    }
  });

  test("the controller's Lease rights hold in its namespace only, and only for its Lease", () => {
    const authz = new Authorizer(manifests as never, { name: "sart-controller", namespace: NAMESPACE });
    const lease = (method: string, ns: string, name = "sart-controller") =>
      authz.allows(requestAttributes(method, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases${method === "POST" ? "" : `/${name}`}`));
    expect([lease("GET", NAMESPACE), lease("PUT", NAMESPACE), lease("POST", NAMESPACE)]).toEqual([true, true, true]);
    expect([lease("GET", "default"), lease("PUT", "default"), lease("POST", "default")]).toEqual([false, false, false]);
    expect([lease("PUT", NAMESPACE, "kube-scheduler"), lease("DELETE", NAMESPACE)]).toEqual([false, false]);
  });

  test("agent: its reads and status writes, nothing the controller owns", () => {
    const authz = new Authorizer(manifests as never, { name: "sart-agent", namespace: NAMESPACE });
    const can = (method: string, url: string) => authz.allows(requestAttributes(method, url));
    const sart = "/apis/sart.terassyi.net/v1alpha2";
    for (const r of ["nodebgps", "bgppeers", "bgpadvertisements", "addressblocks", "addresspools"]) {
      expect({ r, list: can("GET", `${sart}/${r}`), watch: can("GET", `${sart}/${r}?watch=true`) }).toEqual({ r, list: true, watch: true });
    }
    expect(can("GET", `${sart}/nodebgps/node-a`)).toBe(true);
    expect(can("PATCH", `${sart}/nodebgps/node-a/status`)).toBe(true);
    expect(can("PATCH", `${sart}/bgppeers/p/status`)).toBe(true);
    expect(can("PATCH", `${sart}/namespaces/test/bgpadvertisements/a/status`)).toBe(true);
    expect(can("POST", `${sart}/blockrequests`)).toBe(true);
    for (const r of ["pods", "namespaces", "nodes"]) expect({ r, watch: can("GET", `/api/v1/${r}?watch=1`) }).toEqual({ r, watch: true });
    // The controller's writes stay the controller's.
    expect(can("PATCH", `${sart}/nodebgps/node-a`)).toBe(false);
    expect(can("PATCH", `${sart}/bgppeers/p`)).toBe(false);
    expect(can("POST", `${sart}/addressblocks`)).toBe(false);
    expect(can("DELETE", `${sart}/blockrequests/r`)).toBe(false);
    expect(can("PATCH", `${sart}/namespaces/test/bgpadvertisements/a`)).toBe(false);
    expect(can("PATCH", "/api/v1/namespaces/test/services/s/status")).toBe(false);
    expect(can("PATCH", "/api/v1/namespaces/test/pods/p")).toBe(false);
    expect(can("PATCH", "/api/v1/nodes/n")).toBe(false);
    // BGP passwords: the one Secret of kube-system, by name (get, and list/watch with its name as field selector).
    const secrets = "/api/v1/namespaces/kube-system/secrets";
    expect(can("GET", `${secrets}/sart-bgp-passwords`)).toBe(true);
    expect(can("GET", `${secrets}?fieldSelector=metadata.name%3Dsart-bgp-passwords`)).toBe(true);
    expect(can("GET", `${secrets}?fieldSelector=metadata.name%3Dsart-bgp-passwords&watch=true`)).toBe(true);
    expect(can("GET", `${secrets}/x`)).toBe(false);
    expect(can("GET", secrets)).toBe(false);
    expect(can("GET", `${secrets}?watch=true`)).toBe(false);
    expect(can("GET", "/api/v1/namespaces/default/secrets/sart-bgp-passwords")).toBe(false);
    expect(can("GET", "/api/v1/secrets?fieldSelector=metadata.name%3Dsart-bgp-passwords")).toBe(false);
    expect(can("PATCH", `${secrets}/sart-bgp-passwords`)).toBe(false);
    // The BFD timers peers name (cluster-scoped, read-only).
    expect([can("GET", `${sart}/bfdprofiles/fast`), can("GET", `${sart}/bfdprofiles?fieldSelector=metadata.name%3Dfast&watch=true`), can("PATCH", `${sart}/bfdprofiles/fast`)]).toEqual([true, true, false]);
  });
});
