// The CLI's client of the speaker/agent HTTP API (docs/api.md). It finds the local API
// without flags: --api ADDR, else $SART_API, else 127.0.0.1:5000 (where both `sart agent`
// and the speaker's default config serve it). undici is the client: "undici/index.js",
// since Bun maps the bare "undici" to a stub; it also speaks HTTP over unix sockets.
import { Client } from "undici/index.js";
import { parseHostPort } from "../bgp/config.ts";
import { UsageError } from "./args.ts";

export const DEFAULT_API = "127.0.0.1:5000";

export const API_HELP = `  --api ADDR   the agent's or speaker's HTTP API: HOST:PORT, [V6]:PORT or unix:PATH;
               default $SART_API, else ${DEFAULT_API} (where both listen by default)`;

export interface ApiAddress {
  address: string;
  /** Where the address came from, for error messages. */
  source: "--api" | "SART_API" | "the default";
}

/** --api, else $SART_API, else the default; a malformed address is a usage error naming its source. */
export function resolveApi(flagValue: string | undefined, env: NodeJS.ProcessEnv = process.env): ApiAddress {
  const a: ApiAddress = flagValue !== undefined
    ? { address: flagValue, source: "--api" }
    : env.SART_API
      ? { address: env.SART_API, source: "SART_API" }
      : { address: DEFAULT_API, source: "the default" };
  if (a.address.startsWith("unix:")) {
    if (a.address.length === 5) throw new UsageError(`${a.source}: unix: needs a socket path, e.g. unix:/run/sart/bgp.sock`);
    return a;
  }
  try {
    parseHostPort(a.address);
  } catch (e) {
    throw new UsageError(`${a.source === "the default" ? "API address" : a.source}: ${(e as Error).message}`);
  }
  return a;
}

const CONNECT_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOENT: "no such socket file",
  EACCES: "permission denied",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
  ENOTFOUND: "unknown host",
};

/** The cause's errno code, wherever undici put it. */
function errorCode(e: unknown): string | undefined {
  for (let x = e as { code?: string; cause?: unknown } | undefined, i = 0; x && i < 4; x = x.cause as typeof x, i++) {
    if (typeof x.code === "string") return x.code;
  }
  return undefined;
}

export class ApiClient {
  private readonly client: Client;

  constructor(readonly api: ApiAddress) {
    // Bounded: a hung API is an error after a minute, not a CLI that never returns.
    const opts = { connect: { timeout: 5_000 }, headersTimeout: 60_000, bodyTimeout: 60_000 };
    this.client = api.address.startsWith("unix:")
      ? new Client("http://localhost", { ...opts, socketPath: api.address.slice(5) })
      : new Client(`http://${api.address}`, opts);
  }

  /** One line saying which address was tried, from where, and how to point elsewhere. */
  unreachable(e: unknown): Error {
    const code = errorCode(e);
    const why = (code && CONNECT_ERRORS[code]) ?? (e as Error).message;
    return new Error(
      `cannot reach the sart API at ${this.api.address} (${this.api.source}): ${why}; is sart agent or sart speaker running? ` +
        "Point to its API with --api HOST:PORT|unix:PATH or SART_API=...",
    );
  }

  async call<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    let res;
    try {
      res = await this.client.request({
        method, path,
        // The API refuses a POST that is not application/json (docs/api.md, trust model).
        headers: body === undefined && method !== "POST" ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw this.unreachable(e);
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(`${method} ${path} at ${this.api.address}: HTTP ${res.statusCode}, not JSON (is this a sart API?): ${text.slice(0, 200)}`);
    }
    if (res.statusCode >= 400) throw new Error((json as { error?: string })?.error ?? `${method} ${path}: HTTP ${res.statusCode}`);
    return json as T;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
