// Controller benchmark (one run): the test API server in this process, `sart controller` as a
// child process under the runtime given (bun or node), 10,000 LoadBalancer Services (and their
// EndpointSlices, as Kubernetes' endpointslice controller would make them) created at once.
// Measures the time until every Service has an address in status and a BGPAdvertisement with
// its target peer in status, the controller's peak RSS (VmHWM), and at steady state the
// latency from one Service's creation to its status patch (p50/p99 over N samples).
// Prints one JSON line. Usage: bun bench/controller/bench.ts --runtime bun|node [--services N] [--samples N]
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startApiServer } from "../../tests/kube/apiserver/index.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const runtime = opt("runtime", "bun");
const SERVICES = Number(opt("services", "10000"));
const SAMPLES = Number(opt("samples", "200"));
const NS = "bench";
const SART = "sart.terassyi.net/v1alpha2";
// 2001:db8::/32 is the documentation range; a /112 holds 65,536 addresses.
const POOL_CIDR = "2001:db8:b::/112";

const server = await startApiServer({ namespaces: ["default", "kube-system", NS] });
const dir = await mkdtemp(join(tmpdir(), "sart-bench-ctl-"));
const kubeconfig = await server.writeKubeconfig(join(dir, "kubeconfig"));
const st = server.store;
const T = {
  service: st.resolve("v1", "services")!,
  slice: st.resolve("discovery.k8s.io/v1", "endpointslices")!,
  pool: st.resolve(SART, "addresspools")!,
  peer: st.resolve(SART, "bgppeers")!,
  adv: st.resolve(SART, "bgpadvertisements")!,
};

// Completion tracking from in-process watches (no polling, no HTTP on our side).
const addressedAt = new Map<string, number>();
const advertisedAt = new Map<string, number>();
let onAddressed: ((name: string) => void) | undefined;
st.watch(T.service, { bookmarks: false, namespace: NS }, {
  write(line: string) {
    if (!line.includes('"ingress"')) return;
    const ev = JSON.parse(line);
    const name = ev.object.metadata.name;
    if (ev.object.status?.loadBalancer?.ingress?.length && !addressedAt.has(name)) {
      addressedAt.set(name, performance.now());
      onAddressed?.(name);
    }
  },
  end() {},
});
st.watch(T.adv, { bookmarks: false, namespace: NS }, {
  write(line: string) {
    if (!line.includes('"peers"')) return;
    const ev = JSON.parse(line);
    const svc = ev.object.metadata.labels?.["kubernetes.io/service-name"];
    if (svc && Object.keys(ev.object.status?.peers ?? {}).length && !advertisedAt.has(svc)) advertisedAt.set(svc, performance.now());
  },
  end() {},
});

const service = (name: string) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: NS },
  spec: { type: "LoadBalancer", allocateLoadBalancerNodePorts: false, externalTrafficPolicy: "Cluster", ipFamilies: ["IPv6"], selector: { app: name }, ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080 }] },
});
const slice = (name: string) => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: `${name}-x7k2p`, namespace: NS, labels: { "kubernetes.io/service-name": name } },
  addressType: "IPv6",
  endpoints: [{ addresses: ["2001:db8:ffff::1"], conditions: { ready: true }, nodeName: "node-1" }],
  ports: [{ name: "http", port: 8080, protocol: "TCP" }],
});

await st.create(T.pool, "", { apiVersion: SART, kind: "AddressPool", metadata: { name: "bench-pool" }, spec: { cidr: POOL_CIDR, type: "service", allocType: "bit", autoAssign: true } });
await st.create(T.peer, "", {
  apiVersion: SART,
  kind: "BGPPeer",
  metadata: { name: "peer-1", labels: { "bgppeer.sart.terassyi.net/node": "node-1" } },
  spec: { asn: 65000, addr: "192.0.2.1", nodeBGPRef: "node-1", speaker: { path: "127.0.0.1:5000" } },
});

const env = { ...process.env, SART_RUNTIME: runtime };
// --profile DIR: run the controller under --cpu-prof (a .cpuprofile lands in DIR at exit).
const profileDir = opt("profile", "");
const profiled =
  runtime === "node"
    ? ["node", ["--cpu-prof", "--cpu-prof-dir", profileDir, join(root, "build/node/sart/main.js")]]
    : [join(root, "node_modules/.bin/bun"), ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, join(root, "host/cli/main.ts")]];
