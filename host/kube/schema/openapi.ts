// The OpenAPI v3 structural-schema subset of CustomResourceDefinitions that our
// CRDs use, processed the way the Kubernetes API server does on create/update:
// prune (drop unknown fields and nulls of non-nullable fields), default, then
// validate (types, required, enum, formats, bounds, x-kubernetes-validations).
// A schema keyword outside the subset is refused when the schema is compiled.

import { CelEvalError, type CompiledExpression, compile } from "./cel.ts";
import { type FieldError, type FieldErrorType, fieldError } from "./errors.ts";
import { isIPv4Mapped, parseCIDR, parseIP } from "./ip.ts";

export interface ValidationRule {
  rule: string;
  message?: string;
  /** Relative path of the field to blame, e.g. ".blockSize". */
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}

export interface JSONSchemaProps {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  title?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps | boolean;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  default?: unknown;
  example?: unknown;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-validations"?: ValidationRule[];
  "x-kubernetes-list-type"?: "atomic";
  "x-kubernetes-map-type"?: "granular" | "atomic";
}

const SUPPORTED_KEYWORDS = new Set([
  "type",
  "description",
  "title",
  "properties",
  "required",
  "items",
  "additionalProperties",
  "enum",
  "pattern",
  "format",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "nullable",
  "default",
  "example",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-validations",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
]);
const SUPPORTED_FORMATS = new Set(["ipv4", "ipv6", "cidr", "date-time", "int32", "int64", "uint32", "uint64", "byte", "uuid", "hostname"]);

interface CompiledRule {
  rule: ValidationRule;
  expr: CompiledExpression;
  /** Path segments appended for fieldPath, e.g. [".blockSize"]. */
  fieldPath: string;
}

const compiledRules = new WeakMap<JSONSchemaProps, CompiledRule[]>();
const compiledPatterns = new WeakMap<JSONSchemaProps, RegExp>();
const compiledSchemas = new WeakSet<JSONSchemaProps>();

/**
 * Checks that every keyword, format, rule and pattern of a schema is in the
 * supported subset and compiles them. Throws an Error naming the schema path.
 */
export function compileSchema(schema: JSONSchemaProps, where = "openAPIV3Schema"): void {
  if (compiledSchemas.has(schema)) return;
  for (const key of Object.keys(schema)) {
    if (!SUPPORTED_KEYWORDS.has(key)) throw new Error(`${where}: schema keyword ${key} is not supported by host/kube/schema`);
  }
  if (schema.format !== undefined && !SUPPORTED_FORMATS.has(schema.format)) {
    throw new Error(`${where}: format ${schema.format} is not supported by host/kube/schema`);
  }
  if (schema["x-kubernetes-list-type"] !== undefined && schema["x-kubernetes-list-type"] !== "atomic") {
    throw new Error(`${where}: x-kubernetes-list-type ${schema["x-kubernetes-list-type"]} is not supported (only atomic)`);
  }
  if (schema.pattern !== undefined) compiledPatterns.set(schema, new RegExp(schema.pattern, "u"));
  const rules = schema["x-kubernetes-validations"] ?? [];
  compiledRules.set(
    schema,
    rules.map((rule, i) => {
      for (const key of Object.keys(rule)) {
        if (!["rule", "message", "fieldPath", "reason"].includes(key)) {
          throw new Error(`${where}.x-kubernetes-validations[${i}]: ${key} is not supported by host/kube/schema`);
        }
      }
      let expr: CompiledExpression;
      try {
        expr = compile(rule.rule);
      } catch (err) {
        throw new Error(`${where}.x-kubernetes-validations[${i}]: ${(err as Error).message}`);
      }
      // A misspelt field would make has() always false and could pass a rule silently:
      // like the API server's type check, refuse fields the schema does not declare.
      for (const chain of expr.fieldChains) {
        const missing = undeclaredField(schema, chain);
        if (missing) throw new Error(`${where}.x-kubernetes-validations[${i}]: rule ${JSON.stringify(rule.rule)} selects ${missing}, which the schema does not declare`);
      }
      const fieldPath = rule.fieldPath ?? "";
      if (fieldPath && !/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(fieldPath)) {
        throw new Error(`${where}.x-kubernetes-validations[${i}]: fieldPath ${fieldPath} is not supported (only .a.b form)`);
      }
      return { rule, expr, fieldPath };
    }),
  );
  for (const [name, sub] of Object.entries(schema.properties ?? {})) compileSchema(sub, `${where}.properties.${name}`);
  if (schema.items) compileSchema(schema.items, `${where}.items`);
  if (typeof schema.additionalProperties === "object") compileSchema(schema.additionalProperties, `${where}.additionalProperties`);
  compiledSchemas.add(schema);
}

