// Typed wrapper over the core's RIB (assembly/rib): the only code that knows
// its ABI and record layouts (documented in assembly/rib/exports.ts,
// ingest.ts and locrib.ts). The RIB state lives in the core; this class keeps
// only the peers' configured addresses (to name them in query results).
//
// How a speaker drives it:
//   setGlobal once; addPeer per neighbour (index for every other call).
//   Every TCP read: feed(peer, chunk), one copy into the core (never hand a
//   socket a view of core memory to read into: any call that grows memory
//   detaches it). UPDATEs are applied in the core; other messages come back as
//   events. Before peerUp every message pauses input (one event per call):
//   handle it, then resume(peer). An OPEN also pauses, so capabilities can be
//   given to peerUp before the UPDATEs behind it are parsed. A "notification"
//   event: send it and close; then peerDown.
//   After feeds (and originate/withdrawLocal), for every established peer:
//   write exportFor(peer) to its socket (a full table + End-of-RIB after
//   peerUp, then only changes); drainChanges() feeds the FIB (enableChanges
//   first). An established peer whose export is never called holds the change
//   log, so call it for every up peer.
import type { Core } from "./wasm.ts";
import { ORIGINS, SEGMENT_TYPES } from "./codec-names.ts";
import { hex, ipv4, ipv6Bytes, isIpv6, parseIpv4, parseIpv6, parsePrefix } from "./codec-text.ts";
import { parseCommunity, parseExtendedCommunity, parseLargeCommunity } from "./communities.ts";

export type Family = "ipv4-unicast" | "ipv6-unicast";
export type ExportPolicy = "local" | "all" | "none";

export interface GlobalConfig {
  asn: number;
  routerId: string;
  /** Route-reflection cluster id for loop detection; defaults to the router id. */
  clusterId?: string;
  multipath?: boolean;
}

export interface PeerConfig {
  asn: number;
  address: string;
  /** The router id from the peer's OPEN (can be set later with setPeerRouterId). */
  routerId?: string;
  export?: ExportPolicy;
  /** Maximum paths in the peer's Adj-RIB-In; exceeding it asks for a Cease NOTIFICATION. 0 = none. */
  maxPrefix?: number;
}

/** What the session negotiated, given when it reaches Established. */
export interface PeerSession {
  as4: boolean;
  ipv4: boolean;
  ipv6: boolean;
  addPathReceiveV4?: boolean;
  addPathReceiveV6?: boolean;
  extendedMessage?: boolean;
  /** Our address towards the peer: NEXT_HOP self. Needed for every family exported to the peer (0.0.0.0 / :: otherwise). */
  nextHopV4?: string;
  /** A global IPv6 address of ours, also when the session runs over IPv4. */
  nextHopV6?: string;
}

export type FeedEvent =
  | { kind: "message"; type: number; bytes: Uint8Array }
  | { kind: "notification"; code: number; subcode: number; data: Uint8Array }
  | { kind: "end-of-rib"; afi: number; safi: number };

export interface LocRibChange {
  family: Family;
  prefix: string;
  /** No best path any more: remove the route. */
  withdrawn: boolean;
  /** The best path is locally originated: install nothing, remove any route installed for the prefix. */
  local: boolean;
  /** Best path's next hop first, then the multipath (ECMP) members'. */
  nextHops: string[];
}

export interface AsPathSegment {
  type: "AS_SET" | "AS_SEQUENCE" | "AS_CONFED_SEQUENCE" | "AS_CONFED_SET";
  asns: number[];
}

export interface RibPath {
  nextHop: string;
  asPath: AsPathSegment[];
  origin: "IGP" | "EGP" | "INCOMPLETE";
  med?: number;
  localPref?: number;
  communities: string[];
  largeCommunities: string[];
  best: boolean;
  multipath: boolean;
  /** false: rejected at ingest (AS_PATH / ORIGINATOR_ID / CLUSTER_LIST loop): kept in the Adj-RIB-In only. */
  eligible: boolean;
  /** Kept through the peer's graceful restart, not yet re-sent. */
  stale: boolean;
  /** The neighbour's address, or "local" for an originated route. */
  peer: string;
  pathId: number;
  originatorId?: string;
  clusterList?: string[];
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  /** 8-byte values in hex, as `sart decode` shows them. */
  extendedCommunities: string[];
  /** Optional transitive attributes the RIB passes on without knowing them (flags with the Partial bit). */
  unknownAttributes?: { code: number; flags: number; hex: string }[];
}

