// The project's schema validator of custom resources (host/kube/schema admit()) as the server's
// CustomResourceValidator: the server runs it on every create/update of a custom resource, stores
// the pruned and defaulted object, and answers 422 Invalid naming the fields, as the real API
// server does with the CRD's OpenAPI schema and CEL rules.
import type { FieldError } from "../../../host/kube/schema/index.ts";
import type { StatusCause } from "./errors.ts";
import type { Admission, CustomResourceValidator } from "./store.ts";

function toCause(e: FieldError): StatusCause {
  return { reason: e.type, message: e.detail, field: e.field };
}

/** Loaded on demand: servers started with `validator: "none"` never load the schema module. */
export async function loadProjectValidator(): Promise<CustomResourceValidator> {
  const { admit } = await import("../../../host/kube/schema/index.ts");
  return (obj, crd, old): Admission => {
    const r = admit(obj, crd, old);
    return { causes: r.errors.map(toCause), object: r.object, unknownFields: r.unknownFields };
  };
}
