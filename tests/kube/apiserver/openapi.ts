// Minimal OpenAPI v3 documents: one per group/version, with a PATCH operation per resource that
// declares the fieldValidation parameter. kubectl 1.32 reads them to learn that the server does
// field validation (otherwise `kubectl apply` refuses without --validate=false); it computes
// strategic merge patches from its compiled-in types when no schema is published, so component
// schemas are left out. Custom resources publish their CRD's openAPIV3Schema (for kubectl explain).
import { createHash } from "node:crypto";
import type { ResourceType } from "./types.ts";

const PARAMS = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"].map((name) => ({ name, in: "query", schema: { type: "string", uniqueItems: true } }));

function gvPath(t: ResourceType): string {
  return t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`;
}

function schemaName(t: ResourceType): string {
  const g = t.group ? t.group.split(".").reverse().join(".") : "io.k8s.api.core";
  return `${g}.${t.version}.${t.kind}`;
}

export function openApiDoc(types: ResourceType[]): unknown {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const t of types) {
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    const base = `/${gvPath(t)}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.plural}/{name}`;
    const ref = { $ref: `#/components/schemas/${schemaName(t)}` };
    const ok = { "200": { description: "OK", content: { "application/json": { schema: ref } } } };
    paths[base] = {
      get: { operationId: `read${t.kind}`, "x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk, responses: ok },
      put: { operationId: `replace${t.kind}`, "x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk, parameters: PARAMS, responses: ok },
      patch: { operationId: `patch${t.kind}`, "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk, parameters: PARAMS, responses: ok },
      delete: { operationId: `delete${t.kind}`, "x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk, responses: ok },
    };
    const crdSchema = t.crd ? (t.crd.spec.versions as any[]).find((v) => v.name === t.version)?.schema?.openAPIV3Schema : undefined;
    schemas[schemaName(t)] = { ...(crdSchema ?? { type: "object" }), "x-kubernetes-group-version-kind": [gvk] };
  }
  return { openapi: "3.0.0", info: { title: "Kubernetes", version: "v1.32.0" }, paths, components: { schemas } };
}

/** GET /openapi/v3: the index of per-group-version documents, each URL carrying a content hash. */
export function openApiIndex(byGv: Map<string, ResourceType[]>): unknown {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [, types] of byGv) {
    if (types.length === 0) continue;
    const p = gvPath(types[0]);
    const hash = createHash("sha256").update(JSON.stringify(openApiDoc(types))).digest("hex").slice(0, 32).toUpperCase();
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  }
  return { paths };
}
