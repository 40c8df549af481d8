// The CNI protocol as sart-cni and the agent's CNI server share it: spec versions, error
// codes, the runtime's environment, the transport fields of the network config, and the
// one-line JSON messages on the agent's unix socket. The thin client (main.ts) imports
// this module and nothing heavier, so keep it free of imports.

/** The parts of Bun's API the thin client uses, when it runs under Bun (undefined under Node). */
export const bun = (globalThis as {
  Bun?: {
    stdin: { text(): Promise<string> };
    connect(o: { unix: string; socket: Record<string, (...a: never[]) => void> }): Promise<unknown>;
  };
}).Bun;

/** Spec versions sart-cni speaks; VERSION lists them. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

export const DEFAULT_SOCKET = "/run/sart/cni.sock";
/** Seconds a call may take when the config gives no `timeout` (the original's netconf.json says 60). */
export const DEFAULT_TIMEOUT_S = 60;

/** Error codes: the spec's (0-99) and sart's own (100+). */
export const Code = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  LimitedConnectivity: 51,
  PoolExhausted: 100,
  UnknownPool: 101,
  AddressInUse: 102,
  AddressUnavailable: 103,
  CheckFailed: 104,
  Internal: 999,
} as const;

/** The `msg` of each code: short and fixed, the details say what and where. */
const MESSAGES: Record<number, string> = {
  1: "Incompatible CNI version",
  2: "Unsupported field in network configuration",
  4: "Invalid environment variables",
  5: "I/O failure",
  6: "Failed to decode content",
  7: "Invalid network configuration",
  11: "Try again later",
  50: "Plugin not available",
  51: "Plugin not available, existing containers may have limited connectivity",
  100: "Address pool exhausted",
  101: "Unknown address pool",
  102: "Address in use",
  103: "Address not available on this node",
  104: "Attachment not as expected",
  999: "Internal error",
};

export interface ErrorBody {
  code: number;
  msg: string;
  details?: string;
}

/** An error the runtime sees as the spec's error JSON; `details` names the pool, address or field. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
  }

  body(): ErrorBody {
    return { code: this.code, msg: MESSAGES[this.code] ?? "Error", details: this.details };
  }
}

/** Dotted versions compared numerically; undefined when either is not N.N.N. */
export function compareVersions(a: string, b: string): number | undefined {
  const pa = /^(\d+)\.(\d+)\.(\d+)$/.exec(a);
  const pb = /^(\d+)\.(\d+)\.(\d+)$/.exec(b);
  if (!pa || !pb) return undefined;
  for (let k = 1; k <= 3; k++) {
    const d = Number(pa[k]) - Number(pb[k]);
    if (d !== 0) return d;
  }
  return 0;
}

export type Command = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";
const COMMANDS: readonly Command[] = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"];
/** The first version that has each command. */
const SINCE: Partial<Record<Command, string>> = { CHECK: "0.4.0", GC: "1.1.0", STATUS: "1.1.0" };

/** What the runtime passes in the environment (CNI_*). */
export interface CniEnv {
  command: Command;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;

/** Reads and checks CNI_* for `command`; throws CniError 4 naming the variable. */
export function readEnv(env: Record<string, string | undefined>): CniEnv {
  const command = env.CNI_COMMAND as Command;
  if (!command) throw new CniError(Code.InvalidEnvironment, "CNI_COMMAND is not set");
  if (!COMMANDS.includes(command)) throw new CniError(Code.InvalidEnvironment, `CNI_COMMAND '${command}' is not one of ${COMMANDS.join(", ")}`);
  const out: CniEnv = {
    command,
    containerId: env.CNI_CONTAINERID || undefined,
    netns: env.CNI_NETNS || undefined,
    ifname: env.CNI_IFNAME || undefined,
    args: env.CNI_ARGS || undefined,
    path: env.CNI_PATH || undefined,
  };
  const attach = command === "ADD" || command === "DEL" || command === "CHECK";
  if (!attach) return out;
  const missing = ["CNI_CONTAINERID", "CNI_IFNAME", ...(command === "DEL" ? [] : ["CNI_NETNS"])].filter((v) => !env[v]);
  if (missing.length) throw new CniError(Code.InvalidEnvironment, `${command} needs ${missing.join(", ")}`);
  if (!CONTAINER_ID.test(out.containerId!)) {
    throw new CniError(Code.InvalidEnvironment, `CNI_CONTAINERID '${out.containerId}' must start with a letter or digit and hold only letters, digits, '_', '.' and '-'`);
  }
  const ifname = out.ifname!;
  if (ifname.length > 15 || ifname === "." || ifname === ".." || /[\s/:]/.test(ifname)) {
    throw new CniError(Code.InvalidEnvironment, `CNI_IFNAME '${ifname}' is not a valid interface name (at most 15 characters, no '/', ':' or spaces)`);
  }
  if (out.netns && !out.netns.startsWith("/")) throw new CniError(Code.InvalidEnvironment, `CNI_NETNS '${out.netns}' is not an absolute path`);
  return out;
}

/** The parts of the network config the client needs before it can reach the agent. */
export interface Transport {
  socket: string;
  timeoutMs: number;
  version: CniVersion;
  name: string;
}

/** Decodes stdin (6), then checks it as transportOf() does. */
export function readTransport(stdin: string, command: Command, defaultSocket = DEFAULT_SOCKET): { config: Record<string, unknown>; transport: Transport } {
  let config: unknown;
  try {
    config = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(Code.DecodingFailure, `network config on stdin is not JSON: ${(e as Error).message}`);
  }
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new CniError(Code.DecodingFailure, "network config on stdin is not a JSON object");
  }
  return { config: config as Record<string, unknown>, transport: transportOf(config as Record<string, unknown>, command, defaultSocket) };
}

