// KubeHttp gives up on a silent server and says why: a watch past its idle time (the
// node:http transport: Node's, and Bun's behind a proxy), a request past its timeout (both).
import { expect, test } from "bun:test";
import { createServer } from "node:http";
import { KubeHttp } from "../../host/kube/kube-http.ts";
import type { ClusterAccess } from "../../host/kube/kubeconfig.ts";

test("a watch silent past its idle time fails naming the silence, not as a cut connection", async () => {
  // Headers, then nothing: a server (or a path to it) that went quiet.
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // A proxyUrl selects the node:http transport; with no agent from the credentials the
  // connection goes straight to the server.
  const access: ClusterAccess = { getCurrentCluster: () => ({ server: url, proxyUrl: url }), applyToHTTPSOptions: async () => {} };
  try {
    const stream = await new KubeHttp(access, false).watch("/api/v1/nodes?watch=true", () => {}, 1000);
    await expect(stream.done).rejects.toThrow("watch: nothing received for 1 s");
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("a request unanswered within its timeout fails saying so, on both transports", async () => {
  // The request is read, then nothing: a keep-alive connection gone half-open looks like this.
  const server = createServer(() => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const fetchPath: ClusterAccess = { getCurrentCluster: () => ({ server: url }), applyToHTTPSOptions: async () => {} };
  const nodeHttpPath: ClusterAccess = { getCurrentCluster: () => ({ server: url, proxyUrl: url }), applyToHTTPSOptions: async () => {} };
  try {
    for (const access of [fetchPath, nodeHttpPath]) {
      await expect(new KubeHttp(access, true, 1000).request("GET", "/api/v1/nodes")).rejects.toThrow("GET: no answer within 1 s");
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
