// `make demo` as a test: scripts/demo.sh runs the lab (three nodes with sart agent and
// sart-cni, two FRR routers, a client, the original's samples) and narrates it. The tests
// read what it prints and check that it says what happened: sessions, blocks, pod addresses
// from their node's block, ECMP at the routers, curl answered by pods, pod-to-pod ping, a
// withdrawal, a graceful restart without a failed request; then that nothing is left behind,
// after a normal end, after Ctrl-C, and after KEEP=1 and make demo-down.
import { expect, test } from "bun:test";
import { cidrContains, parseCidr } from "../../host/core/ipam.ts";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../helpers/net.ts";
import { run } from "../helpers/proc.ts";
import { ROOT } from "../helpers/sart.ts";

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** The text of step `n` (from its header to the next one). */
function section(out: string, n: number): string {
  const start = out.indexOf(`\n== ${n}. `);
  if (start < 0) throw new Error(`no step ${n} in the demo's output:\n${out}`);
  const end = out.indexOf(`\n== ${n + 1}. `, start + 1);
  return out.slice(start, end < 0 ? undefined : end);
}

/** Where the run lived, as step 1 prints it: its namespace prefix and directory. */
function runOf(out: string): { prefix: string; dir: string } {
  const m = /network namespaces (\S+)-\*, files in (\/tmp\/sart-demo\.\w+)/.exec(out);
  if (!m) throw new Error(`the demo did not say where it runs:\n${out}`);
  return { prefix: m[1]!, dir: m[2]! };
}

/** Command lines of running (not zombie) processes that mention `text`. */
function processesMentioning(text: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(text)) out.push(`${pid}: ${cmd}`);
    } catch {}
  }
  return out;
}

async function expectNothingLeft(run: { prefix: string; dir: string }): Promise<void> {
  const namespaces = (await runIp(["netns", "list"])).split("\n").filter((l) => l.startsWith(`${run.prefix}-`));
  expect(namespaces).toEqual([]);
  expect(existsSync(run.dir)).toBe(false);
  expect(processesMentioning(run.dir)).toEqual([]);
}

const runIp = (args: string[]) => run("ip", args);

/** The rows of a kubectl table in `text` whose first column starts with `prefix`. */
function rows(text: string, prefix: string): string[][] {
  return text.split("\n").map((l) => l.trim().split(/\s+/)).filter((c) => c[0]?.startsWith(prefix));
}


