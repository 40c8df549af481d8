// The HTTP(S) transport of KubeStore: JSON requests and watch streams to the API server,
// with the kubeconfig's server, credentials and TLS (ClusterAccess, ./kubeconfig.ts), and
// the server's JSON returned as is.
//
// Transport, the cheapest per runtime (measured: Bun's node:http client costs more CPU
// than its fetch, Node's fetch more than node:http):
// - Node (and Bun behind a proxy): node:http(s).request with a keep-alive agent (the
//   kubeconfig's own agent when it gives one: client-node's, for a proxy); the TLS
//   fields are passed on the request, where https.request merges them into the agent's
//   connection options and pool key, so rotated credentials get new connections.
// - Bun: its native fetch, with the CA, certificate, key, verify flag and server name
//   as fetch's `tls` option; Bun keeps fetch connections alive itself. Not the bare
//   `undici` import, a stub under Bun.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import type { ClusterAccess } from "./kubeconfig.ts";

/** A non-2xx answer: the HTTP status and the body (the API's Status JSON, usually). */
export class HttpStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

const IS_BUN = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** How long the kubeconfig's TLS material and credentials are reused before they are applied again. */
const OPTIONS_TTL_MS = 1000;
/** kube-apiserver's default --request-timeout. */
const REQUEST_TIMEOUT_MS = 60_000;

export interface WatchStream {
  /** Resolves when the server ends the stream; rejects on a non-200 answer (HttpStatusError) or a broken connection. */
  done: Promise<void>;
  /** Ends it from our side (done then resolves). */
  abort(): void;
}

export class KubeHttp {
  private applied: { at: number; opts: Promise<RequestOptions> } | undefined;
  private readonly agents: { http: HttpAgent; https: HttpsAgent };

  constructor(
    private readonly kc: ClusterAccess,
    private readonly keepAlive: boolean,
    /**
     * A request (not a watch) is given up when it has no complete answer after this long: a
     * keep-alive connection gone half-open would otherwise hold it until TCP keepalive gives
     * up (minutes). The default is kube-apiserver's own limit for such requests.
     */
    private readonly requestTimeoutMs = REQUEST_TIMEOUT_MS,
  ) {
    this.agents = { http: new HttpAgent({ keepAlive }), https: new HttpsAgent({ keepAlive }) };
  }

  /** The API server's URL. */
  get server(): string | undefined {
    return this.kc.getCurrentCluster()?.server;
  }

  /**
   * The kubeconfig's TLS and auth for a request. Applying them reads files and computes
   * headers (~0.5 ms with client-node's); they are reused for a second, so a token a
   * kubelet rotates in its file is still picked up.
   */
  private options(): Promise<RequestOptions> {
    const now = Date.now();
    if (!this.applied || now - this.applied.at > OPTIONS_TTL_MS) {
      const opts: RequestOptions = {};
      this.applied = { at: now, opts: this.kc.applyToHTTPSOptions(opts).then(() => opts) };
      this.applied.opts.catch(() => (this.applied = undefined));
    }
    return this.applied.opts;
  }

