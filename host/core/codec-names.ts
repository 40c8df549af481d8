// Names and texts for the BGP codec's JSON (RFC 4271, 4486, 6608, 7313, 9384 registries, IANA capability codes).

export const MESSAGE_TYPES: Record<number, string> = {
  1: "OPEN",
  2: "UPDATE",
  3: "NOTIFICATION",
  4: "KEEPALIVE",
  5: "ROUTE-REFRESH",
};

export const MESSAGE_TYPE_CODES: Record<string, number> = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  "ROUTE-REFRESH": 5,
};

export const ERROR_CODES: Record<number, string> = {
  1: "Message Header Error",
  2: "OPEN Message Error",
  3: "UPDATE Message Error",
  4: "Hold Timer Expired",
  5: "Finite State Machine Error",
  6: "Cease",
  7: "ROUTE-REFRESH Message Error",
};

export const ERROR_SUBCODES: Record<number, Record<number, string>> = {
  1: { 0: "Unspecific", 1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type" },
  2: {
    0: "Unspecific",
    1: "Unsupported Version Number",
    2: "Bad Peer AS",
    3: "Bad BGP Identifier",
    4: "Unsupported Optional Parameter",
    5: "Deprecated (Authentication Failure)",
    6: "Unacceptable Hold Time",
    7: "Unsupported Capability",
    11: "Role Mismatch",
  },
  3: {
    0: "Unspecific",
    1: "Malformed Attribute List",
    2: "Unrecognized Well-known Attribute",
    3: "Missing Well-known Attribute",
    4: "Attribute Flags Error",
    5: "Attribute Length Error",
    6: "Invalid ORIGIN Attribute",
    7: "Deprecated (AS Routing Loop)",
    8: "Invalid NEXT_HOP Attribute",
    9: "Optional Attribute Error",
    10: "Invalid Network Field",
    11: "Malformed AS_PATH",
  },
  4: { 0: "Unspecific" },
  5: {
    0: "Unspecified Error",
    1: "Receive Unexpected Message in OpenSent State",
    2: "Receive Unexpected Message in OpenConfirm State",
    3: "Receive Unexpected Message in Established State",
  },
  6: {
    0: "Unspecific",
    1: "Maximum Number of Prefixes Reached",
    2: "Administrative Shutdown",
    3: "Peer De-configured",
    4: "Administrative Reset",
    5: "Connection Rejected",
    6: "Other Configuration Change",
    7: "Connection Collision Resolution",
    8: "Out of Resources",
    9: "Hard Reset",
    10: "BFD Down",
  },
  7: { 0: "Reserved", 1: "Invalid Message Length" },
};

export function codeName(code: number): string {
  return ERROR_CODES[code] ?? "Unknown";
}

export function subcodeName(code: number, subcode: number): string {
  return ERROR_SUBCODES[code]?.[subcode] ?? "Unknown";
}

/** Texts for the core's R_* reasons (assembly/bgp/wire.ts): same order. */
export const REASONS = [
  "",
  "marker is not all ones",
  "bad message length",
  "unknown message type",
  "unsupported version number (4 is supported)",
  "bad peer AS",
  "BGP identifier is 0",
  "hold time of 1 or 2 seconds",
  "optional parameters length inconsistent with the message",
  "unsupported optional parameter",
  "malformed capability",
  "withdrawn routes length exceeds the message",
  "total path attribute length exceeds the message",
  "malformed withdrawn prefix",
  "malformed NLRI prefix",
  "attribute length overruns the path attribute section",
  "MP_REACH_NLRI or MP_UNREACH_NLRI appears more than once",
  "duplicate attribute discarded (the first is kept)",
  "attribute flags conflict with the attribute type",
  "unrecognized well-known attribute",
  "bad attribute length",
  "undefined ORIGIN value",
  "malformed AS_PATH (bad segment, overrun or AS 0)",
  "NEXT_HOP is not a valid host address",
  "missing well-known mandatory attribute",
  "malformed multiprotocol attribute",
  "next hop length does not match the address family",
  "malformed prefix in a multiprotocol attribute",
  "malformed AS4_PATH (bad segment, overrun or AS 0)",
  "ROUTE-REFRESH with an invalid length",
  "AS 0 (RFC 7607)",
  "next hop is not a usable unicast address (unspecified, loopback, multicast, or link-local without a global one)",
];

export const ATTRIBUTE_NAMES: Record<number, string> = {
  1: "ORIGIN",
  2: "AS_PATH",
  3: "NEXT_HOP",
  4: "MULTI_EXIT_DISC",
  5: "LOCAL_PREF",
  6: "ATOMIC_AGGREGATE",
  7: "AGGREGATOR",
  8: "COMMUNITIES",
  9: "ORIGINATOR_ID",
  10: "CLUSTER_LIST",
  14: "MP_REACH_NLRI",
  15: "MP_UNREACH_NLRI",
  16: "EXTENDED_COMMUNITIES",
  17: "AS4_PATH",
  18: "AS4_AGGREGATOR",
  32: "LARGE_COMMUNITY",
};

/**
 * Every capability code IANA or tshark names (https://www.iana.org/assignments/capability-codes),
 * short names in the style of the first ones. A prestandard (vendor) code has the name of its
 * standard one; looking a name up gives the standard code.
 */
export const CAPABILITY_NAMES: Record<number, string> = {
  0: "reserved",
  1: "multiprotocol",
  2: "route-refresh",
  3: "outbound-route-filtering",
  4: "multiple-routes",
  5: "extended-nexthop",
  6: "extended-message",
  7: "bgpsec",
  8: "multiple-labels",
  9: "bgp-role",
  64: "graceful-restart",
  65: "4-octet-as",
  66: "dynamic-capability-deprecated",
  67: "dynamic-capability",
  68: "multisession",
  69: "add-path",
  70: "enhanced-route-refresh",
  71: "long-lived-graceful-restart",
  72: "routing-policy-distribution",
  73: "fqdn",
  74: "bfd",
  75: "software-version",
  76: "paths-limit",
  128: "route-refresh",
  129: "outbound-route-filtering",
  130: "outbound-route-filtering",
  131: "multisession",
  184: "fqdn",
  185: "operational-message",
};

export const SEGMENT_TYPES: Record<number, string> = {
  1: "AS_SET",
  2: "AS_SEQUENCE",
  3: "AS_CONFED_SEQUENCE",
  4: "AS_CONFED_SET",
};

export const SEGMENT_CODES: Record<string, number> = {
  AS_SET: 1,
  AS_SEQUENCE: 2,
  AS_CONFED_SEQUENCE: 3,
  AS_CONFED_SET: 4,
};

export const ORIGINS = ["IGP", "EGP", "INCOMPLETE"];

const FAMILIES: Record<string, [number, number]> = {
  "ipv4-unicast": [1, 1],
  "ipv6-unicast": [2, 1],
  "ipv4-multicast": [1, 2],
  "ipv6-multicast": [2, 2],
  "ipv4-labelled-unicast": [1, 4],
  "ipv6-labelled-unicast": [2, 4],
  "l2vpn-evpn": [25, 70],
  "ipv4-vpn": [1, 128],
  "ipv6-vpn": [2, 128],
  "ipv4-flowspec": [1, 133],
  "ipv6-flowspec": [2, 133],
};

/** "ipv4-unicast" etc., or "afi-N-safi-M" for families without a name. */
export function familyName(afi: number, safi: number): string {
  for (const [name, [a, s]] of Object.entries(FAMILIES)) if (a === afi && s === safi) return name;
  return `afi-${afi}-safi-${safi}`;
}

export function familyCodes(name: string): [number, number] | undefined {
  const known = FAMILIES[name];
  if (known) return known;
  const m = /^afi-(\d+)-safi-(\d+)$/.exec(name);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Session flag bits (assembly/bgp/wire.ts SF_*). */
export function sessionFlags(opts: { as4?: boolean; addPath?: string[]; extendedMessage?: boolean } = {}): number {
  let f = opts.as4 === false ? 0 : 1;
  for (const fam of opts.addPath ?? []) {
    if (fam === "ipv4-unicast") f |= 2;
    else if (fam === "ipv6-unicast") f |= 4;
    else if (!familyCodes(fam)) throw new Error(`add-path family ${JSON.stringify(fam)} is not a known family name`);
  }
  if (opts.extendedMessage) f |= 8;
  return f;
}

