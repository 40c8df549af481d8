// `sart agent`: the node agent (host/agent). This file only turns flags into AgentOptions,
// runs the agent until SIGTERM/SIGINT (clean shutdown) and passes SIGHUP on (standalone: re-read the config directory).
import { isIP } from "node:net";
import { Agent, type AgentOptions } from "../agent/agent.ts";
import { parseHostPort } from "../bgp/config.ts";
import { parseListenAddress } from "../kube/health-server.ts";

const USAGE = `usage: sart agent --node NAME (--kubeconfig FILE | --standalone --config DIR) [options]

The node agent: a BGP speaker announcing this node's LoadBalancer addresses and pod
address blocks, the kernel routes it learns, and (Kubernetes mode) the status of the
node's NodeBGP, BGPPeers and BGPAdvertisements. docs/agent.md describes it.

  --node NAME            this node (default: $NODE_NAME)
  --kubeconfig FILE      API server from this kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --context NAME         kubeconfig context
  --standalone           no Kubernetes: NodeBGP, BGPPeer, AddressPool, BGPAdvertisement (and
                         Service, EndpointSlice) YAML from --config DIR, the controller in-process;
                         edits to DIR and SIGHUP are picked up without a restart
  --config DIR           standalone: the directory of manifests
  --api ADDR             the speaker's HTTP API, host:port or unix:/path (default: the NodeBGP's
                         speaker.path, else 127.0.0.1:5000); "none": no API
  --cni-socket PATH      the CNI server's unix socket, mode 0600 (default /run/sart/cni.sock);
                         "none": no CNI server
  --block-release-delay S  seconds a pod AddressBlock stays empty before it goes back to its
                         pool (default 60)
  --health ADDR          /healthz, /readyz, /metrics: host:port, :port (every address) or unix:/path
                         (default 127.0.0.1:9467); "none": off
  --state-dir DIR        restart marker, standalone state, pod allocations (default /var/lib/sart)
  --bgp-listen A:P       passive BGP listener (default: the node's address, port 179); port 0: none
  --fib-table N          kernel table for learned routes (default 254, main)
  --no-fib               learned routes stay out of the kernel
  -h, --help             this help
`;

class UsageError extends Error {}

export function parseAgentArgs(args: string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  let node = env.NODE_NAME;
  let kubeconfig: string | undefined;
  let context: string | undefined;
  let standalone = false;
  let configDir: string | undefined;
  let api: string | undefined;
  let cniSocket = "/run/sart/cni.sock";
  let blockReleaseDelayMs: number | undefined;
  let health = "127.0.0.1:9467";
  let stateDir = "/var/lib/sart";
  let bgpListen: AgentOptions["bgpListen"];
  let fibTable: number | undefined;
  let noFib = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = () => {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || (eq < 0 && v.startsWith("--"))) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--node": node = value(); break;
      case "--kubeconfig": kubeconfig = value(); break;
      case "--context": context = value(); break;
      case "--standalone": standalone = true; break;
      case "--config": configDir = value(); break;
      case "--api": api = address(flag, value()); break;
      case "--cni-socket": {
        const v = value();
        if (v !== "none" && !v.startsWith("/")) throw new UsageError(`--cni-socket: an absolute path or "none", not ${JSON.stringify(v)}`);
        cniSocket = v === "none" ? "" : v;
        break;
      }
      case "--block-release-delay": {
        const v = value();
        if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`--block-release-delay: seconds (a number, 0 or more), not ${JSON.stringify(v)}`);
        blockReleaseDelayMs = Number(v) * 1000;
        break;
      }
      case "--health": health = healthAddress(value()); break;
      case "--state-dir": stateDir = value(); break;
      case "--bgp-listen": bgpListen = listenFlag(value()); break;
      case "--fib-table": {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > 0xfffffffe) throw new UsageError(`--fib-table: a kernel table id 1..4294967294, not ${JSON.stringify(v)}`);
        fibTable = n;
        break;
      }
      case "--no-fib": noFib = true; break;
      case "-h":
      case "--help":
        throw Object.assign(new UsageError(USAGE), { help: true });
      default:
        throw new UsageError(`unknown option ${JSON.stringify(a)}`);
    }
  }
  if (!node) throw new UsageError("--node NAME is required (or $NODE_NAME)");
  if (standalone && !configDir) throw new UsageError("--standalone needs --config DIR");
  if (!standalone && configDir) throw new UsageError("--config goes with --standalone");
  if (standalone && (kubeconfig || context)) throw new UsageError("--kubeconfig/--context cannot be used with --standalone");
  if (noFib && fibTable !== undefined) throw new UsageError("--fib-table and --no-fib exclude each other");
  return {
    node,
    mode: standalone ? { kind: "standalone", configDir: configDir! } : { kind: "kubernetes", kubeconfig, context },
    api,
    cniSocket,
    ...(blockReleaseDelayMs !== undefined ? { blockReleaseDelayMs } : {}),
    health,
    stateDir,
    bgpListen,
    fib: { enabled: !noFib, table: fibTable ?? 254 },
  };
}

/** host:port, [v6]:port or unix:/path; "none" is "" (off). */
function address(flag: string, v: string): string {
  if (v === "none" || v === "") return "";
  if (v.startsWith("unix:")) {
    if (v.length === 5) throw new UsageError(`${flag}: unix: needs a path`);
    return v;
  }
  try {
    parseHostPort(v);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
  return v;
}

/** HOST:PORT, [v6]:PORT, :PORT (every interface) or unix:/path, as the health server takes them; "none" is "". */
function healthAddress(v: string): string {
  if (v === "none" || v === "" || (v.startsWith("unix:") && v.length > 5)) return v === "none" ? "" : v;
  try {
    parseListenAddress(v);
  } catch (e) {
    throw new UsageError(`--health: ${(e as Error).message}`);
  }
  return v;
}

/** "A:P", "[v6]:P", ":P" (the node's address) or "0" / ":0" (no listener). */
function listenFlag(v: string): { address?: string; port: number } {
  const bare = /^:?(\d+)$/.exec(v);
  if (bare) return { port: port(Number(bare[1]), v) };
  let hp: { host: string; port: number };
  try {
    hp = parseHostPort(v);
  } catch (e) {
    throw new UsageError(`--bgp-listen: ${(e as Error).message}`);
  }
  if (!isIP(hp.host)) throw new UsageError(`--bgp-listen: ${JSON.stringify(hp.host)} is not an IP address`);
  return { address: hp.host, port: port(hp.port, v) };
}

function port(n: number, v: string): number {
  if (!(n >= 0 && n <= 65535)) throw new UsageError(`--bgp-listen: port 0..65535, not ${JSON.stringify(v)}`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  let opts: AgentOptions;
  try {
    opts = parseAgentArgs(args);
  } catch (e) {
    if ((e as { help?: boolean }).help) {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`sart agent: ${(e as Error).message}\n(sart agent --help for the options)\n`);
    return 2;
  }
  const agent = new Agent(opts);
  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  process.on("SIGHUP", () => void agent.reload());
  try {
    await Promise.race([agent.start(), stopped]);
  } catch (e) {
    agent.log(`cannot start: ${(e as Error).message}`);
    await agent.stop().catch(() => undefined);
    setTimeout(() => process.exit(1), 50).unref();
    return 1;
  }
  const signal = await stopped;
  agent.log(`${signal}: shutting down`);
  const hard = setTimeout(() => process.exit(1), 15_000);
  await agent.stop();
  clearTimeout(hard);
  // Timers of closed sockets must not keep the process alive.
  setTimeout(() => process.exit(0), 50).unref();
  return 0;
}