test("make demo: the whole product in a lab, every claim checked, nothing left behind", async () => {
  const started = Date.now();
  const r = spawnSync("bash", [join(ROOT, "scripts/demo.sh")], { cwd: ROOT, encoding: "utf8", timeout: 170_000 });
  const out = plain(r.stdout + r.stderr);
  if (r.status !== 0) console.error(out);
  expect(r.status).toBe(0);
  expect(out).toMatch(/\ndemo: OK \(\d+\.\d s\)\n/);
  expect(Date.now() - started).toBeLessThan(60_000); // "within a minute of the build"
  for (let n = 1; n <= 10; n++) expect(out).toMatch(new RegExp(`\\n== ${n}\\. .*\\[at \\d+\\.\\d s\\]`));

  // 2: the samples applied unchanged, as kubectl reports them.
  const applied = section(out, 2);
  for (const line of ["clusterbgp.sart.terassyi.net/clusterbgp-sample-a created", "clusterbgp.sart.terassyi.net/clusterbgp-sample-c created", "service/app-svc-cluster created", "addresspool.sart.terassyi.net/default-pod-pool created", "deployment.apps/app created"]) {
    expect(applied).toContain(line);
  }

  // 3: six sessions Established, three NodeBGPs Available, a pod block per node.
  const bgp = section(out, 3);
  const peers = rows(bgp, "bgppeer.sart.terassyi.net/");
  expect(peers).toHaveLength(6);
  expect(peers.every((c) => c.includes("Established"))).toBe(true);
  const nodebgps = rows(bgp, "nodebgp.sart.terassyi.net/");
  expect(nodebgps.map((c) => [c[0], c.includes("Available")])).toEqual([
    ["nodebgp.sart.terassyi.net/sart-worker", true],
    ["nodebgp.sart.terassyi.net/sart-worker2", true],
    ["nodebgp.sart.terassyi.net/sart-worker3", true],
  ]);
  const podBlocks = rows(bgp, "addressblock.sart.terassyi.net/default-pod-pool-").map((c) => ({ cidr: c[1]!, node: c[4]! }));
  expect(podBlocks.map((b) => b.node).sort()).toEqual(["sart-worker", "sart-worker2", "sart-worker3"]);
  expect(bgp).toMatch(/9\.9\.9\.9\s+65000\s+\S+\s+Established/); // sart bgp neighbor list
  expect(bgp).toMatch(/7\.7\.7\.7\s+65000\s+\S+\s+Established/);
  const lb = Object.fromEntries(rows(bgp, "app-svc-").filter((c) => c[1] === "LoadBalancer").map((c) => [c[0], c[3]]));
  expect(lb["app-svc-cluster"]).toMatch(/^10\.0\.1\.\d+$/);
  expect(lb["app-svc-local"]).toMatch(/^10\.0\.1\.\d+$/);
  expect(lb["app-svc-cluster2"]).toBe("10.0.100.20"); // the sample's loadBalancerIPs annotation

  // 4: every pod Running, its address in its own node's block.
  // NAMESPACE NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES
  const pods = rows(section(out, 4), "").filter((c) => c.length >= 8 && (c[0] === "default" || c[0] === "test"));
  expect(pods.length).toBe(10);
  for (const [, , ready, status, , , ip, node] of pods) {
    expect([ready, status]).toEqual(["1/1", "Running"]);
    expect(podBlocks.some((b) => b.node === node && cidrContains(parseCidr(b.cidr), ip!))).toBe(true);
  }

  // 5: the routers' kernel routes: the Cluster address via every node, the Local one via fewer.
  const routers = section(out, 5);
  /** The recursive next hops of `prefix` in `show ip route bgp` (its line and the ones under it). */
  const nextHops = (prefix: string) => {
    const lines = routers.split("\n").map((l) => l.trim());
    const at = lines.findIndex((l) => l.startsWith("B>") && l.split(/\s+/)[1] === prefix);
    expect(at).toBeGreaterThanOrEqual(0);
    const end = lines.findIndex((l, i) => i > at && !l.startsWith("*") && !l.startsWith("via"));
    return lines.slice(at, end).flatMap((l) => [...l.matchAll(/via (172\.18\.0\.\d+) \(recursive\)/g)].map((m) => m[1])).sort();
  };
  expect(nextHops(`${lb["app-svc-cluster"]}/32`)).toEqual(["172.18.0.11", "172.18.0.12", "172.18.0.13"]);
  const localHops = nextHops(`${lb["app-svc-local"]}/32`);
  expect(localHops.length).toBeGreaterThanOrEqual(1);
  expect(localHops.length).toBeLessThan(3);

  // 6: curl answered by pods of the right Deployment; Local ones saw the client's address.
  const curls = section(out, 6);
  const answers = [...curls.matchAll(/client\$ curl -s http:\/\/([\d.]+)\/\n\s+(\S+) on (\S+) \(([\d.]+):8080\) answered (\S+)/g)];
  expect(answers.length).toBe(9);
  const appOf: Record<string, string> = { [lb["app-svc-cluster"]!]: "app-cluster-", [lb["app-svc-local"]!]: "app-local-", "10.0.100.20": "app-cluster2-" };
  for (const [, ip, pod, , , seen] of answers) {
    expect(pod!.startsWith(appOf[ip!]!)).toBe(true);
    if (ip === lb["app-svc-local"]) expect(seen).toMatch(/^169\.254\.10[01]\.2$/);
    else expect(seen).toMatch(/^172\.18\.0\.1[123]$/);
  }

  // 7: an ECMP kernel route to the other node's block, ping without loss, through a router.
  const p2p = section(out, 7);
  expect(p2p).toMatch(/proto 83\s*\n\s+nexthop via 169\.254\.\d+\.1 dev r[01] weight 1\s*\n\s+nexthop via 169\.254\.\d+\.1 dev r[01]/);
  expect(p2p).toContain("3 packets transmitted, 3 packets received, 0% packet loss");
  expect(p2p).toMatch(/\n\s+2\s+169\.254\.(1|2)1\.1 /); // the second hop is a router's link to sart-worker

  // 8: the deleted Service's address is gone from the router.
  expect(section(out, 8)).toContain("% Network not in table");

  // 9: stale during the outage, no failed request, no withdrawal.
  const gr = section(out, 9);
  expect(gr).toContain("(stale)");
  expect(gr).toMatch(/the client sent (\d+) requests to [\d.]+ during the kill and restart: \1 answered, 0 failed/);
  expect(gr).toMatch(/router0: withdrawals of \S+ from sart-worker2: 0/);
  expect(gr).toMatch(/router1: withdrawals of \S+ from sart-worker2: 0/);

  await expectNothingLeft(runOf(out));
}, 180_000);

