// A pod's network, as the original sart built it (SART-COMPAT): a veth pair, host side
// `veth` + 8 hex characters derived from the container ID and interface name, the pod's
// /32 and /128 on the container side with a scope-link route to the node's address of the
// family (on the host side too; a link-local one when the node has none) and a default
// route via it, and the pod's host routes in one dedicated table that one `ip rule` per
// family consults before main. ADD goes through rtnetlink from this process (host/netlink:
// a socket in the pod's namespace for its side, one kept in the agent's for the node's);
// where neither syscall backend is there (Node without the sart-sockopt addon) it runs
// `ip`: one `ip -batch` process in the pod's namespace, the node's side through one
// long-lived ip session (ip-session.ts). DEL's `link del` always goes through that session
// (see del()). Deleting the host end removes the pair, its addresses and every route through it.
// The host veth's alias `SART:pool:containerID:ifname` lets the kernel say who holds what.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { SART_RT_PROTO } from "../fib/fib.ts";
import { RT_SCOPE_LINK, RTPROT_BOOT } from "../netlink/message.ts";
import { ownNetnsFd, Rtnl, type Link } from "../netlink/socket.ts";
import { unavailable } from "../sockopt/syscalls.ts";
import { IpSession } from "./ip-session.ts";
import { CniError, Code } from "./protocol.ts";

/** The host veth's MAC: the same on every pod link (each is its own segment), so it needs no lookup. */
export const HOST_VETH_MAC = "ee:ee:ee:ee:ee:ee";
/** The IPv4 gateway when the node has no IPv4 address to give (a link-local one, as Calico does). */
export const FALLBACK_IPV4_GATEWAY = "169.254.1.1";
/**
 * On every host veth of an IPv6 pod, without DAD: a link-local address usable at once for
 * neighbour discovery on the link (a pod's first packets failed without it), and the
 * pods' IPv6 gateway when the node has no IPv6 address to give.
 */
export const HOST_VETH_LINK_LOCAL = "fe80::1";
const ALIAS_PREFIX = "SART";
const ALIAS_MAX = 255;

export interface PodNetOptions {
  /** Kernel table for the per-pod host routes. */
  table: number;
  /** Priority of the `ip rule` that sends lookups to the table. */
  rulePriority: number;
  hostAddresses: { ipv4?: string; ipv6?: string };
}

export interface PodLink {
  veth: string;
  containerId: string;
  ifname: string;
  /** CNI_NETNS: any path to a network namespace file. */
  netns: string;
  pools: string[];
  addresses: string[];
  mtu: number;
}

/** What recovery finds on the host: our veths and the pod addresses routed through them. */
export interface HostVeth {
  veth: string;
  containerId: string;
  ifname: string;
  pools: string[];
  addresses: string[];
}

export function vethName(containerId: string, ifname: string): string {
  return `veth${createHash("sha256").update(`${containerId}/${ifname}`).digest("hex").slice(0, 8)}`;
}

export function vethAlias(pools: string[], containerId: string, ifname: string): string {
  const alias = `${ALIAS_PREFIX}:${pools.join(",")}:${containerId}:${ifname}`;
  // The pool is a hint (the address says its pool); drop it rather than exceed IFALIASZ.
  return alias.length <= ALIAS_MAX ? alias : `${ALIAS_PREFIX}::${containerId}:${ifname}`;
}

export function parseAlias(alias: string | undefined): { pools: string[]; containerId: string; ifname: string } | undefined {
  const cols = alias?.split(":");
  if (!cols || cols.length !== 4 || cols[0] !== ALIAS_PREFIX || !cols[2] || !cols[3]) return undefined;
  return { pools: cols[1] ? cols[1].split(",") : [], containerId: cols[2], ifname: cols[3] };
}

/** The container side's MAC: 0a:58 and the IPv4 address (as Kubernetes' bridge plugins do), else hash bytes. */
export function containerMac(addresses: string[], containerId: string): string {
  const v4 = addresses.find((a) => !a.includes(":"));
  const bytes = v4 ? v4.split(".").map(Number) : [...createHash("sha256").update(containerId).digest().subarray(0, 4)];
  return ["0a", "58", ...bytes.map((b) => b.toString(16).padStart(2, "0"))].join(":");
}

