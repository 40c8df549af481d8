// Validation of the ObjectMeta fields the API server checks for every custom
// resource: the name (a DNS-1123 subdomain), the namespace of namespaced kinds,
// and label keys and values. (A cluster-scoped object's namespace is dropped by
// admit(), as the API server does, not reported.)

import { type FieldError, fieldError } from "./errors.ts";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const SUBDOMAIN_HELP =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";

function subdomainErrors(value: string): string[] {
  const out: string[] = [];
  if (value.length > 253) out.push("must be no more than 253 characters");
  if (!DNS1123_SUBDOMAIN.test(value)) out.push(SUBDOMAIN_HELP);
  return out;
}

function labelKeyErrors(key: string): string[] {
  const slash = key.indexOf("/");
  const [prefix, name] = slash < 0 ? ["", key] : [key.slice(0, slash), key.slice(slash + 1)];
  const out: string[] = [];
  if (slash >= 0) {
    if (prefix.length === 0) out.push("prefix part must be non-empty");
    else out.push(...subdomainErrors(prefix).map((e) => `prefix part ${e}`));
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    out.push(
      "name part must be non-empty, at most 63 characters, and consist of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character",
    );
  }
  return out;
}

export function validateMetadata(metadata: unknown, namespaced: boolean): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    return [fieldError("FieldValueRequired", "metadata", "")];
  }
  const m = metadata as Record<string, unknown>;
  if (m.name === undefined || m.name === "") {
    if (!m.generateName) errors.push(fieldError("FieldValueRequired", "metadata.name", "name or generateName is required"));
  } else if (typeof m.name !== "string") {
    errors.push(fieldError("FieldValueTypeInvalid", "metadata.name", "must be a string", typeof m.name));
  } else {
    for (const e of subdomainErrors(m.name)) errors.push(fieldError("FieldValueInvalid", "metadata.name", e, m.name));
  }
  if (namespaced) {
    if (typeof m.namespace !== "string" || m.namespace === "") errors.push(fieldError("FieldValueRequired", "metadata.namespace", ""));
    else if (m.namespace.length > 63 || !DNS1123_LABEL.test(m.namespace)) {
      errors.push(fieldError("FieldValueInvalid", "metadata.namespace", "a lowercase RFC 1123 label of at most 63 characters", m.namespace));
    }
  }
  for (const field of ["labels", "annotations"] as const) {
    const map = m[field];
    if (map === undefined || map === null) continue;
    if (typeof map !== "object" || Array.isArray(map)) {
      errors.push(fieldError("FieldValueTypeInvalid", `metadata.${field}`, "must be a map of strings", typeof map));
      continue;
    }
    for (const [key, value] of Object.entries(map as Record<string, unknown>)) {
      for (const e of labelKeyErrors(key)) errors.push(fieldError("FieldValueInvalid", `metadata.${field}`, e, key));
      if (typeof value !== "string") {
        errors.push(fieldError("FieldValueTypeInvalid", `metadata.${field}[${key}]`, "must be a string", value));
      } else if (field === "labels" && (value.length > 63 || !LABEL_VALUE.test(value))) {
        errors.push(
          fieldError(
            "FieldValueInvalid",
            `metadata.labels`,
            "a valid label must be an empty string or at most 63 characters of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character",
            value,
          ),
        );
      }
    }
  }
  return errors;
}