  private url(path: string): { url: URL; proxied: boolean } {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster?.server) throw new Error("kubeconfig: the current context has no cluster server");
    return { url: new URL(cluster.server.replace(/\/+$/, "") + path), proxied: !!cluster.proxyUrl };
  }

  /** One request; the answer's JSON (undefined for an empty body). Throws HttpStatusError on a non-2xx answer. */
  async request(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<unknown> {
    const { url, proxied } = this.url(path);
    const opts = await this.options();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string>), Accept: "application/json" };
    if (payload !== undefined) {
      headers["Content-Type"] = contentType;
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    const text = IS_BUN && !proxied ? await this.bunFetch(url, method, headers, payload, opts) : await this.nodeRequest(url, method, headers, payload, opts);
    return text ? JSON.parse(text) : undefined;
  }

  /**
   * A watch: GET `path` (with watch=true and its parameters in the query), each line of the
   * answer handed to `onLine` as it arrives. `idleMs`: the connection is given up when
   * nothing arrives for this long (the server's timeoutSeconds should have ended it).
   */
  async watch(path: string, onLine: (line: string) => void, idleMs: number): Promise<WatchStream> {
    const { url, proxied } = this.url(path);
    const opts = await this.options();
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string>), Accept: "application/json" };
    return IS_BUN && !proxied ? this.bunWatch(url, headers, opts, onLine, idleMs) : this.nodeWatch(url, headers, opts, onLine, idleMs);
  }

  private bunTls(headers: Record<string, string>, opts: RequestOptions): Record<string, unknown> {
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
    const tls: Record<string, unknown> = { ca: opts.ca, cert: opts.cert, key: opts.key, serverName: opts.servername };
    if (opts.rejectUnauthorized !== undefined) tls.rejectUnauthorized = opts.rejectUnauthorized;
    return tls;
  }

  private async bunFetch(url: URL, method: string, headers: Record<string, string>, payload: string | undefined, opts: RequestOptions): Promise<string> {
    const tls = this.bunTls(headers, opts);
    // Not AbortSignal.timeout: its timer keeps the signal, and with it the request's state
    // (fetch's abort listener), alive for the whole timeout after the answer came; 10,000
    // status writes in a burst kept tens of MiB for a minute.
    const abort = new AbortController();
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      abort.abort();
    }, this.requestTimeoutMs);
    try {
      const res = await fetch(url, { method, headers, body: payload, tls, keepalive: this.keepAlive, signal: abort.signal } as RequestInit);
      const text = await res.text();
      if (!res.ok) throw new HttpStatusError(res.status, text);
      return text;
    } catch (e) {
      throw late ? this.late(method) : e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async bunWatch(url: URL, headers: Record<string, string>, opts: RequestOptions, onLine: (line: string) => void, idleMs: number): Promise<WatchStream> {
    const tls = this.bunTls(headers, opts);
    const abort = new AbortController();
    // Bun's `timeout` is an idle timeout, reset by every byte.
    const res = await fetch(url, { headers, tls, keepalive: this.keepAlive, signal: abort.signal, timeout: idleMs } as RequestInit);
    if (res.status !== 200) throw new HttpStatusError(res.status, await res.text());
    const lines = new LineSplitter(onLine);
    const done = (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) lines.push(chunk);
        lines.end();
      } catch (e) {
        if (!abort.signal.aborted) throw e;
      }
    })();
    return { done, abort: () => abort.abort() };
  }

  private requestOptions(url: URL, method: string, headers: Record<string, string>, opts: RequestOptions): RequestOptions {
    const reqOpts: RequestOptions = {
      method,
      headers,
      agent: opts.agent ?? (url.protocol === "https:" ? this.agents.https : this.agents.http),
      auth: opts.auth,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      servername: opts.servername,
    };
    if (opts.rejectUnauthorized !== undefined) reqOpts.rejectUnauthorized = opts.rejectUnauthorized;
    return reqOpts;
  }

  private nodeRequest(url: URL, method: string, headers: Record<string, string>, payload: string | undefined, opts: RequestOptions): Promise<string> {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<string>((resolve, reject) => {
      const req = request(url, this.requestOptions(url, method, headers, opts), (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const t = Buffer.concat(chunks).toString("utf8");
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(t);
          else reject(new HttpStatusError(code, t));
        });
      });
      const timer = setTimeout(() => req.destroy(this.late(method)), this.requestTimeoutMs).unref();
      req.on("close", () => clearTimeout(timer));
      req.on("error", reject);
      req.end(payload);
    });
  }

  private late(method: string): Error {
    return new Error(`${method}: no answer within ${this.requestTimeoutMs / 1000} s`);
  }

  private nodeWatch(url: URL, headers: Record<string, string>, opts: RequestOptions, onLine: (line: string) => void, idleMs: number): Promise<WatchStream> {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<WatchStream>((resolveStart, rejectStart) => {
      let aborted = false;
      /** Set when we cut the connection for silence: the response then fails as "aborted", which says less. */
      let idle: Error | undefined;
      const req = request(url, this.requestOptions(url, "GET", headers, opts), (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => rejectStart(new HttpStatusError(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))));
          res.on("error", rejectStart);
          return;
        }
        const lines = new LineSplitter(onLine);
        const done = new Promise<void>((resolve, reject) => {
          res.on("data", (c: Buffer) => lines.push(c));
          res.on("end", () => {
            lines.end();
            resolve();
          });
          // A connection cut before the end: an error, unless we cut it.
          res.on("close", () => (aborted || res.complete ? resolve() : reject(idle ?? new Error("watch connection closed before the end of the stream"))));
          res.on("error", (e) => (aborted ? resolve() : reject(idle ?? e)));
        });
        resolveStart({
          done,
          abort: () => {
            aborted = true;
            req.destroy();
          },
        });
      });
      req.setTimeout(idleMs, () => req.destroy((idle = new Error(`watch: nothing received for ${Math.round(idleMs / 1000)} s`))));
      req.on("error", rejectStart);
      req.end();
    });
  }
}

/**
 * Splits a byte stream into lines, each decoded on its own: a newline byte is never part of
 * a multi-byte UTF-8 character, so lines split on bytes. Decoding a whole chunk (a watch
 * chunk carries every event the server had ready, often hundreds of kilobytes) would make a
 * string of it, then copy it again to search it, for the lines to be cut out and dropped.
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder();
  /** The start of an unfinished line (copied: the stream may reuse its buffers). */
  private carry: Uint8Array[] = [];

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Uint8Array): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      const bytes = this.carry.length ? this.takeCarry(chunk.subarray(start, nl)) : chunk.subarray(start, nl);
      if (bytes.length) this.onLine(this.decoder.decode(bytes));
      start = nl + 1;
    }
    // Uint8Array's slice copies (a Node Buffer's would be a view).
    if (start < chunk.length) this.carry.push(Uint8Array.prototype.slice.call(chunk, start));
  }

  end(): void {
    const rest = this.decoder.decode(this.takeCarry(new Uint8Array(0)));
    if (rest.trim()) this.onLine(rest);
  }

  private takeCarry(last: Uint8Array): Uint8Array {
    const line = Buffer.concat([...this.carry, last]);
    this.carry = [];
    return line;
  }
}
