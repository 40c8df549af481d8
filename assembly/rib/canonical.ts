// From the codec's parsed UPDATE (assembly/bgp/update.ts) to what the RIB
// keeps: the canonical attribute bytes that key an interned attribute set,
// the decision-process fields, and loop detection. RIB policy applied here:
// LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST are ignored from external peers
// (RFC 4271 5.1.5, RFC 4456), unknown optional transitive attributes are kept
// with the Partial bit, unknown non-transitive ones dropped.
//
// Canonical attribute bytes: attributes sorted by type code, AS_PATH and
// AGGREGATOR in 4-octet form after the RFC 6793 merge, NEXT_HOP / MP_REACH /
// MP_UNREACH / AS4_PATH / AS4_AGGREGATOR left out, extended-length flag set
// exactly when the value exceeds 255 bytes.

import { ParsedUpdate } from "../bgp/update";
import { SEG_CONFED_SEQUENCE, SEG_CONFED_SET } from "../bgp/wire";
import { AF_HAS_MED, AF_HAS_ORIGINATOR, AF_NO_ADVERTISE, AF_NO_EXPORT, setDecisionFields } from "./attrs";
import { Buf, be32, put32 } from "./mem";
import { Peer, ownAsn, ownClusterId, ownRouterId } from "./state";

const NO_EXPORT: u32 = 0xffffff01;
const NO_ADVERTISE: u32 = 0xffffff02;
const NO_EXPORT_SUBCONFED: u32 = 0xffffff03;

export const canon = new Buf();
export let loopDetected: bool = false;

const asBytes = new Buf();
const aggBytes: usize = heap.alloc(8);

// Entries kept for the canonical form: type, flags, value pointer, value length.
const ENTRY: u32 = 16;
const entries: usize = heap.alloc(256 * ENTRY);
let entryCount: u32 = 0;

function addEntry(type: u32, flags: u32, ptr: usize, len: u32): void {
  if (entryCount >= 256) return;
  const e = entries + <usize>(entryCount * ENTRY);
  store<u32>(e, type);
  store<u32>(e, flags, 4);
  store<u32>(e, <u32>ptr, 8);
  store<u32>(e, len, 12);
  entryCount++;
}

/** The merged AS_PATH words ([type, count, asn...]) as 4-octet wire segments; flags own-ASN loops. */
function asPathBytes(u: ParsedUpdate): void {
  asBytes.len = 0;
  asBytes.ensure(u.asPathWords * 4);
  let w = asBytes.ptr;
  let i: u32 = 0;
  while (i < u.asPathWords) {
    const type = load<u32>(u.asPath + <usize>i * 4);
    const count = load<u32>(u.asPath + <usize>i * 4 + 4);
    store<u8>(w, <u8>type);
    store<u8>(w + 1, <u8>count);
    w += 2;
    for (let k: u32 = 0; k < count; k++) {
      const asn = load<u32>(u.asPath + <usize>(i + 2 + k) * 4);
      if (asn == ownAsn && (type == 1 || type == 2)) loopDetected = true;
      put32(w, asn);
      w += 4;
    }
    i += 2 + count;
  }
  asBytes.len = <u32>(w - asBytes.ptr);
}

/**
 * AS_PATH checks on an eBGP session (RFC 4271 6.3, RFC 7606 7.2, RFC 5065 5), as
 * FRR does: the path starts with an AS_SEQUENCE whose first AS is the peer's (an
 * empty path would make the route look internal to our iBGP peers), and holds no
 * confederation segments (we are in no confederation, so the peer is outside ours).
 */
function ebgpPathOk(peer: Peer, u: ParsedUpdate): bool {
  if (u.firstAs != peer.asn) return false;
  let i: u32 = 0;
  while (i < u.asPathWords) {
    const type = load<u32>(u.asPath + <usize>i * 4);
    if (type == SEG_CONFED_SEQUENCE || type == SEG_CONFED_SET) return false;
    i += 2 + load<u32>(u.asPath + <usize>i * 4 + 4);
  }
  return true;
}

/** RFC 1997 well-known communities that limit where a received route goes (AF_NO_* flags). */
function wellKnownScope(u: ParsedUpdate): u8 {
  let f: u8 = 0;
  for (let i: u32 = 0; i < u.communitiesCount; i++) {
    const c = be32(u.communitiesPtr + <usize>i * 4);
    if (c == NO_ADVERTISE) f |= AF_NO_ADVERTISE;
    // Not in a confederation: NO_EXPORT_SUBCONFED keeps the route in the AS, like NO_EXPORT.
    else if (c == NO_EXPORT || c == NO_EXPORT_SUBCONFED) f |= AF_NO_EXPORT;
  }
  return f;
}