/** A route of our own (docs/speaker.md `routes:`, `POST /v1/rib`). */
export interface OriginatedRoute {
  prefix: string;
  /** "self" (default) or a usable unicast address of the prefix's family. */
  nextHop?: string;
  /** "65000:1" or a well-known name (no-export, no-advertise, ...). */
  communities?: string[];
  /** "GLOBAL:LOCAL1:LOCAL2". */
  largeCommunities?: string[];
  /** "rt:65000:1", "soo:192.0.2.1:7" or 16 hex digits. */
  extendedCommunities?: string[];
  /** Sent to iBGP peers only. */
  localPref?: number;
  /** MULTI_EXIT_DISC, sent to every peer. */
  med?: number;
  /** Export tags: only peers with one of these (setPeerTags) get the route; 0 or absent: every peer. */
  tags?: number;
}

/**
 * Whether an address can be a next hop (RFC 4271 6.3, RFC 2545): not unspecified,
 * loopback ::1, multicast, reserved or IPv6 link-local (which needs an interface).
 */
export function usableNextHop(addr: string): boolean {
  if (!isIpv6(addr)) {
    const a = parseIpv4(addr, "next hop");
    return a >>> 24 !== 0 && a >>> 29 !== 7;
  }
  const [w0, w1, w2, w3] = parseIpv6(addr, "next hop");
  if (w0 === 0 && w1 === 0 && w2 === 0 && (w3 === 0 || w3 === 1)) return false;
  return w0 >>> 24 !== 0xff && w0 >>> 22 !== 0xfe80 >>> 6;
}

export interface RibEntry {
  prefix: string;
  paths: RibPath[];
}

export interface PeerCounters {
  received: number;
  accepted: number;
  advertised: number;
  updatesIn: number;
  updatesOut: number;
  withdrawnIn: number;
}

export interface RibStats {
  ipv4Prefixes: number;
  ipv6Prefixes: number;
  paths: number;
  attributeSets: number;
  decisionRuns: number;
  pendingChanges: number;
  /** Bytes held by the RIB's own structures (tables, paths, attribute sets, Adj-RIB-Out maps). */
  bytes: number;
  /** Prefix records allocated: those with paths plus emptied ones a change-log consumer has not read yet. */
  prefixRecords: number;
}

const POLICY: Record<ExportPolicy, number> = { local: 0, all: 1, none: 2 };

function familyOf(f: Family): number {
  if (f === "ipv4-unicast") return 0;
  if (f === "ipv6-unicast") return 1;
  throw new Error(`rib: unknown family ${JSON.stringify(f)} (ipv4-unicast or ipv6-unicast)`);
}

/** Address words (as codec-text parses them) -> 16 bytes, network order; IPv4 in the first 4. */
function wordBytes(words: number[]): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setUint32(4 * i, w));
  return b;
}

function addressBytes(addr: string, what: string): Uint8Array {
  return wordBytes(isIpv6(addr) ? parseIpv6(addr, what) : [parseIpv4(addr, what)]);
}

function prefixBytes(prefix: string, what: string): { fam: number; len: number; bytes: Uint8Array } {
  const p = parsePrefix(prefix, what);
  return { fam: p.v6 ? 1 : 0, len: p.length, bytes: wordBytes(p.words) };
}

export class Rib {
  private readonly x: Record<string, any>;
  private readonly peerAddress = new Map<number, string>();

  constructor(private readonly core: Core) {
    this.x = core.exports;
    if (typeof this.x.ribFeed !== "function") throw new Error("rib: this sart.wasm has no RIB exports (rebuild with make build)");
  }

  setGlobal(g: GlobalConfig): void {
    const rid = parseIpv4(g.routerId, "routerId");
    const cid = g.clusterId ? parseIpv4(g.clusterId, "clusterId") : 0;
    this.x.ribSetGlobal(g.asn >>> 0, rid, cid, g.multipath ? 1 : 0);
  }

  // ---- peers ----

  /** Adds a peer and returns its index (used by every other peer call). */
  addPeer(cfg: PeerConfig): number {
    const idx = this.x.ribPeerAdd() as number;
    if (!idx) throw new Error(`rib: peer table full, cannot add ${cfg.address}`);
    this.configurePeer(idx, cfg);
    return idx;
  }

