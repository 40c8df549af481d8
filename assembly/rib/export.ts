// Adj-RIB-Out and UPDATE building. exportFor(peer) reads the peer's pending
// changes (a full-table walk after the session comes up, then the change log),
// compares what should be advertised with what was, and writes packed UPDATE
// messages: withdrawals together, and prefixes sharing an attribute set in as
// few messages as the negotiated maximum size allows. eBGP/iBGP rules and the
// export policy are applied here.

import {
  A_BATCH_GEN, A_BATCH_HEAD, A_FLAGS, A_LEN, A_TAGS, AF_LOCAL, AF_NH_SELF, AF_NO_ADVERTISE, AF_NO_EXPORT, attrBytesPtr, attrNh, attrPtr,
  attrRef, attrUnref, sameOnWire,
} from "./attrs";
import { consumerAdvance, log, logBase, logEnd, trim, walkNext } from "./log";
import { buildUpdateMp, buildUpdateV4, lastMessageLength } from "../bgp/encode";
import { V4_ENTRY, V6_ENTRY } from "../bgp/nlri";
import { AFI_IPV6 } from "../bgp/wire";
import { Buf, ChunkedU32, Vec32, be16, be32, put16, put32 } from "./mem";
import {
  FAM_V4, FAM_V6, P_ADDR, P_FLAGS, P_HEAD, P_LEN, P_OUT, PF_LIVE, POLICY_LOCAL, POLICY_NONE, Peer, T_ATTR, T_FLAGS, T_PEER, TF_BEST,
  ownAsn, pathRec, peerAt, tableOf,
} from "./state";

export const out = new Buf();
const BATCH: u32 = 65536; // prefix changes per call: packing is optimal within a batch
let gen: u32 = 0;
const touched = new Vec32(); // attribute sets with prefixes in this batch
const groupHead = new Vec32(); // per touched set: first and last item, in arrival order
const groupTail = new Vec32();
const itemRef = new Vec32();
const itemNext = new Vec32();
const withdrawn4 = new Vec32();
const withdrawn6 = new Vec32();
const attrOut = new Buf(); // the attributes common to one group's messages
const asOut = new Buf();
let messages: u32 = 0;

function adjOut(peer: Peer, fam: u32): ChunkedU32 {
  if (fam == FAM_V6) {
    if (!peer.out6) peer.out6 = new ChunkedU32();
    return peer.out6!;
  }
  if (!peer.out4) peer.out4 = new ChunkedU32();
  return peer.out4!;
}

/** Whether the prefix (table index) is in the peer's Adj-RIB-Out: its UPDATE was written out. */
export function isAdvertised(peer: Peer, fam: u32, idx: u32): bool {
  const map = fam == FAM_V6 ? peer.out6 : peer.out4;
  return map != null && map.get(idx) != 0;
}

/** The attribute set to advertise to the peer for this prefix, 0 for nothing. */
function wanted(peer: Peer, peerIdx: u32, fam: u32, rec: usize): u32 {
  const head = load<u32>(rec + P_HEAD);
  if (!head || peer.policy == POLICY_NONE) return 0;
  if (fam == FAM_V4 ? !peer.fam4 : !peer.fam6) return 0;
  const r = pathRec(head);
  if (!(load<u16>(r + T_FLAGS) & TF_BEST)) return 0;
  const src = <u32>load<u16>(r + T_PEER);
  const attr = load<u32>(r + T_ATTR);
  const flags = load<u8>(attrPtr(attr) + A_FLAGS);
  if (src) {
    if (peer.policy == POLICY_LOCAL || src == peerIdx) return 0;
    if (peerAt(src).isIbgp() && peer.isIbgp()) return 0; // no iBGP-to-iBGP re-advertisement
    // RFC 1997 (received routes; the communities of our own routes are for our peers to act on)
    if (flags & AF_NO_ADVERTISE) return 0;
    if (flags & AF_NO_EXPORT && !peer.isIbgp()) return 0;
  } else {
    // A route originated for some peers only goes to the peers sharing one of its tags.
    const tags = load<u32>(attrPtr(attr) + A_TAGS);
    if (tags && !(tags & peer.tags)) return 0;
  }
  // Next hop self towards a peer we have no address of that family for: nothing usable to send.
  if (usesSelf(peer, flags) && (fam == FAM_V4 ? peer.nh4 == 0 : (peer.nh6Hi | peer.nh6Lo) == 0)) return 0;
  return attr;
}

/** Whether the peer gets our own address as next hop for a set with these flags. */
@inline function usesSelf(peer: Peer, flags: u8): bool {
  return (flags & AF_NH_SELF) != 0 || (!peer.isIbgp() && !(flags & AF_LOCAL));
}

