// What a LoadBalancer Service asks for, read from its spec and annotations. Pure: no store,
// no allocator, so every rule here is tested by table.
import type { Service } from "../types.ts";
import { type Family, type Ip, formatIp, parseIp } from "./ip.ts";
import { LB_IPS_ANNOTATION, LOAD_BALANCER_CLASS, PEER_GROUP_ANNOTATION, POOL_ANNOTATION } from "./names.ts";

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

/** Peer groups named by the Service (empty: every peer). */
export function serviceGroups(svc: Service): string[] {
  const text = svc.metadata.annotations?.[PEER_GROUP_ANNOTATION];
  if (!text) return [];
  return splitList(text).filter((g) => g !== "");
}
