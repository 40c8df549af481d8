// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic merge patch
// (smp.ts, for built-in kinds only: custom resources answer 415 as the real server does).
import { deepEqual } from "./equal.ts";
import { ApiError, badRequest, unsupportedMediaType } from "./errors.ts";
import { strategicMergePatch } from "./smp.ts";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  // Built by copying (no `delete`), so results stay fast-mode objects.
  const out: Record<string, unknown> = {};
  const t = isObject(target) ? target : {};
  for (const k in t) {
    if (!(k in patch)) out[k] = t[k];
    else if (patch[k] !== null) out[k] = isObject(patch[k]) ? mergePatch(t[k], patch[k]) : patch[k];
  }
  for (const k in patch) {
    const v = patch[k];
    if (!(k in t) && v !== null) out[k] = isObject(v) ? mergePatch(undefined, v) : v;
  }
  return out;
}

function decodePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw invalidPatch(`invalid JSON pointer "${path}"`);
  return path.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function invalidPatch(message: string): ApiError {
  return new ApiError(422, "Invalid", message);
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

/** Resolves the parent container of a pointer; the document has been copied on the path. */
function parentOf(doc: unknown, tokens: string[], op: string): { parent: any; key: string } {
  let cur: any = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i];
    const next = Array.isArray(cur) ? cur[Number(t)] : isObject(cur) ? cur[t] : undefined;
    if (next === undefined || next === null || typeof next !== "object") {
      throw invalidPatch(`the server rejected our request due to an error in our request: ${op} operation does not apply: doc is missing path: "/${tokens.join("/")}"`);
    }
    cur = next;
  }
  return { parent: cur, key: tokens[tokens.length - 1] };
}

function arrayIndex(arr: unknown[], key: string, allowEnd: boolean, op: string, path: string): number {
  if (key === "-" && allowEnd) return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(key)) throw invalidPatch(`${op} operation does not apply: invalid array index "${key}" in "${path}"`);
  const i = Number(key);
  if (i > arr.length || (!allowEnd && i === arr.length)) throw invalidPatch(`${op} operation does not apply: array index ${i} out of bounds in "${path}"`);
  return i;
}

function getAt(doc: unknown, path: string, op: string): unknown {
  let cur: any = doc;
  for (const t of decodePointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw invalidPatch(`${op} operation does not apply: doc is missing path: "${path}"`);
  }
  return cur;
}

function removeAt(doc: unknown, path: string, op: string): unknown {
  const tokens = decodePointer(path);
  if (tokens.length === 0) throw invalidPatch(`${op} operation cannot remove the whole document`);
  const { parent, key } = parentOf(doc, tokens, op);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, key, false, op, path);
    return parent.splice(i, 1)[0];
  }
  if (!(key in parent)) throw invalidPatch(`${op} operation does not apply: doc is missing key: "${path}"`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: unknown, path: string, value: unknown, op: string, replace: boolean): unknown {
  const tokens = decodePointer(path);
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, op);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, key, !replace, op, path);
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
  } else {
    if (replace && !(key in parent)) throw invalidPatch(`${op} operation does not apply: doc is missing key: "${path}"`);
    parent[key] = value;
  }
  return doc;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest("json patch must be a JSON array of operations");
  let doc = clone(target);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") throw badRequest(`invalid JSON patch operation: ${JSON.stringify(raw)}`);
    const { op, path } = raw;
    switch (op) {
      case "add":
        if (!("value" in raw)) throw badRequest(`add operation on "${path}" has no value`);
        doc = addAt(doc, path, clone(raw.value), op, false);
        break;
      case "replace":
        if (!("value" in raw)) throw badRequest(`replace operation on "${path}" has no value`);
        doc = addAt(doc, path, clone(raw.value), op, true);
        break;
      case "remove":
        removeAt(doc, path, op);
        break;
      case "move": {
        const v = removeAt(doc, String(raw.from), op);
        doc = addAt(doc, path, v, op, false);
        break;
      }
      case "copy":
        doc = addAt(doc, path, clone(getAt(doc, String(raw.from), op)), op, false);
        break;
      case "test":
        if (!deepEqual(getAt(doc, path, op), raw.value)) throw invalidPatch(`testing value ${path} failed`);
        break;
      default:
        throw badRequest(`unexpected JSON patch operation "${op}"`);
    }
  }
  return doc;
}

export type PatchKind = "merge" | "json" | "strategic";

export function patchKind(contentType: string | undefined): PatchKind {
  const ct = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (ct === "application/merge-patch+json") return "merge";
  if (ct === "application/json-patch+json") return "json";
  if (ct === "application/strategic-merge-patch+json") return "strategic";
  throw unsupportedMediaType(ct || "(none)");
}

/** Applies `body` to a plain-object copy of `current` (of kind `objKind`); never mutates `current`. */
export function applyPatch(kind: PatchKind, current: unknown, body: unknown, objKind: string): unknown {
  switch (kind) {
    case "merge":
      if (!isObject(body)) throw badRequest("merge patch body must be a JSON object");
      return mergePatch(current, body);
    case "strategic":
      if (!isObject(body)) throw badRequest("strategic merge patch body must be a JSON object");
      return strategicMergePatch(objKind, current, body);
    case "json":
      return jsonPatch(current, body);
  }
}