/** The first field of `chain` (as "self.a.b") that `schema` does not declare, or undefined. */
function undeclaredField(schema: JSONSchemaProps, chain: string[]): string | undefined {
  let node: JSONSchemaProps | undefined = schema;
  for (let i = 0; i < chain.length; i++) {
    if (!node || node["x-kubernetes-preserve-unknown-fields"]) return undefined;
    if (typeof node.additionalProperties === "object") {
      node = node.additionalProperties; // map key selection
      continue;
    }
    node = node.properties?.[chain[i]!];
    if (!node) return ["self", ...chain.slice(0, i + 1)].join(".");
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/**
 * Drops unknown fields (recording their paths) and nulls of non-nullable fields,
 * then applies defaults. Returns the new value (undefined when pruned).
 * `rootKeep` lists root fields outside the schema's control (apiVersion, kind, metadata).
 */
export function pruneAndDefault(
  value: unknown,
  schema: JSONSchemaProps,
  path: string,
  unknownFields: string[],
  rootKeep: readonly string[] = [],
): unknown {
  if (value === null) return schema.nullable ? null : undefined;
  if (schema["x-kubernetes-preserve-unknown-fields"] && !schema.properties && !schema.additionalProperties) return value;
  if (Array.isArray(value)) {
    if (!schema.items) return value;
    const items = schema.items;
    return value.map((v, i) => {
      const out = pruneAndDefault(v, items, `${path}[${i}]`, unknownFields);
      return out === undefined ? null : out; // a pruned list item stays a null for validation to report
    });
  }
  if (!isPlainObject(value) || (schema.type !== "object" && schema.type !== undefined)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const sub = schema.properties?.[key];
    if (rootKeep.includes(key)) {
      out[key] = v;
    } else if (sub) {
      const pruned = pruneAndDefault(v, sub, join(path, key), unknownFields);
      if (pruned !== undefined) out[key] = pruned;
    } else if (typeof schema.additionalProperties === "object") {
      const pruned = pruneAndDefault(v, schema.additionalProperties, `${path}[${key}]`, unknownFields);
      if (pruned !== undefined) out[key] = pruned;
    } else if (schema.additionalProperties === true || schema["x-kubernetes-preserve-unknown-fields"]) {
      out[key] = v;
    } else {
      unknownFields.push(join(path, key));
    }
  }
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    if (out[key] === undefined && sub.default !== undefined) out[key] = clone(sub.default);
  }
  return out;
}

function checkFormat(format: string, s: string): boolean {
  switch (format) {
    case "ipv4":
      return parseIP(s)?.family === 4;
    case "ipv6":
      return parseIP(s)?.family === 6;
    case "cidr": {
      const c = parseCIDR(s);
      return c !== null && !isIPv4Mapped(c.ip);
    }
    case "date-time":
      return /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s));
    case "uuid":
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
    case "hostname":
      return s.length <= 255 && /^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/.test(s);
    case "byte":
      return /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
    default:
      return true; // int32/int64/... describe integers; their bounds come from minimum/maximum
  }
}

/** No old value to compare with: transition rules are skipped. */
export const NO_OLD = Symbol("no old value");

/**
 * Validates a pruned and defaulted value against its schema, appending to
 * `errors`. `old` is the same field in the object being updated (NO_OLD on
 * create, or where Kubernetes cannot correlate old and new, e.g. list items).
 */