  configurePeer(idx: number, cfg: PeerConfig): void {
    const bytes = addressBytes(cfg.address, `peer ${cfg.address}: address`);
    this.writeInput(bytes);
    const rid = cfg.routerId ? parseIpv4(cfg.routerId, `peer ${cfg.address}: routerId`) : 0;
    const policy = POLICY[cfg.export ?? "local"];
    if (policy === undefined) throw new Error(`peer ${cfg.address}: export must be local, all or none, not ${JSON.stringify(cfg.export)}`);
    if (!this.x.ribPeerConfig(idx, cfg.asn >>> 0, rid, policy, (cfg.maxPrefix ?? 0) >>> 0)) throw new Error(`rib: no peer ${idx}`);
    this.peerAddress.set(idx, cfg.address);
  }

  /**
   * The peer's export tags (a 32-bit mask): it gets the originated routes tagged
   * with one of them, and the untagged ones. A change while up re-evaluates its Adj-RIB-Out.
   */
  setPeerTags(idx: number, tags: number): void {
    if (!this.x.ribPeerTags(idx, tags >>> 0)) throw new Error(`rib: no peer ${idx}`);
  }

  /** Whether the prefix is in the peer's Adj-RIB-Out, i.e. its UPDATE was written out to the peer. */
  advertisedTo(idx: number, prefix: string): boolean {
    const p = prefixBytes(prefix, "prefix");
    this.writeInput(p.bytes);
    return this.x.ribPeerAdvertised(idx, p.fam, p.len) === 1;
  }

  setPeerRouterId(idx: number, routerId: string): void {
    this.x.ribPeerRouterId(idx, parseIpv4(routerId, `peer ${idx}: routerId`));
  }

  /** Session Established: export starts with the whole table (then End-of-RIB). */
  peerUp(idx: number, s: PeerSession): void {
    const input = new Uint8Array(20);
    const dv = new DataView(input.buffer);
    if (s.nextHopV4) dv.setUint32(0, parseIpv4(s.nextHopV4, `peer ${idx}: nextHopV4`));
    if (s.nextHopV6) parseIpv6(s.nextHopV6, `peer ${idx}: nextHopV6`).forEach((w, i) => dv.setUint32(4 + 4 * i, w));
    this.writeInput(input);
    const flags = (s.as4 ? 1 : 0) | (s.addPathReceiveV4 ? 2 : 0) | (s.addPathReceiveV6 ? 4 : 0) | (s.ipv4 ? 8 : 0) | (s.ipv6 ? 16 : 0);
    if (!this.x.ribPeerUp(idx, flags, s.extendedMessage ? 65535 : 4096)) throw new Error(`rib: no peer ${idx}`);
  }

  /**
   * Session down: the peer's routes are withdrawn from the Loc-RIB and its
   * Adj-RIB-Out is forgotten. keepStale (graceful restart helper, RFC 4724):
   * its routes stay in use, marked stale, until sweepStale.
   */
  peerDown(idx: number, opts: { keepStale?: boolean } = {}): void {
    this.x.ribPeerDown(idx, opts.keepStale ? 1 : 0);
  }

  /** Marks the peer's paths of these families stale (BoRR, RFC 7313): re-announced ones turn fresh, sweepStale drops the rest. */
  markStale(idx: number, families: Family[]): void {
    const mask = families.reduce((m, f) => m | (1 << familyOf(f)), 0);
    this.x.ribPeerMarkStale(idx, mask);
  }

  /** Drops the peer's paths still stale (after its End-of-RIB, or when the restart timer expires); returns how many. */
  sweepStale(idx: number, families: Family[] = ["ipv4-unicast", "ipv6-unicast"]): number {
    const mask = families.reduce((m, f) => m | (1 << familyOf(f)), 0);
    return this.x.ribPeerSweepStale(idx, mask) as number;
  }

  /** ROUTE-REFRESH from the peer: the next exportFor calls re-advertise everything, then End-of-RIB. */
  refresh(idx: number): void {
    if (!this.x.ribPeerRefresh(idx)) throw new Error(`rib: peer ${idx} is not up`);
  }

  removePeer(idx: number): void {
    this.x.ribPeerRemove(idx);
    this.peerAddress.delete(idx);
  }