export class PodNetwork {
  /** The pods' gateways: the node's addresses, put on every host veth. */
  readonly gateways: { ipv4: string; ipv6: string };
  /**
   * Why ADD runs `ip` (the host side through the long-lived session), or undefined when it
   * goes through rtnetlink (bun:ffi, or the Node addon).
   */
  readonly noNetlink = unavailable();
  private readonly session = new IpSession();
  private host?: Rtnl;
  /** IPv6 can be off in the kernel (ipv6.disable=1): then IPv4 pods only. */
  private readonly ipv6 = existsSync("/proc/sys/net/ipv6");
  private routing?: Promise<void>;

  constructor(private readonly o: PodNetOptions) {
    this.gateways = { ipv4: o.hostAddresses.ipv4 ?? FALLBACK_IPV4_GATEWAY, ipv6: o.hostAddresses.ipv6 ?? HOST_VETH_LINK_LOCAL };
  }

  /**
   * Forwarding on, and the rule per family that sends lookups to the pod table: once, when
   * the node first has pods (a node without pods keeps its routing as it is).
   */
  ensureRouting(): Promise<void> {
    this.routing ??= this.setUpRouting().catch((e) => {
      this.routing = undefined; // the next ADD tries again
      throw e;
    });
    return this.routing;
  }

  private async setUpRouting(): Promise<void> {
    writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    if (this.ipv6) writeFileSync("/proc/sys/net/ipv6/conf/all/forwarding", "1");
    for (const family of this.families()) {
      if (!(await this.ruleInstalled(family))) {
        await ip([family, "rule", "add", "pref", String(this.o.rulePriority), "table", String(this.o.table)]);
      }
    }
  }

  private families(): ("-4" | "-6")[] {
    return this.ipv6 ? ["-4", "-6"] : ["-4"];
  }

  /** Whether the rule of `family` (or of every family) is in place: STATUS reports limited connectivity without it. */
  async ruleInstalled(family?: "-4" | "-6"): Promise<boolean> {
    if (!family) {
      for (const f of this.families()) if (!(await this.ruleInstalled(f))) return false;
      return true;
    }
    const rules = JSON.parse((await ip(["-j", family, "rule", "show", "pref", String(this.o.rulePriority)])).stdout || "[]") as { table?: string }[];
    return rules.some((r) => r.table === String(this.o.table));
  }

  /**
   * Builds the pod's network; on failure removes what it made and throws CniError 999
   * naming the step. The pair is made from inside the pod's namespace (so a name that is
   * taken changes nothing), then the pod's side is configured, then the host's.
   */
  async add(p: PodLink): Promise<{ containerMac: string }> {
    if (this.noNetlink) this.session.prepare();
    await this.ensureRouting();
    const plan = podPlan(p, this.gateways, this.o.table);
    if (this.noNetlink) await this.addByIp(p, plan);
    else await this.addByNetlink(p, plan);
    return { containerMac: plan.containerMac };
  }

