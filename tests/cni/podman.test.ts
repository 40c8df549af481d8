// A real container runtime: Debian's podman 4.3 with its CNI backend runs a busybox rootfs
// container on a sart network, inside node A's namespace (NOTES: cgroupfs, a private
// containers.conf and storage, the cgroup v2 mount hidden from crun). The container gets its
// address from A's pool (podman --ip asks for one), reaches a pod on node B (the nodes route
// each other's pools over a link, as BGP would install them), and `podman rm` releases it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { veth } from "../helpers/netns.ts";
import { Podman } from "../helpers/podman.ts";
import { tempDir, removeDir } from "../helpers/proc.ts";
import { CniNode, Pods, SART_CNI_COMPILED, runCni } from "./harness.ts";

let a: CniNode;
let b: CniNode;
const pods = new Pods();
const dir = tempDir("cni-podman");
const name = `sartpm${process.pid}`;

let pm: Podman | undefined;

/** podman inside node A's namespace (tests/helpers/podman.ts: private storage, this machine's workarounds). */
function podman(args: string[], timeoutMs = 60_000): Promise<string> {
  return pm!.run(args, { ns: a.ns, timeoutMs });
}

beforeAll(async () => {
  a = await CniNode.create({ name: "cnipa", ipv4: "192.0.2.1", pools: [{ name: "a4", cidr: "198.51.100.0/25", blockSize: 28, autoAssign: true }] });
  b = await CniNode.create({ name: "cnipb", ipv4: "192.0.2.2", pools: [{ name: "b4", cidr: "198.51.100.128/25", blockSize: 28, autoAssign: true }] });
  await veth({ ns: a.ns, ifname: "toB", addresses: ["203.0.113.1/30"] }, { ns: b.ns, ifname: "toA", addresses: ["203.0.113.2/30"] });
  await a.ns.ip("route", "add", "198.51.100.128/25", "via", "203.0.113.2");
  await b.ns.ip("route", "add", "198.51.100.0/25", "via", "203.0.113.1");

  // The runtime's files: containers.conf, the network, sart-cni in its plugin directory, a busybox rootfs.
  const netDir = join(dir, "net.d");
  const binDir = join(dir, "bin");
  const rootfs = join(dir, "rootfs");
  for (const d of [netDir, binDir, join(rootfs, "bin"), join(rootfs, "etc")]) mkdirSync(d, { recursive: true });
  // As the DaemonSet's init container installs it: a copy of the self-contained executable.
  copyFileSync(SART_CNI_COMPILED, join(binDir, "sart-cni"));
  chmodSync(join(binDir, "sart-cni"), 0o755);
  pm = Podman.create(["[network]", 'network_backend = "cni"', `cni_plugin_dirs = ["${binDir}", "/usr/lib/cni"]`, `network_config_dir = "${netDir}"`]);
  writeFileSync(join(netDir, "sartnet.conflist"), JSON.stringify({
    cniVersion: "1.0.0",
    name: "sartnet",
    plugins: [{ type: "sart-cni", socket: a.socket, timeout: 30 }, { type: "portmap", capabilities: { portMappings: true } }],
  }));
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
  for (const applet of ["sh", "sleep", "ping", "ip", "cat"]) symlinkSync("busybox", join(rootfs, "bin", applet));
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\n");
}, 120_000);

afterAll(async () => {
  await pm?.destroy();
  await pods.destroy();
  await a?.destroy();
  await b?.destroy();
  removeDir(dir);
});

test("podman runs a container on a sart network: pool address, reaches a pod on another node, rm releases it", async () => {
  // A pod on node B through the plugin, as a kubelet-driven runtime would do it there.
  const podB = await pods.create();
  const added = await runCni({ command: "ADD", containerId: `podb${process.pid}`, netns: podB.path, ifname: "eth0", config: b.config() });
  expect(added.exitCode).toBe(0);
  const podBAddress = (added.json!.ips as { address: string }[])[0]!.address.replace(/\/32$/, "");
  expect(podBAddress).toMatch(/^198\.51\.100\.(12[89]|1[3-9]\d|2[0-5]\d)$/);

  const rootfs = join(dir, "rootfs");
  const opts = ["--network", "sartnet", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];
  // The first container: the lowest address of the block node A asks for.
  await podman(["run", "-d", "--name", name, ...opts, "--rootfs", rootfs, "sleep", "600"]);
  expect(await podman(["exec", name, "ip", "-4", "-o", "addr", "show", "dev", "eth0"])).toContain("inet 198.51.100.0/32");
  expect(await a.total("sart_cni_attachments")).toBe(1);
  expect((await a.sartVeths())[0]!.ifalias).toMatch(/^SART:a4:[0-9a-f]{64}:eth0$/);
  const ping = await podman(["exec", name, "ping", "-c", "1", "-W", "3", podBAddress]);
  expect(ping).toContain("1 packets received");

  // The second asks for an address of that block with --ip (CNI_ARGS IP=).
  await podman(["run", "-d", "--name", `${name}b`, ...opts, "--ip", "198.51.100.7", "--rootfs", rootfs, "sleep", "600"]);
  expect(await podman(["exec", `${name}b`, "ip", "-4", "-o", "addr", "show", "dev", "eth0"])).toContain("inet 198.51.100.7/32");
  expect(await a.total("sart_cni_attachments")).toBe(2);

  await podman(["rm", "-f", name, `${name}b`]);
  expect(await a.total("sart_cni_attachments")).toBe(0);
  expect(await a.total("sart_cni_block_addresses_allocated")).toBe(0);
  expect(await a.sartVeths()).toEqual([]);
}, 180_000);
