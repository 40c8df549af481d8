// Types of every kind sart reads or writes.
//
// Our custom resources (sart.terassyi.net/v1alpha2, compatible with the original
// sart v0.1.0) are described field by field with the descriptors of
// ./schema/shape.ts and their TypeScript types are inferred from those
// descriptors. tests/kube/crds.test.ts compares SHAPES with crds/*.yaml both ways
// (names, types, required, enum values), so a field added on one side only fails.
// Validation beyond names and types (CIDR syntax, ranges, immutability) lives in
// the CRD schemas and is enforced by ./schema/index.ts `validate()`.
//
// Core kinds are minimal hand-written subsets of the fields sart uses.

import { StoreError, describeObject, type KubeObject, type Kind, type ObjectKey } from "./store.ts";
import {
  arrayOf,
  boolean,
  integer,
  mapOf,
  object,
  oneOf,
  optional,
  required,
  string,
  type Infer,
  type ObjectShape,
} from "./schema/shape.ts";

export const GROUP = "sart.terassyi.net";
export const VERSION = "v1alpha2";
export const API_VERSION = `${GROUP}/${VERSION}`;

// ---- labels, annotations, finalizers (names as in the original project) ----

/** BGPPeer label: the node whose speaker owns the peer. */
export const LABEL_BGPPEER_NODE = "bgppeer.sart.terassyi.net/node";
/** AddressBlock label: the node a pod block belongs to. */
export const LABEL_ADDRESSBLOCK_NODE = "addressblock.sart.terassyi.net/node";
/** Label naming the AddressPool an object belongs to. */
export const LABEL_ADDRESSPOOL = "sart.terassyi.net/addresspool";
/** Node label read by ClusterBGP `asnSelector.from: label`. */
export const LABEL_NODE_ASN = "sart.terassyi.net/asn";
/** Node label read by ClusterBGP `routerIdSelector.from: label`. */
export const LABEL_NODE_ROUTER_ID = "sart.terassyi.net/router-id";
/** Standard EndpointSlice label, also set on the BGPAdvertisements of a LoadBalancer Service. */
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name";

/** Service, Pod or Namespace annotation: pool(s) to allocate from (Services: comma list). */
export const ANNOTATION_ADDRESSPOOL = "sart.terassyi.net/addresspool";
/** Service annotation: requested LoadBalancer addresses (comma list, may span pools). */
export const ANNOTATION_LOADBALANCER_IPS = "sart.terassyi.net/loadBalancerIPs";
/** Service annotation: only peers in this group advertise (peers without groups always match). */
export const ANNOTATION_BGPPEER_GROUP = "bgppeer.sart.terassyi.net/group";
/** Service annotation (sart extension, MetalLB's rules): Services of one namespace with the same key may share an address. */
export const ANNOTATION_ALLOW_SHARED_IP = "sart.terassyi.net/allow-shared-ip";
/** Service annotation (sart extension): more BGP communities for its addresses ("65000:100,no-export,1:2:3"). */
export const ANNOTATION_COMMUNITIES = "sart.terassyi.net/communities";
/** BGPAdvertisement label (sart extension): the shared address it announces (as written in names: IPv6 groups joined by dashes). */
export const LABEL_SHARED_ADDRESS = "sart.terassyi.net/shared-address";

export const FINALIZER_ADDRESSPOOL = "addresspool.sart.terassyi.net/finalizer";
export const FINALIZER_ADDRESSBLOCK_CONTROLLER = "controller.addressblock.sart.terassyi.net/finalizer";
export const FINALIZER_ADDRESSBLOCK_AGENT = "agent.addressblock.sart.terassyi.net/finalizer";
export const FINALIZER_BLOCKREQUEST = "blockrequest.sart.terassyi.net/finalizer";
export const FINALIZER_CLUSTERBGP = "clusterbgp.sart.terassyi.net/finalizer";
export const FINALIZER_BGPPEER = "bgppeer.sart.terassyi.net/finalizer";
export const FINALIZER_BGPADVERTISEMENT = "bgpadvertisement.sart.terassyi.net/finalizer";

