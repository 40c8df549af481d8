// `sart controller`: the Kubernetes controller (IPAM pools and blocks, LoadBalancer Services,
// BGPAdvertisements, ClusterBGP -> NodeBGP/BGPPeer), against an API server (--kubeconfig,
// $KUBECONFIG, in-cluster config, ~/.kube/config) or, with --standalone, over the local file
// store of standalone mode. With --leader-elect only the replica holding the Lease reconciles.
// --health serves /healthz, /readyz (caches synced) and /metrics (pool usage, allocations,
// reconcile errors).
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { Controller, stderrLogger } from "../kube/controller/controller.ts";
import { type HealthServer, parseListenAddress, startHealthServer } from "../kube/health-server.ts";
import { LeaderElector } from "../kube/leader.ts";
import type { Store } from "../kube/store.ts";

const USAGE = `usage: sart controller [options]

  --kubeconfig FILE       API server from this kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --context NAME          kubeconfig context
  --standalone            no Kubernetes: the local file store of standalone mode
  --config DIR            standalone: directory of manifests (CRD YAML)
  --state FILE            standalone: state file (default DIR/sart-state.json)
  --leader-elect          reconcile only while holding the Lease
  --id NAME               leader election identity (default: $POD_NAME or hostname, plus a random suffix)
  --lease-name NAME       Lease name (default sart-controller)
  --lease-namespace NS    Lease namespace (default: the pod's or context's namespace, else default)
  --concurrency N         reconciles in flight per kind (default 16)
  --health ADDR           /healthz, /readyz and /metrics on HOST:PORT (default 127.0.0.1:9466; "off": none)
`;

interface Options {
  kubeconfig?: string;
  context?: string;
  standalone: boolean;
  config?: string;
  state?: string;
  leaderElect: boolean;
  id?: string;
  leaseName: string;
  leaseNamespace?: string;
  concurrency: number;
  health?: string;
}

function parseArgs(args: string[]): Options {
  const o: Options = { standalone: false, leaderElect: false, leaseName: "sart-controller", concurrency: 16, health: "127.0.0.1:9466" };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--kubeconfig": o.kubeconfig = value(); break;
      case "--context": o.context = value(); break;
      case "--standalone": o.standalone = true; break;
      case "--config": o.config = value(); break;
      case "--state": o.state = value(); break;
      case "--leader-elect": o.leaderElect = true; break;
      case "--id": o.id = value(); break;
      case "--lease-name": o.leaseName = value(); break;
      case "--lease-namespace": o.leaseNamespace = value(); break;
      case "--concurrency": {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`--concurrency must be an integer 1-1024`);
        o.concurrency = n;
        break;
      }
      case "--health": {
        const v = value();
        if (v !== "off") parseListenAddress(v); // a bad address fails here, before anything starts
        o.health = v === "off" ? undefined : v;
        break;
      }
      case "-h":
      case "--help":
        throw Object.assign(new Error(USAGE), { help: true });
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (o.standalone && !o.config) throw new Error("--standalone needs --config DIR");
  if (!o.standalone && (o.config || o.state)) throw new Error("--config and --state go with --standalone");
  if (o.standalone && (o.kubeconfig || o.context)) throw new Error("--kubeconfig/--context cannot be used with --standalone");
  return o;
}

async function openStore(o: Options, log: (m: string) => void): Promise<{ store: Store; namespace: string; close: () => Promise<void> }> {
  if (o.standalone) {
    const { LocalStore } = await import("../kube/local-store.ts");
    const store = await LocalStore.open({ dir: o.config!, stateFile: o.state, component: "sart-controller" });
    return { store, namespace: "default", close: () => store.close() };
  }
  const { loadKubeConfig } = await import("../kube/kubeconfig.ts");
  const { KubeStore } = await import("../kube/kube-store.ts");
  const loaded = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context });
  // KubeStore keeps connections alive itself (one keep-alive agent per option set).
  const store = new KubeStore(loaded.kc, { component: "sart-controller", host: process.env.NODE_NAME, log });
  return { store, namespace: loaded.namespace, close: async () => store.close() };
}

export async function run(args: string[]): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(args);
  } catch (e) {
    if ((e as { help?: boolean }).help) {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`sart controller: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const log = stderrLogger();
  const { store, namespace, close } = await openStore(o, (m) => log("warn", m));
  const ctl = new Controller({ store, log, concurrency: o.concurrency });
  let health: HealthServer | undefined;
  if (o.health) {
    // Auxiliary: two replicas on one node (host network) share the port, so a second one runs without it.
    try {
      health = await startHealthServer({ listen: o.health, ready: () => ctl.synced || "informer caches not synced yet", metrics: () => ctl.metrics() });
      log("info", `health endpoint on http://${health.address} (/healthz, /readyz, /metrics)`);
    } catch (e) {
      log("warn", `${(e as Error).message}; running without /healthz, /readyz and /metrics`);
    }
  }
  await ctl.start();
  log("info", `caches synced (${o.standalone ? `standalone, ${o.config}` : "Kubernetes API"})`);

  let elector: LeaderElector | undefined;
  if (o.leaderElect) {
    const identity = o.id ?? `${process.env.POD_NAME ?? hostname()}-${randomBytes(3).toString("hex")}`;
    elector = new LeaderElector({
      store,
      lease: { name: o.leaseName, namespace: o.leaseNamespace ?? namespace },
      identity,
      onStartedLeading: () => void ctl.startLeading(),
      onStoppedLeading: () => ctl.stopLeading(),
      onNewLeader: (who) => log("info", `leader is ${who}`),
      log: (m) => log("info", m),
    });
    elector.start();
  } else {
    await ctl.startLeading();
  }

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  log("info", "shutting down");
  // Last writes land before the Lease is released, so a standby taking over sees them.
  ctl.stopLeading();
  await ctl.drain();
  await elector?.stop(); // releases the Lease so a standby takes over at once
  await ctl.stop();
  await health?.close();
  await close();
  return 0;
}