  peerCounters(idx: number): PeerCounters {
    const s = (w: number) => this.x.ribPeerStat(idx, w) as number;
    return { received: s(0), accepted: s(1), advertised: s(2), updatesIn: s(3), updatesOut: s(4), withdrawnIn: s(5) };
  }

  // ---- ingest ----

  /** A view of the core's input region for `size` bytes, to fill right before feedInPlace; invalid after the next rib call. */
  inputView(size: number): Uint8Array {
    const ptr = this.x.ribInput(size) as number;
    return this.core.u8().subarray(ptr, ptr + size);
  }

  /** One TCP read: frames and applies UPDATEs, returns the other messages and errors as events. */
  feed(idx: number, chunk: Uint8Array): FeedEvent[] {
    this.inputView(chunk.length).set(chunk);
    return this.feedInPlace(idx, chunk.length);
  }

  /** Like feed, for `len` bytes already written into inputView(). */
  feedInPlace(idx: number, len: number): FeedEvent[] {
    const n = this.x.ribFeed(idx, len) as number;
    return this.readEvents(n);
  }

  /** Continues after a pause (an OPEN or NOTIFICATION, or any message before peerUp). */
  resume(idx: number): FeedEvent[] {
    return this.feedInPlace(idx, 0);
  }

  private readEvents(n: number): FeedEvent[] {
    if (!n) return [];
    const u8 = this.core.u8();
    const dv = this.core.dv();
    const base = this.x.ribEventsPtr() as number;
    const events: FeedEvent[] = [];
    for (let i = 0; i < n; i++) {
      const e = base + 16 * i;
      const kind = u8[e];
      const ptr = dv.getUint32(e + 4, true);
      const len = dv.getUint32(e + 8, true);
      if (kind === 1) events.push({ kind: "message", type: u8[e + 1], bytes: u8.slice(ptr, ptr + len) });
      else if (kind === 2) events.push({ kind: "notification", code: u8[e + 1], subcode: u8[e + 2], data: u8.slice(ptr, ptr + len) });
      else if (kind === 3) events.push({ kind: "end-of-rib", afi: u8[e + 1], safi: u8[e + 2] });
    }
    return events;
  }

  // ---- export ----

  /** The next batch of UPDATE messages for the peer (a copy), or null when nothing is pending. */
  exportChunk(idx: number): Uint8Array | null {
    const len = this.x.ribExport(idx) as number;
    if (!len) return null;
    const ptr = this.x.ribOutPtr() as number;
    return this.core.u8().slice(ptr, ptr + len);
  }

