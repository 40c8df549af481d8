// What a BGPAdvertisement's status.peers change means to whom. The controller names the
// target peers (NotAdvertised for a new target, Withdraw for a dropped one); each node's
// agent moves its own peers' entries between NotAdvertised and Advertised, and removes Withdraw
// entries once the route has left. Both watch every advertisement, so each sees every other
// writer's marks: one LoadBalancer Service on three nodes is five events per watcher.
import { deepEqual } from "./store.ts";
import type { BGPAdvertisement } from "./types.ts";

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
  return deepEqual(prev.spec, next.spec) && deepEqual(prev.metadata, next.metadata, "resourceVersion") && deepEqual(prev.status ?? {}, next.status ?? {}, "peers");
}