  /**
   * Through rtnetlink, in this process: a socket in the pod's namespace for its side, the
   * agent's for the host's. A failure after the pair exists takes it away through del().
   */
  private async addByNetlink(p: PodLink, plan: PodPlan): Promise<void> {
    let pod: Rtnl;
    try {
      pod = Rtnl.open(p.netns);
    } catch (e) {
      throw new CniError(Code.Internal, `creating ${p.ifname} in ${p.netns} with ${p.veth} for ${p.containerId}: ${(e as Error).message}`);
    }
    let made = false;
    let hostIndex: number | undefined;
    try {
      pod.addVeth({ name: p.ifname, mtu: p.mtu, mac: plan.containerMac, up: true }, { name: p.veth, mtu: p.mtu, mac: HOST_VETH_MAC, netnsFd: ownNetnsFd() });
      made = true;
      const inside = pod.link(p.ifname);
      hostIndex = inside.peerIndex; // the host end's index: no lookup on the host side
      applySteps(pod, inside, plan.pod);
    } catch (e) {
      // Once made, the pair goes; before, the names were taken: touch nothing.
      if (made) await this.del(p.veth).catch(() => {});
      throw new CniError(Code.Internal, `creating ${p.ifname} in ${p.netns} with ${p.veth} for ${p.containerId}: ${(e as Error).message}`);
    } finally {
      pod.close();
    }
    try {
      this.host ??= Rtnl.open();
      this.host.setLink({ name: p.veth, alias: plan.alias, up: true });
      applySteps(this.host, hostIndex ? { name: p.veth, index: hostIndex } : this.host.link(p.veth), plan.host);
    } catch (e) {
      await this.del(p.veth).catch(() => {});
      throw new CniError(Code.Internal, `setting up ${p.veth} for ${p.containerId}/${p.ifname}: ${(e as Error).message}`);
    }
  }

  /** Through `ip`: one `ip -batch` process in the pod's namespace, then the host side through the session. */
  private async addByIp(p: PodLink, plan: PodPlan): Promise<void> {
    const pod = [
      `link add ${p.ifname} mtu ${p.mtu} address ${plan.containerMac} type veth peer name ${p.veth} mtu ${p.mtu} address ${HOST_VETH_MAC} netns /proc/${process.pid}/ns/net`,
      `link set ${p.ifname} up`,
      ...plan.pod.map((step) => ipLine(step, p.ifname)),
    ];
    const host = [`link set ${p.veth} alias ${plan.alias} up`, ...plan.host.map((step) => ipLine(step, p.veth))];
    const made = await podBatch(pod, p.netns);
    if (made.failedAt !== undefined) {
      // Past the first line the pair exists: take it away. On the first, the names were taken: touch nothing.
      if (made.failedAt > 0) await this.del(p.veth).catch(() => {});
      throw new CniError(Code.Internal, `creating ${p.ifname} in ${p.netns} with ${p.veth} for ${p.containerId}: ${made.message}${made.failedAt >= 0 ? ` (at "${pod[made.failedAt]}")` : ""}`);
    }
    const failures = await this.session.run(host);
    if (failures.length) {
      await this.del(p.veth).catch(() => {});
      throw new CniError(Code.Internal, `setting up ${p.veth} for ${p.containerId}/${p.ifname}: ${failures[0]!.message} (at "${failures[0]!.line}")`);
    }
  }

  /**
   * Removes the pair (and with it every address and route on it); a missing veth is fine.
   * Through the ip session even where ADD uses rtnetlink: the kernel takes tens of
   * milliseconds to unregister a link (RCU grace periods) inside the request, which in this
   * process would stall the agent's event loop; ip waits for it instead.
   */
  async del(veth: string): Promise<void> {
    let failures = await this.session.run([`link del ${veth}`]);
    this.session.renew();
    if (/No such device/.test(failures[0]?.message ?? "")) {
      // The session may have held a stale index for the name (see ip-session.ts): ask a fresh one.
      failures = await this.session.run([`link del ${veth}`]);
      this.session.renew();
    }
    if (failures.length && !/Cannot find device|does not exist|No such device/.test(failures[0]!.message)) {
      throw new CniError(Code.Internal, `deleting ${veth}: ${failures[0]!.message}`);
    }
  }

  /** Ends the ip session and closes the netlink socket. */
  close(): void {
    this.session.close();
    this.host?.close();
    this.host = undefined;
  }

