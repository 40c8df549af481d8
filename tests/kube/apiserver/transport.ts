// Serves an ApiHandler over HTTP: Bun.serve under Bun (several times the request rate of Bun's
// node:http emulation, which matters for the 10,000-Service benchmarks), node:http under Node.
import { createServer } from "node:http";
import type { Socket } from "node:net";
import type { ApiHandler, ApiReply, WatchStream } from "./http.ts";

export type TransportKind = "bun" | "node";

export interface Listening {
  port: number;
  stop(): Promise<void>;
}

/** Unread output after which a slow watcher is disconnected, as the real server drops slow watchers. */
const WATCH_BUFFER_BYTES = 256 * 1024 * 1024;
const WATCH_BUFFER_CHUNKS = 1_000_000;

const WATCH_HEADERS = { "Content-Type": "application/json", "Cache-Control": "no-cache, private" };

function closeNotifier(): { onClose(cb: () => void): void; fire(): void } {
  const callbacks: Array<() => void> = [];
  let closed = false;
  return {
    onClose: (cb) => (closed ? cb() : callbacks.push(cb)),
    fire: () => {
      if (closed) return;
      closed = true;
      for (const cb of callbacks) cb();
    },
  };
}

export function defaultTransport(): TransportKind {
  return typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun" : "node";
}

export async function listen(handler: ApiHandler, host: string, port: number, kind: TransportKind): Promise<Listening> {
  return kind === "bun" ? listenBun(handler, host, port) : listenNode(handler, host, port);
}

async function listenBun(handler: ApiHandler, host: string, port: number): Promise<Listening> {
  const Bun = (globalThis as any).Bun;
  const enc = new TextEncoder();
  const server = Bun.serve({
    hostname: host,
    port,
    development: false,
    idleTimeout: 0, // watches may stay silent for long
    async fetch(request: Request): Promise<Response> {
      const u = new URL(request.url);
      const r: ApiReply = await handler.handle({ method: request.method, url: u.pathname + u.search, contentType: request.headers.get("content-type") ?? "", accept: request.headers.get("accept") ?? "", text: () => request.text() });
      if (!("watch" in r)) return new Response(r.body, { status: r.status, headers: { "Content-Type": r.contentType ?? "application/json" } });
      const closing = closeNotifier();
      let ctrl!: ReadableStreamDefaultController<Uint8Array>;
      let wrote = false;
      let ended = false;
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctrl = c), cancel: () => closing.fire() });
      request.signal.addEventListener("abort", () => closing.fire());
      // Lines written in one turn of the event loop leave as one chunk, as kube-apiserver
      // flushes a watch only when no more events wait: per-chunk costs of Bun's stream to the
      // socket were a quarter of this server's CPU under a burst of 10,000 Services.
      let pending: string[] = [];
      const flush = () => {
        if (!pending.length || ended) return;
        ctrl.enqueue(enc.encode(pending.length === 1 ? pending[0]! : pending.join("")));
        pending = [];
        if ((ctrl.desiredSize ?? 0) < -WATCH_BUFFER_CHUNKS) {
          stream.end();
          closing.fire();
        }
      };
      const stream: WatchStream = {
        write(line) {
          if (ended) return;
          wrote = true;
          if (!pending.length) setImmediate(flush);
          pending.push(line);
        },
        end() {
          if (ended) return;
          flush();
          ended = true;
          ctrl.close();
        },
        onClose: closing.onClose,
      };
      r.watch(stream);
      // Bun sends the response headers with the first chunk; a watch with nothing to say yet
      // starts with a blank line (JSON decoders skip it) so that the client sees its 200 now.
      if (!wrote && !ended) ctrl.enqueue(enc.encode("\n"));
      return new Response(body, { status: 200, headers: WATCH_HEADERS });
    },
  });
  return {
    port: server.port,
    async stop() {
      server.stop(true);
    },
  };
}

async function listenNode(handler: ApiHandler, host: string, port: number): Promise<Listening> {
  const server = createServer((req, res) => {
    const text = async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    };
    void handler.handle({ method: req.method ?? "GET", url: req.url ?? "/", contentType: String(req.headers["content-type"] ?? ""), accept: String(req.headers.accept ?? ""), text }).then((r) => {
      if (!("watch" in r)) {
        res.writeHead(r.status, { "Content-Type": r.contentType ?? "application/json", "Content-Length": Buffer.byteLength(r.body) });
        res.end(r.body);
        return;
      }
      res.writeHead(200, { ...WATCH_HEADERS, "Transfer-Encoding": "chunked" });
      res.flushHeaders();
      const closing = closeNotifier();
      // The response's close (not the request's) tells that the client went away.
      res.on("close", () => closing.fire());
      r.watch({
        write(line) {
          if (res.writableEnded || res.destroyed) return;
          res.write(line);
          if (res.writableLength > WATCH_BUFFER_BYTES) res.destroy();
        },
        end() {
          if (!res.writableEnded) res.end();
        },
        onClose: closing.onClose,
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
