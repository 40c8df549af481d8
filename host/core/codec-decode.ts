// Decoding through the core (assembly/bgp): records -> "sart decode JSON".
// Runtime-agnostic (Node, Bun, browsers): every function takes the Core.
// Node and Bun code imports ./codec.ts, which supplies the process-wide core.
import type { Core } from "./wasm.ts";
import {
  ATTRIBUTE_NAMES, CAPABILITY_NAMES, MESSAGE_TYPES, ORIGINS, REASONS, SEGMENT_TYPES,
  codeName, familyName, sessionFlags, subcodeName,
} from "./codec-names.ts";
import { hex, ipv4, ipv6, utf8 } from "./codec-text.ts";
import type { AsPathSegment, Capability, CodecError, CodecOptions, DecodedMessage, UpdateAttributes } from "./codec-types.ts";

const T_MSG = 1, T_ERR = 2, T_OPEN = 3, T_CAP = 4, T_UPD = 5, T_PFX = 6, T_ATTR = 7, T_RAW = 8, T_NOTIF = 9, T_RR = 10;
// Error kinds (assembly/bgp/wire.ts K_*): 0 is a NOTIFICATION (session reset), the default below.
const K_TREAT_AS_WITHDRAW = 1, K_DISCARD = 2, K_FRAMING = 3;

function reasonText(reason: number, attr: number): string {
  const text = REASONS[reason] ?? `error ${reason}`;
  const name = attr ? ATTRIBUTE_NAMES[attr] ?? `attribute ${attr}` : "";
  return name ? `${name}: ${text}` : text;
}

/** Reads a record stream (core memory) into JSON messages. `input` holds the decoded bytes. */
class RecordReader {
  private pos: number;
  private readonly end: number;
  private readonly dv: DataView;
  framingError = false;

  constructor(core: Core, ptr: number, len: number, private readonly input: Uint8Array) {
    this.dv = core.dv();
    this.pos = ptr;
    this.end = ptr + len;
  }

  private w(i: number): number {
    return this.dv.getUint32(i, true);
  }

  private raw(offset: number, length: number): Uint8Array {
    return this.input.subarray(offset, offset + length);
  }

  messages(): DecodedMessage[] {
    const out: DecodedMessage[] = [];
    let msg: DecodedMessage | undefined;
    let upd: UpdateState | undefined;
    while (this.pos < this.end) {
      const h = this.w(this.pos);
      const tag = h >>> 24;
      const n = h & 0xffffff;
      const p = this.pos + 4;
      this.pos = p + n * 4;
      if (tag === T_MSG) {
        if (upd && msg) upd.finish(msg);
        upd = undefined;
        const type = this.w(p);
        msg = { type: MESSAGE_TYPES[type] ?? `type ${type}`, length: this.w(p + 4) };
        out.push(msg);
        continue;
      }
      if (!msg) continue;
      switch (tag) {
        case T_ERR: this.error(msg, p); break;
        case T_OPEN: this.open(msg, p); break;
        case T_CAP: {
          const cap = this.capability(p, n);
          msg.capabilities!.push(cap);
          if (cap.code === 65) msg.asn = cap.asn as number; // the 4-octet AS capability carries the real AS
          break;
        }
        case T_UPD: upd = new UpdateState(); msg.withdrawn = []; msg.nlri = []; msg.attributes = {}; break;
        case T_PFX: upd?.prefixes(this.dv, p); break;
        case T_ATTR: upd?.attribute(this.dv, p, n, msg.attributes!, (o, l) => this.raw(o, l)); break;
        case T_RAW: upd?.rawAttribute(this.dv, p, msg, (o, l) => this.raw(o, l)); break;
        case T_NOTIF: this.notification(msg, p); break;
        case T_RR: this.routeRefresh(msg, p); break;
      }
    }
    if (upd && msg) upd.finish(msg);
    return out;
  }