  /** Every pending UPDATE for the peer, in batches of packed messages. */
  exportFor(idx: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let c = this.exportChunk(idx); c; c = this.exportChunk(idx)) out.push(c);
    return out;
  }

  // ---- Loc-RIB changes (FIB) ----

  /** Starts the change queue (queues the current Loc-RIB once), or stops it. */
  enableChanges(on: boolean): void {
    this.x.ribChangesEnable(on ? 1 : 0);
  }

  drainChanges(max = 4096): LocRibChange[] {
    const n = this.x.ribDrain(max) as number;
    const u8 = this.core.u8();
    let p = this.x.ribOutPtr() as number;
    const out: LocRibChange[] = [];
    for (let i = 0; i < n; i++) {
      const v6 = u8[p] === 6;
      const plen = u8[p + 1];
      const flags = u8[p + 2];
      const nh = u8[p + 3];
      const alen = v6 ? 16 : 4;
      const prefix = `${addrString(u8, p + 4, v6)}/${plen}`;
      p += 4 + alen;
      const nextHops: string[] = [];
      for (let k = 0; k < nh; k++, p += alen) nextHops.push(addrString(u8, p, v6));
      out.push({ family: v6 ? "ipv6-unicast" : "ipv4-unicast", prefix, withdrawn: (flags & 1) !== 0, local: (flags & 2) !== 0, nextHops });
    }
    return out;
  }

  // ---- locally originated routes ----

  /**
   * Originates a route, or replaces our route for the prefix (peers get the new
   * attributes). Communities take names (no-export, ...); localPref goes to iBGP
   * peers only. Errors name the route and the field.
   */
  originate(r: OriginatedRoute): void {
    const what = `route ${r.prefix}`;
    const p = prefixBytes(r.prefix, "prefix");
    const comms = parseEach(`${what}: communities`, r.communities, parseCommunity);
    const large = parseEach(`${what}: largeCommunities`, r.largeCommunities, parseLargeCommunity);
    const ext = parseEach(`${what}: extendedCommunities`, r.extendedCommunities, parseExtendedCommunity);
    const med = optionalU32(`${what}: med`, r.med);
    const localPref = optionalU32(`${what}: localPref`, r.localPref);
    const input = new Uint8Array(32 + 4 * comms.length + 12 * large.length + 8 * ext.length);
    input.set(p.bytes, 0);
    let nhLen = 0;
    if (r.nextHop && r.nextHop !== "self") {
      const v6 = isIpv6(r.nextHop);
      if (v6 !== (p.fam === 1)) throw new Error(`${what}: nextHop ${r.nextHop} is not of the prefix's family`);
      if (!usableNextHop(r.nextHop)) throw new Error(`${what}: nextHop ${r.nextHop} is not a usable unicast address`);
      input.set(addressBytes(r.nextHop, `${what}: nextHop`).subarray(0, v6 ? 16 : 4), 16);
      nhLen = v6 ? 16 : 4;
    }
    const dv = new DataView(input.buffer);
    const words = [...comms, ...large.flat()];
    words.forEach((w, i) => dv.setUint32(32 + 4 * i, w, true));
    ext.forEach((e, i) => input.set(e, 32 + 4 * words.length + 8 * i));
    this.writeInput(input);
    const has = (r.med !== undefined ? 1 : 0) | (r.localPref !== undefined ? 2 : 0);
    this.x.ribOriginTags((r.tags ?? 0) >>> 0);
    if (!this.x.ribOriginate(p.fam, p.len, nhLen, comms.length, large.length, ext.length, med, localPref, has)) throw new Error(`${what}: rejected by the core`);
  }

  /** Withdraws an originated route; false when there was none. */
  withdrawLocal(prefix: string): boolean {
    const p = prefixBytes(prefix, "prefix");
    this.writeInput(p.bytes);
    return this.x.ribWithdrawLocal(p.fam, p.len) === 1;
  }

  // ---- queries ----

  /** `GET /v1/rib`: prefixes in address order after `after`, with every path. */
  query(q: { family: Family; limit?: number; after?: string }): RibEntry[] {
    const fam = familyOf(q.family);
    const limit = Math.max(0, Math.min(q.limit ?? 100, 100000));
    let n: number;
    if (q.after) {
      const p = prefixBytes(q.after, "after");
      if (p.fam !== fam) throw new Error(`after ${q.after} is not a ${q.family} prefix`);
      this.writeInput(p.bytes);
      n = this.x.ribQuery(fam, limit, 1, p.len);
    } else {
      n = this.x.ribQuery(fam, limit, 0, 0);
    }
    return this.readEntries(n, fam === 1);
  }

  lookup(prefix: string): RibEntry | undefined {
    const p = prefixBytes(prefix, "prefix");
    this.writeInput(p.bytes);
    const n = this.x.ribLookup(p.fam, p.len) as number;
    return this.readEntries(n, p.fam === 1)[0];
  }

  stats(): RibStats {
    const s = (w: number) => this.x.ribStat(w) as number;
    return {
      ipv4Prefixes: s(0), ipv6Prefixes: s(1), paths: s(2), attributeSets: s(3), decisionRuns: s(4), pendingChanges: s(5), bytes: s(6), prefixRecords: s(8),
    };
  }

  /** The core's linear memory size (grows with the RIB; never shrinks). */
  memoryBytes(): number {
    return this.core.memory.buffer.byteLength;
  }

  private readEntries(n: number, v6: boolean): RibEntry[] {
    const u8 = this.core.u8();
    const dv = this.core.dv();
    let p = this.x.ribOutPtr() as number;
    const out: RibEntry[] = [];
    for (let i = 0; i < n; i++) {
      const plen = u8[p];
      const np = u8[p + 1];
      const prefix = `${addrString(u8, p + 4, v6)}/${plen}`;
      p += 4 + (v6 ? 16 : 4);
      const paths: RibPath[] = [];
      for (let k = 0; k < np; k++) {
        const peer = dv.getUint16(p, true);
        const flags = u8[p + 2];
        const nhLen = u8[p + 3];
        const pathId = dv.getUint32(p + 4, true);
        const alen = dv.getUint16(p + 8, true);
        const nh = nhLen ? addrString(u8, p + 12, nhLen >= 16) : "self";
        const attrs = decodeCanonical(u8.subarray(p + 12 + nhLen, p + 12 + nhLen + alen));
        p += 12 + nhLen + alen;
        paths.push({
          nextHop: nh, ...attrs, best: (flags & 2) !== 0, multipath: (flags & 4) !== 0, eligible: (flags & 8) !== 0, stale: (flags & 16) !== 0,
          peer: peer === 0 ? "local" : (this.peerAddress.get(peer) ?? `peer-${peer}`), pathId,
        });
      }
      out.push({ prefix, paths });
    }
    return out;
  }

  private writeInput(bytes: Uint8Array): void {
    this.inputView(bytes.length).set(bytes);
  }
}

