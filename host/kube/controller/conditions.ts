// metav1.Condition lists: replace one condition by type, keeping lastTransitionTime when the
// status did not change, and leaving other writers' conditions alone.
import { rfc3339 } from "../store.ts";
import type { Condition } from "../types.ts";

export function setCondition(list: Condition[] | undefined, next: Omit<Condition, "lastTransitionTime">): Condition[] {
  const current = list ?? [];
  const prior = current.find((c) => c.type === next.type);
  const merged: Condition = {
    ...next,
    lastTransitionTime: prior && prior.status === next.status && prior.lastTransitionTime ? prior.lastTransitionTime : rfc3339(),
  };
  return [...current.filter((c) => c.type !== next.type), merged];
}

export function removeCondition(list: Condition[] | undefined, type: string): Condition[] {
  return (list ?? []).filter((c) => c.type !== type);
}

export function findCondition(list: Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

/** True when `c` already says what `next` says (lastTransitionTime aside). */
export function sameCondition(c: Condition | undefined, next: Omit<Condition, "lastTransitionTime">): boolean {
  return !!c && c.status === next.status && c.reason === next.reason && c.message === next.message &&
    c.observedGeneration === next.observedGeneration;
}
