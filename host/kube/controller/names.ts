// Names the controller shares with the original sart (see shared/SART-COMPAT.md) and the
// few it adds. One place, so reconcilers and tests agree on every string.

export const API_VERSION = "sart.terassyi.net/v1alpha2";

// Annotations.
export const POOL_ANNOTATION = "sart.terassyi.net/addresspool";
export const LB_IPS_ANNOTATION = "sart.terassyi.net/loadBalancerIPs";
export const PEER_GROUP_ANNOTATION = "bgppeer.sart.terassyi.net/group";

// Labels.
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
export const PEER_NODE_LABEL = "bgppeer.sart.terassyi.net/node";
export const BLOCK_NODE_LABEL = "addressblock.sart.terassyi.net/node";
export const POOL_LABEL = "sart.terassyi.net/addresspool";
/** On a pod AddressBlock: the BlockRequest it answered, so a retried request never gets a second block. */
export const BLOCK_REQUEST_LABEL = "addressblock.sart.terassyi.net/blockrequest";
export const NODE_ASN_LABEL = "sart.terassyi.net/asn";
export const NODE_ROUTER_ID_LABEL = "sart.terassyi.net/router-id";

// Finalizers (the original's names where it had one).
export const SERVICE_FINALIZER = "service.sart.terassyi.net/finalizer";
export const POOL_FINALIZER = "addresspool.sart.terassyi.net/finalizer";
export const CLUSTER_BGP_FINALIZER = "clusterbgp.sart.terassyi.net/finalizer";

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
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