/** Parses every value of an optional list; errors say `what[i]: ...`. */
function parseEach<T>(what: string, list: string[] | undefined, parse: (s: string) => T): T[] {
  return (list ?? []).map((v, i) => {
    try {
      return parse(v);
    } catch (e) {
      throw new Error(`${what}[${i}]: ${(e as Error).message}`);
    }
  });
}

function optionalU32(what: string, v: number | undefined): number {
  if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw new Error(`${what}: must be 0..4294967295, not ${JSON.stringify(v)}`);
  return v ?? 0;
}

function addrString(u8: Uint8Array, at: number, v6: boolean): string {
  if (v6) return ipv6Bytes(u8, at);
  return ipv4(((u8[at] << 24) | (u8[at + 1] << 16) | (u8[at + 2] << 8) | u8[at + 3]) >>> 0);
}

type CanonicalFields = Pick<
  RibPath,
  "asPath" | "origin" | "med" | "localPref" | "communities" | "largeCommunities" | "originatorId" | "clusterList" | "atomicAggregate" | "aggregator" | "extendedCommunities" | "unknownAttributes"
>;

/** The core's canonical attribute bytes (4-octet AS_PATH, no next hop) -> API fields. */
function decodeCanonical(b: Uint8Array): CanonicalFields {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const r: CanonicalFields = { asPath: [], origin: "IGP", communities: [], largeCommunities: [], extendedCommunities: [] };
  let q = 0;
  while (q < b.length) {
    const flags = b[q];
    const type = b[q + 1];
    const ext = (flags & 0x10) !== 0;
    const len = ext ? dv.getUint16(q + 2) : b[q + 2];
    const v = q + (ext ? 4 : 3);
    q = v + len;
    switch (type) {
      case 1: r.origin = (ORIGINS[b[v]] ?? "INCOMPLETE") as RibPath["origin"]; break;
      case 2:
        for (let s = v; s < v + len; ) {
          const n = b[s + 1];
          const asns: number[] = [];
          for (let i = 0; i < n; i++) asns.push(dv.getUint32(s + 2 + 4 * i));
          r.asPath.push({ type: (SEGMENT_TYPES[b[s]] ?? "AS_SEQUENCE") as AsPathSegment["type"], asns });
          s += 2 + 4 * n;
        }
        break;
      case 4: r.med = dv.getUint32(v); break;
      case 5: r.localPref = dv.getUint32(v); break;
      case 6: r.atomicAggregate = true; break;
      case 7: r.aggregator = { asn: dv.getUint32(v), address: ipv4(dv.getUint32(v + 4)) }; break;
      case 16:
        for (let i = v; i + 8 <= v + len; i += 8) r.extendedCommunities.push(hex(b.subarray(i, i + 8)));
        break;
      case 8:
        for (let i = v; i < v + len; i += 4) r.communities.push(`${dv.getUint16(i)}:${dv.getUint16(i + 2)}`);
        break;
      case 9: r.originatorId = ipv4(dv.getUint32(v)); break;
      case 10:
        r.clusterList = [];
        for (let i = v; i < v + len; i += 4) r.clusterList.push(ipv4(dv.getUint32(i)));
        break;
      case 32:
        for (let i = v; i < v + len; i += 12) r.largeCommunities.push(`${dv.getUint32(i)}:${dv.getUint32(i + 4)}:${dv.getUint32(i + 8)}`);
        break;
      default: // only unknown optional transitive attributes reach the canonical form
        (r.unknownAttributes ??= []).push({ code: type, flags, hex: hex(b.subarray(v, v + len)) });
    }
  }
  return r;
}
