// Request routing of the test API server: discovery documents, /version, OpenAPI, and the REST
// verbs of every served resource (get, list, watch, create, update, patch, delete,
// deletecollection, /status). Transport-neutral: transport.ts serves it over node:http or Bun.serve.
import yaml from "js-yaml";
import { ApiError, badRequest, methodNotAllowed, notFoundPath } from "./errors.ts";
import { openApiDoc, openApiIndex } from "./openapi.ts";
import { patchKind } from "./patch.ts";
import { tableJson, wantsTable, type IncludeObject } from "./table.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { recJson, type FieldValidation, type ObjectStore, type Rec } from "./store.ts";
import { ALL_VERBS, type ResourceType } from "./types.ts";

export const SERVER_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-sart-test",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.23.0",
  compiler: "gc",
  platform: "linux/amd64",
};

export interface ApiRequest {
  method: string;
  /** Path and query, e.g. "/api/v1/services?watch=true". */
  url: string;
  contentType: string;
  accept: string;
  text(): Promise<string>;
}

/** The writable end of a watch response; `onClose` fires when the client goes away. */
export interface WatchStream {
  write(line: string): void;
  end(): void;
  onClose(cb: () => void): void;
}

export type ApiReply = { status: number; body: string; contentType?: string } | { watch: (stream: WatchStream) => void };

export interface HttpStats {
  requests: number;
  watches: number;
}

export class ApiHandler {
  readonly stats: HttpStats = { requests: 0, watches: 0 };
  constructor(
    private readonly store: ObjectStore,
    private readonly address: () => string,
  ) {}

