// JSON shapes of the speaker HTTP API (docs/api.md), shared by the server and the CLI.
import { type BfdView, bfdView } from "../bfd/view.ts";
import type { AsPathSegment, RibEntry } from "../core/rib.ts";
import type { Neighbor } from "./neighbor.ts";
import type { Speaker } from "./speaker.ts";

export interface NeighborView {
  address: string;
  asn: number;
  port: number;
  localAddress?: string;
  passive: boolean;
  holdTime: number;
  families: string[];
  export: string;
  maxPrefix: number;
  extendedOptionalParameters: boolean;
  keepaliveTime?: number;
  connectRetryTime?: number;
  ebgpMultihop?: number;
  /** TTL of the session's packets (ebgpMultihop, or 1 for eBGP); absent: the system default. */
  ttl?: number;
  /** A TCP MD5 password is set (the password itself is never shown). */
  passwordSet: boolean;
  /** The BFD session when the neighbour has one. */
  bfd?: BfdView;
  state: string;
  /** Seconds since Established (0 when not). */
  uptime: number;
  routerId?: string;
  negotiated?: {
    holdTime: number;
    keepalive: number;
    families: string[];
    capabilities: string[];
    as4: boolean;
    addPath: string[];
    extendedMessage: boolean;
    routeRefresh: boolean;
    enhancedRouteRefresh: boolean;
    gracefulRestart?: { restartTime: number; restarting: boolean; families: { family: string; forwarding: boolean }[] };
  };
  counters: {
    messagesIn: Record<string, number>;
    messagesOut: Record<string, number>;
    received: number;
    accepted: number;
    advertised: number;
    withdrawnIn: number;
    establishedTransitions: number;
  };
  staleFamilies: string[];
  endOfRibReceived: string[];
  lastError?: string;
  lastNotificationSent?: { code: number; subcode: number; data: string; at: string };
  lastNotificationReceived?: { code: number; subcode: number; data: string; at: string };
}

export function neighborView(speaker: Speaker, nb: Neighbor): NeighborView {
  const c = nb.config;
  const n = nb.negotiated;
  const pc = speaker.rib.peerCounters(nb.idx);
  return {
    address: c.address, asn: c.asn, port: c.port, localAddress: c.localAddress, passive: c.passive, holdTime: c.holdTime,
    families: c.families, export: c.export, maxPrefix: c.maxPrefix, extendedOptionalParameters: c.extendedOptionalParameters,
    keepaliveTime: c.keepaliveTime, connectRetryTime: c.connectRetryTime, ebgpMultihop: c.ebgpMultihop, ttl: nb.ttl, passwordSet: !!c.password,
    bfd: c.bfd && speaker.bfd?.get(c.address) ? bfdView(speaker.bfd.get(c.address)!) : undefined,
    state: nb.state,
    uptime: nb.uptimeSeconds,
    routerId: nb.peerRouterId,
    negotiated: n && {
      holdTime: n.holdTime, keepalive: n.keepalive, families: n.families, capabilities: n.peerCapabilities, as4: n.as4, addPath: n.addPath,
      extendedMessage: n.extendedMessage, routeRefresh: n.routeRefresh, enhancedRouteRefresh: n.enhancedRouteRefresh, gracefulRestart: n.gracefulRestart,
    },
    counters: {
      messagesIn: { ...nb.messagesIn, update: pc.updatesIn },
      messagesOut: { ...nb.messagesOut, update: pc.updatesOut },
      received: pc.received, accepted: pc.accepted, advertised: pc.advertised, withdrawnIn: pc.withdrawnIn,
      establishedTransitions: nb.establishedTransitions,
    },
    staleFamilies: nb.stale,
    endOfRibReceived: [...nb.endOfRibReceived],
    lastError: nb.lastError || undefined,
    lastNotificationSent: nb.lastNotificationSent,
    lastNotificationReceived: nb.lastNotificationReceived,
  };
}

export interface GlobalView {
  asn: number;
  routerId: string;
  listen: { address: string; port: number };
  multipath: boolean;
  fib: { enabled: boolean; table: number };
  neighbors: number;
  established: number;
  originated: number;
  rib: { "ipv4-unicast": number; "ipv6-unicast": number; paths: number; attributeSets: number; decisionRuns: number; bytes: number };
  gracefulRestart: { restartTime: number; restarting: boolean };
  uptime: number;
}

export function globalView(s: Speaker): GlobalView {
  const st = s.rib.stats();
  return {
    asn: s.config.asn,
    routerId: s.config.routerId,
    listen: s.listening ?? { address: s.config.listen.address, port: 0 },
    multipath: s.config.multipath,
    fib: s.config.fib,
    neighbors: s.neighbors.size,
    established: [...s.neighbors.values()].filter((n) => n.state === "Established").length,
    originated: s.originated.size,
    rib: {
      "ipv4-unicast": st.ipv4Prefixes, "ipv6-unicast": st.ipv6Prefixes, paths: st.paths, attributeSets: st.attributeSets,
      decisionRuns: st.decisionRuns, bytes: st.bytes,
    },
    gracefulRestart: { restartTime: s.restartTime, restarting: s.restarting() },
    uptime: Math.floor((Date.now() - s.startedAt) / 1000),
  };
}

export interface PathView {
  nextHop: string;
  asPath: AsPathSegment[];
  origin: string;
  med?: number;
  localPref?: number;
  communities: string[];
  largeCommunities: string[];
  best: boolean;
  multipath: boolean;
  stale: boolean;
  eligible: boolean;
  peer: string;
  pathId: number;
  originatorId?: string;
  clusterList?: string[];
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  /** Hex, 8 bytes each, as `sart decode` shows them. */
  extendedCommunities: string[];
  /** Optional transitive attributes passed on unrecognised: {code, flags, hex}. */
  unknownAttributes?: { code: number; flags: number; hex: string }[];
}

export interface RibEntryView {
  prefix: string;
  paths: PathView[];
}

export function ribView(entries: RibEntry[]): RibEntryView[] {
  return entries.map((e) => ({
    prefix: e.prefix,
    paths: e.paths.map((p) => ({
      nextHop: p.nextHop, asPath: p.asPath, origin: p.origin, med: p.med, localPref: p.localPref, communities: p.communities,
      largeCommunities: p.largeCommunities, best: p.best, multipath: p.multipath, stale: p.stale, eligible: p.eligible, peer: p.peer,
      pathId: p.pathId, originatorId: p.originatorId, clusterList: p.clusterList, atomicAggregate: p.atomicAggregate, aggregator: p.aggregator,
      extendedCommunities: p.extendedCommunities, unknownAttributes: p.unknownAttributes,
    })),
  }));
}

/** "65001 65002 {65003}" */
export function asPathText(segments: AsPathSegment[]): string {
  return segments.map((s) => (s.type === "AS_SET" || s.type === "AS_CONFED_SET" ? `{${s.asns.join(",")}}` : s.asns.join(" "))).join(" ");
}
