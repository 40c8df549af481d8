// JSON (sart decode's shape, docs/cli.md) -> the core's record stream -> wire bytes.
// The record layouts are assembly/bgp/records.ts. Runtime-agnostic: every
// function takes the Core (./codec.ts supplies the process-wide one).
import type { Core } from "./wasm.ts";
import type { AsPathSegment, CodecOptions, DecodedMessage, UpdateAttributes } from "./codec-types.ts";
import { CAPABILITY_NAMES, MESSAGE_TYPE_CODES, ORIGINS, SEGMENT_CODES, familyCodes, sessionFlags } from "./codec-names.ts";
import { fromHex, isIpv6, parseIpv4, parseIpv6, parsePrefix } from "./codec-text.ts";

const T_MSG = 1, T_OPEN = 3, T_CAP = 4, T_PFX = 6, T_ATTR = 7, T_RAW = 8, T_NOTIF = 9, T_RR = 10;

/** Records plus the raw byte blobs they reference (offsets into the input region). */
class RecordWriter {
  words: number[] = [];
  private blobs: Uint8Array[] = [];
  private blobLen = 0;

  rec(tag: number, payload: number[]): void {
    this.words.push(((tag << 24) | payload.length) >>> 0);
    for (const w of payload) this.words.push(w >>> 0);
  }

  /** Stores bytes; returns their offset (blobs sit at the start of the input region). */
  blob(bytes: Uint8Array): number {
    const at = this.blobLen;
    this.blobs.push(bytes);
    this.blobLen += bytes.length;
    return at;
  }

  /** [blobs][padding][records] and the records' offset. */
  layout(): { bytes: Uint8Array; recOffset: number; recLen: number } {
    const recOffset = (this.blobLen + 3) & ~3;
    const bytes = new Uint8Array(recOffset + this.words.length * 4);
    let o = 0;
    for (const b of this.blobs) {
      bytes.set(b, o);
      o += b.length;
    }
    const dv = new DataView(bytes.buffer);
    this.words.forEach((w, i) => dv.setUint32(recOffset + 4 * i, w, true));
    return { bytes, recOffset, recLen: this.words.length * 4 };
  }
}

const WELL_KNOWN_COMMUNITIES: Record<string, number> = {
  GRACEFUL_SHUTDOWN: 0xffff0000,
  BLACKHOLE: 0xffff029a,
  NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02,
  NO_EXPORT_SUBCONFED: 0xffffff03,
  NO_PEER: 0xffffff04,
};

