// The small HTTP endpoint a long-running sart process serves for Kubernetes probes and
// Prometheus: GET /healthz (liveness), /readyz (readiness), /metrics (text format 0.0.4).
// `sart controller --health` uses it, and so can the agent. It depends on nothing but
// node:http, so any program (the speaker too) can import it.
//
//   const h = await startHealthServer({ listen: "127.0.0.1:9466", ready: () => synced || "caches not synced",
//                                       metrics: () => { const m = new PrometheusText(); m.metric(...); return m.text(); } });
//   h.address  // "127.0.0.1:9466" as bound (port 0 picks one)
//   await h.close();
import { existsSync, unlinkSync } from "node:fs";
import http from "node:http";

export interface HealthServerOptions {
  /** "HOST:PORT", "[IPV6]:PORT" or ":PORT" (every interface); port 0 picks a free one; or "unix:/path". */
  listen: string;
  /** /healthz: true answers 200 "ok"; a string answers 503 with it as the reason. Default: always ok. */
  live?: () => true | string;
  /** /readyz, likewise. Default: always ok. */
  ready?: () => true | string;
  /** The /metrics body in Prometheus text format (PrometheusText builds one). Absent: /metrics is a 404. */
  metrics?: () => string | Promise<string>;
}

export interface HealthServer {
  /** The bound address, "HOST:PORT" ("[::1]:PORT" for IPv6), or "unix:/path". */
  readonly address: string;
  /** 0 on a unix socket. */
  readonly port: number;
  close(): Promise<void>;
}

/** Parses a listen address; throws an Error naming the text when it is not HOST:PORT. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`listen address ${JSON.stringify(text)} is not HOST:PORT, [IPV6]:PORT or :PORT (port 0-65535)`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

const TEXT = "text/plain; charset=utf-8";
const PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const socketPath = opts.listen.startsWith("unix:") ? opts.listen.slice(5) : undefined;
  if (socketPath === "") throw new Error(`listen address ${JSON.stringify(opts.listen)}: unix: needs a path`);
  const { host, port } = socketPath ? { host: "", port: 0 } : parseListenAddress(opts.listen);
  const probe = (check: (() => true | string) | undefined): [number, string] => {
    let result: true | string;
    try {
      result = check ? check() : true;
    } catch (e) {
      result = (e as Error).message ?? String(e);
    }
    return result === true ? [200, "ok\n"] : [503, `${result}\n`];
  };
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    const path = new URL(req.url ?? "/", "http://health").pathname;
    if (path !== "/healthz" && path !== "/readyz" && !(path === "/metrics" && opts.metrics)) {
      return send(404, TEXT, `no such endpoint ${path}; try /healthz, /readyz${opts.metrics ? ", /metrics" : ""}\n`);
    }
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, TEXT, `${req.method} not allowed\n`, { allow: "GET, HEAD" });
    if (path !== "/metrics") {
      const [status, body] = probe(path === "/healthz" ? opts.live : opts.ready);
      return send(status, TEXT, body);
    }
    Promise.resolve()
      .then(() => opts.metrics!())
      .then(
        (body) => send(200, PROMETHEUS, body),
        (e: unknown) => send(500, TEXT, `metrics: ${(e as Error).message ?? String(e)}\n`),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new Error(`health endpoint on ${opts.listen}: ${e.message}`)));
    if (socketPath) {
      // A stale socket from an earlier run (a crash) would make listen fail.
      if (existsSync(socketPath)) unlinkSync(socketPath);
      server.listen(socketPath, () => resolve());
    } else server.listen(port, host, () => resolve());
  });
  const bound = server.address() as { address: string; port: number } | string;
  return {
    address: typeof bound === "string" ? `unix:${bound}` : bound.address.includes(":") ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`,
    port: typeof bound === "string" ? 0 : bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A Prometheus text exposition, one metric family at a time. */
export class PrometheusText {
  private readonly lines: string[] = [];

  metric(name: string, type: "gauge" | "counter", help: string, samples: [Record<string, string>, number][]): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
      this.lines.push(`${name}${l ? `{${l}}` : ""} ${Number.isFinite(value) ? value : 0}`);
    }
    return this;
  }

  text(): string {
    return this.lines.join("\n") + "\n";
  }
}
