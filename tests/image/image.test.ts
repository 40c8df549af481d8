// The image `make image` writes (build/sart-image.tar), as a cluster would use it: loaded into
// a real podman (private storage), `sart --version` from it, the DaemonSet's install-cni init
// container run as the manifest writes it (sart-cni and the conflist land in host
// directories, and that sart-cni runs on the host with no Bun or Node), and the standalone
// agent from it in a node's network namespace (host network, as the DaemonSet runs it),
// peering with FRR: the session comes up, routes go both ways, and `podman stop` is a clean
// stop (the routes are withdrawn, exit 0).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { Frr, frrBgpConfig } from "../helpers/frr.ts";
import { waitFor } from "../helpers/net.ts";
import { Netns, veth } from "../helpers/netns.ts";
import { Podman, RUN_LIMITS } from "../helpers/podman.ts";
import { removeDir, tempDir } from "../helpers/proc.ts";
import { ROOT } from "../helpers/sart.ts";

const ARCHIVE = join(ROOT, "build/sart-image.tar");
const IMAGE = "localhost/sart:dev";
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };

let podman: Podman;
const dir = tempDir("image");

beforeAll(async () => {
  // Built once per run: make rebuilds it only when a source is newer than the archive.
  const made = spawnSync("make", ["-s", "image"], { cwd: ROOT, encoding: "utf8", timeout: 600_000 });
  if (made.status !== 0) throw new Error(`make image failed:\n${made.stdout}${made.stderr}`);
  podman = Podman.create();
  expect(await podman.run(["load", "-i", ARCHIVE], { timeoutMs: 120_000 })).toContain("sart:dev");
}, 660_000);

afterAll(async () => {
  await podman?.destroy();
  removeDir(dir);
}, 60_000);

test("the image is small: one layer, sart and sart-cni one file", async () => {
  const layers = JSON.parse(await podman.run(["image", "inspect", IMAGE, "--format", "{{json .RootFS.Layers}}"])) as string[];
  expect(layers).toHaveLength(1);
  const size = Number(await podman.run(["image", "inspect", IMAGE, "--format", "{{.Size}}"]));
  expect(size).toBeLessThan(160 << 20); // the Bun runtime is most of it (~110 MB)
  const links = await podman.run(["run", "--rm", "--network", "none", ...RUN_LIMITS, IMAGE, "stat", "-c", "%i %h", "/usr/local/bin/sart", "/usr/local/bin/sart-cni"]);
  const [a, b] = links.trim().split("\n");
  expect(a).toBe(b!);
  expect(a!.split(" ")[1]).toBe("2");
});

test("sart --version from the image names the version and the runtime", async () => {
  const out = await podman.run(["run", "--rm", "--network", "none", ...RUN_LIMITS, IMAGE, "sart", "--version"]);
  expect(out).toContain(`sart ${pkg.version}`);
  expect(out).toContain(`Bun ${pkg.dependencies.bun}`);
});

// The node's /opt/cni/bin and /etc/cni/net.d, filled by the install-cni test below.
const hostBin = join(dir, "opt-cni-bin");
const hostConf = join(dir, "etc-cni-net.d");

describe("the DaemonSet's install-cni init container", () => {

  beforeAll(async () => {
    const docs = yaml.loadAll(readFileSync(join(ROOT, "crds/deploy/agent.yaml"), "utf8")) as any[];
    const init = docs.find((d) => d?.kind === "DaemonSet").spec.template.spec.initContainers.find((c: any) => c.name === "install-cni");
    mkdirSync(hostBin);
    mkdirSync(hostConf);
    // The volumes as the DaemonSet mounts them; the ConfigMap is crds/deploy/cni.
    await podman.run(["run", "--rm", "--network", "none", ...RUN_LIMITS,
      "-v", `${hostBin}:/host/opt/cni/bin`, "-v", `${hostConf}:/host/etc/cni/net.d`, "-v", `${join(ROOT, "crds/deploy/cni")}:/etc/sart/cni:ro`,
      IMAGE, ...init.command]);
  }, 60_000);

  test("installs sart-cni and the conflist in the host's directories", () => {
    expect(statSync(join(hostBin, "sart-cni")).mode & 0o111).toBe(0o111);
    expect(readFileSync(join(hostConf, "10-sart.conflist"), "utf8")).toBe(readFileSync(join(ROOT, "crds/deploy/cni/10-sart.conflist"), "utf8"));
    expect(existsSync(join(hostBin, ".sart-cni.tmp"))).toBe(false);
  });

  test("the installed sart-cni runs on the host without Bun or Node", () => {
    const conflist = JSON.parse(readFileSync(join(hostConf, "10-sart.conflist"), "utf8"));
    const netconf = JSON.stringify({ cniVersion: conflist.cniVersion, name: conflist.name, ...conflist.plugins[0] });
    // A native executable (no #! line naming an interpreter), run with an empty PATH: it
    // finds no bun or node by name, as on a node that has neither.
    expect(readFileSync(join(hostBin, "sart-cni")).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    const env = { PATH: "", CNI_COMMAND: "VERSION" };
    const r = spawnSync(join(hostBin, "sart-cni"), [], { env, input: netconf, encoding: "utf8", timeout: 10_000 });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: "1.0.0", supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] });
  });
});

