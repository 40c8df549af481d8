// A byte forwarder between a TCP address and a unix socket, for the lab: the API server
// runs in the control-plane namespace, and a unix socket (a file, visible from every
// namespace) carries the test process's connections to it.
//   bun tests/lab/forward.ts LISTEN TARGET     (each "host:port" or "unix:/path")
import { existsSync, unlinkSync } from "node:fs";
import * as net from "node:net";

type Endpoint = { path: string } | { host: string; port: number };

function endpoint(s: string): Endpoint {
  if (s.startsWith("unix:")) return { path: s.slice(5) };
  const i = s.lastIndexOf(":");
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) throw new Error(`not host:port or unix:/path: ${s}`);
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ""), port };
}

export interface Forwarder {
  /** Stops listening and cuts every connection (to the client, like a server going away). */
  close(): Promise<void>;
}

/** Listens on `listen` and pipes every connection to `target`; resolves once it listens. */
export function forward(listen: string, target: string): Promise<Forwarder> {
  const to = endpoint(target);
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(to as net.NetConnectOpts);
    open.add(client);
    open.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  });
  const at = endpoint(listen);
  if ("path" in at && existsSync(at.path)) unlinkSync(at.path);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at as net.ListenOptions, () =>
      resolve({
        close: () =>
          new Promise<void>((done) => {
            for (const s of open) s.destroy();
            server.close(() => done());
          }),
      }));
  });
}

if (import.meta.main) {
  const [listen, target] = process.argv.slice(2);
  if (!listen || !target) {
    console.error("usage: forward.ts LISTEN TARGET (host:port or unix:/path)");
    process.exit(2);
  }
  await forward(listen, target);
  console.error(`forwarding ${listen} -> ${target}`);
  process.on("SIGTERM", () => process.exit(0));
}
