// The hook to the project's schema validator of custom resources (host/kube/schema/:
// admit(obj, crd, old?) -> { object, errors, unknownFields }, or validate(obj, crd, old?) -> errors).
// When that module exists the server runs it on every create/update of a custom resource, stores
// the pruned and defaulted object, and answers 422 Invalid naming the fields, as the real API
// server does with the CRD's OpenAPI schema and CEL rules.
import { existsSync } from "node:fs";
import type { StatusCause } from "./errors.ts";
import type { Admission, CustomResourceValidator } from "./store.ts";

const MODULE = new URL("../../../host/kube/schema/index.ts", import.meta.url);

/** Maps validator errors ({field, type, detail, message} or strings) to Status causes. */
export function toCauses(list: unknown): StatusCause[] {
  if (!Array.isArray(list)) return [];
  return list.map((e: any): StatusCause => {
    if (typeof e === "string") {
      const m = /^([\w.[\]\-/]+): (.*)$/.exec(e);
      return m ? { reason: "FieldValueInvalid", field: m[1], message: m[2] } : { reason: "FieldValueInvalid", message: e };
    }
    const field = e?.field ?? e?.path;
    const message = e?.detail ?? (typeof e?.message === "string" && field && e.message.startsWith(`${field}: `) ? e.message.slice(field.length + 2) : e?.message);
    return { reason: e?.type ?? e?.reason ?? "FieldValueInvalid", message: String(message ?? JSON.stringify(e)), ...(field !== undefined ? { field: String(field) } : {}) };
  });
}

/** The project's validator as a CustomResourceValidator, or undefined while host/kube/schema does not exist. */
export async function loadProjectValidator(): Promise<CustomResourceValidator | undefined> {
  if (!existsSync(MODULE)) return undefined;
  const mod = await import(MODULE.href);
  if (typeof mod.admit === "function") {
    return (obj, crd, old): Admission => {
      const r = mod.admit(obj, crd, old);
      return { causes: toCauses(r.errors), object: r.object, unknownFields: r.unknownFields };
    };
  }
  if (typeof mod.validate === "function") return (obj, crd, old) => toCauses(mod.validate(obj, crd, old, { unknownFields: "ignore" }));
  throw new Error(`test apiserver: ${MODULE.pathname} exports neither admit() nor validate()`);
}