  private error(msg: DecodedMessage, p: number): void {
    const kind = this.w(p);
    const code = this.w(p + 4);
    const subcode = this.w(p + 8);
    const message = reasonText(this.w(p + 12), this.w(p + 16));
    const dataLen = this.w(p + 20);
    if (kind === K_DISCARD) {
      (msg.discardedAttributes ??= []).push({ code: this.w(p + 16), message });
      return;
    }
    const err: CodecError = { code, subcode, message };
    if (dataLen > 0) err.data = hex(new Uint8Array(this.dv.buffer, p + 24, dataLen).slice());
    if (kind === K_TREAT_AS_WITHDRAW) {
      msg.treatAsWithdraw = { code, subcode, message };
      return;
    }
    if (kind === K_FRAMING) this.framingError = true;
    // A message that fails carries only type, length and the error.
    for (const k of Object.keys(msg)) if (k !== "type" && k !== "length") delete (msg as Record<string, unknown>)[k];
    if (msg.type?.startsWith("type ")) delete msg.type; // an unknown type is not a known type
    msg.error = err;
  }

  private open(msg: DecodedMessage, p: number): void {
    msg.version = this.w(p);
    msg.myAs = this.w(p + 4);
    msg.asn = msg.myAs;
    msg.holdTime = this.w(p + 8);
    msg.routerId = ipv4(this.w(p + 12));
    msg.capabilities = [];
    if (this.w(p + 16)) msg.extendedOptionalParameters = true;
    if (this.w(p + 20)) msg.singleCapabilityParameter = true;
  }

  private capability(p: number, n: number): Capability {
    const code = this.w(p);
    const value = this.raw(this.w(p + 4), this.w(p + 8));
    const name = CAPABILITY_NAMES[code] ?? "unknown";
    const at = (i: number) => this.w(p + 12 + 4 * i);
    const triples = (from: number) => {
      const list: number[][] = [];
      for (let i = from; i + 2 < n - 3; i += 3) list.push([at(i), at(i + 1), at(i + 2)]);
      return list;
    };
    switch (code) {
      case 1: return { code, name, afi: at(0), safi: at(1), family: familyName(at(0), at(1)) };
      case 65: return { code, name, asn: at(0) };
      case 64: {
        const flags = at(0);
        return {
          code, name, flags, restartTime: at(1), restarting: (flags & 8) !== 0, notification: (flags & 4) !== 0,
          families: triples(2).map(([afi, safi, f]) => ({ afi, safi, family: familyName(afi, safi), forwarding: (f & 0x80) !== 0, flags: f })),
        };
      }
      case 69: return {
        code, name,
        families: triples(0).map(([afi, safi, sr]) => ({ afi, safi, family: familyName(afi, safi), sendReceive: SEND_RECEIVE[sr] ?? sr })),
      };
      case 5: return {
        code, name,
        families: triples(0).map(([afi, safi, nextHopAfi]) => ({ afi, safi, family: familyName(afi, safi), nextHopAfi })),
      };
      case 73: {
        const host = this.raw(at(0), at(1));
        const domain = this.raw(at(2), at(3));
        const cap: Capability = { code, name, hostname: utf8(host), domain: utf8(domain) };
        if (!validUtf8(host) || !validUtf8(domain)) cap.hex = hex(value); // keep the exact bytes
        return cap;
      }
      case 71: return llgr(code, name, value);
      case 2: case 6: case 70: case 128: return { code, name };
    }
    // Named or not, a capability the codec does not parse keeps its bytes.
    return { code, name, hex: hex(value) };
  }

  private notification(msg: DecodedMessage, p: number): void {
    const code = this.w(p);
    const subcode = this.w(p + 4);
    const data = this.raw(this.w(p + 8), this.w(p + 12));
    msg.code = code;
    msg.subcode = subcode;
    msg.codeName = codeName(code);
    msg.subcodeName = subcodeName(code, subcode);
    msg.data = hex(data);
    // RFC 9003: Cease / Administrative Shutdown or Reset carries a length-prefixed UTF-8 message.
    if (code === 6 && (subcode === 2 || subcode === 4) && data.length > 0 && data[0] > 0 && data[0] + 1 <= data.length) {
      msg.communication = utf8(data.subarray(1, 1 + data[0]));
    }
  }

