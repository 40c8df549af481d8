// What a BGPAdvertisement's status.peers change means to whom. The controller names the
// target peers (NotAdvertised for a new target, Withdraw for a dropped one); each node's
// agent moves its own peers' entries between NotAdvertised and Advertised, and removes Withdraw
// entries once the route has left. Both watch every advertisement, so each sees every other
// writer's marks: one LoadBalancer Service on three nodes is five events per watcher.
import type { BGPAdvertisement } from "./types.ts";

/** Deep equality of JSON values; `skip` names a member of the top object left out. */
function same(a: unknown, b: unknown, skip?: string): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => same(v, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => k !== skip);
  const kb = Object.keys(b).filter((k) => k !== skip);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * True when `next` differs from `prev` only in agents' marks: peers' entries moving between
 * NotAdvertised and Advertised. Neither the controller (both mean "a target") nor an agent (it
 * wrote its own marks, and knows what waits) has anything to do for such an event; with
 * 10,000 Services and three nodes there are 30,000 of them in a burst. A peer entry that
 * appears or goes (an agent removing a Withdraw mark) still counts: a merge patch removing
 * it could undo a target set meanwhile.
 */
export function onlyAgentMarksChanged(prev: BGPAdvertisement, next: BGPAdvertisement): boolean {
  const a = prev.status?.peers ?? {};
  const b = next.status?.peers ?? {};
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) {
    if (b[k] === undefined || (a[k] === "Withdraw") !== (b[k] === "Withdraw")) return false;
  }
  return same(prev.spec, next.spec) && same(prev.metadata, next.metadata, "resourceVersion") && same(prev.status ?? {}, next.status ?? {}, "peers");
}

