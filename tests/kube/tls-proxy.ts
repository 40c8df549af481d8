// A TLS front for the plain-http test API server: verifies client certificates
// against a CA (mutual TLS, as a real API server with x509 auth does) and streams
// requests and answers through, so watches pass as they arrive.
import { createServer, type Server } from "node:https";
import { request, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface TlsProxy {
  url: string;
  /** Requests that got past the handshake (method and path). */
  requests: string[];
  /** Connections whose TLS handshake completed (the client certificate verified). */
  counts: { secure: number };
  stop(): Promise<void>;
}

export async function startTlsProxy(target: string, tls: { ca: string; cert: string; key: string }): Promise<TlsProxy> {
  const t = new URL(target);
  const requests: string[] = [];
  const counts = { secure: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer(
    { ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true },
    (req: IncomingMessage, res: ServerResponse) => {
      requests.push(`${req.method} ${req.url}`);
      const up = request(
        { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
        (ur) => {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          res.flushHeaders(); // a watch sends its headers before its first event
          ur.pipe(res);
          res.on("close", () => ur.destroy());
        },
      );
      up.on("error", () => res.destroy());
      req.pipe(up);
    },
  );
  server.on("secureConnection", (s: Socket) => {
    counts.secure++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    counts,
    async stop() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