// ---- shared pieces ----

const addressType = oneOf(["service", "pod"]);

/** A standard metav1.Condition (used where the original had none, e.g. AddressPool deletion refused). */
const conditionShape = object({
  type: required(string()),
  status: required(oneOf(["True", "False", "Unknown"])),
  reason: optional(string()),
  message: optional(string()),
  lastTransitionTime: optional(string()),
  observedGeneration: optional(integer()),
});

const speakerShape = object({
  /** Speaker API endpoint, e.g. 127.0.0.1:5000. */
  path: required(string()),
  timeout: optional(integer()),
  /** Not in the original CRD, but its sample ClusterBGPs set it. */
  multipath: optional(boolean()),
});

/** metav1.LabelSelector. */
const labelSelectorShape = object({
  matchLabels: optional(mapOf(string())),
  matchExpressions: optional(
    arrayOf(
      object({
        key: required(string()),
        operator: required(oneOf(["In", "NotIn", "Exists", "DoesNotExist"])),
        values: optional(arrayOf(string())),
      }),
    ),
  ),
});

/** Session options beyond the original's (sart extensions, named as MetalLB's BGPPeer). */
const peerSessionOptions = {
  /** TTL of our packets to an eBGP peer more than one hop away (1-255). */
  ebgpMultihop: optional(integer()),
  /** Local address the session is opened from. */
  sourceAddress: optional(string()),
  /** Seconds between connection attempts (RFC 4271 ConnectRetryTimer). */
  connectRetryTime: optional(integer()),
  /** TCP MD5 (RFC 2385) password: a Secret's key (default "password"). */
  passwordSecret: optional(object({ name: required(string()), namespace: required(string()), key: optional(string()) })),
  /** A BFDProfile's name: run BFD with the peer. */
  bfdProfile: optional(string()),
  /** Address families the session carries; absent: the family of the peer's address. */
  families: optional(arrayOf(oneOf(["ipv4-unicast", "ipv6-unicast"]))),
} as const;

/** The peer fields a BGPPeerTemplate (and ClusterBGP `peerConfig`) can give; all optional. */
const peerTemplateSpecShape = object({
  asn: optional(integer()),
  addr: optional(string()),
  holdTime: optional(integer()),
  keepaliveTime: optional(integer()),
  capabilities: optional(arrayOf(string())),
  groups: optional(arrayOf(string())),
  ...peerSessionOptions,
});

const bgpPeerSpecShape = object({
  asn: required(integer()),
  addr: required(string()),
  holdTime: optional(integer()),
  keepaliveTime: optional(integer()),
  capabilities: optional(arrayOf(string())),
  nodeBGPRef: required(string()),
  clusterBGPRef: optional(string()),
  speaker: required(speakerShape),
  groups: optional(arrayOf(string())),
  ...peerSessionOptions,
});

// ---- descriptors of every custom resource's spec and status ----

