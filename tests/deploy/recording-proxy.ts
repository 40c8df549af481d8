// An HTTP proxy in front of the test API server that records every request passing through
// (method, path and query, response status), so a test can list the API calls a client
// really made. Responses are streamed, so watches work through it.
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  status: number;
}

export interface RecordingProxy {
  url: string;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const requests: RecordedRequest[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const entry: RecordedRequest = { method: req.method ?? "GET", url: req.url ?? "/", status: 0 };
    requests.push(entry);
    open.add(res);
    const up = request(
      { host: target.hostname, port: target.port, method: entry.method, path: entry.url, headers: { ...req.headers, host: target.host } },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        res.writeHead(entry.status, answer.headers);
        answer.pipe(res);
      },
    );
    up.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`recording proxy: upstream ${upstream}: ${e.message}`);
    });
    // A client that goes away (a watch it stopped) ends the upstream request too.
    res.on("close", () => {
      open.delete(res);
      up.destroy();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async stop() {
      for (const res of open) res.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
