// What the HTTP API accepts before it looks at a request (docs/api.md "Trust model").
// The API has no authentication: whoever can reach it controls the speaker. So it must
// not be reachable through a web browser on the node, which would let any page change
// routes:
// - DNS rebinding (a page's own name made to resolve to 127.0.0.1, so the browser treats
//   the API as same-origin) sends the attacker's name as Host: a TCP request's Host must
//   be localhost, an IP address, or the configured listen host.
// - Cross-site requests: a page can POST a form or text/plain body anywhere without asking,
//   but needs a CORS preflight (which the API never grants) for application/json and for
//   any DELETE. So every POST, and every request with a body, must be application/json;
//   and a request with an Origin header (browsers send one with every cross-origin fetch
//   and every POST; command-line clients never do) is refused outright.
// A unix socket is out of a browser's reach and its file mode (0600) decides who may
// connect, so the Host check applies to TCP only.
import type * as http from "node:http";
import { isIP } from "node:net";

export class RefusedRequest extends Error {
  constructor(readonly status: 403 | 415 | 421, message: string) {
    super(message);
  }
}

/** "127.0.0.1:5000" -> "127.0.0.1", "[::1]:5000" -> "::1", "localhost" -> "localhost" (lower case). */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return h.slice(1, end < 0 ? undefined : end);
  }
  const colon = h.indexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

function acceptedHost(name: string, listenHost: string): boolean {
  return name === "localhost" || isIP(name) !== 0 || (listenHost !== "" && name === listenHost.toLowerCase());
}

/**
 * Throws RefusedRequest (421 bad Host, 403 from a browser page, 415 not JSON) for a request the
 * API must not act on. `listenHost` is the configured TCP listen host, null on a unix socket.
 */
export function checkRequest(req: http.IncomingMessage, listenHost: string | null): void {
  const method = req.method ?? "GET";
  if (listenHost !== null) {
    const host = req.headers.host;
    if (!host) throw new RefusedRequest(421, "the Host header is missing: send Host: localhost or the API's IP address");
    if (!acceptedHost(hostName(host), listenHost)) {
      throw new RefusedRequest(421, `Host ${JSON.stringify(host)} is not this API's address: use localhost or an IP address (names other than the listen address are refused against DNS rebinding)`);
    }
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    throw new RefusedRequest(403, `request from a web page (Origin ${JSON.stringify(origin)}) refused: the API is for local programs, not browsers`);
  }
  const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  if (method === "POST" || hasBody) {
    const type = req.headers["content-type"];
    if (!isJson(type)) {
      throw new RefusedRequest(415, `${method} ${req.url ?? "/"}: Content-Type must be application/json, not ${type === undefined ? "missing" : JSON.stringify(type)}`);
    }
  }
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(";")[0].trim().toLowerCase() === "application/json";
}
