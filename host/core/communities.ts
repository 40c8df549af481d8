// Community values as people write them, for everything that accepts them (the
// speaker's YAML and API, the CLI, CRD annotations): COMMUNITIES (RFC 1997) as
// ASN:VALUE or a well-known name, LARGE_COMMUNITY (RFC 8092) as GLOBAL:LOCAL1:LOCAL2,
// EXTENDED_COMMUNITIES (RFC 4360) as rt:/soo:ADMIN:VALUE or 16 hex digits.
// Each parser throws an Error saying what was expected; callers add the field name.
import { fromHex, hex, parseIpv4 } from "./codec-text.ts";

/** IANA "BGP Well-known Communities" names, as FRR and GoBGP spell them. */
export const WELL_KNOWN_COMMUNITIES: Readonly<Record<string, number>> = {
  "no-export": 0xffffff01, // RFC 1997
  "no-advertise": 0xffffff02, // RFC 1997
  "no-export-subconfed": 0xffffff03, // RFC 1997
  "no-peer": 0xffffff04, // RFC 3765
  blackhole: 0xffff029a, // RFC 7999
  "graceful-shutdown": 0xffff0000, // RFC 8326
  "llgr-stale": 0xffff0006, // RFC 9494
  "no-llgr": 0xffff0007, // RFC 9494
  "accept-own": 0xffff0001, // RFC 7611
};

const DECIMAL = /^(0|[1-9]\d*)$/;

function part(s: string, max: number): number | undefined {
  if (!DECIMAL.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/** "65000:100" or a well-known name ("no-export", ...) -> the 32-bit value. */
export function parseCommunity(text: string): number {
  const known = WELL_KNOWN_COMMUNITIES[text.toLowerCase()];
  if (known !== undefined) return known;
  const [a, b, extra] = text.split(":");
  const hi = part(a, 0xffff);
  const lo = b === undefined ? undefined : part(b, 0xffff);
  if (hi === undefined || lo === undefined || extra !== undefined) {
    throw new Error(`${JSON.stringify(text)} is not a community: ASN:VALUE with 16-bit parts, or one of ${Object.keys(WELL_KNOWN_COMMUNITIES).join(", ")}`);
  }
  return ((hi << 16) | lo) >>> 0;
}

/** The 32-bit value as ASN:VALUE (the form the RIB and `sart decode` print). */
export function formatCommunity(v: number): string {
  return `${v >>> 16}:${v & 0xffff}`;
}

/** "GLOBAL:LOCAL1:LOCAL2" with 32-bit parts -> the three values. */
export function parseLargeCommunity(text: string): [number, number, number] {
  const parts = text.split(":").map((p) => part(p, 0xffffffff));
  if (parts.length !== 3 || parts.some((p) => p === undefined)) {
    throw new Error(`${JSON.stringify(text)} is not a large community: GLOBAL:LOCAL1:LOCAL2 with 32-bit parts`);
  }
  return parts as [number, number, number];
}

const EXTENDED_SUBTYPES: Record<string, number> = { rt: 0x02, soo: 0x03 };

/**
 * An extended community -> its 8 bytes: "rt:ADMIN:VALUE" / "soo:ADMIN:VALUE" (route
 * target, route origin) where ADMIN is a 2-octet ASN (VALUE 32-bit), a 4-octet ASN or
 * an IPv4 address (VALUE 16-bit), as FRR writes them; or 16 hex digits for any other.
 */
export function parseExtendedCommunity(text: string): Uint8Array {
  const raw = /^(?:0x)?([0-9a-fA-F]{16})$/.exec(text);
  if (raw) return fromHex(raw[1], "extended community");
  const bytes = new Uint8Array(8);
  const bad = () => new Error(`${JSON.stringify(text)} is not an extended community: rt:ADMIN:VALUE or soo:ADMIN:VALUE (ADMIN an ASN or IPv4 address), or 16 hex digits`);
  const m = /^([a-z]+):(.+):([^:]+)$/i.exec(text);
  const subtype = m ? EXTENDED_SUBTYPES[m[1].toLowerCase()] : undefined;
  if (!m || subtype === undefined) throw bad();
  const dv = new DataView(bytes.buffer);
  dv.setUint8(1, subtype);
  const asn = part(m[2], 0xffffffff);
  if (asn !== undefined && asn <= 0xffff) {
    const value = part(m[3], 0xffffffff);
    if (value === undefined) throw bad();
    dv.setUint8(0, 0x00); // two-octet AS specific
    dv.setUint16(2, asn);
    dv.setUint32(4, value);
    return bytes;
  }
  const value = part(m[3], 0xffff);
  if (value === undefined) throw bad();
  if (asn !== undefined) {
    dv.setUint8(0, 0x02); // four-octet AS specific
    dv.setUint32(2, asn);
  } else {
    dv.setUint8(0, 0x01); // IPv4 address specific
    try {
      dv.setUint32(2, parseIpv4(m[2], "extended community"));
    } catch {
      throw bad();
    }
  }
  dv.setUint16(6, value);
  return bytes;
}

/** Extended community bytes as `sart decode` prints them (16 hex digits). */
export function formatExtendedCommunity(bytes: Uint8Array): string {
  return hex(bytes);
}
