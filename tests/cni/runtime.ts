// A small CNI runtime for tests and the benchmark, after the spec's Section 3: runs a
// conflist's plugins in order for ADD and CHECK, in reverse for DEL, each with the
// request config derived from its plugin config (cniVersion and name inserted, runtimeConfig
// from the capabilities the plugin declares and the runtime offers, prevResult chained).
// Plugins run in the runtime's network namespace: here the node's, never the test's own.
import { join } from "node:path";
import { runPlugin, SART_CNI, type CniOutcome } from "./harness.ts";

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface Attachment {
  /** The runtime's namespace (the node's), where plugins run: a path such as /var/run/netns/NODE. */
  runtimeNetns: string;
  containerId: string;
  netns: string;
  ifname: string;
  args?: string;
  /** Capability arguments the runtime offers (portMappings, bandwidth, ips, ...). */
  capabilities?: Record<string, unknown>;
  /** More environment for the plugins (runtimes pass their own environment on). */
  env?: Record<string, string>;
}

/** sart-cni from the build, every other type from /usr/lib/cni. */
export function pluginPath(type: string): string {
  return type === "sart-cni" ? SART_CNI : join("/usr/lib/cni", type);
}

function requestConfig(list: Conflist, plugin: Record<string, unknown>, a: Attachment, prevResult?: unknown): Record<string, unknown> {
  const { capabilities, ...rest } = plugin as { capabilities?: Record<string, boolean> };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(capabilities ?? {})) if (on && a.capabilities?.[cap] !== undefined) runtimeConfig[cap] = a.capabilities[cap];
  return {
    ...rest,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(Object.keys(runtimeConfig).length ? { runtimeConfig } : {}),
    ...(prevResult ? { prevResult } : {}),
  };
}

function env(command: string, a: Attachment): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netns,
    CNI_IFNAME: a.ifname,
    CNI_PATH: "/usr/lib/cni",
    ...(a.args ? { CNI_ARGS: a.args } : {}),
    ...a.env,
  };
}

export class ChainError extends Error {
  constructor(readonly plugin: string, readonly outcome: CniOutcome) {
    super(`${plugin}: exit ${outcome.exitCode}: ${outcome.stdout.trim()} ${outcome.stderr.trim()}`);
  }
}

/** ADD through the chain; resolves with the last plugin's result. */
export async function addChain(list: Conflist, a: Attachment): Promise<Record<string, unknown>> {
  let prev: Record<string, unknown> | undefined;
  for (const p of list.plugins) {
    const out = await runPlugin(pluginPath(p.type as string), env("ADD", a), JSON.stringify(requestConfig(list, p, a, prev)), 30_000, a.runtimeNetns);
    if (out.exitCode !== 0 || !out.json) throw new ChainError(p.type as string, out);
    prev = out.json;
  }
  return prev!;
}

/** CHECK (in order) or DEL (in reverse), every plugin given the ADD's final result. */
export async function runChain(command: "CHECK" | "DEL", list: Conflist, a: Attachment, result: Record<string, unknown> | undefined): Promise<void> {
  const plugins = command === "DEL" ? [...list.plugins].reverse() : list.plugins;
  for (const p of plugins) {
    const out = await runPlugin(pluginPath(p.type as string), env(command, a), JSON.stringify(requestConfig(list, p, a, result)), 30_000, a.runtimeNetns);
    if (out.exitCode !== 0) throw new ChainError(p.type as string, out);
  }
}