function classify(peer: Peer, peerIdx: u32, fam: u32, idx: u32): void {
  const rec = tableOf(fam).pool.at(idx);
  if (!(load<u8>(rec + P_FLAGS) & PF_LIVE)) return;
  const map = adjOut(peer, fam);
  const cur = map.get(idx);
  const want = wanted(peer, peerIdx, fam, rec);
  if (cur == want) return;
  // Re-originated for other peers (new export tags), the same for this one: nothing to send.
  const resend = !(cur && want && sameOnWire(cur, want));
  if (want) attrRef(want);
  if (cur) attrUnref(cur); // may free cur
  map.set(idx, want);
  if (!resend) return;
  if (!cur) {
    store<u16>(rec + P_OUT, load<u16>(rec + P_OUT) + 1);
    peer.advertised++;
  } else if (!want) {
    store<u16>(rec + P_OUT, load<u16>(rec + P_OUT) - 1);
    peer.advertised--;
  }
  if (!want) {
    // a withdrawal is only sent for something that was advertised
    if (fam == FAM_V6) withdrawn6.push(idx);
    else withdrawn4.push(idx);
    return;
  }
  const a = attrPtr(want);
  const item = itemRef.len;
  itemRef.push(idx | (fam << 31));
  itemNext.push(0xffffffff);
  if (load<u32>(a + A_BATCH_GEN) != gen) {
    store<u32>(a + A_BATCH_GEN, gen);
    store<u32>(a + A_BATCH_HEAD, touched.len);
    touched.push(want);
    groupHead.push(item);
    groupTail.push(item);
  } else {
    const g = load<u32>(a + A_BATCH_HEAD);
    itemNext.set(groupTail.get(g), item);
    groupTail.set(g, item);
  }
}

// ---- message writing (packing by the codec's in-core encoder) ----

const entries = new Buf(); // prefixes of one group in the codec's entry layout (../bgp/nlri)

/** Appends the prefix as a codec entry: IPv4 [pathId, address, length], IPv6 [pathId, length, a0..a3]. */
function pushEntry(fam: u32, rec: usize): void {
  const plen = <u32>load<u8>(rec + P_LEN);
  if (fam == FAM_V6) {
    entries.ensure(V6_ENTRY);
    const e = entries.end();
    const hi = load<u64>(rec + P_ADDR);
    const lo = load<u64>(rec + P_ADDR + 8);
    store<u32>(e, 0);
    store<u32>(e, plen, 4);
    store<u32>(e, <u32>(hi >> 32), 8);
    store<u32>(e, <u32>hi, 12);
    store<u32>(e, <u32>(lo >> 32), 16);
    store<u32>(e, <u32>lo, 20);
    entries.len += V6_ENTRY;
  } else {
    entries.ensure(V4_ENTRY);
    const e = entries.end();
    store<u32>(e, 0);
    store<u32>(e, load<u32>(rec + P_ADDR), 4);
    store<u32>(e, plen, 8);
    entries.len += V4_ENTRY;
  }
}

/** Packs the collected entries into as few UPDATEs as the peer's maximum size allows. */
function writeEntries(peer: Peer, fam: u32, nh: usize, nhLen: u32, withdraw: bool): void {
  const size = fam == FAM_V6 ? V6_ENTRY : V4_ENTRY;
  const count = entries.len / size;
  const maxMsg = peer.maxMsg;
  let done: u32 = 0;
  while (done < count) {
    out.ensure(maxMsg);
    const at = entries.ptr + <usize>done * size;
    const n = fam == FAM_V6
      ? buildUpdateMp(out.end(), maxMsg, AFI_IPV6, nh, nhLen, attrOut.ptr, attrOut.len, at, count - done, false, withdraw)
      : buildUpdateV4(out.end(), maxMsg, attrOut.ptr, attrOut.len, at, count - done, false, withdraw);
    if (!n) return; // attributes too large for even one prefix: nothing can be sent
    out.len += lastMessageLength();
    messages++;
    done += n;
  }
}

function writeWithdrawals(peer: Peer, fam: u32, list: Vec32): void {
  if (!list.len) return;
  const pool = tableOf(fam).pool;
  entries.len = 0;
  for (let i: u32 = 0; i < list.len; i++) pushEntry(fam, pool.at(list.get(i)));
  attrOut.len = 0;
  writeEntries(peer, fam, 0, 0, true);
}