  /** Throws CniError 104 naming the first thing that differs from what ADD made. */
  async check(p: PodLink): Promise<void> {
    const fail = (what: string) => {
      throw new CniError(Code.CheckFailed, `${p.containerId}/${p.ifname}: ${what}`);
    };
    const links = JSON.parse((await ip(["-j", "link", "show", "dev", p.veth], true)).stdout || "[]") as { ifalias?: string; flags?: string[] }[];
    if (!links.length) fail(`host veth ${p.veth} is missing`);
    const alias = parseAlias(links[0]!.ifalias);
    if (alias?.containerId !== p.containerId || alias.ifname !== p.ifname) fail(`host veth ${p.veth} belongs to ${links[0]!.ifalias ?? "nobody"}`);
    if (!links[0]!.flags?.includes("UP")) fail(`host veth ${p.veth} is down`);
    const routed = new Set((await this.podRoutes(["dev", p.veth])).map((r) => r.dst));
    for (const a of p.addresses) if (!routed.has(a)) fail(`no route to ${a} through ${p.veth} in table ${this.o.table}`);
    const inside = await ipIn(p.netns, ["-j", "addr", "show", "dev", p.ifname]);
    if (inside.code !== 0) fail(`${p.ifname} in ${p.netns}: ${inside.stderr.trim()}`);
    const addrs = new Set((JSON.parse(inside.stdout || "[]") as { addr_info?: { local: string }[] }[]).flatMap((l) => (l.addr_info ?? []).map((a) => a.local)));
    for (const a of p.addresses) if (!addrs.has(a)) fail(`${p.ifname} in ${p.netns} lacks ${a}`);
  }

  /** Host routes in the pod table (both families), destinations without their /32 or /128; none when the table does not exist yet. */
  private async podRoutes(filter: string[]): Promise<{ dst: string; dev?: string }[]> {
    const out: { dst: string; dev?: string }[] = [];
    for (const family of this.families()) {
      const r = await ip(["-j", family, "route", "show", "table", String(this.o.table), ...filter], true);
      if (r.code !== 0) {
        if (/table does not exist/.test(r.stderr)) continue;
        throw new CniError(Code.Internal, `listing table ${this.o.table}: ${r.stderr.trim()}`);
      }
      for (const route of JSON.parse(r.stdout || "[]") as { dst: string; dev?: string }[]) out.push({ dst: route.dst.replace(/\/(32|128)$/, ""), dev: route.dev });
    }
    return out;
  }

  /** Our veths on the host (by alias) with the pod addresses routed through each. */
  async list(): Promise<HostVeth[]> {
    const links = JSON.parse((await ip(["-j", "link", "show", "type", "veth"])).stdout || "[]") as { ifname: string; ifalias?: string }[];
    const byDev = new Map<string, string[]>();
    for (const r of await this.podRoutes([])) {
      if (!r.dev) continue;
      const list = byDev.get(r.dev) ?? [];
      list.push(r.dst);
      byDev.set(r.dev, list);
    }
    const out: HostVeth[] = [];
    for (const l of links) {
      const a = parseAlias(l.ifalias);
      if (a) out.push({ veth: l.ifname, ...a, addresses: byDev.get(l.ifname) ?? [] });
    }
    return out;
  }
}

/** One address or route of a pod's network, on the side's veth end. */
type Step =
  | { address: string; prefixLength: number; nodad?: boolean }
  | { dst: string; dstLength: number; via?: string; scope?: number; table?: number; protocol?: number };

/** What ADD makes beyond the pair itself, the same whichever way it is made. */
interface PodPlan {
  containerMac: string;
  alias: string;
  /** On the container's end, in order (the gateway's route before the default route via it). */
  pod: Step[];
  /** On the host's end, after it has its alias and is up. */
  host: Step[];
}

