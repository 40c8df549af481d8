// Field errors shaped like the Kubernetes API server's (k8s.io/apimachinery
// field.Error): `spec.blockSize: Invalid value: 33: must be ...`.

/** The `reason` of a metav1.StatusCause. */
export type FieldErrorType =
  | "FieldValueRequired"
  | "FieldValueInvalid"
  | "FieldValueNotSupported"
  | "FieldValueTypeInvalid"
  | "FieldValueTooLong"
  | "FieldValueTooMany"
  | "FieldValueForbidden"
  | "FieldValueDuplicate"
  | "FieldValueUnknown"
  | "InternalError";

export interface FieldError {
  /** Dotted path of the offending field, e.g. "spec.blockSize" or "spec.peers[0].peerConfig.asn". */
  field: string;
  type: FieldErrorType;
  /** What is wrong, without the field: "Invalid value: 33: must be ...". */
  detail: string;
  /** The full message as the API server prints it: "spec.blockSize: Invalid value: 33: must be ...". */
  message: string;
}

const TITLES: Record<FieldErrorType, string> = {
  FieldValueRequired: "Required value",
  FieldValueInvalid: "Invalid value",
  FieldValueNotSupported: "Unsupported value",
  FieldValueTypeInvalid: "Invalid value",
  FieldValueTooLong: "Too long",
  FieldValueTooMany: "Too many",
  FieldValueForbidden: "Forbidden",
  FieldValueDuplicate: "Duplicate value",
  FieldValueUnknown: "Unknown field",
  InternalError: "Internal error",
};

/** The value as Kubernetes quotes it in messages: strings quoted, objects by their type name. */
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null) return "null";
  if (Array.isArray(value)) return '"array"';
  if (typeof value === "object") return '"object"';
  return String(value);
}

export function fieldError(type: FieldErrorType, field: string, explanation: string, value?: unknown): FieldError {
  const parts = [TITLES[type]];
  if (value !== undefined) parts.push(shown(value));
  if (explanation) parts.push(explanation);
  const detail = parts.join(": ");
  return { field, type, detail, message: `${field}: ${detail}` };
}

/**
 * The body the API server answers 422 with when an object is invalid, e.g.
 * `AddressPool.sart.terassyi.net "pool" is invalid: [spec.blockSize: Invalid value: ...]`.
 */
export function invalidStatus(kind: string, group: string, name: string, errors: FieldError[]) {
  const qualified = group ? `${kind}.${group}` : kind;
  const list = errors.length === 1 ? errors[0]!.message : `[${errors.map((e) => e.message).join(", ")}]`;
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `${qualified} ${JSON.stringify(name)} is invalid: ${list}`,
    reason: "Invalid",
    details: {
      name,
      group,
      kind,
      causes: errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field })),
    },
    code: 422,
  };
}
