// What one CNI call asks of the agent, read and checked from the wire request: the config's
// sart-cni fields, CNI_ARGS, the runtime's capability arguments. Errors are the spec's codes
// (2 unsupported field, 4 environment, 7 config) and name the field and its value.
import { normalizeAddress } from "../core/ipam.ts";
import { CniError, Code, transportOf, type Command, type WireRequest } from "./protocol.ts";

/** The agent stops waiting this much before the client's deadline. */
const DEADLINE_MARGIN_MS = 500;

export interface AttachRequest {
  command: Exclude<Command, "VERSION">;
  version: string;
  /** The network config's name. */
  network: string;
  containerId: string;
  ifname: string;
  netns?: string;
  mtu: number;
  /** Pools named by the config (`args.cni.pool`) or CNI_ARGS (`SART_POOL`); empty: decide from annotations or auto-assign. */
  pools: string[];
  /** Requested addresses (`ips` capability, `args.cni.ips`, CNI_ARGS `IP`), canonical text. */
  ips: string[];
  pod?: { namespace: string; name: string };
  dns?: unknown;
  prevResult?: Record<string, unknown>;
  /** GC: the attachments the runtime still has. */
  validAttachments?: { containerId: string; ifname: string }[];
  deadline: number;
}

/** CNI_ARGS "K=V;K=V" as a map; throws CniError 4 on a pair without '='. */
export function parseCniArgs(args: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of (args ?? "").split(";")) {
    if (!pair) continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CniError(Code.InvalidEnvironment, `CNI_ARGS: '${pair}' is not KEY=VALUE`);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function stringList(v: unknown, field: string): string[] {
  if (v === undefined) return [];
  if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((s) => typeof s === "string")) return v.flatMap((s) => stringList(s, field));
  throw new CniError(Code.InvalidConfig, `${field} ${JSON.stringify(v)} must be a string or a list of strings`);
}

function addresses(list: string[], field: string): string[] {
  return list.map((raw) => {
    try {
      return normalizeAddress(raw.replace(/\/\d+$/, ""));
    } catch {
      throw new CniError(Code.InvalidConfig, `${field}: '${raw}' is not an IPv4 or IPv6 address`);
    }
  });
}

export function readRequest(w: WireRequest, defaultMtu: number): AttachRequest {
  const command = w.env.command;
  if (command === "VERSION") throw new CniError(Code.InvalidEnvironment, "VERSION is answered by sart-cni itself");
  const c = w.config;
  const transport = transportOf(c, command);
  if (c.ipMasq === true) throw new CniError(Code.UnsupportedField, "ipMasq: true is not supported: pod addresses are routed (announced over BGP), not masqueraded");
  if (c.ipam !== undefined) throw new CniError(Code.UnsupportedField, `ipam: ${JSON.stringify(c.ipam)} is not supported: sart-cni allocates addresses itself`);
  let mtu = defaultMtu;
  if (c.mtu !== undefined) {
    if (typeof c.mtu !== "number" || !Number.isInteger(c.mtu) || c.mtu < 68 || c.mtu > 65535) {
      throw new CniError(Code.InvalidConfig, `mtu ${JSON.stringify(c.mtu)} must be an integer between 68 and 65535`);
    }
    mtu = c.mtu;
  }
  const args = c.args === undefined ? {} : c.args;
  if (!isObject(args) || (args.cni !== undefined && !isObject(args.cni))) throw new CniError(Code.InvalidConfig, `args ${JSON.stringify(c.args)} must be an object with an object 'cni'`);
  const cniArgs = (args.cni ?? {}) as Record<string, unknown>;
  const runtime = c.runtimeConfig === undefined ? {} : c.runtimeConfig;
  if (!isObject(runtime)) throw new CniError(Code.InvalidConfig, `runtimeConfig ${JSON.stringify(runtime)} must be an object`);
  const env = parseCniArgs(w.env.args);
  const pools = [...stringList(cniArgs.pool, "args.cni.pool"), ...stringList(env.get("SART_POOL"), "CNI_ARGS SART_POOL")];
  const ips = [
    ...addresses(stringList(runtime.ips, "runtimeConfig.ips"), "runtimeConfig.ips"),
    ...addresses(stringList(cniArgs.ips, "args.cni.ips"), "args.cni.ips"),
    ...addresses(stringList(env.get("IP"), "CNI_ARGS IP"), "CNI_ARGS IP"),
  ];
  const namespace = env.get("K8S_POD_NAMESPACE");
  const name = env.get("K8S_POD_NAME");
  if (c.prevResult !== undefined && !isObject(c.prevResult)) throw new CniError(Code.InvalidConfig, "prevResult must be an object");
  const req: AttachRequest = {
    command,
    version: transport.version,
    network: transport.name,
    containerId: w.env.containerId ?? "",
    ifname: w.env.ifname ?? "",
    netns: w.env.netns,
    mtu,
    pools: [...new Set(pools)],
    ips: [...new Set(ips)],
    ...(namespace && name ? { pod: { namespace, name } } : {}),
    ...(c.dns !== undefined ? { dns: c.dns } : {}),
    ...(c.prevResult ? { prevResult: c.prevResult as Record<string, unknown> } : {}),
    // A little before the client gives up, so that it still hears why (e.g. no block arrived).
    deadline: (typeof w.deadline === "number" ? w.deadline : Date.now() + transport.timeoutMs) - DEADLINE_MARGIN_MS,
  };
  if (command === "GC") {
    const valid = c["cni.dev/valid-attachments"] ?? [];
    if (!Array.isArray(valid) || !valid.every((a) => isObject(a) && typeof a.containerID === "string" && typeof a.ifname === "string")) {
      throw new CniError(Code.InvalidConfig, `cni.dev/valid-attachments ${JSON.stringify(valid).slice(0, 200)} must be a list of {containerID, ifname}`);
    }
    req.validAttachments = valid.map((a) => ({ containerId: a.containerID as string, ifname: a.ifname as string }));
  }
  return req;
}