test("Ctrl-C in the middle of the demo: it stops and removes everything", async () => {
  // Its own process group, so the signal goes to the whole run as a terminal's Ctrl-C would.
  const child = spawn("bash", [join(ROOT, "scripts/demo.sh")], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : null))));
  try {
    await waitFor("the demo at step 4 (pods running)", () => plain(out).includes("\n== 4. "), 90_000, 100);
  } catch (e) {
    process.kill(-child.pid!, "SIGKILL");
    throw new Error(`${(e as Error).message}\n${plain(out)}`);
  }
  process.kill(-child.pid!, "SIGINT");
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 40_000))]);
  expect(code).toBe(130);
  expect(plain(out)).toContain("demo: interrupted (SIGINT), cleaning up");
  await expectNothingLeft(runOf(plain(out)));
}, 150_000);

test("make demo KEEP=1 leaves the lab running and says how to reach it; make demo-down removes it", async () => {
  const r = spawnSync("make", ["-s", "demo", "KEEP=1"], { cwd: ROOT, encoding: "utf8", timeout: 170_000 });
  const out = plain(r.stdout + r.stderr);
  const where = runOf(out);
  try {
    expect(r.status).toBe(0);
    expect(out).toMatch(/\ndemo: OK \(\d+\.\d s\), lab kept\n/);
    expect(out).toContain("Stop it with: make demo-down");
    // The printed commands work after make returned.
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(out)![1]!;
    expect(await run("kubectl", ["--kubeconfig", kubeconfig, "get", "nodebgp", "--no-headers"])).toMatch(/sart-worker3\s+65040/);
    const sartCmd = /build\/bin\/sart bgp --api (unix:\S+) neighbor list/.exec(out)![1]!;
    expect(await run(join(ROOT, "build/bin/sart"), ["bgp", "--api", sartCmd, "neighbor", "list"])).toMatch(/9\.9\.9\.9\s+65000\s+\S+\s+Established/);
    const vty = /vtysh --vty_socket (\S+) -c 'show ip route bgp'/.exec(out)![1]!;
    expect(await run("vtysh", ["--vty_socket", vty, "-c", "show ip route bgp"])).toContain("(recursive)");
    const [, clientNs, vip] = /ip netns exec (\S+) curl -s http:\/\/([\d.]+)\//.exec(out)!;
    expect(await run("ip", ["netns", "exec", clientNs!, "curl", "-s", "-m", "3", `http://${vip}/`])).toMatch(/^app-cluster-\S+ on sart-worker/);
    expect(existsSync(join(ROOT, "build/demo-lab.env"))).toBe(true);
  } finally {
    const down = spawnSync("make", ["-s", "demo-down"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(down.status).toBe(0);
  }
  expect(existsSync(join(ROOT, "build/demo-lab.env"))).toBe(false);
  await expectNothingLeft(where);
}, 240_000);
