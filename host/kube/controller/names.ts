// Names the controller shares with the original sart (see shared/SART-COMPAT.md) and the
// few it adds. One place, so reconcilers and tests agree on every string.

// Shared with every other area (one source of truth in ../types.ts).
export {
  API_VERSION,
  ANNOTATION_ADDRESSPOOL as POOL_ANNOTATION,
  ANNOTATION_LOADBALANCER_IPS as LB_IPS_ANNOTATION,
  ANNOTATION_BGPPEER_GROUP as PEER_GROUP_ANNOTATION,
  ANNOTATION_ALLOW_SHARED_IP as SHARED_IP_ANNOTATION,
  ANNOTATION_COMMUNITIES as COMMUNITIES_ANNOTATION,
  LABEL_SHARED_ADDRESS as SHARED_ADDRESS_LABEL,
  LABEL_SERVICE_NAME as SERVICE_NAME_LABEL,
  LABEL_BGPPEER_NODE as PEER_NODE_LABEL,
  LABEL_ADDRESSBLOCK_NODE as BLOCK_NODE_LABEL,
  LABEL_ADDRESSPOOL as POOL_LABEL,
  LABEL_NODE_ASN as NODE_ASN_LABEL,
  LABEL_NODE_ROUTER_ID as NODE_ROUTER_ID_LABEL,
  FINALIZER_ADDRESSPOOL as POOL_FINALIZER,
  FINALIZER_CLUSTERBGP as CLUSTER_BGP_FINALIZER,
} from "../types.ts";

/** On a pod AddressBlock: the BlockRequest it answered, so a retried request never gets a second block. */
export const BLOCK_REQUEST_LABEL = "addressblock.sart.terassyi.net/blockrequest";

/** The original's name; types.ts has none for Services. */
export const SERVICE_FINALIZER = "service.sart.terassyi.net/finalizer";

/**
 * spec.loadBalancerClass that selects sart. Services with no class are ours too
 * (sart is then the cluster's default LoadBalancer implementation); any other class is ignored.
 */
export const LOAD_BALANCER_CLASS = "sart.terassyi.net/loadbalancer";

// Service status condition written by the LoadBalancer reconciler.
export const ALLOCATED_CONDITION = "sart.terassyi.net/AddressAllocated";

/** Reasons in conditions and Events, so `kubectl describe` says why an address is missing. */
export const Reason = {
  Allocated: "Allocated",
  NoPool: "NoPool",
  PoolExhausted: "PoolExhausted",
  AddressInUse: "AddressInUse",
  AddressOutsidePools: "AddressOutsidePools",
  InvalidAnnotation: "InvalidAnnotation",
  AddressConflict: "AddressConflict",
  AutoAssignConflict: "AutoAssignConflict",
  PoolInUse: "PoolInUse",
  InvalidPool: "InvalidPool",
  InvalidNode: "InvalidNode",
  /** A requested address (or a recovered one) is used by a Service it cannot be shared with (named). */
  SharingConflict: "SharingConflict",
  /** A pool named by the Service (or holding its requested address) does not admit its namespace or labels. */
  PoolNotAllowed: "PoolNotAllowed",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** The Normal Event a Service gets when its addresses change (MetalLB's reason). */
export const IP_ALLOCATED = "IPAllocated";
