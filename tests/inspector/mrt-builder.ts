// Writes MRT records (RFC 6396) for the inspector's tests: BGP4MP / BGP4MP_ET around
// message bytes, and any other record type with a given body.

/** Record time of every record: 2025-11-25T06:33:18Z. */
export const T0 = 1764052398;

function be(n: number, bytes: number): number[] {
  return Array.from({ length: bytes }, (_, i) => Math.floor(n / 2 ** (8 * (bytes - 1 - i))) & 0xff);
}

/** One record; with `micros` the body starts with the BGP4MP_ET microseconds field. */
export function record(type: number, subtype: number, body: number[], micros?: number): number[] {
  const payload = micros === undefined ? body : [...be(micros, 4), ...body];
  return [...be(T0, 4), ...be(type, 2), ...be(subtype, 2), ...be(payload.length, 4), ...payload];
}

/** A BGP4MP message record body: peer AS, local AS, ifindex, AFI, peer IP, local IP, message. */
export function bgp4mp(as4: boolean, peerAs: number, localAs: number, peerIp: number[], localIp: number[], msg: Uint8Array): number[] {
  const afi = peerIp.length === 4 ? 1 : 2;
  const asLen = as4 ? 4 : 2;
  return [...be(peerAs, asLen), ...be(localAs, asLen), 0, 0, ...be(afi, 2), ...peerIp, ...localIp, ...msg];
}