export const SHAPES = {
  AddressPool: {
    spec: object({
      cidr: required(string()),
      type: required(addressType),
      /** Defaults to "bit" in the CRD schema. */
      allocType: optional(oneOf(["bit"])),
      /** Absent means the CIDR's prefix length: use `poolBlockSize()`; an OpenAPI default cannot depend on another field. */
      blockSize: optional(integer()),
      /** Defaults to false in the CRD schema. */
      autoAssign: optional(boolean()),
      /** Service pools (sart extension, MetalLB's): never hand out IPv4 addresses ending in .0 or .255. */
      avoidBuggyIPs: optional(boolean()),
      /** Service pools (sart extension, MetalLB's): which Services a pool serves, and its order among auto-assign pools. */
      serviceAllocation: optional(
        object({
          /** Lower first; absent (or 0, as in MetalLB) after every pool that has one. */
          priority: optional(integer()),
          namespaces: optional(arrayOf(string())),
          namespaceSelectors: optional(arrayOf(labelSelectorShape)),
          serviceSelectors: optional(arrayOf(labelSelectorShape)),
        }),
      ),
      /** Service pools (sart extension): attributes of the routes announcing its addresses. */
      bgp: optional(
        object({
          communities: optional(arrayOf(string())),
          largeCommunities: optional(arrayOf(string())),
          localPref: optional(integer()),
          /** IPv4 pools: announce Cluster-policy addresses as this aggregate instead of /32s. */
          aggregationLength: optional(integer()),
          /** IPv6 pools: the same, instead of /128s. */
          aggregationLengthV6: optional(integer()),
        }),
      ),
    }),
    status: object({
      requested: optional(arrayOf(string())),
      /** Block name -> number of addresses allocated in it. */
      allocated: optional(mapOf(integer())),
      released: optional(arrayOf(string())),
      conditions: optional(arrayOf(conditionShape)),
      /** Handed out: addresses (service pool) or blocks (pod pool). */
      inUse: optional(integer()),
      /** Still free, likewise (capped at 2^53 - 1 for huge IPv6 pools). */
      free: optional(integer()),
    }),
  },
  AddressBlock: {
    spec: object({
      cidr: required(string()),
      type: required(addressType),
      poolRef: required(string()),
      nodeRef: optional(string()),
      autoAssign: required(boolean()),
    }),
    status: object({
      /** n of a pod block named `{pool}-{n}`. */
      index: optional(integer()),
    }),
  },
  BlockRequest: {
    spec: object({
      pool: required(string()),
      node: required(string()),
    }),
    status: object({}),
  },
  ClusterBGP: {
    spec: object({
      nodeSelector: optional(mapOf(string())),
      asnSelector: required(
        object({
          from: required(oneOf(["asn", "label"])),
          asn: optional(integer()),
        }),
      ),
      routerIdSelector: required(
        object({
          from: required(oneOf(["internalAddress", "label", "routerId"])),
          routerId: optional(string()),
        }),
      ),
      speaker: required(speakerShape),
      peers: optional(
        arrayOf(
          object({
            peerTemplateRef: optional(string()),
            /** Overrides the template's fields. */
            peerConfig: optional(peerTemplateSpecShape),
            nodeBGPSelector: optional(mapOf(string())),
          }),
        ),
      ),
    }),
    status: object({
      desiredNodes: optional(arrayOf(string())),
      nodes: optional(arrayOf(string())),
    }),
  },
  NodeBGP: {
    spec: object({
      asn: required(integer()),
      routerId: required(string()),
      speaker: required(speakerShape),
      peers: optional(arrayOf(object({ name: required(string()), spec: required(bgpPeerSpecShape) }))),
    }),
    status: object({
      backoff: required(integer()),
      clusterBgpRefs: optional(arrayOf(string())),
      conditions: optional(
        arrayOf(
          object({
            status: required(oneOf(["Available", "Unavailable"])),
            reason: required(oneOf(["NotConfigured", "Configured", "InvalidConfiguration"])),
          }),
        ),
      ),
    }),
  },
  BGPPeer: {
    spec: bgpPeerSpecShape,
    status: object({
      backoff: required(integer()),
      conditions: optional(
        arrayOf(
          object({
            status: required(oneOf(["Unknown", "Idle", "Active", "Connect", "OpenSent", "OpenConfirm", "Established"])),
            reason: required(string()),
          }),
        ),
      ),
    }),
  },
  BGPPeerTemplate: {
    spec: peerTemplateSpecShape,
    status: object({}),
  },
  BGPAdvertisement: {
    spec: object({
      cidr: required(string()),
      type: required(addressType),
      protocol: required(oneOf(["ipv4", "ipv6"])),
      attrs: optional(arrayOf(string())),
    }),
    status: object({
      /** BGPPeer name -> advertisement state on that peer. */
      peers: optional(mapOf(oneOf(["NotAdvertised", "Advertised", "Withdraw"]))),
    }),
  },
  /** sart extension (MetalLB's BFDProfile, asynchronous mode only): BFD timers a BGPPeer names. */
  BFDProfile: {
    spec: object({
      /** Milliseconds; defaults to 300 in the CRD schema. */
      receiveInterval: optional(integer()),
      /** Milliseconds; defaults to 300 in the CRD schema. */
      transmitInterval: optional(integer()),
      /** Packets missed before the session is down; defaults to 3 in the CRD schema. */
      detectMultiplier: optional(integer()),
    }),
    status: object({}),
  },
} as const satisfies Record<CustomKind, { spec: ObjectShape; status: ObjectShape }>;