function u32(v: unknown, what: string, max = 0xffffffff): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new Error(`${what}: expected an integer 0..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function community(s: string): number {
  if (s in WELL_KNOWN_COMMUNITIES) return WELL_KNOWN_COMMUNITIES[s];
  const m = /^(\d+):(\d+)$/.exec(s);
  if (!m) throw new Error(`community ${JSON.stringify(s)}: expected "ASN:VALUE"`);
  return ((u32(Number(m[1]), `community ${s}`, 0xffff) << 16) | u32(Number(m[2]), `community ${s}`, 0xffff)) >>> 0;
}

function largeCommunity(s: string): number[] {
  const m = /^(\d+):(\d+):(\d+)$/.exec(s);
  if (!m) throw new Error(`large community ${JSON.stringify(s)}: expected "GLOBAL:LOCAL1:LOCAL2"`);
  return [1, 2, 3].map((i) => u32(Number(m[i]), `large community ${s}`));
}

function segmentWords(path: AsPathSegment[], what: string): number[] {
  const out: number[] = [];
  for (const seg of path) {
    const type = SEGMENT_CODES[seg.type];
    if (!type) throw new Error(`${what}: unknown segment type ${JSON.stringify(seg.type)}`);
    if (seg.asns.length === 0 || seg.asns.length > 255) throw new Error(`${what}: a segment holds 1..255 ASNs`);
    out.push(type, seg.asns.length, ...seg.asns.map((a) => u32(a, what)));
  }
  return out;
}

function nextHopWords(nh: string | string[], what: string): number[] {
  const list = Array.isArray(nh) ? nh : [nh];
  const words: number[] = [];
  for (const a of list) words.push(...(isIpv6(a) ? parseIpv6(a, what) : [parseIpv4(a, what)]));
  return [words.length * 4, ...words];
}

interface Prefixes {
  v4: number[]; // entries [pathId, address, length]*
  v4Count: number;
  v6: number[]; // entries [pathId, length, a0..a3]*
  v6Count: number;
}

function splitPrefixes(list: string[] | undefined, ids: number[] | undefined, what: string): Prefixes {
  const p: Prefixes = { v4: [], v4Count: 0, v6: [], v6Count: 0 };
  (list ?? []).forEach((s, i) => {
    const id = ids ? u32(ids[i] ?? 0, `${what} path id`) : 0;
    const pf = parsePrefix(s, what);
    if (pf.v6) {
      p.v6.push(id, pf.length, ...pf.words);
      p.v6Count++;
    } else {
      p.v4.push(id, pf.words[0], pf.length);
      p.v4Count++;
    }
  });
  return p;
}

const ATTRIBUTE_CODES: [keyof UpdateAttributes, number][] = [
  ["origin", 1], ["asPath", 2], ["med", 4], ["localPref", 5], ["atomicAggregate", 6], ["aggregator", 7],
  ["communities", 8], ["originatorId", 9], ["clusterList", 10], ["extendedCommunities", 16], ["as4Path", 17],
  ["as4Aggregator", 18], ["largeCommunities", 32],
];

function updateRecords(w: RecordWriter, msg: DecodedMessage): void {
  const a: UpdateAttributes = msg.attributes ?? {};
  const wd = splitPrefixes(msg.withdrawn, msg.withdrawnPathIds, "withdrawn");
  const nl = splitPrefixes(msg.nlri, msg.pathIds, "nlri");
  const unknown = a.unknown ?? [];
  const rawCodes = new Set(unknown.map((u) => u.code));

  // Which family each MP attribute carries: IPv6 always; IPv4 when the message says so (RFC 8950 next hops included).
  const nextHopIsV6 = a.nextHop !== undefined && (Array.isArray(a.nextHop) || isIpv6(a.nextHop));
  const reachAfi = nl.v6Count > 0 ? 2 : msg.mpReach?.afi ?? (nextHopIsV6 && nl.v4Count > 0 ? 1 : 0);
  const unreachAfi = wd.v6Count > 0 ? 2 : msg.mpUnreach?.afi ?? 0;
  if (nl.v6Count > 0 && msg.mpReach?.afi === 1 && nl.v4Count > 0) throw new Error("nlri: IPv4 and IPv6 prefixes both in MP_REACH_NLRI");
  const v4InMpReach = reachAfi === 1;
  const v4InMpUnreach = unreachAfi === 1;
  const hasMpReach = !rawCodes.has(14) && (reachAfi === 1 || reachAfi === 2);
  const hasMpUnreach = !rawCodes.has(15) && (unreachAfi === 1 || unreachAfi === 2);

  // NEXT_HOP attribute and the MP next hop.
  let nextHopAttr: number | undefined;
  let mpNextHop: string | string[] | undefined;
  if (msg.mpNextHop !== undefined) {
    mpNextHop = msg.mpNextHop;
    if (typeof a.nextHop === "string") nextHopAttr = parseIpv4(a.nextHop, "nextHop");
  } else if (hasMpReach) {
    mpNextHop = a.nextHop;
  } else if (a.nextHop !== undefined) {
    if (typeof a.nextHop !== "string" || isIpv6(a.nextHop)) throw new Error("nextHop: an IPv6 next hop needs IPv6 prefixes or mpReach");
    nextHopAttr = parseIpv4(a.nextHop, "nextHop");
  }
  if (hasMpReach && mpNextHop === undefined) throw new Error("MP_REACH_NLRI needs attributes.nextHop");

  const present = new Map<number, () => void>();
  const ext = new Set(msg.extendedLength ?? []);
  const partial = new Set(msg.partial ?? []);
  const flagsOf = (code: number, base: number) => (ext.has(code) ? base | 0x10 : base) | (partial.has(code) && base === 0xc0 ? 0x20 : 0);
  const attr = (code: number, base: number, values: number[]) => () => w.rec(T_ATTR, [code, flagsOf(code, base), ...values]);
  for (const [key, code] of ATTRIBUTE_CODES) {
    const v = a[key];
    if (v === undefined || (key === "atomicAggregate" && v !== true)) continue;
    switch (code) {
      case 1: {
        const o = ORIGINS.indexOf(v as string);
        if (o < 0) throw new Error(`origin ${JSON.stringify(v)}: expected IGP, EGP or INCOMPLETE`);
        present.set(code, attr(code, 0x40, [o]));
        break;
      }
      case 2: present.set(code, attr(code, 0x40, segmentWords(v as AsPathSegment[], "asPath"))); break;
      case 17: present.set(code, attr(code, 0xc0, segmentWords(v as AsPathSegment[], "as4Path"))); break;
      case 4: present.set(code, attr(code, 0x80, [u32(v, "med")])); break;
      case 5: present.set(code, attr(code, 0x40, [u32(v, "localPref")])); break;
      case 6: present.set(code, attr(code, 0x40, [])); break;
      case 7: case 18: {
        const g = v as { asn: number; address: string };
        present.set(code, attr(code, 0xc0, [u32(g.asn, key), parseIpv4(g.address, key)]));
        break;
      }
      case 8: present.set(code, attr(code, 0xc0, (v as string[]).map(community))); break;
      case 9: present.set(code, attr(code, 0x80, [parseIpv4(v as string, "originatorId")])); break;
      case 10: present.set(code, attr(code, 0x80, (v as string[]).map((s) => parseIpv4(s, "clusterList")))); break;
      case 16: {
        const list = v as string[];
        const bad = list.find((s) => s.length !== 16);
        if (bad !== undefined) throw new Error(`extendedCommunities: ${JSON.stringify(bad)} is not 8 bytes (16 hex digits)`);
        const bytes = fromHex(list.join(""), "extendedCommunities");
        present.set(code, attr(code, 0xc0, [w.blob(bytes), bytes.length]));
        break;
      }
      case 32: present.set(code, attr(code, 0xc0, (v as string[]).flatMap(largeCommunity))); break;
    }
  }
  if (nextHopAttr !== undefined) present.set(3, attr(3, 0x40, [nextHopAttr]));
  if (hasMpReach) present.set(14, attr(14, 0x80, [reachAfi, msg.mpReach?.safi ?? 1, ...nextHopWords(mpNextHop!, "nextHop")]));
  if (hasMpUnreach) present.set(15, attr(15, 0x80, [unreachAfi, msg.mpUnreach?.safi ?? 1]));
  const rawByCode = new Map<number, () => void>();
  for (const u of unknown) {
    const bytes = fromHex(u.hex, `unknown attribute ${u.code}`);
    rawByCode.set(u.code, () => w.rec(T_RAW, [u32(u.code, "unknown code", 255), u32(u.flags, "unknown flags", 255), w.blob(bytes), bytes.length]));
  }
  const all = new Map([...present, ...rawByCode]);
  const order = msg.attributeOrder?.filter((c) => all.has(c)) ?? [];
  for (const c of [...all.keys()].sort((x, y) => x - y)) if (!order.includes(c)) order.push(c);
  for (const c of order) all.get(c)!();

  const section = (s: number, afi: number, p: Prefixes) => {
    const entries = afi === 1 ? p.v4 : p.v6;
    const count = afi === 1 ? p.v4Count : p.v6Count;
    w.rec(T_PFX, [s, afi, count, ...entries]);
  };
  if (!v4InMpUnreach && wd.v4Count > 0) section(0, 1, wd);
  if (!v4InMpReach && nl.v4Count > 0) section(1, 1, nl);
  if (hasMpUnreach) section(2, unreachAfi, wd);
  if (hasMpReach) section(3, reachAfi, nl);
}

function capabilityRecord(w: RecordWriter, c: Record<string, any>): void {
  let code: number | undefined = c.code;
  if (code === undefined) {
    const found = Object.entries(CAPABILITY_NAMES).find(([, n]) => n === c.name);
    if (!found) throw new Error(`capability ${JSON.stringify(c.name)}: unknown name and no code`);
    code = Number(found[0]);
  }
  const fam = (f: Record<string, any>, what: string, safiMax = 255): [number, number] => {
    if (f.afi !== undefined) return [u32(f.afi, `${what} afi`, 0xffff), u32(f.safi, `${what} safi`, safiMax)];
    const codes = familyCodes(f.family);
    if (!codes) throw new Error(`${what}: unknown family ${JSON.stringify(f.family)}`);
    return codes;
  };
  const head = [code, 0, 0];
  if (typeof c.hex === "string") {
    // Raw bytes win: unknown capabilities, and known ones the JSON could not show faithfully.
    const bytes = fromHex(c.hex, `capability ${code}`);
    if (bytes.length > 255) throw new Error(`capability ${code}: value over 255 bytes`);
    w.rec(T_CAP, [u32(code, "capability code", 255), w.blob(bytes), bytes.length]);
    return;
  }
  switch (code) {
    case 1: w.rec(T_CAP, [...head, ...fam(c, "multiprotocol")]); return;
    case 2: case 6: case 70: case 128: w.rec(T_CAP, head); return;
    case 65: w.rec(T_CAP, [...head, u32(c.asn, "4-octet-as asn")]); return;
    case 64: {
      const flags = c.flags ?? ((c.restarting ? 8 : 0) | (c.notification ? 4 : 0));
      const fams = (c.families ?? []).flatMap((f: Record<string, any>) => [...fam(f, "graceful-restart"), f.flags ?? (f.forwarding ? 0x80 : 0)]);
      w.rec(T_CAP, [...head, flags, u32(c.restartTime ?? 0, "restartTime", 0xfff), ...fams]);
      return;
    }
    case 69: {
      const modes: Record<string, number> = { receive: 1, send: 2, both: 3 };
      const fams = (c.families ?? []).flatMap((f: Record<string, any>) => [...fam(f, "add-path"), typeof f.sendReceive === "number" ? f.sendReceive : modes[f.sendReceive] ?? 3]);
      w.rec(T_CAP, [...head, ...fams]);
      return;
    }
    case 5: {
      const fams = (c.families ?? []).flatMap((f: Record<string, any>) => [...fam(f, "extended-nexthop", 0xffff), u32(f.nextHopAfi ?? 2, "nextHopAfi", 0xffff)]);
      w.rec(T_CAP, [...head, ...fams]);
      return;
    }
    case 71: {
      // Long-lived graceful restart: the core has no layout for it, so its bytes go as a blob.
      const fams: Record<string, any>[] = c.families ?? [];
      if (fams.length > 36) throw new Error("long-lived-graceful-restart: at most 36 families fit in a capability");
      const bytes = new Uint8Array(7 * fams.length);
      fams.forEach((f, i) => {
        const [afi, safi] = fam(f, "long-lived-graceful-restart");
        const stale = u32(f.staleTime ?? 0, "long-lived-graceful-restart staleTime", 0xffffff);
        bytes.set([afi >> 8, afi & 0xff, safi, f.flags ?? (f.forwarding ? 0x80 : 0), stale >> 16, (stale >> 8) & 0xff, stale & 0xff], 7 * i);
      });
      w.rec(T_CAP, [code, w.blob(bytes), bytes.length]);
      return;
    }
    case 73: {
      const host = new TextEncoder().encode(c.hostname ?? "");
      const domain = new TextEncoder().encode(c.domain ?? "");
      if (host.length > 255 || domain.length > 255) throw new Error("fqdn: hostname and domain are at most 255 bytes");
      w.rec(T_CAP, [...head, w.blob(host), host.length, w.blob(domain), domain.length]);
      return;
    }
  }
  w.rec(T_CAP, [u32(code, "capability code", 255), 0, 0]);
}

function records(msg: DecodedMessage): RecordWriter {
  if (msg.error) throw new Error(`cannot encode a message that failed to decode: ${msg.error.message}`);
  const type = MESSAGE_TYPE_CODES[msg.type ?? ""];
  if (!type) throw new Error(`unknown message type ${JSON.stringify(msg.type)}`);
  const w = new RecordWriter();
  w.rec(T_MSG, [type, 0, 0]);
  switch (type) {
    case 1: {
      const asn = u32(msg.asn ?? msg.myAs, "asn");
      const myAs = msg.myAs ?? (asn > 0xffff ? 23456 : asn);
      w.rec(T_OPEN, [
        msg.version ?? 4, u32(myAs, "myAs", 0xffff), u32(msg.holdTime ?? 90, "holdTime", 0xffff),
        parseIpv4(msg.routerId ?? "", "routerId"), msg.extendedOptionalParameters ? 1 : 0, msg.singleCapabilityParameter ? 1 : 0,
      ]);
      for (const c of msg.capabilities ?? []) capabilityRecord(w, c);
      break;
    }
    case 2: updateRecords(w, msg); break;
    case 3: {
      let data = fromHex(msg.data ?? "", "data");
      if (msg.data === undefined && msg.communication !== undefined) {
        const text = new TextEncoder().encode(msg.communication);
        if (text.length > 255) throw new Error("communication: at most 255 bytes (RFC 9003)");
        data = new Uint8Array([text.length, ...text]);
      }
      w.rec(T_NOTIF, [u32(msg.code, "code", 255), u32(msg.subcode ?? 0, "subcode", 255), w.blob(data), data.length]);
      break;
    }
    case 5: {
      const orf = fromHex(msg.orf ?? "", "orf");
      w.rec(T_RR, [u32(msg.afi, "afi", 0xffff), u32(msg.safi, "safi", 255), u32(msg.subtype ?? 0, "subtype", 255), w.blob(orf), orf.length]);
      break;
    }
  }
  return w;
}

/**
 * Encodes one message from its JSON (the shape decodeMessages returns), so
 * JSON -> bytes -> JSON round-trips. Throws on a JSON value that cannot be
 * encoded, or a message over the size limit (4096, or 65535 with extendedMessage).
 */
export function encodeMessage(core: Core, msg: DecodedMessage, opts: CodecOptions = {}): Uint8Array {
  const { bytes, recOffset, recLen } = records(msg).layout();
  if (bytes.length > 120000) throw new Error(`${msg.type}: too large to encode`);
  const e = core.exports;
  const inPtr = e.codecInputPtr(bytes.length) as number;
  core.u8().set(bytes, inPtr);
  const n = e.codecEncode(recOffset, recLen, sessionFlags(opts)) as number;
  if (n === -1) throw new Error(`${msg.type}: longer than the maximum message size`);
  if (n < 0) throw new Error(`${msg.type}: the core rejected the encoding records (${n})`);
  const out = e.codecOutputPtr() as number;
  return core.u8().slice(out, out + n);
}

/** Packs prefixes sharing attributes into UPDATEs through the core's builder (see ./codec.ts encodeUpdates). */
export function encodeUpdates(
  core: Core,
  prefixes: string[],
  attributes: UpdateAttributes | undefined,
  opts: CodecOptions & { withdraw?: boolean; pathIds?: number[] } = {},
): Uint8Array[] {
  const p = splitPrefixes(prefixes, opts.pathIds, "prefixes");
  if (p.v4Count > 0 && p.v6Count > 0) throw new Error("prefixes: one address family per call");
  if (prefixes.length === 0) return [];
  const a: UpdateAttributes = attributes ?? {};
  const withdraw = opts.withdraw === true;
  const v6 = p.v6Count > 0;
  const nh = a.nextHop;
  const mpNextHop = !withdraw && nh !== undefined && (v6 || Array.isArray(nh) || isIpv6(nh));
  if (!withdraw && nh === undefined) throw new Error("attributes.nextHop is required to announce");
  // The attribute bytes: an UPDATE without NLRI, cut after its attribute length field.
  let attrBytes = new Uint8Array(0);
  if (!withdraw) {
    const { nextHop, ...rest } = a;
    const msg = encodeMessage(core, { type: "UPDATE", withdrawn: [], nlri: [], attributes: mpNextHop ? rest : { ...rest, nextHop } }, opts);
    const len = (msg[21] << 8) | msg[22];
    attrBytes = msg.slice(23, 23 + len);
  }
  let nhBytes = new Uint8Array(0);
  if (mpNextHop) {
    const words = nextHopWords(nh!, "nextHop").slice(1);
    nhBytes = new Uint8Array(words.length * 4);
    words.forEach((w, i) => new DataView(nhBytes.buffer).setUint32(4 * i, w));
  }
  const entries = v6 ? p.v6 : p.v4;
  const count = v6 ? p.v6Count : p.v4Count;
  const entrySize = v6 ? 24 : 12;
  const nhOff = attrBytes.length;
  const entriesOff = (nhOff + nhBytes.length + 3) & ~3;
  const input = new Uint8Array(entriesOff + entries.length * 4);
  input.set(attrBytes, 0);
  input.set(nhBytes, nhOff);
  const dv = new DataView(input.buffer);
  entries.forEach((w, i) => dv.setUint32(entriesOff + 4 * i, w >>> 0, true));
  const e = core.exports;
  const inPtr = e.codecInputPtr(input.length) as number;
  core.u8().set(input, inPtr);
  const flags = sessionFlags(opts);
  const out: Uint8Array[] = [];
  for (let done = 0; done < count; ) {
    const n = e.codecBuildUpdate(v6 ? 2 : 1, withdraw ? 1 : 0, 0, attrBytes.length, nhOff, nhBytes.length,
      entriesOff + done * entrySize, count - done, flags) as number;
    if (n === 0) throw new Error("attributes too large: no prefix fits in one UPDATE");
    const ptr = e.codecOutputPtr() as number;
    out.push(core.u8().slice(ptr, ptr + (e.codecBuiltLength() as number)));
    done += n;
  }
  return out;
}
