// Which Services a pool serves (AddressPool spec.serviceAllocation, MetalLB's rules): its
// namespace must be listed in `namespaces` or match one of `namespaceSelectors` (any namespace
// when neither is given), and its labels must match one of `serviceSelectors` (any Service
// when absent).
import { matchesSelector } from "../store.ts";
import type { LabelSelector, Service } from "../types.ts";
import type { PoolEntry } from "./pools.ts";

function describeSelectors(list: LabelSelector[]): string {
  return list
    .map((s) => {
      const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
      for (const e of s.matchExpressions ?? []) parts.push(`${e.key} ${e.operator}${e.values?.length ? ` (${e.values.join(", ")})` : ""}`);
      return parts.length ? parts.join(", ") : "(everything)";
    })
    .join(" or ");
}

/** Undefined when `pool` serves the Service; else why not, for a condition message. */
export function whyPoolRefuses(pool: PoolEntry, svc: Service, namespaceLabels: Record<string, string> | undefined): string | undefined {
  const a = pool.allocation;
  if (!a) return undefined;
  const ns = svc.metadata.namespace ?? "default";
  const names = a.namespaces ?? [];
  const nsSelectors = a.namespaceSelectors ?? [];
  if (names.length || nsSelectors.length) {
    const admitted = names.includes(ns) || nsSelectors.some((s) => matchesSelector(namespaceLabels, s));
    if (!admitted) {
      const allowed = [names.length ? `namespaces ${names.join(", ")}` : "", nsSelectors.length ? `namespaces labelled ${describeSelectors(nsSelectors)}` : ""].filter(Boolean);
      return `pool ${pool.name} serves only ${allowed.join(" and ")}, not namespace ${ns}`;
    }
  }
  const svcSelectors = a.serviceSelectors ?? [];
  if (svcSelectors.length && !svcSelectors.some((s) => matchesSelector(svc.metadata.labels, s))) {
    return `pool ${pool.name} serves only Services labelled ${describeSelectors(svcSelectors)}`;
  }
  return undefined;
}
