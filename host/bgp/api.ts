// The speaker's HTTP API (docs/api.md) over TCP or a unix socket. JSON in and out;
// errors are {error} with 400, 404, 405 or 409. Requests a browser could have sent
// are refused before routing (api-guard.ts: 403, 415, 421).
import * as http from "node:http";
import { isIP } from "node:net";
import type { Family, RibEntry } from "../core/rib.ts";
import { ConfigError, neighborFromJson, parseHostPort, routeFromJson } from "./config.ts";
import { checkRequest, RefusedRequest } from "./api-guard.ts";
import { renderMetrics } from "./metrics.ts";
import { type Speaker, SpeakerError } from "./speaker.ts";
import { listenUnix } from "./unix-socket.ts";
import { globalView, neighborView, ribView } from "./views.ts";

const MAX_BODY = 1 << 20;
const MAX_LIMIT = 100_000;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new HttpError(400, `request body over ${MAX_BODY} bytes`));
      else chunks.push(c);
    });
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (!text.trim()) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new HttpError(400, `request body is not JSON: ${(e as Error).message}`));
      }
    });
    req.on("error", reject);
  });
}

function family(v: string | null): Family {
  const f = v ?? "ipv4-unicast";
  if (f !== "ipv4-unicast" && f !== "ipv6-unicast") throw new HttpError(400, `family must be ipv4-unicast or ipv6-unicast, not ${JSON.stringify(f)}`);
  return f;
}

function limit(v: string | null): number {
  if (v === null) return 1000;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw new HttpError(400, `limit must be 1..${MAX_LIMIT}, not ${JSON.stringify(v)}`);
  return n;
}

/** The prefix of a DELETE /v1/rib: from the JSON body or ?prefix=. */
function prefixOf(body: unknown, url: URL): string {
  const p = (body as { prefix?: unknown } | undefined)?.prefix ?? url.searchParams.get("prefix");
  if (typeof p !== "string" || !p) throw new HttpError(400, "prefix: required (JSON body {prefix} or ?prefix=)");
  return p;
}

/** The longest prefix in the RIB containing `address` (as gobgp's `rib ADDRESS`); one exact lookup per length. */
function longestMatch(s: Speaker, address: string): RibEntry | undefined {
  if (isIP(address) === 0) throw new HttpError(400, `prefix: ${JSON.stringify(address)} is neither a prefix (ADDR/LEN) nor an address`);
  for (let len = isIP(address) === 6 ? 128 : 32; len >= 0; len--) {
    const e = s.rib.lookup(`${address}/${len}`);
    if (e) return e;
  }
  return undefined;
}

async function route(s: Speaker, req: http.IncomingMessage, url: URL): Promise<[number, unknown] | [number, string, string]> {
  const method = req.method ?? "GET";
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const allow = (...methods: string[]) => {
    if (!methods.includes(method)) throw new HttpError(405, `${method} ${path}: use ${methods.join(" or ")}`);
  };
  if (path === "/v1/global") {
    allow("GET");
    return [200, globalView(s)];
  }
  if (path === "/v1/neighbors") {
    allow("GET", "POST");
    if (method === "GET") return [200, [...s.neighbors.values()].map((nb) => neighborView(s, nb))];
    const nb = s.addNeighbor(neighborFromJson(await readBody(req)));
    return [201, neighborView(s, nb)];
  }
  const m = /^\/v1\/neighbors\/([^/]+)(\/refresh)?$/.exec(path);
  if (m) {
    const address = decodeURIComponent(m[1]);
    const nb = s.neighbors.get(address);
    if (!nb) throw new HttpError(404, `no neighbor ${address}`);
    if (m[2]) {
      allow("POST");
      if (!nb.requestRefresh()) throw new HttpError(409, `neighbor ${address}: not Established with route refresh`);
      return [200, { refreshed: address }];
    }
    allow("GET", "DELETE");
    if (method === "GET") return [200, neighborView(s, nb)];
    await s.removeNeighbor(address);
    return [200, { deleted: address }];
  }
  if (path === "/v1/rib") {
    allow("GET", "POST", "DELETE");
    if (method === "GET") {
      const prefix = url.searchParams.get("prefix");
      if (prefix) {
        const e = prefix.includes("/") ? s.rib.lookup(prefix) : longestMatch(s, prefix);
        return [200, ribView(e ? [e] : [])];
      }
      const after = url.searchParams.get("after") ?? undefined;
      return [200, ribView(s.rib.query({ family: family(url.searchParams.get("family")), limit: limit(url.searchParams.get("limit")), after }))];
    }
    const body = await readBody(req);
    if (method === "POST") {
      const r = routeFromJson(body);
      s.originate(r);
      return [201, r];
    }
    const prefix = prefixOf(body, url);
    s.withdraw(prefix);
    return [200, { withdrawn: prefix }];
  }
  if (path === "/metrics") {
    allow("GET");
    return [200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics(s)];
  }
  throw new HttpError(404, `no such endpoint ${path}`);
}

/** The configured TCP listen host of each API server (a name there is also a valid Host). */
const listenHosts = new WeakMap<http.Server, string>();

export function createApi(s: Speaker): http.Server {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://sart");
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    try {
      // server.address() is the socket path (a string) on a unix socket.
      checkRequest(req, typeof server.address() === "string" ? null : (listenHosts.get(server) ?? ""));
    } catch (e) {
      if (!(e instanceof RefusedRequest)) throw e;
      req.resume();
      send(e.status, "application/json", JSON.stringify({ error: e.message }));
      return;
    }
    route(s, req, url).then(
      (r) => (r.length === 3 ? send(r[0], r[1], r[2]) : send(r[0], "application/json", JSON.stringify(r[1]))),
      (e: unknown) => {
        const status = e instanceof HttpError || e instanceof SpeakerError ? e.status : e instanceof ConfigError ? 400 : e instanceof Error && /^(route|prefix|after|community|rib:|peer)/.test(e.message) ? 400 : 500;
        send(status, "application/json", JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
      },
    );
  });
  return server;
}

/**
 * Listens on "host:port" or "unix:/path" (mode 0600; a stale socket file is replaced, a
 * live one is an error); returns the bound address.
 */
export async function listenApi(server: http.Server, listen: string): Promise<string> {
  if (listen.startsWith("unix:")) {
    await listenUnix(server, listen.slice(5)).catch((err: Error) => {
      throw new Error(`api.listen ${listen}: ${err.message}`);
    });
    return listen;
  }
  const { host, port } = parseHostPort(listen);
  listenHosts.set(server, host);
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`api.listen ${listen}: ${err.message}`)));
    server.listen({ host, port }, () => {
      const a = server.address() as { address: string; port: number };
      resolve(a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    });
  });
}