export type CustomKind =
  | "AddressPool"
  | "AddressBlock"
  | "BlockRequest"
  | "ClusterBGP"
  | "NodeBGP"
  | "BGPPeer"
  | "BGPPeerTemplate"
  | "BGPAdvertisement"
  | "BFDProfile";

export type AddressType = Infer<typeof addressType>;
export type LabelSelector = Infer<typeof labelSelectorShape>;
export type Condition = Infer<typeof conditionShape>;
export type SpeakerConfig = Infer<typeof speakerShape>;
export type PeerTemplateFields = Infer<typeof peerTemplateSpecShape>;

export type AddressPoolSpec = Infer<(typeof SHAPES)["AddressPool"]["spec"]>;
export type AddressPoolStatus = Infer<(typeof SHAPES)["AddressPool"]["status"]>;
export type AddressBlockSpec = Infer<(typeof SHAPES)["AddressBlock"]["spec"]>;
export type AddressBlockStatus = Infer<(typeof SHAPES)["AddressBlock"]["status"]>;
export type BlockRequestSpec = Infer<(typeof SHAPES)["BlockRequest"]["spec"]>;
export type BlockRequestStatus = Infer<(typeof SHAPES)["BlockRequest"]["status"]>;
export type ClusterBGPSpec = Infer<(typeof SHAPES)["ClusterBGP"]["spec"]>;
export type ClusterBGPStatus = Infer<(typeof SHAPES)["ClusterBGP"]["status"]>;
export type ClusterBGPPeer = NonNullable<ClusterBGPSpec["peers"]>[number];
export type NodeBGPSpec = Infer<(typeof SHAPES)["NodeBGP"]["spec"]>;
export type NodeBGPStatus = Infer<(typeof SHAPES)["NodeBGP"]["status"]>;
export type NodeBGPCondition = NonNullable<NodeBGPStatus["conditions"]>[number];
export type BGPPeerSpec = Infer<(typeof SHAPES)["BGPPeer"]["spec"]>;
export type BGPPeerStatus = Infer<(typeof SHAPES)["BGPPeer"]["status"]>;
export type BGPPeerCondition = NonNullable<BGPPeerStatus["conditions"]>[number];
/** A peer as NodeBGP lists it (the original's BGPPeerSlim). */
export type NodeBGPPeer = NonNullable<NodeBGPSpec["peers"]>[number];
export type BGPPeerTemplateSpec = Infer<(typeof SHAPES)["BGPPeerTemplate"]["spec"]>;
export type BGPPeerTemplateStatus = Infer<(typeof SHAPES)["BGPPeerTemplate"]["status"]>;
export type BGPAdvertisementSpec = Infer<(typeof SHAPES)["BGPAdvertisement"]["spec"]>;
export type BGPAdvertisementStatus = Infer<(typeof SHAPES)["BGPAdvertisement"]["status"]>;
export type AdvertiseState = NonNullable<BGPAdvertisementStatus["peers"]>[string];
export type BFDProfileSpec = Infer<(typeof SHAPES)["BFDProfile"]["spec"]>;
export type BFDProfileStatus = Infer<(typeof SHAPES)["BFDProfile"]["status"]>;
export type ServiceAllocation = NonNullable<AddressPoolSpec["serviceAllocation"]>;
export type PoolBgpAttributes = NonNullable<AddressPoolSpec["bgp"]>;

