// The speaker's YAML configuration (docs/speaker.md):
// parsing and validation. Every error names the file and the field, e.g.
// `speaker.yaml: neighbors[1].asn: must be 1..4294967295`.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import yaml from "js-yaml";
import { Validator } from "ip-num/dist/src/Validator.js";
import { type BfdProfile, DEFAULT_PROFILE } from "../bfd/session.ts";
import { formatCommunity, formatExtendedCommunity, parseCommunity, parseExtendedCommunity, parseLargeCommunity } from "../core/communities.ts";
import { type OriginatedRoute, usableNextHop } from "../core/rib.ts";
import { MD5_KEY_MAX } from "../sockopt/sockets.ts";
import { unavailable as socketOptionsUnavailable } from "../sockopt/syscalls.ts";

export type Family = "ipv4-unicast" | "ipv6-unicast";
export type ExportPolicy = "local" | "all" | "none";

export interface NeighborConfig {
  address: string;
  asn: number;
  port: number;
  localAddress?: string;
  passive: boolean;
  /** 0 (no keepalives, no hold timer) or 3..65535 seconds. */
  holdTime: number;
  families: Family[];
  export: ExportPolicy;
  /** Extension: Cease 6/1 when the peer sends more paths than this (0 = no limit). */
  maxPrefix: number;
  /** Our OPEN in the RFC 9072 extended format (for peers that require it, like FRR's `extended-optional-parameters`). */
  extendedOptionalParameters: boolean;
  /** Seconds between KEEPALIVEs; used when shorter than a third of the negotiated hold time (as FRR). */
  keepaliveTime?: number;
  /** Seconds between connection attempts (default 5, jittered). */
  connectRetryTime?: number;
  /** TTL of the session's packets, 1..255. Unset: 1 for eBGP (as FRR and BIRD), the system default for iBGP. */
  ebgpMultihop?: number;
  /** TCP MD5 signature key (RFC 2385), 1..80 bytes. */
  password?: string;
  /** BFD (RFC 5880/5881, single hop): a BFD Down takes the session down at once. */
  bfd?: BfdProfile;
}

/** An originated route; community lists in their canonical forms (names resolved to ASN:VALUE, extended ones as hex). */
export interface RouteConfig extends OriginatedRoute {
  /** "self" or an address of the prefix's family. */
  nextHop: string;
  communities: string[];
}

export interface SpeakerConfig {
  asn: number;
  routerId: string;
  listen: { address: string; port: number };
  /** "127.0.0.1:5000", "[::1]:5000" or "unix:/run/sart/bgp.sock"; "" = no API. */
  api: { listen: string };
  multipath: boolean;
  fib: { enabled: boolean; table: number };
  neighbors: NeighborConfig[];
  routes: RouteConfig[];
}

/** A config error: `where` is the file (or "request"), `field` the path inside it. */
export class ConfigError extends Error {
  constructor(where: string, readonly field: string, message: string) {
    super(`${where}: ${field}: ${message}`);
  }
}

type Obj = Record<string, unknown>;

/** Checks values field by field, naming the file and the path in every error. */
class Checker {
  constructor(readonly where: string) {}

  fail(field: string, message: string): never {
    throw new ConfigError(this.where, field, message);
  }

  object(v: unknown, field: string, known: string[]): Obj {
    if (v === null || typeof v !== "object" || Array.isArray(v)) this.fail(field || "(document)", `must be a mapping, not ${describe(v)}`);
    for (const k of Object.keys(v as Obj)) {
      if (!known.includes(k)) this.fail(field ? `${field}.${k}` : k, `unknown field (known: ${known.join(", ")})`);
    }
    return v as Obj;
  }

