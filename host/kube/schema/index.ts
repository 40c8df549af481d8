// Validation of custom resources against their CRDs, as the Kubernetes API
// server does it. Used by the test API server (tests/kube/apiserver/) on every
// create/update of a custom resource and by the local file store when it loads
// YAML. These signatures are stable:
//
//   validate(obj, crd, oldObj?, options?) -> FieldError[]
//     All errors of `obj` (after pruning and defaulting, like the API server):
//     apiVersion/kind, metadata (name, namespace of namespaced kinds, labels),
//     the OpenAPI v3 schema (type, required, enum, pattern, format ipv4/ipv6/
//     cidr/date-time, bounds, items, additionalProperties, nullable) and the
//     x-kubernetes-validations CEL rules. Pass `oldObj` on update: transition
//     rules (those using oldSelf, e.g. immutability) run only then. Unknown fields
//     are errors unless options.unknownFields is "ignore" (kubectl's default,
//     fieldValidation=Strict, also refuses them). `[]` means valid.
//
//   admit(obj, crd, oldObj?) -> { object, errors, unknownFields }
//     The same checks, plus the object to store: a copy with unknown fields and
//     nulls of non-nullable fields pruned, schema defaults applied (e.g.
//     AddressPool allocType "bit", autoAssign false) and, for cluster-scoped
//     kinds, metadata.namespace dropped. `unknownFields` lists pruned paths
//     ("spec.foo") for the caller to refuse (Strict) or warn about (Warn).
//
//   crdFor(kind) -> CustomResourceDefinition   (our embedded crds/*.yaml)
//
// A FieldError is { field: "spec.blockSize", type: "FieldValueInvalid",
// detail: "Invalid value: ...", message: "spec.blockSize: Invalid value: ..." };
// invalidStatus(kind, group, name, errors) builds the API server's 422 Status.
//
// A schema keyword, format or CEL expression outside the supported subset makes
// validate()/admit()/compileCRD() throw an Error naming the CRD and the schema
// path: a CRD change can never silently skip a rule.
//
// Not applied by the schema (the controller must): AddressPool blockSize
// defaults to the CIDR's prefix length, see poolBlockSize() in ../types.ts.
// Metadata fields set by the server (uid, resourceVersion, creationTimestamp,
// generation) and status-subresource semantics are the caller's job; for
// namespaced kinds the caller sets metadata.namespace (from the URL, or
// "default" as kubectl does) before calling.

import { type CRDVersion, type CustomResourceDefinition, embeddedCRDs } from "./crds.ts";
import { type FieldError, fieldError } from "./errors.ts";
import { validateMetadata } from "./metadata.ts";
import { type JSONSchemaProps, NO_OLD, compileSchema, pruneAndDefault, validateValue } from "./openapi.ts";

export type { FieldError, FieldErrorType } from "./errors.ts";
export { invalidStatus } from "./errors.ts";
export type { CustomResourceDefinition, CRDVersion, PrinterColumn } from "./crds.ts";
export { CRD_FILES, embeddedCRDs, parseCRD } from "./crds.ts";
export type { JSONSchemaProps, ValidationRule } from "./openapi.ts";

export interface ValidateOptions {
  /** "error" (default): unknown fields are FieldValueUnknown errors; "ignore": pruned silently. */
  unknownFields?: "error" | "ignore";
}

export interface Admission<T = Record<string, unknown>> {
  /** The object to store: pruned and defaulted. */
  object: T;
  errors: FieldError[];
  /** Paths of pruned unknown fields, e.g. "spec.foo". */
  unknownFields: string[];
}

const ROOT_FIELDS = ["apiVersion", "kind", "metadata"] as const;

/** Compiles every version's schema and CEL rules; throws on anything unsupported. */
export function compileCRD(crd: CustomResourceDefinition): void {
  for (const v of crd.spec.versions) {
    const schema = v.schema?.openAPIV3Schema;
    if (!schema) throw new Error(`CRD ${crd.metadata.name} version ${v.name}: no openAPIV3Schema`);
    compileSchema(schema, `CRD ${crd.metadata.name} ${v.name} openAPIV3Schema`);
  }
}

/** Our CRD of a kind (from crds/*.yaml), compiled. */
export function crdFor(kind: string): CustomResourceDefinition {
  const crd = embeddedCRDs().get(kind);
  if (!crd) throw new Error(`no CRD for kind ${kind} in crds/`);
  compileCRD(crd);
  return crd;
}

function servedVersion(obj: Record<string, unknown>, crd: CustomResourceDefinition, errors: FieldError[]): CRDVersion | undefined {
  const { group, names } = crd.spec;
  const apiVersion = obj.apiVersion;
  const version = typeof apiVersion === "string" && apiVersion.startsWith(`${group}/`) ? apiVersion.slice(group.length + 1) : undefined;
  const v = crd.spec.versions.find((x) => x.name === version && x.served);
  if (!v) {
    const served = crd.spec.versions.filter((x) => x.served).map((x) => `${group}/${x.name}`);
    errors.push(fieldError("FieldValueInvalid", "apiVersion", `must be one of ${served.join(", ")}`, apiVersion ?? null));
  }
  if (obj.kind !== names.kind) errors.push(fieldError("FieldValueInvalid", "kind", `must be ${names.kind}`, obj.kind ?? null));
  return v;
}

export function admit<T = Record<string, unknown>>(obj: unknown, crd: CustomResourceDefinition, oldObj?: unknown): Admission<T> {
  compileCRD(crd);
  const errors: FieldError[] = [];
  const unknownFields: string[] = [];
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    return { object: obj as T, errors: [fieldError("FieldValueInvalid", "<root>", "an object is required", typeof obj)], unknownFields };
  }
  const input = obj as Record<string, unknown>;
  const version = servedVersion(input, crd, errors);
  const namespaced = crd.spec.scope === "Namespaced";
  errors.push(...validateMetadata(input.metadata, namespaced));
  if (!version) return { object: obj as T, errors, unknownFields };

  const schema: JSONSchemaProps = version.schema.openAPIV3Schema;
  const object = pruneAndDefault(JSON.parse(JSON.stringify(input)), schema, "", unknownFields, ROOT_FIELDS) as Record<string, unknown>;
  const metadata = object.metadata as Record<string, unknown> | undefined;
  if (!namespaced && metadata && "namespace" in metadata) delete metadata.namespace;

  let old: unknown = NO_OLD;
  if (oldObj !== undefined && oldObj !== null) old = pruneAndDefault(JSON.parse(JSON.stringify(oldObj)), schema, "", [], ROOT_FIELDS);
  validateValue(object, schema, "", old, errors);
  return { object: object as T, errors, unknownFields };
}

export function validate(obj: unknown, crd: CustomResourceDefinition, oldObj?: unknown, options: ValidateOptions = {}): FieldError[] {
  const { errors, unknownFields } = admit(obj, crd, oldObj);
  if (options.unknownFields === "ignore") return errors;
  return [...unknownFields.map((f) => fieldError("FieldValueUnknown", f, `field not declared in schema`)), ...errors];
}