  private routeRefresh(msg: DecodedMessage, p: number): void {
    msg.afi = this.w(p);
    msg.safi = this.w(p + 4);
    msg.subtype = this.w(p + 8);
    const orfLen = this.w(p + 16);
    if (orfLen > 0) msg.orf = hex(this.raw(this.w(p + 12), orfLen));
  }
}

function validUtf8(b: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

const SEND_RECEIVE: Record<number, string> = { 1: "receive", 2: "send", 3: "both" };

/** Long-lived graceful restart (RFC 9494): per family AFI(2) SAFI(1) flags(1) stale time(3, seconds). */
function llgr(code: number, name: string, v: Uint8Array): Capability {
  if (v.length % 7 !== 0) return { code, name, hex: hex(v) };
  const families = [];
  for (let i = 0; i < v.length; i += 7) {
    const afi = (v[i] << 8) | v[i + 1];
    const safi = v[i + 2];
    const flags = v[i + 3];
    families.push({ afi, safi, family: familyName(afi, safi), forwarding: (flags & 0x80) !== 0, flags, staleTime: (v[i + 4] << 16) | (v[i + 5] << 8) | v[i + 6] });
  }
  return { code, name, families };
}

function segments(dv: DataView, p: number, words: number): AsPathSegment[] {
  const list: AsPathSegment[] = [];
  let i = 0;
  while (i < words) {
    const type = dv.getUint32(p + 4 * i, true);
    const count = dv.getUint32(p + 4 * i + 4, true);
    const asns: number[] = [];
    for (let k = 0; k < count; k++) asns.push(dv.getUint32(p + 4 * (i + 2 + k), true));
    list.push({ type: SEGMENT_TYPES[type] ?? `type ${type}`, asns });
    i += 2 + count;
  }
  return list;
}

/** Collects an UPDATE's records; orders the JSON at the end. */
class UpdateState {
  // Per record section (0 withdrawn field, 1 NLRI field, 2 MP_UNREACH, 3 MP_REACH): the core may emit them in any order.
  sections: { prefixes: string[]; ids: number[] }[] = [0, 1, 2, 3].map(() => ({ prefixes: [], ids: [] }));
  anyPathId = false;
  order: number[] = [];
  extended: number[] = [];
  partial: number[] = [];
  mpNextHop?: string | string[];
  nextHopAttr?: string;

  prefixes(dv: DataView, p: number): void {
    const section = dv.getUint32(p, true);
    const afi = dv.getUint32(p + 4, true);
    const count = dv.getUint32(p + 8, true);
    const into = this.sections[section & 3].prefixes;
    const ids = this.sections[section & 3].ids;
    let e = p + 12;
    if (afi === 1) {
      for (let i = 0; i < count; i++, e += 12) {
        const id = dv.getUint32(e, true);
        if (id) this.anyPathId = true;
        ids.push(id);
        into.push(`${ipv4(dv.getUint32(e + 4, true))}/${dv.getUint32(e + 8, true)}`);
      }
    } else {
      for (let i = 0; i < count; i++, e += 24) {
        const id = dv.getUint32(e, true);
        if (id) this.anyPathId = true;
        ids.push(id);
        const w = [dv.getUint32(e + 8, true), dv.getUint32(e + 12, true), dv.getUint32(e + 16, true), dv.getUint32(e + 20, true)];
        into.push(`${ipv6(w)}/${dv.getUint32(e + 4, true)}`);
      }
    }
  }

  private noteAttr(code: number, flags: number): void {
    this.order.push(code);
    if (flags & 0x10) this.extended.push(code); // the core clears the bit where the length required it
    if (flags & 0x20 && code !== 14 && code !== 15) this.partial.push(code);
  }

  attribute(dv: DataView, p: number, n: number, a: UpdateAttributes, raw: (o: number, l: number) => Uint8Array): void {
    const code = dv.getUint32(p, true);
    const flags = dv.getUint32(p + 4, true);
    const at = (i: number) => dv.getUint32(p + 8 + 4 * i, true);
    const vals = n - 2;
    switch (code) {
      case 1: a.origin = ORIGINS[at(0)]; break;
      case 2: a.asPath = segments(dv, p + 8, vals); break;
      case 3: this.nextHopAttr = ipv4(at(0)); break;
      case 4: a.med = at(0); break;
      case 5: a.localPref = at(0); break;
      case 6: a.atomicAggregate = true; break;
      case 7: a.aggregator = { asn: at(0), address: ipv4(at(1)) }; break;
      case 8: {
        const list: string[] = [];
        for (let i = 0; i < vals; i++) list.push(`${at(i) >>> 16}:${at(i) & 0xffff}`);
        a.communities = list;
        break;
      }
      case 9: a.originatorId = ipv4(at(0)); break;
      case 10: {
        const list: string[] = [];
        for (let i = 0; i < vals; i++) list.push(ipv4(at(i)));
        a.clusterList = list;
        break;
      }
      case 14: {
        // The next hop's words follow AFI, SAFI and its length (4, 16 or 32: global + link-local).
        const nhLen = at(2);
        const v6 = (i: number) => ipv6([at(i), at(i + 1), at(i + 2), at(i + 3)]);
        if (nhLen === 4) this.mpNextHop = ipv4(at(3));
        else if (nhLen === 16) this.mpNextHop = v6(3);
        else this.mpNextHop = [v6(3), v6(7)];
        this.mp = { ...this.mp, reach: { afi: at(0), safi: at(1) } };
        break;
      }
      case 15: this.mp = { ...this.mp, unreach: { afi: at(0), safi: at(1) } }; break;
      case 16: {
        const bytes = raw(at(0), at(1));
        const list: string[] = [];
        for (let i = 0; i + 8 <= bytes.length; i += 8) list.push(hex(bytes.subarray(i, i + 8)));
        a.extendedCommunities = list;
        break;
      }
      case 17: a.as4Path = segments(dv, p + 8, vals); break;
      case 18: a.as4Aggregator = { asn: at(0), address: ipv4(at(1)) }; break;
      case 32: {
        const list: string[] = [];
        for (let i = 0; i + 2 < vals; i += 3) list.push(`${at(i)}:${at(i + 1)}:${at(i + 2)}`);
        a.largeCommunities = list;
        break;
      }
    }
    this.noteAttr(code, flags);
  }

  mp: { reach?: { afi: number; safi: number }; unreach?: { afi: number; safi: number } } = {};
  /** An MP_UNREACH_NLRI of a family the codec does not parse, with no prefixes. */
  emptyUnreach = false;

  /**
   * The family an End-of-RIB marker (RFC 4724 2) is for: an UPDATE with nothing in it is
   * IPv4 unicast's; one with only an empty MP_UNREACH_NLRI is that family's.
   */
  private endOfRib(msg: DecodedMessage): string | undefined {
    if (msg.treatAsWithdraw || msg.discardedAttributes || msg.withdrawn!.length > 0 || msg.nlri!.length > 0) return undefined;
    if (this.order.length === 0) return "ipv4-unicast";
    const u = this.mp.unreach;
    const parsedFamily = !(msg.attributes!.unknown ?? []).some((a) => a.code === 15);
    if (this.order.length === 1 && this.order[0] === 15 && u && (parsedFamily || this.emptyUnreach)) return familyName(u.afi, u.safi);
    return undefined;
  }

  rawAttribute(dv: DataView, p: number, msg: DecodedMessage, raw: (o: number, l: number) => Uint8Array): void {
    const code = dv.getUint32(p, true);
    const flags = dv.getUint32(p + 4, true);
    const bytes = raw(dv.getUint32(p + 8, true), dv.getUint32(p + 12, true));
    if (code === 14 || code === 15) {
      // An MP attribute of a family the codec does not parse: its family, and the bytes as unknown.
      const afi = (bytes[0] << 8) | bytes[1];
      const safi = bytes[2];
      if (code === 14) this.mp = { ...this.mp, reach: { afi, safi } };
      else this.mp = { ...this.mp, unreach: { afi, safi } };
      if (code === 15 && bytes.length === 3) this.emptyUnreach = true;
    }
    (msg.attributes!.unknown ??= []).push({ code, flags, hex: hex(bytes) });
    this.noteAttr(code, flags);
  }

  finish(msg: DecodedMessage): void {
    if (msg.error) return;
    const a = msg.attributes!;
    const [wd, nl, mpWd, mpNl] = this.sections;
    msg.withdrawn = wd.prefixes.concat(mpWd.prefixes);
    msg.nlri = nl.prefixes.concat(mpNl.prefixes);
    if (this.anyPathId) {
      msg.pathIds = nl.ids.concat(mpNl.ids);
      msg.withdrawnPathIds = wd.ids.concat(mpWd.ids);
    }
    if (this.nextHopAttr !== undefined) {
      a.nextHop = this.nextHopAttr;
      if (this.mpNextHop !== undefined) msg.mpNextHop = this.mpNextHop;
    } else if (this.mpNextHop !== undefined) {
      a.nextHop = this.mpNextHop;
    }
    // JSON attribute order: the contract's order, whatever the wire order was.
    const ordered: UpdateAttributes = {};
    for (const k of ATTRIBUTE_KEYS) if ((a as Record<string, unknown>)[k] !== undefined) (ordered as Record<string, unknown>)[k] = (a as Record<string, unknown>)[k];
    msg.attributes = ordered;
    if (this.mp.reach) msg.mpReach = this.mp.reach;
    if (this.mp.unreach) msg.mpUnreach = this.mp.unreach;
    const sorted = [...this.order].sort((x, y) => x - y);
    if (sorted.some((c, i) => c !== this.order[i])) msg.attributeOrder = this.order;
    if (this.extended.length > 0) msg.extendedLength = this.extended;
    const partial = this.partial.filter((c) => !(msg.attributes!.unknown ?? []).some((u) => u.code === c));
    if (partial.length > 0) msg.partial = partial;
    const eor = this.endOfRib(msg);
    if (eor) msg.endOfRib = eor;
    // Put the outcome fields last for readability.
    for (const k of ["treatAsWithdraw", "discardedAttributes"] as const) {
      const v = msg[k];
      if (v !== undefined) {
        delete msg[k];
        (msg as Record<string, unknown>)[k] = v;
      }
    }
  }
}

const ATTRIBUTE_KEYS = [
  "origin", "asPath", "nextHop", "med", "localPref", "atomicAggregate", "aggregator", "communities",
  "largeCommunities", "extendedCommunities", "originatorId", "clusterList", "as4Path", "as4Aggregator", "unknown",
];

/** Copies bytes into the core's input region (one copy) and returns the record reader over the result. */
function runDecode(core: Core, bytes: Uint8Array, flags: number): { consumed: number; reader: RecordReader } {
  const e = core.exports;
  const inPtr = e.codecInputPtr(bytes.length) as number;
  core.u8().set(bytes, inPtr);
  const consumed = e.codecDecode(bytes.length, flags) as number;
  const reader = new RecordReader(core, e.codecOutputPtr() as number, e.codecOutputLen() as number, bytes);
  return { consumed, reader };
}

/**
 * The hot path without JSON: decodes the whole messages in bytes inside the
 * core (one copy into linear memory) and returns the bytes consumed and how
 * many messages and prefixes the core decoded. Used by the benchmark.
 */
export function decodeCounts(core: Core, bytes: Uint8Array, flags: number): { consumed: number; messages: number; prefixes: number } {
  const e = core.exports;
  const inPtr = e.codecInputPtr(bytes.length) as number;
  core.u8().set(bytes, inPtr);
  const consumed = e.codecDecode(bytes.length, flags) as number;
  return { consumed, messages: e.codecDecodedMessages() as number, prefixes: e.codecDecodedPrefixes() as number };
}

/**
 * Decodes a buffer of whole BGP messages. Never throws on malformed input: a
 * message that fails carries `error`; a framing error (bad marker or length)
 * or a truncated last message ends the list.
 */
export function decodeMessages(core: Core, bytes: Uint8Array, opts: CodecOptions = {}): DecodedMessage[] {
  const { consumed, reader } = runDecode(core, bytes, sessionFlags(opts));
  const out = reader.messages();
  if (!reader.framingError && consumed < bytes.length) out.push(truncated(bytes.subarray(consumed)));
  return out;
}

function truncated(tail: Uint8Array): DecodedMessage {
  const m: DecodedMessage = {};
  if (tail.length >= 19) {
    m.type = MESSAGE_TYPES[tail[18]] ?? `type ${tail[18]}`;
    m.length = (tail[16] << 8) | tail[17];
  }
  const need = m.length ?? 19;
  m.error = { code: 1, subcode: 2, message: `truncated message: ${tail.length} of ${need} bytes` };
  return m;
}

/**
 * Incremental decoding of a byte stream (a TCP session, a pcap's reassembled
 * payload): keeps a partial message between pushes. Options can change
 * between pushes (e.g. 4-octet AS / add-path once both OPENs are seen).
 */
export class StreamDecoder {
  private tail: Uint8Array = new Uint8Array(0);
  private failed = false;

  constructor(private readonly core: Core, public options: CodecOptions = {}) {}

  /** Bytes held back waiting for the rest of a message. */
  get pending(): number {
    return this.tail.length;
  }

  /** True once a framing error ended the stream; later pushes return nothing. */
  get ended(): boolean {
    return this.failed;
  }

  push(chunk: Uint8Array): DecodedMessage[] {
    if (this.failed) return [];
    let bytes = chunk;
    if (this.tail.length > 0) {
      bytes = new Uint8Array(this.tail.length + chunk.length);
      bytes.set(this.tail);
      bytes.set(chunk, this.tail.length);
    }
    const { consumed, reader } = runDecode(this.core, bytes, sessionFlags(this.options));
    const out = reader.messages();
    if (reader.framingError) {
      this.failed = true;
      this.tail = new Uint8Array(0);
    } else {
      this.tail = bytes.slice(consumed);
    }
    return out;
  }

  /** Ends the stream: a held-back partial message is reported as truncated. */
  end(): DecodedMessage[] {
    if (this.failed || this.tail.length === 0) return [];
    const m = truncated(this.tail);
    this.tail = new Uint8Array(0);
    return [m];
  }
}

/**
 * RFC 5492 4: the 2/7 Unsupported Capability error a speaker sends when the
 * peer's OPEN lacks capabilities it requires (codes, e.g. 65 for 4-octet AS).
 * The NOTIFICATION data lists the missing capabilities (code, length 0).
 * Returns undefined when nothing is missing.
 */
export function checkRequiredCapabilities(open: DecodedMessage, required: number[]): CodecError | undefined {
  const have = new Set((open.capabilities ?? []).map((c) => c.code));
  const missing = required.filter((c) => !have.has(c));
  if (missing.length === 0) return undefined;
  const names = missing.map((c) => CAPABILITY_NAMES[c] ?? `capability ${c}`).join(", ");
  return { code: 2, subcode: 7, message: `unsupported capability: peer lacks ${names}`, data: hex(new Uint8Array(missing.flatMap((c) => [c, 0]))) };
}