  /** Never rejects: errors become Status replies. */
  async handle(req: ApiRequest): Promise<ApiReply> {
    this.stats.requests++;
    try {
      return await this.route(req);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, "InternalError", `Internal error occurred: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      return reply(e.code, JSON.stringify(e.toStatus()));
    }
  }

  private async route(req: ApiRequest): Promise<ApiReply> {
    const url = new URL(req.url, "http://localhost");
    const segs = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const method = req.method;
    if (segs.length === 0) return replyObj(200, { paths: ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"] });
    if (segs.length === 1 && ["healthz", "livez", "readyz"].includes(segs[0])) return { status: 200, body: "ok", contentType: "text/plain; charset=utf-8" };
    if (segs.length === 1 && segs[0] === "version") return replyObj(200, SERVER_VERSION);
    if (segs[0] === "openapi" && segs[1] === "v3") return this.openapi(url, segs.slice(2));
    if (segs[0] === "sart-test" && segs.length === 2 && method === "POST") return this.control(segs[1], url.searchParams);
    if (segs[0] === "api") {
      if (segs.length === 1) return replyObj(200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: this.address() }] });
      if (segs[1] !== "v1") throw notFoundPath(url.pathname);
      if (segs.length === 2) return replyObj(200, this.resourceList("v1"));
      return this.resource(req, url, "v1", segs.slice(2));
    }
    if (segs[0] === "apis") {
      if (segs.length === 1) return replyObj(200, { kind: "APIGroupList", apiVersion: "v1", groups: this.groups() });
      if (segs.length === 2) {
        const g = this.groups().find((x) => x.name === segs[1]);
        if (!g) throw notFoundPath(url.pathname);
        return replyObj(200, { kind: "APIGroup", apiVersion: "v1", ...g });
      }
      const gv = `${segs[1]}/${segs[2]}`;
      if (!this.store.served.has(gv)) throw notFoundPath(url.pathname);
      if (segs.length === 3) return replyObj(200, this.resourceList(gv));
      return this.resource(req, url, gv, segs.slice(3));
    }
    if (method !== "GET") throw methodNotAllowed();
    throw notFoundPath(url.pathname);
  }

  /**
   * Test controls for a server in another process (`bun run test-apiserver`): POST
   * /sart-test/compact[?resourceVersion=N], /sart-test/close-watches, /sart-test/bookmarks.
   */
  private control(action: string, q: URLSearchParams): ApiReply {
    if (action === "compact") {
      const rv = q.get("resourceVersion");
      this.store.compact(rv ? Number(rv) : undefined);
    } else if (action === "close-watches") this.store.closeWatches();
    else if (action === "bookmarks") this.store.bookmarkAll();
    else throw notFoundPath(`/sart-test/${action}`);
    return replyObj(200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 200, details: { resourceVersion: String(this.store.rv) } });
  }

  private openapi(url: URL, rest: string[]): ApiReply {
    const byGv = new Map<string, ResourceType[]>();
    for (const [gv, m] of this.store.served) byGv.set(gv, [...m.values()]);
    if (rest.length === 0) return replyObj(200, openApiIndex(byGv));
    const gv = rest[0] === "api" ? rest.slice(1).join("/") : rest[0] === "apis" ? rest.slice(1).join("/") : "";
    const types = byGv.get(gv);
    if (!types || types.length === 0) throw notFoundPath(url.pathname);
    return replyObj(200, openApiDoc(types));
  }

  private groups(): Array<{ name: string; versions: Array<{ groupVersion: string; version: string }>; preferredVersion: { groupVersion: string; version: string } }> {
    const byGroup = new Map<string, Array<{ groupVersion: string; version: string; priority: number }>>();
    for (const [gv, m] of this.store.served) {
      if (!gv.includes("/") || m.size === 0) continue;
      const t = m.values().next().value as ResourceType;
      const list = byGroup.get(t.group) ?? [];
      // A CRD's storage version is its preferred version.
      const stored = t.crd ? (t.crd.spec.versions as any[]).find((v) => v.storage)?.name === t.version : true;
      list.push({ groupVersion: gv, version: t.version, priority: stored ? 0 : 1 });
      byGroup.set(t.group, list);
    }
    return [...byGroup].map(([name, vs]) => {
      vs.sort((a, b) => a.priority - b.priority);
      const versions = vs.map(({ groupVersion, version }) => ({ groupVersion, version }));
      return { name, versions, preferredVersion: versions[0] };
    });
  }

  private resourceList(gv: string): unknown {
    const resources: unknown[] = [];
    for (const t of this.store.served.get(gv)?.values() ?? []) {
      const r: any = { name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: ALL_VERBS };
      if (t.shortNames.length) r.shortNames = t.shortNames;
      if (t.categories.length) r.categories = t.categories;
      resources.push(r);
      if (t.hasStatus) resources.push({ name: `${t.plural}/status`, singularName: "", namespaced: t.namespaced, kind: t.kind, verbs: ["get", "patch", "update"] });
    }
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources };
  }

  /** `rest` is the path after /api/v1 or /apis/<group>/<version>. */
  private async resource(req: ApiRequest, url: URL, gv: string, rest: string[]): Promise<ApiReply> {
    let legacyWatch = false;
    if (rest[0] === "watch") {
      legacyWatch = true;
      rest = rest.slice(1);
    }
    let ns: string | undefined;
    // /namespaces/<ns>/<plural>... addresses a namespaced resource; /namespaces/<name>[/status|/finalize] the Namespace itself.
    if (rest[0] === "namespaces" && rest.length >= 3 && !(gv === "v1" && rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize"))) {
      ns = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub, ...extra] = rest;
    const t = this.store.resolve(gv, plural);
    if (!t || extra.length > 0) throw notFoundPath(url.pathname);
    if (ns !== undefined && !t.namespaced) throw notFoundPath(url.pathname);
    if (sub !== undefined && !(sub === "status" && t.hasStatus) && !(sub === "finalize" && t.kind === "Namespace")) throw notFoundPath(url.pathname);
    const status = sub === "status" || sub === "finalize";
    if (t.namespaced && name !== undefined && ns === undefined) throw notFoundPath(url.pathname);
    const nsKey = t.namespaced ? ns ?? "" : "";
    const q = url.searchParams;
    const dryRun = q.get("dryRun") === "All";
    const fv = (["Strict", "Warn", "Ignore"].includes(q.get("fieldValidation") ?? "") ? q.get("fieldValidation") : "Warn") as FieldValidation;
    const method = req.method;
    const table = method === "GET" && wantsTable(req.accept);
    const include = (["None", "Metadata", "Object"].includes(q.get("includeObject") ?? "") ? q.get("includeObject") : "Metadata") as IncludeObject;

    if (name === undefined) {
      const label = parseLabelSelector(q.get("labelSelector"));
      const field = parseFieldSelector(q.get("fieldSelector"), t.fieldSelectors);
      if (method === "GET") {
        if (legacyWatch || q.get("watch") === "true" || q.get("watch") === "1") return this.watch(t, ns, q, label, field, table ? include : undefined);
        const limit = q.get("limit") ? Number(q.get("limit")) : undefined;
        const r = this.store.list(t, {
          namespace: ns, label, field,
          resourceVersion: q.get("resourceVersion") ?? undefined,
          resourceVersionMatch: q.get("resourceVersionMatch") ?? undefined,
          limit: limit && limit > 0 ? limit : undefined,
          continueToken: q.get("continue") || undefined,
        });
        if (table) return reply(200, tableJson(t, r.recs.map((x) => x.obj), r.rv, include, r.continueToken, r.remaining));
        return reply(200, listJson(t, r.rv, r.recs, r.continueToken, r.remaining));
      }
      if (method === "POST") {
        if (t.namespaced && ns === undefined) throw methodNotAllowed(`POST requires a namespace for ${t.plural}`);
        const rec = await this.store.create(t, nsKey, await readBody(req), dryRun, fv);
        return reply(201, recJson(rec));
      }
      if (method === "DELETE") {
        const recs = await this.store.deleteCollection(t, { namespace: ns, label, field });
        return reply(200, listJson(t, this.store.rv, recs));
      }
      throw methodNotAllowed();
    }
    if (legacyWatch || q.get("watch") === "true" || q.get("watch") === "1") {
      const field = parseFieldSelector(`metadata.name=${name}`, []);
      return this.watch(t, ns, q, undefined, field, table ? include : undefined);
    }
    switch (method) {
      case "GET": {
        const rec = this.store.get(t, nsKey, name);
        if (table) return reply(200, tableJson(t, [rec.obj], Number(rec.obj.metadata.resourceVersion), include));
        return reply(200, recJson(rec));
      }
      case "PUT": {
        const { rec, created } = await this.store.update(t, nsKey, name, await readBody(req), status, dryRun, fv);
        return reply(created ? 201 : 200, recJson(rec));
      }
      case "PATCH": {
        const kind = patchKind(req.contentType);
        const rec = await this.store.patch(t, nsKey, name, kind, await readBody(req), status, dryRun, fv);
        return reply(200, recJson(rec));
      }
      case "DELETE": {
        if (status) throw methodNotAllowed();
        const body = (await readBody(req, true)) as any;
        const rec = await this.store.delete(t, nsKey, name, { preconditions: body?.preconditions, dryRun: dryRun || (Array.isArray(body?.dryRun) && body.dryRun.includes("All")) });
        return reply(200, recJson(rec));
      }
      default:
        throw methodNotAllowed();
    }
  }

  private watch(t: ResourceType, ns: string | undefined, q: URLSearchParams, label: ReturnType<typeof parseLabelSelector>, field: ReturnType<typeof parseFieldSelector>, table?: IncludeObject): ApiReply {
    // Parsed before the stream starts, so a bad parameter is a plain error reply.
    const opts = {
      namespace: ns,
      label,
      field,
      resourceVersion: q.get("resourceVersion") ?? undefined,
      bookmarks: q.get("allowWatchBookmarks") === "true",
      sendInitialEvents: q.get("sendInitialEvents") === "true",
      // kubectl get -w asks for Tables: every event carries a one-row Table.
      render: table ? (type: string, obj: any) => `{"type":"${type}","object":${tableJson(t, [obj], Number(obj.metadata.resourceVersion), table)}}\n` : undefined,
    };
    if (opts.resourceVersion && opts.resourceVersion !== "0" && !/^[0-9]+$/.test(opts.resourceVersion)) throw badRequest(`invalid resource version: ${JSON.stringify(opts.resourceVersion)}`);
    const timeout = Number(q.get("timeoutSeconds") ?? "0");
    return {
      watch: (stream) => {
        this.stats.watches++;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const w = this.store.watch(t, opts, {
          write: (line) => stream.write(line),
          end: () => {
            if (timer) clearTimeout(timer);
            stream.end();
          },
        });
        if (w.closed) return;
        stream.onClose(() => w.close());
        if (timeout > 0) timer = setTimeout(() => w.close(), timeout * 1000);
      },
    };
  }
}

function listJson(t: ResourceType, rv: number, recs: Rec[], cont?: string, remaining?: number): string {
  const meta = cont ? `{"resourceVersion":"${rv}","continue":"${cont}","remainingItemCount":${remaining}}` : `{"resourceVersion":"${rv}"}`;
  let items = "";
  for (let i = 0; i < recs.length; i++) items += (i ? "," : "") + recJson(recs[i]);
  return `{"kind":"${t.listKind}","apiVersion":"${t.apiVersion}","metadata":${meta},"items":[${items}]}`;
}

function reply(status: number, body: string): ApiReply {
  return { status, body };
}

function replyObj(status: number, obj: unknown): ApiReply {
  return { status, body: JSON.stringify(obj) };
}

async function readBody(req: ApiRequest, optional = false): Promise<unknown> {
  const text = await req.text();
  if (!text.trim()) {
    if (optional) return undefined;
    throw badRequest("the request body is empty");
  }
  const ct = req.contentType.toLowerCase();
  if (ct.includes("protobuf")) {
    // client-go retries with JSON after a 415 for protobuf.
    throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got ${ct})`);
  }
  try {
    if (ct.includes("yaml")) {
      if (ct.includes("apply-patch")) throw new ApiError(415, "UnsupportedMediaType", "server-side apply (application/apply-patch+yaml) is not supported by the sart test API server");
      return yaml.load(text);
    }
    return JSON.parse(text);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw badRequest(`the request body is not valid ${ct.includes("yaml") ? "YAML" : "JSON"}: ${(e as Error).message}`);
  }
}
