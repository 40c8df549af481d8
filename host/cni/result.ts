// The ADD result in the shape of the version the config asked for: 0.3.x and 0.4.0 carry
// `version` ("4"/"6") on each IP, 1.0.0 drops it, 1.1.0 adds `mtu` to interfaces. A result
// handed in as prevResult (sart-cni not first in its chain) keeps its entries; ours follow.
import { compareVersions } from "./protocol.ts";
import { HOST_VETH_MAC } from "./podnet.ts";

export interface AddOutcome {
  version: string;
  veth: string;
  ifname: string;
  netns: string;
  containerMac: string;
  addresses: string[];
  mtu: number;
  gateways: { ipv4: string; ipv6: string };
  dns?: unknown;
  prevResult?: Record<string, unknown>;
}

export function addResult(o: AddOutcome): Record<string, unknown> {
  const v1 = compareVersions(o.version, "1.0.0")! >= 0;
  const v11 = compareVersions(o.version, "1.1.0")! >= 0;
  const prev = o.prevResult ?? {};
  const interfaces = Array.isArray(prev.interfaces) ? [...prev.interfaces] : [];
  const ips = Array.isArray(prev.ips) ? [...prev.ips] : [];
  const routes = Array.isArray(prev.routes) ? [...prev.routes] : [];
  const mtu = v11 ? { mtu: o.mtu } : {};
  interfaces.push({ name: o.veth, mac: HOST_VETH_MAC, ...mtu }, { name: o.ifname, mac: o.containerMac, ...mtu, sandbox: o.netns });
  const podIf = interfaces.length - 1;
  for (const a of o.addresses) {
    const v6 = a.includes(":");
    const gateway = v6 ? o.gateways.ipv6 : o.gateways.ipv4;
    ips.push({ ...(v1 ? {} : { version: v6 ? "6" : "4" }), address: `${a}/${v6 ? 128 : 32}`, gateway, interface: podIf });
    routes.push({ dst: v6 ? "::/0" : "0.0.0.0/0", gw: gateway });
  }
  const dns = o.dns ?? prev.dns;
  return { cniVersion: o.version, interfaces, ips, routes, ...(dns ? { dns } : {}) };
}

/** The addresses (without prefix length) a result gives `ifname` in `netns` (CHECK reads prevResult). */
export function resultAddresses(result: unknown, ifname: string, netns: string | undefined): string[] | undefined {
  if (!result || typeof result !== "object") return undefined;
  const r = result as { interfaces?: { name?: string; sandbox?: string }[]; ips?: { address?: string; interface?: number }[] };
  const index = r.interfaces?.findIndex((i) => i.name === ifname && (!netns || !i.sandbox || i.sandbox === netns));
  if (index === undefined || index < 0) return undefined;
  return (r.ips ?? []).filter((ip) => ip.interface === index && typeof ip.address === "string").map((ip) => ip.address!.replace(/\/\d+$/, ""));
}