/**
 * Builds `canon` and the decision fields for an UPDATE from `peer` that the
 * codec accepted; sets loopDetected. False when the UPDATE must be treated as
 * a withdrawal for RIB reasons (LOCAL_PREF missing on iBGP, RFC 7606 3.d; an
 * eBGP AS_PATH that fails ebgpPathOk).
 */
export function canonicalise(peer: Peer, u: ParsedUpdate): bool {
  loopDetected = false;
  entryCount = 0;
  const ibgp = peer.isIbgp();
  if (ibgp && !u.hasLocalPref) return false;
  if (!ibgp && !ebgpPathOk(peer, u)) return false;
  let flagsOut: u8 = wellKnownScope(u);
  let originator: u32 = 0;
  let clusterLen: u32 = 0;
  for (let i: u32 = 0; i < u.attrCount; i++) {
    const e = u.attrs + <usize>i * 16;
    const type = load<u32>(e);
    const flags = load<u32>(e, 4);
    const v = <usize>load<u32>(e, 8);
    const len = load<u32>(e, 12);
    switch (type) {
      case 3: case 14: case 15: case 17: case 18: break; // next hop is a field of the set; AS4_* merged
      case 2:
        asPathBytes(u);
        addEntry(type, flags, asBytes.ptr, asBytes.len);
        break;
      case 7:
        put32(aggBytes, u.aggregatorAs);
        put32(aggBytes + 4, u.aggregatorAddr);
        addEntry(type, flags, aggBytes, 8);
        break;
      case 5:
        if (ibgp) addEntry(type, flags, v, len);
        break;
      case 9:
        if (!ibgp) break;
        originator = u.originatorId;
        flagsOut |= AF_HAS_ORIGINATOR;
        if (originator == ownRouterId) loopDetected = true;
        addEntry(type, flags, v, len);
        break;
      case 10:
        if (!ibgp) break;
        clusterLen = u.clusterListCount;
        for (let k: u32 = 0; k < clusterLen; k++) if (be32(v + k * 4) == ownClusterId) loopDetected = true;
        addEntry(type, flags, v, len);
        break;
      case 1: case 4: case 6: case 8: case 16: case 32:
        addEntry(type, flags, v, len);
        break;
      default:
        if (flags & 0x40) addEntry(type, flags | 0x20, v, len); // passed on with the Partial bit
    }
  }
  if (u.hasMed) flagsOut |= AF_HAS_MED;
  setDecisionFields(
    ibgp && u.hasLocalPref ? u.localPref : 100,
    u.hasMed ? u.med : 0,
    u.firstAs,
    originator,
    u.asPathLength,
    clusterLen,
    u.origin < 0 ? 0 : <u32>u.origin,
    flagsOut,
  );
  writeCanonical();
  return canon.len <= 0xffff;
}

function writeCanonical(): void {
  // insertion sort by type code: attribute lists are short and usually already in order
  for (let i: u32 = 1; i < entryCount; i++) {
    let j = i;
    while (j > 0 && load<u32>(entries + <usize>((j - 1) * ENTRY)) > load<u32>(entries + <usize>(j * ENTRY))) {
      const a = entries + <usize>((j - 1) * ENTRY);
      const b = entries + <usize>(j * ENTRY);
      const t0 = load<u64>(a);
      const t1 = load<u64>(a, 8);
      store<u64>(a, load<u64>(b));
      store<u64>(a, load<u64>(b, 8), 8);
      store<u64>(b, t0);
      store<u64>(b, t1, 8);
      j--;
    }
  }
  let total: u32 = 0;
  for (let i: u32 = 0; i < entryCount; i++) total += load<u32>(entries + <usize>(i * ENTRY), 12) + 4;
  canon.len = 0;
  canon.ensure(total);
  let w = canon.ptr;
  for (let i: u32 = 0; i < entryCount; i++) {
    const e = entries + <usize>(i * ENTRY);
    const len = load<u32>(e, 12);
    const ext = len > 255;
    store<u8>(w, <u8>((load<u32>(e, 4) & 0xe0) | (ext ? 0x10 : 0)));
    store<u8>(w + 1, <u8>load<u32>(e));
    if (ext) {
      store<u16>(w + 2, bswap<u16>(<u16>len));
      w += 4;
    } else {
      store<u8>(w + 2, <u8>len);
      w += 3;
    }
    memory.copy(w, <usize>load<u32>(e, 8), len);
    w += len;
  }
  canon.len = <u32>(w - canon.ptr);
}
