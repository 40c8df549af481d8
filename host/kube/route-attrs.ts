// BGP route attributes of a BGPAdvertisement: `spec.attrs`, an array of strings, one
// attribute value each. The controller writes them from the AddressPool's `spec.bgp` and the
// Service's `sart.terassyi.net/communities` annotation; the agent reads them
// (parseAdvertisementAttrs) and originates `spec.cidr` with them. Forms, canonical, sorted,
// without duplicates:
//
//   community:ASN:VALUE        RFC 1997 community, both parts 0-65535; a well-known name given
//                              in a pool or annotation (no-export, ...) is written in this form
//   large-community:G:L1:L2    RFC 8092 large community, each part 0-4294967295
//   local-pref:N               LOCAL_PREF 0-4294967295 (sent to iBGP peers only, RFC 4271)
//
// Community values are read by host/core/communities.ts, the parser the speaker, its API
// and the CLI use, so a name means the same everywhere.
import { formatCommunity, parseCommunity as parseCommunityValue, parseLargeCommunity as parseLargeCommunityValue } from "../core/communities.ts";
import type { PoolBgpAttributes } from "./types.ts";

const U32 = 0xffffffff;

/** "65000:100" or a well-known name (any case) -> "65000:100"; undefined when it is neither. */
export function parseCommunity(text: string): string | undefined {
  try {
    return formatCommunity(parseCommunityValue(text.trim()));
  } catch {
    return undefined;
  }
}

/** "1:2:3" -> "1:2:3"; undefined unless three parts 0-4294967295. */
export function parseLargeCommunity(text: string): string | undefined {
  try {
    return parseLargeCommunityValue(text.trim()).join(":");
  } catch {
    return undefined;
  }
}

const sortedUnique = (attrs: Iterable<string>): string[] => [...new Set(attrs)].sort();

/** The attrs an AddressPool's `spec.bgp` gives; throws an Error naming the bad field. */
export function poolAttrs(bgp: PoolBgpAttributes | undefined): string[] {
  if (!bgp) return [];
  const out: string[] = [];
  (bgp.communities ?? []).forEach((c, i) => {
    const v = parseCommunity(c);
    if (!v) throw new Error(`spec.bgp.communities[${i}] ${JSON.stringify(c)} is neither ASN:VALUE (0-65535 each) nor a well-known community`);
    out.push(`community:${v}`);
  });
  (bgp.largeCommunities ?? []).forEach((c, i) => {
    const v = parseLargeCommunity(c);
    if (!v) throw new Error(`spec.bgp.largeCommunities[${i}] ${JSON.stringify(c)} is not G:L1:L2 (0-4294967295 each)`);
    out.push(`large-community:${v}`);
  });
  if (bgp.localPref !== undefined && bgp.localPref !== null) {
    if (!Number.isInteger(bgp.localPref) || bgp.localPref < 0 || bgp.localPref > U32) throw new Error(`spec.bgp.localPref ${bgp.localPref} is not 0-4294967295`);
    out.push(`local-pref:${bgp.localPref}`);
  }
  return sortedUnique(out);
}

/**
 * The attrs of a `sart.terassyi.net/communities` annotation: a comma list of standard
 * communities (or well-known names) and large communities (three parts).
 */
export function annotationAttrs(text: string | undefined): { attrs: string[] } | { error: string } {
  if (text === undefined) return { attrs: [] };
  const out: string[] = [];
  for (const item of text.split(",").map((s) => s.trim())) {
    const large = item.split(":").length === 3 ? parseLargeCommunity(item) : undefined;
    const std = large ? undefined : parseCommunity(item);
    if (!large && !std) return { error: `${JSON.stringify(item)} is neither a community (ASN:VALUE, 0-65535 each, or a well-known name such as no-export) nor a large community (G:L1:L2)` };
    out.push(large ? `large-community:${large}` : `community:${std}`);
  }
  return { attrs: sortedUnique(out) };
}

/** Several attrs lists as one: sorted, without duplicates. */
export function mergeAttrs(...lists: string[][]): string[] {
  return sortedUnique(lists.flat());
}

export interface RouteAttributes {
  /** "ASN:VALUE" strings, numeric. */
  communities: string[];
  /** "G:L1:L2" strings. */
  largeCommunities: string[];
  localPref?: number;
}

/** What the agent originates for a BGPAdvertisement's attrs; throws naming the entry it cannot read. */
export function parseAdvertisementAttrs(attrs: readonly string[] | undefined): RouteAttributes {
  const out: RouteAttributes = { communities: [], largeCommunities: [] };
  for (const [i, a] of (attrs ?? []).entries()) {
    const colon = a.indexOf(":");
    const type = colon < 0 ? a : a.slice(0, colon);
    const value = colon < 0 ? "" : a.slice(colon + 1);
    const bad = (what: string) => new Error(`spec.attrs[${i}] ${JSON.stringify(a)}: ${what}`);
    if (type === "community") {
      const c = parseCommunity(value);
      if (!c) throw bad("not community:ASN:VALUE (0-65535 each) or a well-known name");
      out.communities.push(c);
    } else if (type === "large-community") {
      const c = parseLargeCommunity(value);
      if (!c) throw bad("not large-community:G:L1:L2 (0-4294967295 each)");
      out.largeCommunities.push(c);
    } else if (type === "local-pref") {
      if (!/^(0|[1-9][0-9]{0,9})$/.test(value) || Number(value) > U32) throw bad("not local-pref:N (0-4294967295)");
      out.localPref = Number(value);
    } else {
      throw bad("unknown attribute (community, large-community, local-pref)");
    }
  }
  return out;
}