function writeAttr(flags: u32, type: u32, src: usize, len: u32): void {
  attrOut.ensure(len + 4);
  let w = attrOut.end();
  const ext = len > 255;
  store<u8>(w, <u8>((flags & 0xe0) | (ext ? 0x10 : 0)));
  store<u8>(w + 1, <u8>type);
  if (ext) {
    put16(w + 2, len);
    w += 4;
  } else {
    store<u8>(w + 2, <u8>len);
    w += 3;
  }
  memory.copy(w, src, len);
  attrOut.len = <u32>(w + len - attrOut.ptr);
}

const scratch: usize = heap.alloc(16);

/** AS_PATH towards the peer: own ASN prepended on eBGP; 2-octet form plus AS4_PATH for an old peer. */
function writeAsPath(peer: Peer, ebgp: bool, v: usize, vlen: u32): void {
  asOut.len = 0;
  asOut.ensure(vlen + 8);
  let w = asOut.ptr;
  if (ebgp) {
    if (vlen >= 2 && load<u8>(v) == 2 && load<u8>(v + 1) < 255) {
      const n = <u32>load<u8>(v + 1);
      store<u8>(w, 2);
      store<u8>(w + 1, <u8>(n + 1));
      put32(w + 2, ownAsn);
      memory.copy(w + 6, v + 2, vlen - 2);
      w += vlen + 4;
    } else {
      store<u8>(w, 2);
      store<u8>(w + 1, 1);
      put32(w + 2, ownAsn);
      memory.copy(w + 6, v, vlen);
      w += vlen + 6;
    }
  } else {
    memory.copy(w, v, vlen);
    w += vlen;
  }
  asOut.len = <u32>(w - asOut.ptr);
  if (peer.as4) {
    writeAttr(0x40, 2, asOut.ptr, asOut.len);
    return;
  }
  // 2-octet encoding: ASNs above 65535 become AS_TRANS, the real path goes in AS4_PATH
  const segEnd = asOut.ptr + asOut.len;
  let q = asOut.ptr;
  let len2: u32 = 0;
  while (q < segEnd) {
    const n = <u32>load<u8>(q + 1);
    len2 += 2 + n * 2;
    q += 2 + n * 4;
  }
  attrOut.ensure(len2 + 4);
  const ext = len2 > 255;
  let o = attrOut.end();
  store<u8>(o, ext ? 0x50 : 0x40);
  store<u8>(o + 1, 2);
  if (ext) {
    put16(o + 2, len2);
    o += 4;
  } else {
    store<u8>(o + 2, <u8>len2);
    o += 3;
  }
  let needAs4 = false;
  q = asOut.ptr;
  while (q < segEnd) {
    const n = <u32>load<u8>(q + 1);
    store<u16>(o, load<u16>(q));
    o += 2;
    for (let i: u32 = 0; i < n; i++) {
      const asn = be32(q + 2 + i * 4);
      if (asn > 0xffff) needAs4 = true;
      put16(o, asn > 0xffff ? 23456 : asn);
      o += 2;
    }
    q += 2 + n * 4;
  }
  attrOut.len = <u32>(o - attrOut.ptr);
  if (needAs4) writeAttr(0xc0, 17, asOut.ptr, asOut.len);
}

let outNh4: u32 = 0;
const outNh6: usize = heap.alloc(16);