export type AddressPool = KubeObject<AddressPoolSpec, AddressPoolStatus> & { spec: AddressPoolSpec };
export type AddressBlock = KubeObject<AddressBlockSpec, AddressBlockStatus> & { spec: AddressBlockSpec };
export type BlockRequest = KubeObject<BlockRequestSpec, BlockRequestStatus> & { spec: BlockRequestSpec };
export type ClusterBGP = KubeObject<ClusterBGPSpec, ClusterBGPStatus> & { spec: ClusterBGPSpec };
export type NodeBGP = KubeObject<NodeBGPSpec, NodeBGPStatus> & { spec: NodeBGPSpec };
export type BGPPeer = KubeObject<BGPPeerSpec, BGPPeerStatus> & { spec: BGPPeerSpec };
export type BGPPeerTemplate = KubeObject<BGPPeerTemplateSpec, BGPPeerTemplateStatus> & { spec: BGPPeerTemplateSpec };
export type BGPAdvertisement = KubeObject<BGPAdvertisementSpec, BGPAdvertisementStatus> & { spec: BGPAdvertisementSpec };
export type BFDProfile = KubeObject<BFDProfileSpec, BFDProfileStatus> & { spec: BFDProfileSpec };

/**
 * The block size of a pool: `spec.blockSize`, or the CIDR's prefix length when
 * absent (the original's documented default, which an OpenAPI default cannot
 * express because it depends on another field). Controller and agent use this.
 */
export function poolBlockSize(spec: Pick<AddressPoolSpec, "cidr" | "blockSize">): number {
  if (spec.blockSize !== undefined && spec.blockSize !== null) return spec.blockSize;
  const slash = spec.cidr.indexOf("/");
  const prefix = slash < 0 ? NaN : Number(spec.cidr.slice(slash + 1));
  if (!Number.isInteger(prefix)) throw new Error(`AddressPool spec.cidr ${JSON.stringify(spec.cidr)} has no prefix length`);
  return prefix;
}

// ---- core kinds: minimal subsets ----

export interface ServicePort {
  name?: string;
  protocol?: "TCP" | "UDP" | "SCTP";
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}
export interface ServiceSpec {
  type?: "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";
  selector?: Record<string, string>;
  ports?: ServicePort[];
  clusterIP?: string;
  clusterIPs?: string[];
  externalTrafficPolicy?: "Cluster" | "Local";
  /** Deprecated in Kubernetes, still honoured by sart. */
  loadBalancerIP?: string;
  loadBalancerClass?: string;
  ipFamilies?: ("IPv4" | "IPv6")[];
  ipFamilyPolicy?: "SingleStack" | "PreferDualStack" | "RequireDualStack";
  allocateLoadBalancerNodePorts?: boolean;
}
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ipMode?: "VIP" | "Proxy";
}
export interface ServiceStatus {
  loadBalancer?: { ingress?: LoadBalancerIngress[] };
  conditions?: Condition[];
}
export type Service = KubeObject<ServiceSpec, ServiceStatus>;

export interface NodeAddress {
  type: "InternalIP" | "ExternalIP" | "Hostname" | "InternalDNS" | "ExternalDNS";
  address: string;
}
export interface NodeSpec {
  podCIDR?: string;
  podCIDRs?: string[];
  unschedulable?: boolean;
}
export interface NodeStatus {
  addresses?: NodeAddress[];
  conditions?: { type: string; status: "True" | "False" | "Unknown"; reason?: string; message?: string }[];
}
export type Node = KubeObject<NodeSpec, NodeStatus>;

export interface PodSpec {
  nodeName?: string;
  hostNetwork?: boolean;
  nodeSelector?: Record<string, string>;
  containers?: { name: string; image?: string; command?: string[]; ports?: { containerPort: number; protocol?: string }[] }[];
}
export interface PodStatus {
  phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
}
export type Pod = KubeObject<PodSpec, PodStatus>;