function podPlan(p: PodLink, gateways: { ipv4: string; ipv6: string }, table: number): PodPlan {
  const v4 = p.addresses.filter((a) => !a.includes(":"));
  const v6 = p.addresses.filter((a) => a.includes(":"));
  const { ipv4: gw4, ipv6: gw6 } = gateways;
  const linkLocal6 = gw6.toLowerCase().startsWith("fe80:");
  // sart's protocol id, as the FIB writer's routes (which live in another table).
  const podTable = { table, protocol: SART_RT_PROTO };
  return {
    containerMac: containerMac(p.addresses, p.containerId),
    alias: vethAlias(p.pools, p.containerId, p.ifname),
    pod: [
      ...v4.flatMap((a): Step[] => [
        { address: a, prefixLength: 32 },
        { dst: gw4, dstLength: 32, scope: RT_SCOPE_LINK },
        { dst: "0.0.0.0", dstLength: 0, via: gw4 },
      ]),
      ...v6.flatMap((a): Step[] => [
        { address: a, prefixLength: 128, nodad: true },
        ...(linkLocal6 ? [] : [{ dst: gw6, dstLength: 128 }]),
        { dst: "::", dstLength: 0, via: gw6 },
      ]),
    ],
    host: [
      ...(v4.length ? [{ address: gw4, prefixLength: 32 }] : []),
      ...(v6.length ? [{ address: HOST_VETH_LINK_LOCAL, prefixLength: 64, nodad: true }, ...(linkLocal6 ? [] : [{ address: gw6, prefixLength: 128, nodad: true }])] : []),
      ...v4.map((a) => ({ dst: a, dstLength: 32, scope: RT_SCOPE_LINK, ...podTable })),
      ...v6.map((a) => ({ dst: a, dstLength: 128, ...podTable })),
    ],
  };
}

/** A step as an `ip -batch` line on `dev`. */
function ipLine(step: Step, dev: string): string {
  if ("address" in step) return `addr add ${step.address}/${step.prefixLength} dev ${dev}${step.nodad ? " nodad" : ""}`;
  const via = step.via ? ` via ${step.via}` : "";
  const scope = step.scope === RT_SCOPE_LINK ? " scope link" : "";
  const table = step.table ? ` table ${step.table} proto ${step.protocol}` : "";
  return `route add ${step.dst}/${step.dstLength}${via} dev ${dev}${scope}${table}`;
}

/** The steps as rtnetlink requests on `dev`; the first refusal throws. */
function applySteps(rtnl: Rtnl, dev: Link, steps: Step[]): void {
  for (const step of steps) {
    if ("address" in step) rtnl.addAddress(dev, step.address, step.prefixLength, { nodad: step.nodad });
    else rtnl.addRoute(dev, { ...step, protocol: step.protocol ?? RTPROT_BOOT });
  }
}

interface IpResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ip ARGS` with `input` on its stdin; throws on failure unless `tolerate`. */
function ip(args: string[], tolerate = false, input?: string, prefix: string[] = []): Promise<IpResult> {
  const [cmd, ...rest] = [...prefix, "ip", ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, rest, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) => reject(new CniError(Code.Internal, `running ${cmd}: ${e.message}`)));
    child.on("close", (code) => {
      const r = { code: code ?? -1, stdout, stderr };
      if (r.code !== 0 && !tolerate) reject(new CniError(Code.Internal, `ip ${args.join(" ")}: ${stderr.trim() || `exit ${r.code}`}`));
      else resolve(r);
    });
    if (input !== undefined) {
      child.stdin!.on("error", () => {}); // an ip that failed to start is reported by "close"
      child.stdin!.end(input);
    }
  });
}

/** `ip` inside the namespace at `netns`: `ip -n NAME` for /run/netns names, else through nsenter. */
function ipIn(netns: string, args: string[], input?: string): Promise<IpResult> {
  const named = /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(netns);
  return named ? ip(["-n", named[1]!, ...args], true, input) : ip(args, true, input, ["nsenter", `--net=${netns}`]);
}

/** One `ip -batch -` run inside `netns`; it stops at the first failing line: its index (-1: unknown) and ip's message. */
async function podBatch(lines: string[], netns: string): Promise<{ failedAt?: number; message: string }> {
  const r = await ipIn(netns, ["-batch", "-"], `${lines.join("\n")}\n`);
  if (r.code === 0) return { message: "" };
  const line = /Command failed -:(\d+)/.exec(r.stderr);
  return { failedAt: line ? Number(line[1]) - 1 : -1, message: r.stderr.replace(/Command failed -:\d+/, "").trim() || `exit ${r.code}` };
}
