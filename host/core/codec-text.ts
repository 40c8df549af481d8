// Address, prefix and byte formatting for the codec JSON (RFC 5952 for IPv6).

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}

export function fromHex(s: string, what: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`${what}: not a hex string: ${JSON.stringify(s)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function ipv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export function parseIpv4(s: string, what: string): number {
  const parts = s.split(".");
  if (parts.length !== 4) throw new Error(`${what}: not an IPv4 address: ${JSON.stringify(s)}`);
  let a = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new Error(`${what}: not an IPv4 address: ${JSON.stringify(s)}`);
    a = a * 256 + Number(p);
  }
  return a >>> 0;
}

/**
 * RFC 5952: lowercase, no leading zeros, the longest run (>= 2) of zero groups as "::";
 * IPv4-mapped as ::ffff:a.b.c.d unless `dottedMapped` is false (then in hex, ::ffff:c000:201,
 * as IPAM and the controller print every address of a block the same way).
 */
export function ipv6(words: ArrayLike<number>, dottedMapped = true): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(words[i] >>> 16, words[i] & 0xffff);
  if (dottedMapped && g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${ipv4(words[3] >>> 0)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const h = (a: number, b: number) => g.slice(a, b).map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return h(0, 8);
  return `${h(0, bestStart)}::${h(bestStart + bestLen, 8)}`;
}

export function ipv6Bytes(b: Uint8Array, at = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 4; i++) w.push(((b[at + 4 * i] << 24) | (b[at + 4 * i + 1] << 16) | (b[at + 4 * i + 2] << 8) | b[at + 4 * i + 3]) >>> 0);
  return ipv6(w);
}

/** Parses an IPv6 address into four 32-bit words. */
export function parseIpv6(s: string, what: string): number[] {
  const bad = () => new Error(`${what}: not an IPv6 address: ${JSON.stringify(s)}`);
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    const v4 = parseIpv4(text.slice(lastColon + 1), what);
    tail.push(v4 >>> 16, v4 & 0xffff);
    text = text.slice(0, lastColon + 1); // ends with ":"
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((x) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(x)) throw bad();
    return parseInt(x, 16);
  }));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const gap = 8 - head.length - rest.length - tail.length;
  if (halves.length === 2 && gap < 1) throw bad();
  const groups = halves.length === 2 ? head.concat(new Array(gap).fill(0), rest, tail) : head.concat(tail);
  if (groups.length !== 8 || groups.some((x) => Number.isNaN(x))) throw bad();
  return [0, 1, 2, 3].map((i) => ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0);
}

export function isIpv6(s: string): boolean {
  return s.includes(":");
}

/** "198.51.100.0/24" or "2001:db8::/32" -> family, address words, length. */
export function parsePrefix(s: string, what: string): { v6: boolean; words: number[]; length: number } {
  const slash = s.indexOf("/");
  if (slash < 0) throw new Error(`${what}: prefix without a length: ${JSON.stringify(s)}`);
  const addr = s.slice(0, slash);
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) throw new Error(`${what}: bad prefix length: ${JSON.stringify(s)}`);
  const length = Number(lenText);
  if (isIpv6(addr)) {
    if (length > 128) throw new Error(`${what}: prefix length over 128: ${JSON.stringify(s)}`);
    return { v6: true, words: parseIpv6(addr, what), length };
  }
  if (length > 32) throw new Error(`${what}: prefix length over 32: ${JSON.stringify(s)}`);
  return { v6: false, words: [parseIpv4(addr, what)], length };
}

export function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
