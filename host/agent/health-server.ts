// The agent's probe and metrics endpoint (--health): GET /healthz (the process
// answers), /readyz (200 once ready, 503 with the reason before), /metrics
// (Prometheus text). Over TCP ("127.0.0.1:9467") or a unix socket ("unix:/path").
import { existsSync, unlinkSync } from "node:fs";
import * as http from "node:http";
import { parseHostPort } from "../bgp/config.ts";

export interface Probe {
  ok: boolean;
  /** Why not, or what is fine: the response body. */
  detail: string;
}

export interface HealthHandlers {
  healthz: () => Probe;
  readyz: () => Probe;
  metrics: () => string;
}

export interface HealthServer {
  /** "127.0.0.1:9467" (the port bound) or "unix:/path". */
  address: string;
  close(): Promise<void>;
}

export function startHealthServer(listen: string, h: HealthHandlers): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://sart").pathname;
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", `${req.method}: use GET\n`);
    try {
      if (path === "/healthz" || path === "/readyz") {
        const p = path === "/healthz" ? h.healthz() : h.readyz();
        return send(p.ok ? 200 : 503, "text/plain; charset=utf-8", `${p.detail}\n`);
      }
      if (path === "/metrics") return send(200, "text/plain; version=0.0.4; charset=utf-8", h.metrics());
      send(404, "text/plain", `no such endpoint ${path} (/healthz, /readyz, /metrics)\n`);
    } catch (e) {
      send(500, "text/plain", `${(e as Error).message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`--health ${listen}: ${err.message}`)));
    const done = (address: string) =>
      resolve({
        address,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    if (listen.startsWith("unix:")) {
      const path = listen.slice(5);
      if (existsSync(path)) unlinkSync(path);
      server.listen(path, () => done(listen));
      return;
    }
    let hp: { host: string; port: number };
    try {
      hp = parseHostPort(listen);
    } catch (e) {
      reject(new Error(`--health: ${(e as Error).message}`));
      return;
    }
    server.listen({ host: hp.host, port: hp.port }, () => {
      const a = server.address() as { address: string; port: number };
      done(a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    });
  });
}