  int(v: unknown, field: string, min: number, max: number): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) this.fail(field, `must be ${min}..${max}, not ${describe(v)}`);
    return v;
  }

  bool(v: unknown, field: string): boolean {
    if (typeof v !== "boolean") this.fail(field, `must be true or false, not ${describe(v)}`);
    return v;
  }

  string(v: unknown, field: string): string {
    if (typeof v !== "string" || v === "") this.fail(field, `must be a non-empty string, not ${describe(v)}`);
    return v;
  }

  ipv4(v: unknown, field: string): string {
    const s = this.string(v, field);
    if (isIP(s) !== 4) this.fail(field, `must be an IPv4 address, not ${JSON.stringify(s)}`);
    return s;
  }

  ip(v: unknown, field: string): string {
    const s = this.string(v, field);
    if (!isIP(s)) this.fail(field, `must be an IPv4 or IPv6 address, not ${JSON.stringify(s)}`);
    return s;
  }

  prefix(v: unknown, field: string): string {
    const s = this.string(v, field);
    const v6 = s.includes(":");
    const [ok, errors] = v6 ? Validator.isValidIPv6CidrRange(s) : Validator.isValidIPv4CidrRange(s);
    if (!ok) this.fail(field, `must be a prefix like 198.51.100.0/24 or 2001:db8::/48 without host bits, not ${JSON.stringify(s)}${errors.length ? ` (${errors.join("; ")})` : ""}`);
    return s;
  }

  list(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, `must be a list, not ${describe(v)}`);
    return v;
  }

  /** An optional list of strings, each through `parse` (whose error message follows the field name). */
  parsedList<T>(v: unknown, field: string, parse: (s: string) => T): T[] {
    if (v === undefined) return [];
    return this.list(v, field).map((x, i) => {
      const s = this.string(x, `${field}[${i}]`);
      try {
        return parse(s);
      } catch (e) {
        this.fail(`${field}[${i}]`, (e as Error).message);
      }
    });
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  return JSON.stringify(v);
}

const ASN_MAX = 4294967295;

const NEIGHBOR_FIELDS = [
  "address", "asn", "port", "localAddress", "passive", "holdTime", "families", "export", "maxPrefix", "extendedOptionalParameters",
  "keepaliveTime", "connectRetryTime", "ebgpMultihop", "password", "bfd",
];

/** Options that need socket calls the runtime may lack (Node without the addon): refused, never ignored. */
function needsSocketOptions(c: Checker, field: string, what: string): void {
  const why = socketOptionsUnavailable();
  if (why) c.fail(field, `${what} cannot be set in this runtime: ${why}`);
}

/** A BFD profile, MetalLB's BFDProfile fields and ranges; `{}` takes the defaults (300 ms, 300 ms, 3). */
function checkBfd(c: Checker, v: unknown, field: string): BfdProfile {
  const b = c.object(v, field, ["receiveInterval", "transmitInterval", "detectMultiplier"]);
  needsSocketOptions(c, field, "BFD (TTL 255 on send and receive)");
  return {
    receiveInterval: c.int(b.receiveInterval ?? DEFAULT_PROFILE.receiveInterval, `${field}.receiveInterval`, 10, 60000),
    transmitInterval: c.int(b.transmitInterval ?? DEFAULT_PROFILE.transmitInterval, `${field}.transmitInterval`, 10, 60000),
    detectMultiplier: c.int(b.detectMultiplier ?? DEFAULT_PROFILE.detectMultiplier, `${field}.detectMultiplier`, 2, 255),
  };
}

function checkPassword(c: Checker, v: unknown, field: string): string {
  const s = c.string(v, field);
  const bytes = new TextEncoder().encode(s).length;
  if (bytes > MD5_KEY_MAX) c.fail(field, `must be at most ${MD5_KEY_MAX} bytes (TCP MD5 key), not ${bytes}`);
  needsSocketOptions(c, field, "a TCP MD5 password");
  return s;
}