describe("the standalone agent from the image, in a node's namespace, peering with FRR", () => {
  let node: Netns;
  let router: Netns;
  let frr: Frr;
  const NODE = "192.0.2.2";
  const ROUTER = "192.0.2.1";
  const name = `sart-image-${process.pid}`;

  beforeAll(async () => {
    node = await Netns.create("imgnode");
    router = await Netns.create("imgrtr");
    await veth({ ns: node, ifname: "eth0", addresses: [`${NODE}/30`] }, { ns: router, ifname: "eth0", addresses: [`${ROUTER}/30`] });
    frr = await Frr.start(router, frrBgpConfig({
      asn: 65000, routerId: ROUTER, neighbor: NODE, remoteAs: 65011, neighborOptions: ["timers connect 1"],
      lines: [" address-family ipv4 unicast", "  network 203.0.113.0/24", " exit-address-family"],
    }));
    const config = join(dir, "config");
    mkdirSync(config);
    writeFileSync(join(config, "bgp.yaml"), [
      { apiVersion: "sart.terassyi.net/v1alpha2", kind: "NodeBGP", metadata: { name: "host1" }, spec: { asn: 65011, routerId: NODE, speaker: { path: "127.0.0.1:5000" } } },
      { apiVersion: "sart.terassyi.net/v1alpha2", kind: "BGPPeer", metadata: { name: "host1-router", labels: { "bgppeer.sart.terassyi.net/node": "host1" } }, spec: { asn: 65000, addr: ROUTER, nodeBGPRef: "host1", speaker: { path: "127.0.0.1:5000" } } },
      { apiVersion: "sart.terassyi.net/v1alpha2", kind: "BGPAdvertisement", metadata: { name: "anycast", namespace: "default" }, spec: { cidr: "198.51.100.53/32", type: "service", protocol: "ipv4" } },
      { apiVersion: "sart.terassyi.net/v1alpha2", kind: "AddressPool", metadata: { name: "pods" }, spec: { cidr: "198.51.100.128/25", type: "pod", allocType: "bit", blockSize: 28, autoAssign: true } },
    ].map((o) => yaml.dump(o)).join("---\n"));
    for (const d of ["state", "run-sart"]) mkdirSync(join(dir, d));
    // As the DaemonSet runs it: host network (the node's namespace), privileged, state and the
    // CNI socket's directory from the host, the host's pod namespaces as they come.
    await podman.run(["run", "-d", "--name", name, "--network", "host", "--privileged", ...RUN_LIMITS,
      "-v", `${config}:/etc/sart:ro`, "-v", `${join(dir, "state")}:/var/lib/sart`, "-v", `${join(dir, "run-sart")}:/run/sart`,
      "-v", "/run/netns:/run/netns:rslave",
      IMAGE, "sart", "agent", "--standalone", "--config", "/etc/sart", "--node", "host1"], { ns: node });
  }, 60_000);

  afterAll(async () => {
    await podman?.run(["rm", "-f", "-t", "0", name], { ns: node }).catch(() => {});
    await frr?.stop();
    await node?.delete();
    await router?.delete();
  }, 60_000);

  const agentLog = () => podman.run(["logs", name], { ns: node, mergeStderr: true }).catch((e) => String(e));

  test("the session comes up and routes go both ways", async () => {
    await waitFor("FRR Established with the agent", async () => (await frr.neighborState(NODE)) === "Established", 30_000, 200)
      .catch(async (e) => { throw new Error(`${e.message}\nagent log:\n${await agentLog()}`); });
    await waitFor("198.51.100.53/32 at FRR via the node", async () => (await frr.nextHops("198.51.100.53/32")).join() === NODE, 20_000, 200);
    // FRR's route in the node's kernel, written by the agent's FIB through the image's `ip`.
    await waitFor("203.0.113.0/24 in the node's kernel", async () => (await node.ip("route", "show", "203.0.113.0/24")).includes(`via ${ROUTER}`), 20_000, 200);
    const neighbors = await podman.run(["exec", name, "sart", "bgp", "neighbor", "list"], { ns: node });
    expect(neighbors).toMatch(new RegExp(`${ROUTER.replace(/\./g, "\\.")}\\s+65000\\s.*Established`));
  }, 90_000);

  test("a pod through the host's sart-cni (installed by install-cni) and the agent in the container", async () => {
    const pod = await Netns.create("imgpod");
    try {
      const conflist = JSON.parse(readFileSync(join(hostConf, "10-sart.conflist"), "utf8"));
      // The installed conflist, with the socket where this test mounted the agent's /run/sart.
      const netconf = JSON.stringify({ cniVersion: conflist.cniVersion, name: conflist.name, ...conflist.plugins[0], endpoint: `unix:${join(dir, "run-sart", "cni.sock")}` });
      const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CNI_CONTAINERID: "image-test-pod", CNI_NETNS: pod.path, CNI_IFNAME: "eth0", CNI_PATH: hostBin };
      // A runtime runs plugins in its own namespace: the node's.
      const cni = (command: string) => spawnSync("nsenter", [`--net=${node.path}`, join(hostBin, "sart-cni")], { env: { ...env, CNI_COMMAND: command }, input: netconf, encoding: "utf8", timeout: 30_000 });
      const add = cni("ADD");
      expect(add.stdout).toContain('"ips"');
      expect(add.status).toBe(0);
      const address = (JSON.parse(add.stdout).ips as { address: string }[])[0]!.address;
      expect(address).toMatch(/^198\.51\.100\.(12[89]|1[3-4]\d)\/32$/);
      expect(await pod.ip("-4", "-o", "addr", "show", "dev", "eth0")).toContain(`inet ${address}`);
      // The node's block reaches FRR from the agent.
      await waitFor("the pod block at FRR", async () => (await frr.nextHops("198.51.100.128/28")).join() === NODE, 20_000, 200);
      const del = cni("DEL");
      expect([del.status, del.stdout]).toEqual([0, ""]);
    } finally {
      await pod.delete();
    }
  }, 60_000);

  test("podman stop is a clean stop: exit 0, routes withdrawn at FRR and removed from the kernel", async () => {
    await podman.run(["stop", "-t", "10", name], { ns: node, timeoutMs: 30_000 });
    expect((await podman.run(["inspect", name, "--format", "{{.State.ExitCode}}"], { ns: node })).trim()).toBe("0");
    await waitFor("198.51.100.53/32 withdrawn at FRR", async () => (await frr.routes()).get("198.51.100.53/32") === undefined, 10_000, 200);
    expect(await node.ip("route", "show", "203.0.113.0/24")).toBe("");
    // FRR was told why: the agent sent Cease 6/2 on SIGTERM (not a dropped connection).
    const seen = (await frr.json<Record<string, { lastNotificationReason?: string; lastResetDueTo?: string }>>(`show bgp neighbors ${NODE}`))[NODE];
    expect(seen).toMatchObject({ lastNotificationReason: "Cease/Administrative Shutdown", lastResetDueTo: "BGP Notification received" });
    expect(await agentLog()).toContain("SIGTERM");
  }, 60_000);

  test("TCP MD5 from the image (bun:ffi inside the compiled executable): sart speaker with FRR's password", async () => {
    await frr.vtysh(["configure terminal", "router bgp 65000", `neighbor ${NODE} password s3cret-md5`]);
    const config = join(dir, "speaker");
    mkdirSync(config);
    writeFileSync(join(config, "speaker.yaml"), yaml.dump({
      asn: 65011, routerId: NODE, listen: { address: "0.0.0.0", port: 0 }, api: { listen: "127.0.0.1:5099" },
      neighbors: [{ address: ROUTER, asn: 65000, password: "s3cret-md5" }],
    }));
    await podman.run(["run", "-d", "--name", `${name}-md5`, "--network", "host", ...RUN_LIMITS, "-v", `${config}:/etc/sart:ro`,
      IMAGE, "sart", "speaker", "--config", "/etc/sart/speaker.yaml"], { ns: node });
    try {
      await waitFor("FRR Established with the MD5-signed session", async () => (await frr.neighborState(NODE)) === "Established", 30_000, 200)
        .catch(async (e) => { throw new Error(`${e.message}\n${await podman.run(["logs", `${name}-md5`], { ns: node, mergeStderr: true })}`); });
    } finally {
      await podman.run(["rm", "-f", "-t", "0", `${name}-md5`], { ns: node });
    }
  }, 60_000);
});