/**
 * Checks the version for the command (1) and the fields that say how to reach the agent
 * (7). `socket` wins over the original's `endpoint`; an `http(s)://` endpoint (the
 * original's TCP port) means the default socket, `unix:PATH` that path.
 */
export function transportOf(c: Record<string, unknown>, command: Command, defaultSocket = DEFAULT_SOCKET): Transport {
  const version = c.cniVersion;
  if (typeof version !== "string" || !(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(Code.IncompatibleVersion, `cniVersion ${JSON.stringify(version)} is not one of ${SUPPORTED_VERSIONS.join(", ")}`);
  }
  const since = SINCE[command];
  if (since && compareVersions(version, since)! < 0) {
    throw new CniError(Code.IncompatibleVersion, `cniVersion ${version} does not allow ${command} (it needs ${since} or later)`);
  }
  if (typeof c.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.\-]*$/.test(c.name)) {
    throw new CniError(Code.InvalidConfig, `name ${JSON.stringify(c.name)} must start with a letter or digit and hold only letters, digits, '_', '.' and '-'`);
  }
  let socket = defaultSocket;
  if (c.socket !== undefined) {
    if (typeof c.socket !== "string" || !c.socket.startsWith("/")) throw new CniError(Code.InvalidConfig, `socket ${JSON.stringify(c.socket)} must be an absolute path`);
    socket = c.socket;
  } else if (c.endpoint !== undefined) {
    const e = c.endpoint;
    if (typeof e === "string" && e.startsWith("unix:/")) socket = e.slice(5).replace(/^\/\/(?=\/)/, "");
    else if (typeof e !== "string" || !/^https?:\/\/[^/]+\/?$/.test(e)) {
      throw new CniError(Code.InvalidConfig, `endpoint ${JSON.stringify(e)} must be unix:/PATH or http://HOST:PORT`);
    }
  }
  let timeoutMs = DEFAULT_TIMEOUT_S * 1000;
  if (c.timeout !== undefined) {
    if (typeof c.timeout !== "number" || !(c.timeout > 0) || c.timeout > 3600) {
      throw new CniError(Code.InvalidConfig, `timeout ${JSON.stringify(c.timeout)} must be a number of seconds, above 0 and at most 3600`);
    }
    timeoutMs = c.timeout * 1000;
  }
  return { socket, timeoutMs, version: version as CniVersion, name: c.name };
}

/** One request on the agent's socket: a JSON line. */
export interface WireRequest {
  env: CniEnv;
  config: Record<string, unknown>;
  /** Epoch milliseconds after which the client no longer waits. */
  deadline: number;
}

/** The agent's answer: a JSON line, then the agent closes the connection. */
export type WireResponse = { result?: Record<string, unknown> } | { error: ErrorBody };

/** The spec's error JSON, as printed on stdout. */
export function errorJson(version: string, e: ErrorBody): string {
  return JSON.stringify({ cniVersion: version, code: e.code, msg: e.msg, ...(e.details ? { details: e.details } : {}) });
}
