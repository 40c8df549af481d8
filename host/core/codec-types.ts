// The JSON shapes of sart decode (docs/cli.md, "The JSON"), as TypeScript types.

export interface CodecOptions {
  /** 4-octet AS numbers negotiated (RFC 6793); default true. */
  as4?: boolean;
  /** Families with add-path receive negotiated, e.g. "ipv4-unicast", "ipv6-unicast". */
  addPath?: string[];
  /** Extended messages negotiated (RFC 8654): UPDATEs up to 65535 octets. */
  extendedMessage?: boolean;
}

export interface CodecError {
  code: number;
  subcode: number;
  message: string;
  /** NOTIFICATION data a speaker sends with this error (hex), when there is any. */
  data?: string;
}

export interface AsPathSegment {
  type: string;
  asns: number[];
}

export interface Capability {
  code: number;
  name: string;
  [field: string]: unknown;
}

export interface UpdateAttributes {
  origin?: string;
  asPath?: AsPathSegment[];
  nextHop?: string | string[];
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  communities?: string[];
  originatorId?: string;
  clusterList?: string[];
  extendedCommunities?: string[];
  largeCommunities?: string[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: { asn: number; address: string };
  unknown?: { code: number; flags: number; hex: string }[];
}

export interface DecodedMessage {
  type?: string;
  length?: number;
  error?: CodecError;
  // OPEN
  version?: number;
  myAs?: number;
  asn?: number;
  holdTime?: number;
  routerId?: string;
  capabilities?: Capability[];
  extendedOptionalParameters?: boolean;
  singleCapabilityParameter?: boolean;
  // UPDATE
  withdrawn?: string[];
  nlri?: string[];
  pathIds?: number[];
  withdrawnPathIds?: number[];
  attributes?: UpdateAttributes;
  mpReach?: { afi: number; safi: number };
  mpUnreach?: { afi: number; safi: number };
  mpNextHop?: string | string[];
  attributeOrder?: number[];
  extendedLength?: number[];
  /** Known optional transitive attributes that arrived with the Partial bit (unknown ones keep their flags). */
  partial?: number[];
  /** Set on an End-of-RIB marker (RFC 4724): the family it ends, e.g. "ipv4-unicast". */
  endOfRib?: string;
  treatAsWithdraw?: CodecError;
  discardedAttributes?: { code: number; message: string }[];
  // NOTIFICATION
  code?: number;
  subcode?: number;
  codeName?: string;
  subcodeName?: string;
  data?: string;
  communication?: string;
  // ROUTE-REFRESH
  afi?: number;
  safi?: number;
  subtype?: number;
  orf?: string;
}

// Record tags (assembly/bgp/records.ts).