export function checkNeighbor(c: Checker, v: unknown, field: string): NeighborConfig {
  const n = c.object(v, field, NEIGHBOR_FIELDS);
  const at = (k: string) => `${field ? `${field}.` : ""}${k}`;
  const address = c.ip(n.address, at("address"));
  const v6 = isIP(address) === 6;
  const families = n.families === undefined ? [v6 ? "ipv6-unicast" : "ipv4-unicast"] : c.list(n.families, at("families"));
  if (families.length === 0) c.fail(at("families"), "must name at least one family");
  families.forEach((f, i) => {
    if (f !== "ipv4-unicast" && f !== "ipv6-unicast") c.fail(`${at("families")}[${i}]`, `must be ipv4-unicast or ipv6-unicast, not ${describe(f)}`);
  });
  const exp = n.export ?? "local";
  if (exp !== "local" && exp !== "all" && exp !== "none") c.fail(at("export"), `must be local, all or none, not ${describe(exp)}`);
  const holdTime = c.int(n.holdTime ?? 90, at("holdTime"), 0, 65535);
  if (holdTime === 1 || holdTime === 2) c.fail(at("holdTime"), "must be 0 or 3..65535 (RFC 4271 4.2)");
  const localAddress = n.localAddress === undefined ? undefined : c.ip(n.localAddress, at("localAddress"));
  if (localAddress && isIP(localAddress) !== isIP(address)) c.fail(at("localAddress"), `must be of the same family as address ${address}`);
  let keepaliveTime: number | undefined;
  if (n.keepaliveTime !== undefined) {
    keepaliveTime = c.int(n.keepaliveTime, at("keepaliveTime"), 1, 65535);
    if (holdTime === 0) c.fail(at("keepaliveTime"), "holdTime 0 means no KEEPALIVEs at all");
    if (keepaliveTime > holdTime) c.fail(at("keepaliveTime"), `must not exceed holdTime (${holdTime})`);
  }
  const connectRetryTime = n.connectRetryTime === undefined ? undefined : c.int(n.connectRetryTime, at("connectRetryTime"), 1, 65535);
  let ebgpMultihop: number | undefined;
  if (n.ebgpMultihop !== undefined) {
    ebgpMultihop = c.int(n.ebgpMultihop, at("ebgpMultihop"), 1, 255);
    needsSocketOptions(c, at("ebgpMultihop"), "a TTL");
  }
  const password = n.password === undefined ? undefined : checkPassword(c, n.password, at("password"));
  const bfd = n.bfd === undefined ? undefined : checkBfd(c, n.bfd, at("bfd"));
  return {
    address,
    asn: c.int(n.asn, at("asn"), 1, ASN_MAX),
    port: c.int(n.port ?? 179, at("port"), 1, 65535),
    localAddress,
    passive: n.passive === undefined ? false : c.bool(n.passive, at("passive")),
    holdTime,
    families: [...new Set(families as Family[])],
    export: exp,
    maxPrefix: c.int(n.maxPrefix ?? 0, at("maxPrefix"), 0, ASN_MAX),
    extendedOptionalParameters: n.extendedOptionalParameters === undefined ? false : c.bool(n.extendedOptionalParameters, at("extendedOptionalParameters")),
    keepaliveTime,
    connectRetryTime,
    ebgpMultihop,
    password,
    bfd,
  };
}

const ROUTE_FIELDS = ["prefix", "nextHop", "communities", "largeCommunities", "extendedCommunities", "localPref", "med"];

export function checkRoute(c: Checker, v: unknown, field: string): RouteConfig {
  const r = c.object(v, field, ROUTE_FIELDS);
  const at = (k: string) => `${field ? `${field}.` : ""}${k}`;
  const prefix = c.prefix(r.prefix, at("prefix"));
  let nextHop = "self";
  if (r.nextHop !== undefined && r.nextHop !== "self") {
    nextHop = c.ip(r.nextHop, at("nextHop"));
    if (isIP(nextHop) !== (prefix.includes(":") ? 6 : 4)) c.fail(at("nextHop"), `must be "self" or an address of the prefix's family, not ${JSON.stringify(nextHop)}`);
    if (!usableNextHop(nextHop)) c.fail(at("nextHop"), `${nextHop} is not a usable unicast address (unspecified, loopback ::1, multicast, reserved or link-local)`);
  }
  const route: RouteConfig = {
    prefix,
    nextHop,
    communities: c.parsedList(r.communities, at("communities"), (s) => formatCommunity(parseCommunity(s))),
  };
  const large = c.parsedList(r.largeCommunities, at("largeCommunities"), (s) => parseLargeCommunity(s).join(":"));
  const ext = c.parsedList(r.extendedCommunities, at("extendedCommunities"), (s) => formatExtendedCommunity(parseExtendedCommunity(s)));
  if (large.length) route.largeCommunities = large;
  if (ext.length) route.extendedCommunities = ext;
  if (r.localPref !== undefined) route.localPref = c.int(r.localPref, at("localPref"), 0, ASN_MAX);
  if (r.med !== undefined) route.med = c.int(r.med, at("med"), 0, ASN_MAX);
  return route;
}