export function validateValue(value: unknown, schema: JSONSchemaProps, path: string, old: unknown, errors: FieldError[]): void {
  if (value === undefined) return;
  if (value === null) {
    if (!schema.nullable) errors.push(fieldError("FieldValueTypeInvalid", path, `${path} in body must be of type ${schema.type ?? "object"}: "null"`, "null"));
    return;
  }
  const errorsBefore = errors.length;
  const actual = jsonType(value);
  const t = schema.type;
  const typeOk =
    t === undefined ||
    t === actual ||
    (t === "number" && actual === "integer") ||
    (t === "object" && actual === "object" && isPlainObject(value));
  if (!typeOk) {
    errors.push(fieldError("FieldValueTypeInvalid", path, `${path} in body must be of type ${t}: "${actual}"`, actual));
    return; // rules would only repeat the type error
  }

  if (schema.enum && !schema.enum.includes(value) && !schema.enum.some((e) => typeof e === "object" && JSON.stringify(e) === JSON.stringify(value))) {
    const supported = schema.enum.map((e) => JSON.stringify(e)).join(", ");
    errors.push(fieldError("FieldValueNotSupported", path, `supported values: ${supported}`, value));
  }

  if (typeof value === "string") {
    // Lengths count code points, as Kubernetes does; UTF-16 length is an upper bound.
    if (schema.maxLength !== undefined && value.length > schema.maxLength && [...value].length > schema.maxLength) {
      errors.push(fieldError("FieldValueTooLong", path, `may not be longer than ${schema.maxLength}`));
    }
    if (schema.minLength !== undefined && value.length < 2 * schema.minLength && [...value].length < schema.minLength) {
      errors.push(fieldError("FieldValueInvalid", path, `${path} in body should be at least ${schema.minLength} chars long`, value));
    }
    const re = compiledPatterns.get(schema);
    if (re && !re.test(value)) errors.push(fieldError("FieldValueInvalid", path, `${path} in body should match '${schema.pattern}'`, value));
    if (schema.format && !checkFormat(schema.format, value)) {
      errors.push(fieldError("FieldValueInvalid", path, `${path} in body must be of type ${schema.format}: ${JSON.stringify(value)}`, value));
    }
  }

  if (typeof value === "number") {
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum)) {
      const rel = schema.exclusiveMinimum ? "greater than" : "greater than or equal to";
      errors.push(fieldError("FieldValueInvalid", path, `${path} in body should be ${rel} ${schema.minimum}`, value));
    }
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum)) {
      const rel = schema.exclusiveMaximum ? "less than" : "less than or equal to";
      errors.push(fieldError("FieldValueInvalid", path, `${path} in body should be ${rel} ${schema.maximum}`, value));
    }
  }

  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      errors.push(fieldError("FieldValueTooMany", path, `must have at most ${schema.maxItems} items`));
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      errors.push(fieldError("FieldValueInvalid", path, `${path} in body should have at least ${schema.minItems} items`, value));
    }
    // Kubernetes correlates list items with the old object only for map/set lists, which we do not use.
    if (schema.items) value.forEach((v, i) => validateValue(v, schema.items!, `${path}[${i}]`, NO_OLD, errors));
  }

  if (isPlainObject(value)) {
    const oldObj = isPlainObject(old) ? old : undefined;
    for (const key of schema.required ?? []) {
      if (value[key] === undefined) errors.push(fieldError("FieldValueRequired", join(path, key), ""));
    }
    const n = Object.keys(value).length;
    if (schema.maxProperties !== undefined && n > schema.maxProperties) {
      errors.push(fieldError("FieldValueTooMany", path, `must have at most ${schema.maxProperties} items`));
    }
    if (schema.minProperties !== undefined && n < schema.minProperties) {
      errors.push(fieldError("FieldValueInvalid", path, `${path} in body should have at least ${schema.minProperties} properties`, value));
    }
    for (const [key, v] of Object.entries(value)) {
      const sub = schema.properties?.[key];
      const oldV = oldObj && oldObj[key] !== undefined ? oldObj[key] : NO_OLD;
      if (sub) validateValue(v, sub, join(path, key), oldV, errors);
      else if (typeof schema.additionalProperties === "object") validateValue(v, schema.additionalProperties, `${path}[${key}]`, oldV, errors);
    }
  }

  runRules(value, schema, path, old, errors, errors.length > errorsBefore);
}

const RULE_TITLES: Record<NonNullable<ValidationRule["reason"]>, FieldErrorType> = {
  FieldValueInvalid: "FieldValueInvalid",
  FieldValueForbidden: "FieldValueForbidden",
  FieldValueRequired: "FieldValueRequired",
  FieldValueDuplicate: "FieldValueDuplicate",
};

/**
 * Runs the node's CEL rules. When the subtree already has schema errors (a
 * required field missing, say), a rule that fails to evaluate because of them
 * is not reported again: the schema error says it.
 */
function runRules(value: unknown, schema: JSONSchemaProps, path: string, old: unknown, errors: FieldError[], subtreeInvalid: boolean): void {
  const rules = compiledRules.get(schema);
  if (!rules) throw new Error(`${path || "<root>"}: schema was not compiled (call compileSchema first)`);
  for (const { rule, expr, fieldPath } of rules) {
    if (expr.usesOldSelf && old === NO_OLD) continue; // transition rules run on update only
    const blamed = fieldPath ? join(path, fieldPath.slice(1)) : path;
    let result: unknown;
    try {
      result = expr.evaluate(value, expr.usesOldSelf ? old : undefined);
    } catch (err) {
      if (!(err instanceof CelEvalError)) throw err;
      if (subtreeInvalid) continue;
      errors.push(fieldError("InternalError", blamed, `evaluation of rule ${JSON.stringify(rule.rule)} failed: ${err.message}`));
      continue;
    }
    if (result === true) continue;
    const message = result === false ? (rule.message ?? `failed rule: ${rule.rule}`) : `rule ${JSON.stringify(rule.rule)} did not return a bool`;
    const type = result === false ? RULE_TITLES[rule.reason ?? "FieldValueInvalid"] : "InternalError";
    // Kubernetes prints the rule's schema type here ("object"); the blamed field's own value says more.
    const shownValue = type === "FieldValueInvalid" ? shownRuleValue(value, fieldPath, schema) : undefined;
    errors.push(fieldError(type, blamed, message, shownValue));
  }
}

function shownRuleValue(value: unknown, fieldPath: string, schema: JSONSchemaProps): unknown {
  let v: unknown = value;
  for (const key of fieldPath.split(".").slice(1)) v = isPlainObject(v) ? v[key] : undefined;
  if (v === undefined) return schema.type ?? "object";
  return v;
}
