// Key-order-insensitive structural equality, so a no-op write (same content, other key order)
// is recognised as one, as the real server does (no new resourceVersion, no watch event).

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let n = 0;
  for (const k in ao) {
    if (ao[k] === undefined) continue;
    n++;
    if (!deepEqual(ao[k], bo[k])) return false;
  }
  for (const k in bo) if (bo[k] !== undefined) n--;
  return n === 0;
}

/** Equality of everything but metadata and status: what bumps metadata.generation. */
export function specEqual(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const skip = (k: string) => k === "metadata" || k === "status" || k === "apiVersion" || k === "kind";
  for (const k in a) if (!skip(k) && !deepEqual(a[k], b[k])) return false;
  for (const k in b) if (!skip(k) && a[k] === undefined && b[k] !== undefined) return false;
  return true;
}