const child = profileDir
  ? spawn(profiled[0] as string, [...(profiled[1] as string[]), "controller", "--kubeconfig", kubeconfig], { env, stdio: ["ignore", "ignore", "pipe"] })
  : spawn(join(root, "build/bin/sart"), ["controller", "--kubeconfig", kubeconfig], { env, stdio: ["ignore", "ignore", "pipe"] });
let stderr = "";
child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
const exited = new Promise<number>((r) => child.on("exit", (code) => r(code ?? -1)));

async function until(pred: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what}\ncontroller stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
async function cpuSeconds(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

async function rssKiB(pid: number): Promise<{ hwm: number; rss: number }> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (k: string) => Number(text.match(new RegExp(`${k}:\\s+(\\d+)`))?.[1] ?? NaN);
  return { hwm: kib("VmHWM"), rss: kib("VmRSS") };
}

try {
  // Ready: the controller has admitted the pool (its Ready condition).
  await until(() => {
    const p = st.collection(T.pool).get("", "bench-pool");
    return !!p?.obj.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True");
  }, "the controller to start", 30_000);
  const idleRss = await rssKiB(child.pid!);

  // Burst: every Service and EndpointSlice created at once.
  const cpu0 = await cpuSeconds(child.pid!);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < SERVICES; i++) {
    const name = `svc-${i}`;
    await st.create(T.service, NS, service(name));
    await st.create(T.slice, NS, slice(name));
  }
  const created = performance.now() - t0;
  await until(() => addressedAt.size >= SERVICES && advertisedAt.size >= SERVICES, `${SERVICES} Services addressed and advertised`, 180_000);
  const allAddressed = Math.max(...addressedAt.values()) - t0;
  const allAdvertised = Math.max(...advertisedAt.values()) - t0;
  const burstRss = await rssKiB(child.pid!);
  const controllerCpu = (await cpuSeconds(child.pid!)) - cpu0;
  const selfCpu = process.cpuUsage(self0);
  const serverCpu = (selfCpu.user + selfCpu.system) / 1e6;

  // Steady state: one Service at a time, creation -> status patch seen by the API server.
  const lat: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const name = `steady-${i}`;
    const done = new Promise<number>((resolve) => {
      onAddressed = (n) => {
        if (n === name) resolve(performance.now());
      };
    });
    const start = performance.now();
    await st.create(T.service, NS, service(name));
    await st.create(T.slice, NS, slice(name));
    const end = await Promise.race([done, new Promise<number>((_, rej) => setTimeout(() => rej(new Error(`sample ${name} timed out\n${stderr}`)), 10_000))]);
    lat.push(end - start);
    await new Promise((r) => setTimeout(r, 10));
  }
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
  const finalRss = await rssKiB(child.pid!);

  // Integrity: no address given twice.
  const ips = new Set<string>();
  let dup = 0;
  for (const r of st.collection(T.service).byNs.get(NS)!.values()) {
    for (const ing of r.obj.status?.loadBalancer?.ingress ?? []) {
      if (ips.has(ing.ip)) dup++;
      ips.add(ing.ip);
    }
  }
  console.log(JSON.stringify({
    runtime,
    services: SERVICES,
    createMs: Math.round(created),
    allAddressedMs: Math.round(allAddressed),
    allAdvertisedMs: Math.round(allAdvertised),
    peakRssMiB: Math.round(Math.max(finalRss.hwm, burstRss.hwm) / 1024),
    idleRssMiB: Math.round(idleRss.rss / 1024),
    burstControllerCpuS: +controllerCpu.toFixed(1),
    burstServerCpuS: +serverCpu.toFixed(1),
    steadyP50Ms: +pct(50).toFixed(2),
    steadyP99Ms: +pct(99).toFixed(2),
    samples: lat.length,
    addresses: ips.size,
    duplicates: dup,
  }));
} finally {
  child.kill("SIGTERM");
  const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-2), 5000))]);
  if (code === -2) child.kill("SIGKILL");
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
