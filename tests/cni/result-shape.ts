// The ADD result's shape per CNI spec version, written from the spec text (SPEC.md at
// spec-v0.3.0/0.3.1/0.4.0/1.0.0/1.1.0, Section 5), independent of the code that builds it.
// Returns the problems found; an empty list is a valid result.

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;
const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const isIp = (s: unknown) => typeof s === "string" && (V4.test(s) || (s.includes(":") && /^[0-9a-f:.]+$/i.test(s)));
const isCidr = (s: unknown) => {
  if (typeof s !== "string") return false;
  const [ip, len, more] = s.split("/");
  return more === undefined && isIp(ip) && /^\d{1,3}$/.test(len ?? "") && Number(len) <= (ip!.includes(":") ? 128 : 32);
};
const isUint = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;

function atLeast(version: string, than: string): boolean {
  const a = version.split(".").map(Number);
  const b = than.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
}

export function resultProblems(version: string, r: unknown): string[] {
  const p: string[] = [];
  if (!r || typeof r !== "object" || Array.isArray(r)) return ["result is not an object"];
  const res = r as Record<string, unknown>;
  const v1 = atLeast(version, "1.0.0");
  const v11 = atLeast(version, "1.1.0");
  for (const k of Object.keys(res)) if (!["cniVersion", "interfaces", "ips", "routes", "dns"].includes(k)) p.push(`unknown key ${k}`);
  if (res.cniVersion !== version) p.push(`cniVersion ${JSON.stringify(res.cniVersion)} is not ${version}`);
  const ifaceKeys = v11 ? ["name", "mac", "mtu", "sandbox", "socketPath", "pciID"] : ["name", "mac", "sandbox"];
  const interfaces = res.interfaces;
  if (interfaces !== undefined && !Array.isArray(interfaces)) p.push("interfaces is not a list");
  const ifs = (Array.isArray(interfaces) ? interfaces : []) as Record<string, unknown>[];
  ifs.forEach((i, n) => {
    for (const k of Object.keys(i)) if (!ifaceKeys.includes(k)) p.push(`interfaces[${n}]: key ${k} is not in ${version}`);
    if (typeof i.name !== "string" || !i.name) p.push(`interfaces[${n}].name missing`);
    if (i.mac !== undefined && !(typeof i.mac === "string" && MAC.test(i.mac))) p.push(`interfaces[${n}].mac ${JSON.stringify(i.mac)}`);
    if (i.sandbox !== undefined && typeof i.sandbox !== "string") p.push(`interfaces[${n}].sandbox is not a string`);
    if (i.mtu !== undefined && !isUint(i.mtu)) p.push(`interfaces[${n}].mtu is not a uint`);
  });
  if (!Array.isArray(res.ips)) p.push("ips is not a list");
  ((Array.isArray(res.ips) ? res.ips : []) as Record<string, unknown>[]).forEach((ip, n) => {
    const keys = v1 ? ["address", "gateway", "interface"] : ["version", "address", "gateway", "interface"];
    for (const k of Object.keys(ip)) if (!keys.includes(k)) p.push(`ips[${n}]: key ${k} is not in ${version}`);
    if (!isCidr(ip.address)) p.push(`ips[${n}].address ${JSON.stringify(ip.address)} is not CIDR notation`);
    if (ip.gateway !== undefined && !isIp(ip.gateway)) p.push(`ips[${n}].gateway ${JSON.stringify(ip.gateway)}`);
    if (!v1) {
      const fam = typeof ip.address === "string" && ip.address.includes(":") ? "6" : "4";
      if (ip.version !== fam) p.push(`ips[${n}].version ${JSON.stringify(ip.version)}, address is IPv${fam}`);
    }
    if (ip.interface !== undefined && !(isUint(ip.interface) && (ip.interface as number) < ifs.length)) p.push(`ips[${n}].interface ${ip.interface} is not an index into interfaces`);
  });
  if (res.routes !== undefined && !Array.isArray(res.routes)) p.push("routes is not a list");
  ((Array.isArray(res.routes) ? res.routes : []) as Record<string, unknown>[]).forEach((rt, n) => {
    const keys = v11 ? ["dst", "gw", "mtu", "advmss", "priority", "table", "scope"] : ["dst", "gw"];
    for (const k of Object.keys(rt)) if (!keys.includes(k)) p.push(`routes[${n}]: key ${k} is not in ${version}`);
    if (!isCidr(rt.dst)) p.push(`routes[${n}].dst ${JSON.stringify(rt.dst)}`);
    if (rt.gw !== undefined && !isIp(rt.gw)) p.push(`routes[${n}].gw ${JSON.stringify(rt.gw)}`);
  });
  if (res.dns !== undefined && (typeof res.dns !== "object" || Array.isArray(res.dns))) p.push("dns is not an object");
  return p;
}

/** The spec's error JSON: cniVersion, code (uint), msg, optional details. */
export function errorProblems(version: string, e: unknown): string[] {
  const p: string[] = [];
  if (!e || typeof e !== "object") return ["error is not an object"];
  const err = e as Record<string, unknown>;
  for (const k of Object.keys(err)) if (!["cniVersion", "code", "msg", "details"].includes(k)) p.push(`unknown key ${k}`);
  if (err.cniVersion !== version) p.push(`cniVersion ${JSON.stringify(err.cniVersion)} is not ${version}`);
  if (!isUint(err.code) || err.code === 0) p.push(`code ${JSON.stringify(err.code)}`);
  if (typeof err.msg !== "string" || !err.msg) p.push("msg missing");
  if (err.details !== undefined && typeof err.details !== "string") p.push("details is not a string");
  return p;
}
