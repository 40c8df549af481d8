// The routes this node originates and who asked for them. Several owners can ask for
// the same prefix (two BGPAdvertisements of a shared address, say): the prefix goes to
// the union of their peers, and stays until the last owner lets go. Owners name peers
// (BGPPeer names); they become neighbour addresses when applied, so a peer whose
// address changes or that appears later gets its routes on the next apply.
import type { Speaker } from "../bgp/speaker.ts";
import type { OriginatedRoute } from "../core/rib.ts";

/** Every peer of the node, or these BGPPeers (by name). */
export type Targets = "all" | ReadonlySet<string>;

export interface RouteRequest {
  targets: Targets;
  /** Route attributes (a BGPAdvertisement's spec.attrs): "ASN:VALUE", "G:L1:L2". */
  communities: string[];
  largeCommunities?: string[];
  localPref?: number;
}

export type ResolvePeer = (name: string) => string | undefined;

/**
 * A prefix's owners and their requests. Nearly every prefix has one owner: a pair then, not a
 * Map (an empty JavaScriptCore Map takes ~700 bytes; 10,000 Services made that 7 MB).
 */
type Owners = readonly [owner: string, req: RouteRequest] | Map<string, RouteRequest>;

const requestsOf = (o: Owners): RouteRequest[] => (o instanceof Map ? [...o.values()] : [o[1]]);

export class OriginatedRoutes {
  private readonly byPrefix = new Map<string, Owners>();
  private speaker: Speaker | undefined;

  constructor(private readonly resolve: ResolvePeer) {}

  /** Routes go to this speaker from now on; everything is originated on it. */
  attach(speaker: Speaker | undefined): void {
    this.speaker = speaker;
    if (speaker) for (const prefix of this.byPrefix.keys()) this.apply(prefix);
  }

  set(owner: string, prefix: string, req: RouteRequest): void {
    const owners = this.byPrefix.get(prefix);
    if (owners instanceof Map) {
      const prev = owners.get(owner);
      if (prev && sameRequest(prev, req)) return;
      owners.set(owner, req);
    } else if (!owners || owners[0] === owner) {
      if (owners && sameRequest(owners[1], req)) return;
      this.byPrefix.set(prefix, [owner, req]);
    } else {
      this.byPrefix.set(prefix, new Map([[owners[0], owners[1]], [owner, req]]));
    }
    this.apply(prefix);
  }

  remove(owner: string, prefix: string): void {
    const owners = this.byPrefix.get(prefix);
    if (!owners) return;
    if (owners instanceof Map) {
      if (!owners.delete(owner)) return;
      if (owners.size === 1) this.byPrefix.set(prefix, [...owners][0]!);
    } else {
      if (owners[0] !== owner) return;
      this.byPrefix.delete(prefix);
    }
    this.apply(prefix);
  }

  /** Re-resolves every route's peers (a BGPPeer came, went or changed address). */
  reapplyAll(): void {
    for (const prefix of this.byPrefix.keys()) this.apply(prefix);
  }

  /** The peers (names) a prefix goes to now: "all", a set, or undefined when it is not originated. */
  targetsOf(prefix: string): Targets | undefined {
    const owners = this.byPrefix.get(prefix);
    return owners ? union(requestsOf(owners)).targets : undefined;
  }

  get size(): number {
    return this.byPrefix.size;
  }

  /** Counts by owner kind (the part of the owner key before the first "/"). */
  countByOwnerKind(): Map<string, number> {
    const out = new Map<string, number>();
    for (const owners of this.byPrefix.values()) {
      for (const owner of owners instanceof Map ? owners.keys() : [owners[0]]) {
        const kind = owner.slice(0, owner.indexOf("/"));
        out.set(kind, (out.get(kind) ?? 0) + 1);
      }
    }
    return out;
  }

  private apply(prefix: string): void {
    const s = this.speaker;
    if (!s) return;
    const owners = this.byPrefix.get(prefix);
    if (!owners) {
      if (s.originated.has(prefix)) s.withdraw(prefix);
      return;
    }
    const { targets, communities, largeCommunities, localPref } = union(requestsOf(owners));
    const route: OriginatedRoute = { prefix, nextHop: "self", communities, largeCommunities, ...(localPref === undefined ? {} : { localPref }) };
    if (targets === "all") {
      s.originate(route);
      return;
    }
    const addresses = [...targets].map(this.resolve).filter((a): a is string => !!a).sort();
    s.originate(route, addresses);
  }
}

/** Several owners' requests for one prefix: every peer any of them names, every community, the highest LOCAL_PREF. */
function union(reqs: RouteRequest[]): Required<Omit<RouteRequest, "localPref">> & Pick<RouteRequest, "localPref"> {
  const communities = sortedUnique(reqs.flatMap((r) => r.communities));
  const largeCommunities = sortedUnique(reqs.flatMap((r) => r.largeCommunities ?? []));
  const prefs = reqs.map((r) => r.localPref).filter((p): p is number => p !== undefined);
  const localPref = prefs.length ? Math.max(...prefs) : undefined;
  if (reqs.some((r) => r.targets === "all")) return { targets: "all", communities, largeCommunities, localPref };
  const names = new Set<string>();
  for (const r of reqs) for (const n of r.targets as ReadonlySet<string>) names.add(n);
  return { targets: names, communities, largeCommunities, localPref };
}

const NONE: string[] = Object.freeze([]) as unknown as string[];

/** Sorted, without duplicates; the speaker keeps one per route, so an empty one is shared. */
function sortedUnique(xs: string[]): string[] {
  return xs.length ? [...new Set(xs)].sort() : NONE;
}

function sameRequest(a: RouteRequest, b: RouteRequest): boolean {
  if (a.communities.join() !== b.communities.join() || (a.largeCommunities ?? []).join() !== (b.largeCommunities ?? []).join() || a.localPref !== b.localPref) return false;
  if (a.targets === "all" || b.targets === "all") return a.targets === b.targets;
  return a.targets.size === b.targets.size && [...a.targets].every((t) => (b.targets as ReadonlySet<string>).has(t));
}