function checkApiListen(c: Checker, v: unknown, field: string): string {
  if (v === "") return "";
  const s = c.string(v, field);
  if (s.startsWith("unix:")) {
    if (s.length === 5) c.fail(field, "unix: needs a socket path, e.g. unix:/run/sart/bgp.sock");
    return s;
  }
  try {
    parseHostPort(s);
  } catch (e) {
    c.fail(field, (e as Error).message);
  }
  return s;
}

/** "127.0.0.1:5000" / "[::1]:5000" / "localhost:5000" -> host and port. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`must be host:port ([v6]:port) or unix:/path, not ${JSON.stringify(s)}`);
  return { host: m[1] ?? m[2], port };
}

/** Validates a parsed YAML document; `where` names the file in errors. */
export function checkConfig(doc: unknown, where: string): SpeakerConfig {
  const c = new Checker(where);
  const d = c.object(doc ?? undefined, "", ["asn", "routerId", "listen", "api", "multipath", "fib", "neighbors", "routes"]);
  const listen = c.object(d.listen ?? {}, "listen", ["address", "port"]);
  const api = c.object(d.api ?? {}, "api", ["listen"]);
  const fib = c.object(d.fib ?? {}, "fib", ["enabled", "table"]);
  const neighbors = c.list(d.neighbors ?? [], "neighbors").map((n, i) => checkNeighbor(c, n, `neighbors[${i}]`));
  const seen = new Map<string, number>();
  neighbors.forEach((n, i) => {
    const prev = seen.get(n.address);
    if (prev !== undefined) c.fail(`neighbors[${i}].address`, `${n.address} is already neighbors[${prev}]`);
    seen.set(n.address, i);
  });
  const routes = c.list(d.routes ?? [], "routes").map((r, i) => checkRoute(c, r, `routes[${i}]`));
  return {
    asn: c.int(d.asn, "asn", 1, ASN_MAX),
    routerId: c.ipv4(d.routerId, "routerId"),
    listen: { address: c.ip(listen.address ?? "0.0.0.0", "listen.address"), port: c.int(listen.port ?? 179, "listen.port", 0, 65535) },
    api: { listen: checkApiListen(c, api.listen ?? "127.0.0.1:5000", "api.listen") },
    multipath: d.multipath === undefined ? false : c.bool(d.multipath, "multipath"),
    fib: {
      enabled: fib.enabled === undefined ? false : c.bool(fib.enabled, "fib.enabled"),
      table: c.int(fib.table ?? 254, "fib.table", 1, 0xfffffffe),
    },
    neighbors,
    routes,
  };
}

export function loadConfig(file: string): SpeakerConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, "(file)", `cannot read: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (e) {
    throw new ConfigError(file, "(yaml)", (e as Error).message.split("\n")[0]);
  }
  return checkConfig(doc, file);
}

/** For the HTTP API: a neighbour or route from a request body, errors naming "request". */
export function neighborFromJson(v: unknown): NeighborConfig {
  return checkNeighbor(new Checker("request"), v, "");
}

export function routeFromJson(v: unknown): RouteConfig {
  return checkRoute(new Checker("request"), v, "");
}
