// What a LoadBalancer Service asks for, read from its spec and annotations. Pure: no store,
// no allocator, so every rule here is tested by table.
import { annotationAttrs } from "../route-attrs.ts";
import type { Service } from "../types.ts";
import { type Family, type Ip, formatIp, parseIp } from "./ip.ts";
import { COMMUNITIES_ANNOTATION, LB_IPS_ANNOTATION, LOAD_BALANCER_CLASS, PEER_GROUP_ANNOTATION, POOL_ANNOTATION, SHARED_IP_ANNOTATION } from "./names.ts";

/**
 * What a Service needs to share an address, as MetalLB's sharing and backend keys: the same
 * key (within one namespace), the same backend (every Cluster Service alike; Local ones only
 * with the same pod selector), and ports ("TCP/80") no other user of the address has.
 */
export interface Sharing {
  /** "namespace/annotation value". */
  key: string;
  /** "Cluster", or "Local:" and the pod selector. */
  backend: string;
  ports: string[];
}

export interface LbRequest {
  /** Pools named by the addresspool annotation, in order; a name listed twice asks for two addresses. */
  pools?: string[];
  /** Exact addresses (loadBalancerIPs annotation, else spec.loadBalancerIP), canonical and distinct. */
  addresses?: Ip[];
  /** Families to auto-assign, in preference order; empty means "whichever the auto-assign pools have". */
  families: Family[];
  /** RequireDualStack: every family in `families` must be served. */
  requireAll: boolean;
  /** SingleStack (or unset policy): at most one auto-assigned address. */
  single: boolean;
  /** The allow-shared-ip annotation: the addresses may be shared. */
  sharing?: Sharing;
}

export type ParseResult = { ok: true; request: LbRequest } | { ok: false; message: string };

/** A LoadBalancer Service sart should serve: type LoadBalancer and our class or none. */
export function isOurLoadBalancer(svc: Service): boolean {
  const spec = svc.spec;
  if (!spec || spec.type !== "LoadBalancer") return false;
  return spec.loadBalancerClass === undefined || spec.loadBalancerClass === null || spec.loadBalancerClass === LOAD_BALANCER_CLASS;
}

function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim());
}

const DNS_LABELS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function familyOf(name: string): Family | undefined {
  return name === "IPv4" ? 4 : name === "IPv6" ? 6 : undefined;
}

export function parseLbRequest(svc: Service): ParseResult {
  const ann = svc.metadata.annotations ?? {};
  const request: LbRequest = { families: [], requireAll: false, single: true };

  const poolText = ann[POOL_ANNOTATION];
  if (poolText !== undefined) {
    const names = splitList(poolText);
    const bad = names.filter((n) => !DNS_LABELS.test(n) || n.length > 253);
    if (names.length === 0 || bad.length > 0) {
      return { ok: false, message: `annotation ${POOL_ANNOTATION}=${JSON.stringify(poolText)}: ${bad.map((b) => JSON.stringify(b)).join(", ")} is not a pool name` };
    }
    request.pools = names;
  }

  const ipsText = ann[LB_IPS_ANNOTATION];
  const fromSpec = svc.spec?.loadBalancerIP;
  if (ipsText !== undefined || (fromSpec !== undefined && fromSpec !== "")) {
    const source = ipsText !== undefined ? `annotation ${LB_IPS_ANNOTATION}` : "spec.loadBalancerIP";
    const items = ipsText !== undefined ? splitList(ipsText) : [fromSpec!.trim()];
    const seen = new Set<string>();
    const addresses: Ip[] = [];
    for (const item of items) {
      const ip = parseIp(item);
      if (!ip) return { ok: false, message: `${source}=${JSON.stringify(ipsText ?? fromSpec)}: ${JSON.stringify(item)} is not an IP address` };
      const text = formatIp(ip);
      if (seen.has(text)) continue;
      seen.add(text);
      addresses.push(ip);
    }
    request.addresses = addresses;
  }

  const shareText = ann[SHARED_IP_ANNOTATION];
  if (shareText !== undefined) {
    if (shareText.trim() === "") return { ok: false, message: `annotation ${SHARED_IP_ANNOTATION} is empty; give a sharing key` };
    request.sharing = { key: `${svc.metadata.namespace ?? "default"}/${shareText.trim()}`, backend: backendKey(svc), ports: servicePorts(svc) };
  }

  const communities = annotationAttrs(ann[COMMUNITIES_ANNOTATION]);
  if ("error" in communities) return { ok: false, message: `annotation ${COMMUNITIES_ANNOTATION}=${JSON.stringify(ann[COMMUNITIES_ANNOTATION])}: ${communities.error}` };

  const policy = svc.spec?.ipFamilyPolicy ?? "SingleStack";
  const listed: Family[] = [];
  for (const f of svc.spec?.ipFamilies ?? []) {
    const fam = familyOf(f);
    if (fam === undefined) return { ok: false, message: `spec.ipFamilies: ${JSON.stringify(f)} is neither IPv4 nor IPv6` };
    if (!listed.includes(fam)) listed.push(fam);
  }
  if (policy === "RequireDualStack" || policy === "PreferDualStack") {
    const both: Family[] = [...listed];
    for (const f of [4, 6] as Family[]) if (!both.includes(f)) both.push(f);
    request.families = both;
    request.requireAll = policy === "RequireDualStack";
    request.single = false;
  } else {
    request.families = listed.slice(0, 1);
  }
  return { ok: true, request };
}

/** MetalLB's backend key: Cluster Services share with each other; Local ones only with the same pod selector. */
export function backendKey(svc: Service): string {
  if (svc.spec?.externalTrafficPolicy !== "Local") return "Cluster";
  const selector = Object.entries(svc.spec.selector ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `Local:${selector.map(([k, v]) => `${k}=${v}`).join(",")}`;
}

/** The Service's ports as "TCP/80" (protocol defaults to TCP). */
export function servicePorts(svc: Service): string[] {
  return [...new Set((svc.spec?.ports ?? []).map((p) => `${p.protocol ?? "TCP"}/${p.port}`))].sort();
}

/** The Service's extra communities as attrs (invalid annotations are reported by parseLbRequest and add nothing here). */
export function serviceAttrs(svc: Service): string[] {
  const r = annotationAttrs(svc.metadata.annotations?.[COMMUNITIES_ANNOTATION]);
  return "attrs" in r ? r.attrs : [];
}

/** Peer groups named by the Service (empty: every peer). */
export function serviceGroups(svc: Service): string[] {
  const text = svc.metadata.annotations?.[PEER_GROUP_ANNOTATION];
  if (!text) return [];
  return splitList(text).filter((g) => g !== "");
}
