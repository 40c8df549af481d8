// The few messages the session layer builds and reads itself (OPEN,
// KEEPALIVE, NOTIFICATION, ROUTE-REFRESH) and the framing used before a
// session is Established. UPDATEs are built and parsed in the core.
import { decodeMessages, encodeMessage, type DecodedMessage } from "../core/codec.ts";
import { codeName, subcodeName } from "../core/codec-names.ts";
import type { Family } from "./config.ts";

export const MSG_OPEN = 1;
export const MSG_UPDATE = 2;
export const MSG_NOTIFICATION = 3;
export const MSG_KEEPALIVE = 4;
export const MSG_ROUTE_REFRESH = 5;
export const MESSAGE_NAMES: Record<number, string> = { 1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route_refresh" };

export const FAMILY_CODES: Record<Family, [number, number]> = { "ipv4-unicast": [1, 1], "ipv6-unicast": [2, 1] };

export function familyOf(afi: number, safi: number): Family | undefined {
  if (safi !== 1) return undefined;
  return afi === 1 ? "ipv4-unicast" : afi === 2 ? "ipv6-unicast" : undefined;
}

function header(len: number, type: number): Uint8Array {
  const b = new Uint8Array(len);
  b.fill(0xff, 0, 16);
  b[16] = len >> 8;
  b[17] = len & 0xff;
  b[18] = type;
  return b;
}

export const KEEPALIVE = header(19, MSG_KEEPALIVE);

export function notification(code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = header(21 + data.length, MSG_NOTIFICATION);
  b[19] = code;
  b[20] = subcode;
  b.set(data, 21);
  return b;
}

/** "6/2 (Cease: Administrative Shutdown)", with the shutdown communication (RFC 9003) when there is one. */
export function describeNotification(code: number, subcode: number, communication?: string): string {
  return `${code}/${subcode} (${codeName(code)}: ${subcodeName(code, subcode)})${communication ? `: ${JSON.stringify(communication)}` : ""}`;
}

/** RFC 2918 / RFC 7313: subtype 0 request, 1 BoRR, 2 EoRR. */
export function routeRefresh(afi: number, safi: number, subtype = 0): Uint8Array {
  const b = header(23, MSG_ROUTE_REFRESH);
  b[19] = afi >> 8;
  b[20] = afi & 0xff;
  b[21] = subtype;
  b[22] = safi;
  return b;
}

export interface OpenParams {
  asn: number;
  holdTime: number;
  routerId: string;
  families: Family[];
  /** Graceful restart: our restart time, and whether we are restarting (R bit and F bits). */
  restartTime: number;
  restarting: boolean;
  /** RFC 9072 extended optional parameters format. */
  extendedOptionalParameters?: boolean;
}

export function openMessage(p: OpenParams): Uint8Array {
  const fams = p.families.map((f) => ({ afi: FAMILY_CODES[f][0], safi: FAMILY_CODES[f][1] }));
  const msg: DecodedMessage = {
    type: "OPEN",
    version: 4,
    asn: p.asn,
    holdTime: p.holdTime,
    routerId: p.routerId,
    extendedOptionalParameters: p.extendedOptionalParameters || undefined,
    capabilities: [
      ...fams.map((f) => ({ code: 1, name: "multiprotocol", ...f })),
      { code: 2, name: "route-refresh" },
      { code: 70, name: "enhanced-route-refresh" },
      { code: 65, name: "4-octet-as", asn: p.asn },
      {
        code: 64, name: "graceful-restart", restarting: p.restarting, restartTime: p.restartTime,
        families: fams.map((f) => ({ ...f, forwarding: p.restarting })),
      },
      { code: 69, name: "add-path", families: fams.map((f) => ({ ...f, sendReceive: "receive" })) },
      { code: 6, name: "extended-message" },
    ],
  };
  return encodeMessage(msg);
}

/** What both OPENs agree on. */
export interface Negotiated {
  holdTime: number;
  keepalive: number;
  as4: boolean;
  families: Family[];
  addPath: Family[];
  extendedMessage: boolean;
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  /** The peer's graceful restart capability, when it sent one. */
  gracefulRestart?: { restartTime: number; restarting: boolean; families: { family: Family; forwarding: boolean }[] };
  /** Capability names the peer sent. */
  peerCapabilities: string[];
}

export function negotiate(open: DecodedMessage, ours: { holdTime: number; families: Family[] }): Negotiated {
  const caps = open.capabilities ?? [];
  const has = (code: number) => caps.some((c) => c.code === code);
  const mp = caps.filter((c) => c.code === 1).map((c) => familyOf(c.afi as number, c.safi as number)).filter((f): f is Family => !!f);
  // RFC 4760 8: no multiprotocol capability at all means IPv4 unicast only.
  const peerFamilies = caps.some((c) => c.code === 1) ? mp : (["ipv4-unicast"] as Family[]);
  const families = ours.families.filter((f) => peerFamilies.includes(f));
  const addPath: Family[] = [];
  for (const c of caps.filter((c) => c.code === 69)) {
    for (const f of (c.families as { afi: number; safi: number; sendReceive: string | number }[]) ?? []) {
      const fam = familyOf(f.afi, f.safi);
      if (fam && families.includes(fam) && (f.sendReceive === "send" || f.sendReceive === "both")) addPath.push(fam);
    }
  }
  const gr = caps.find((c) => c.code === 64);
  const holdTime = Math.min(ours.holdTime, open.holdTime ?? 0);
  return {
    holdTime,
    keepalive: Math.floor(holdTime / 3),
    as4: has(65),
    families,
    addPath,
    extendedMessage: has(6),
    routeRefresh: has(2) || has(128),
    enhancedRouteRefresh: has(70) && (has(2) || has(128)),
    gracefulRestart: gr && {
      restartTime: gr.restartTime as number,
      restarting: gr.restarting as boolean,
      families: ((gr.families as { afi: number; safi: number; forwarding: boolean }[]) ?? [])
        .map((f) => ({ family: familyOf(f.afi, f.safi)!, forwarding: f.forwarding }))
        .filter((f) => f.family),
    },
    peerCapabilities: [...new Set(caps.map((c) => c.name))],
  };
}

export interface Framed {
  type: number;
  bytes: Uint8Array;
}

export type FrameError = { code: number; subcode: number; data: Uint8Array };

/**
 * Frames messages before the session is Established (a handful of OPEN,
 * KEEPALIVE, NOTIFICATION messages; afterwards the core frames). Header
 * errors come back as the NOTIFICATION to send (RFC 4271 6.1).
 */
export class Framer {
  private buf = new Uint8Array(0);
  private at = 0;

  push(chunk: Uint8Array): void {
    const rest = this.buf.subarray(this.at);
    const b = new Uint8Array(rest.length + chunk.length);
    b.set(rest);
    b.set(chunk, rest.length);
    this.buf = b;
    this.at = 0;
  }

  /** The next whole message, a header error, or null when more bytes are needed. */
  next(): Framed | FrameError | null {
    const buf = this.buf;
    const p = this.at;
    if (buf.length - p < 19) return null;
    for (let i = 0; i < 16; i++) if (buf[p + i] !== 0xff) return { code: 1, subcode: 1, data: new Uint8Array(0) };
    const len = (buf[p + 16] << 8) | buf[p + 17];
    const type = buf[p + 18];
    if (type < 1 || type > 5) return { code: 1, subcode: 3, data: new Uint8Array([type]) };
    const min = [0, 29, 23, 21, 19, 23][type];
    if (len < min || len > 4096 || (type === MSG_KEEPALIVE && len !== 19)) return { code: 1, subcode: 2, data: buf.slice(p + 16, p + 18) };
    if (buf.length - p < len) return null;
    this.at = p + len;
    return { type, bytes: buf.slice(p, p + len) };
  }

  /** Bytes after the last message taken (handed to the core once Established). */
  takeRest(): Uint8Array {
    const t = this.buf.slice(this.at);
    this.buf = new Uint8Array(0);
    this.at = 0;
    return t;
  }
}

export function decodeOne(bytes: Uint8Array): DecodedMessage {
  return decodeMessages(bytes)[0] ?? { error: { code: 1, subcode: 2, message: "truncated message" } };
}