/** Builds the attributes (all but MP_REACH) for a group into attrOut. */
function buildAttributes(peer: Peer, a: usize, fam: u32): void {
  attrOut.len = 0;
  const ebgp = !peer.isIbgp();
  const flags = load<u8>(a + A_FLAGS);
  const useSelf = usesSelf(peer, flags);
  if (fam == FAM_V4) {
    outNh4 = useSelf ? peer.nh4 : be32(attrNh(a));
  } else if (useSelf) {
    store<u64>(outNh6, bswap<u64>(peer.nh6Hi));
    store<u64>(outNh6 + 8, bswap<u64>(peer.nh6Lo));
  } else {
    memory.copy(outNh6, attrNh(a), 16);
  }
  let wroteNh = fam != FAM_V4;
  let wroteLp = ebgp;
  let as4Agg = false;
  const bytes = attrBytesPtr(a);
  const end = bytes + <usize>load<u16>(a + A_LEN);
  let q = bytes;
  while (q < end) {
    const f = <u32>load<u8>(q);
    const type = <u32>load<u8>(q + 1);
    let v: usize;
    let vlen: u32;
    if (f & 0x10) {
      vlen = be16(q + 2);
      v = q + 4;
    } else {
      vlen = <u32>load<u8>(q + 2);
      v = q + 3;
    }
    q = v + vlen;
    if (!wroteNh && type > 3) {
      put32(scratch, outNh4);
      writeAttr(0x40, 3, scratch, 4);
      wroteNh = true;
    }
    if (!wroteLp && type > 5) {
      put32(scratch, 100);
      writeAttr(0x40, 5, scratch, 4);
      wroteLp = true;
    }
    switch (type) {
      case 2: writeAsPath(peer, ebgp, v, vlen); break;
      case 4: if (!ebgp || (flags & AF_LOCAL)) writeAttr(f, type, v, vlen); break; // a learned MED stays in the AS; ours is for the neighbour AS
      case 5: if (!ebgp) { writeAttr(f, type, v, vlen); wroteLp = true; } break;
      case 7: {
        if (peer.as4) { writeAttr(f, type, v, vlen); break; }
        const asn = be32(v);
        put16(scratch, asn > 0xffff ? 23456 : asn);
        memory.copy(scratch + 2, v + 4, 4);
        writeAttr(f, type, scratch, 6);
        as4Agg = asn > 0xffff;
        break;
      }
      case 9: case 10: break; // no route reflection: never sent
      default: writeAttr(f, type, v, vlen);
    }
  }
  if (!wroteNh) {
    put32(scratch, outNh4);
    writeAttr(0x40, 3, scratch, 4);
  }
  if (!wroteLp) {
    put32(scratch, 100);
    writeAttr(0x40, 5, scratch, 4);
  }
  if (as4Agg) {
    // AS4_AGGREGATOR: the 4-octet aggregator from the canonical bytes
    q = bytes;
    while (q < end) {
      const f = <u32>load<u8>(q);
      const type = <u32>load<u8>(q + 1);
      const hl: u32 = f & 0x10 ? 4 : 3;
      const vlen = f & 0x10 ? be16(q + 2) : <u32>load<u8>(q + 2);
      if (type == 7) writeAttr(0xc0, 18, q + hl, 8);
      q += hl + vlen;
    }
  }
}

function writeGroup(peer: Peer, g: u32): void {
  const a = attrPtr(touched.get(g));
  let item = groupHead.get(g);
  const fam = itemRef.get(item) >>> 31;
  const pool = tableOf(fam).pool;
  buildAttributes(peer, a, fam);
  entries.len = 0;
  while (item != 0xffffffff) {
    pushEntry(fam, pool.at(itemRef.get(item) & 0x7fffffff));
    item = itemNext.get(item);
  }
  writeEntries(peer, fam, outNh6, 16, false);
}

/** End-of-RIB (RFC 4724 2): an empty UPDATE for IPv4, an empty MP_UNREACH_NLRI for IPv6. */
function writeEndOfRib(peer: Peer): void {
  entries.len = 0;
  entries.ensure(V6_ENTRY);
  for (let fam: u32 = 0; fam < 2; fam++) {
    if (fam == FAM_V4 ? !peer.fam4 : !peer.fam6) continue;
    out.ensure(64);
    if (fam == FAM_V6) buildUpdateMp(out.end(), peer.maxMsg, AFI_IPV6, 0, 0, 0, 0, entries.ptr, 0, false, true);
    else buildUpdateV4(out.end(), peer.maxMsg, 0, 0, entries.ptr, 0, false, true);
    out.len += lastMessageLength();
    messages++;
  }
}

/** Writes the peer's next UPDATE messages into `out`; returns their total length (0: nothing pending). */
export function exportFor(peerIdx: u32): u32 {
  out.len = 0;
  const peer = peerAt(peerIdx);
  if (!peerIdx || !peer.up || !peer.consumer) return 0;
  gen++;
  touched.len = 0;
  groupHead.len = 0;
  groupTail.len = 0;
  itemRef.len = 0;
  itemNext.len = 0;
  withdrawn4.len = 0;
  withdrawn6.len = 0;
  messages = 0;
  let n: u32 = 0;
  while (peer.syncing && n < BATCH) {
    const pos = walkNext(peer);
    if (!pos) break;
    classify(peer, peerIdx, peer.walkFam, pos);
    n++;
  }
  if (!peer.syncing) {
    let c = peer.cursor;
    const e = logEnd();
    while (n < BATCH && c < e) {
      const ref = log.get(c - logBase);
      classify(peer, peerIdx, ref >>> 31, ref & 0x7fffffff);
      c++;
      n++;
    }
    consumerAdvance(peer, c);
  }
  writeWithdrawals(peer, FAM_V4, withdrawn4);
  writeWithdrawals(peer, FAM_V6, withdrawn6);
  for (let g: u32 = 0; g < touched.len; g++) writeGroup(peer, g);
  if (peer.eorPending && !peer.syncing && n < BATCH) {
    writeEndOfRib(peer);
    peer.eorPending = false;
  }
  peer.updatesOut += messages;
  trim();
  return out.len;
}