export type Namespace = KubeObject<{ finalizers?: string[] }, { phase?: "Active" | "Terminating" }>;

/** discovery.k8s.io/v1 EndpointSlice: its fields are top-level, no spec/status. */
export interface EndpointSlice extends KubeObject<never, never> {
  addressType: "IPv4" | "IPv6" | "FQDN";
  endpoints: {
    addresses: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    nodeName?: string;
    targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
  }[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

/** core/v1 Secret (the agent reads BGP passwords): `data` values are base64; `stringData` is plain text (write-only on an API server, read as written in standalone manifests). */
export interface Secret extends KubeObject<never, never> {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** coordination.k8s.io/v1 Lease. Times are MicroTime: RFC 3339 with microseconds. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
export type Lease = KubeObject<LeaseSpec, never>;

/** core/v1 Event: its fields are top-level, no spec/status. */
export interface KubeEvent extends KubeObject<never, never> {
  involvedObject: { apiVersion?: string; kind: string; name: string; namespace?: string; uid?: string; resourceVersion?: string };
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

// ---- the kind table ----

export interface KindInfo {
  group: string; // "" for the core group
  version: string;
  /** apiVersion as written in manifests: "v1", "discovery.k8s.io/v1", "sart.terassyi.net/v1alpha2". */
  apiVersion: string;
  plural: string;
  namespaced: boolean;
  /** Has a status subresource (/status). */
  hasStatus: boolean;
  /** Defined by one of our CRDs (crds/<plural>.yaml). */
  custom: boolean;
}

const custom = (plural: string, namespaced = false): KindInfo => ({
  group: GROUP,
  version: VERSION,
  apiVersion: API_VERSION,
  plural,
  namespaced,
  hasStatus: true,
  custom: true,
});
const core = (group: string, version: string, plural: string, namespaced: boolean, hasStatus: boolean): KindInfo => ({
  group,
  version,
  apiVersion: group ? `${group}/${version}` : version,
  plural,
  namespaced,
  hasStatus,
  custom: false,
});

export const KINDS: Readonly<Record<Kind, KindInfo>> = {
  AddressPool: custom("addresspools"),
  AddressBlock: custom("addressblocks"),
  BlockRequest: custom("blockrequests"),
  ClusterBGP: custom("clusterbgps"),
  NodeBGP: custom("nodebgps"),
  BGPPeer: custom("bgppeers"),
  BGPPeerTemplate: custom("bgppeertemplates"),
  BGPAdvertisement: custom("bgpadvertisements", true),
  BFDProfile: custom("bfdprofiles"),
  Service: core("", "v1", "services", true, true),
  Node: core("", "v1", "nodes", false, true),
  Pod: core("", "v1", "pods", true, true),
  Namespace: core("", "v1", "namespaces", false, true),
  EndpointSlice: core("discovery.k8s.io", "v1", "endpointslices", true, false),
  Event: core("", "v1", "events", true, false),
  Lease: core("coordination.k8s.io", "v1", "leases", true, false),
  Secret: core("", "v1", "secrets", true, false),
};

export const CUSTOM_KINDS = Object.keys(SHAPES) as CustomKind[];

/** The namespace a key of this kind addresses: "default" for namespaced kinds when none is given, none for cluster-scoped ones. */
export function keyNamespace(kind: Kind, namespace: string | undefined): string | undefined {
  return KINDS[kind]?.namespaced ? namespace || "default" : undefined;
}

/** A status patch of a kind without a status subresource is a 404, as the API server answers it (both stores). */
export function requireStatusSubresource(kind: Kind, key: ObjectKey): void {
  if (!KINDS[kind]?.hasStatus) {
    throw new StoreError(`${describeObject(kind, key)}: ${kind} has no status subresource`, 404, kind, key, "NotFound");
  }
}
