// Text output of `sart bgp` (the tables a gobgp or FRR user expects); -o json prints the
// API's objects instead.
import type { GlobalView, NeighborView, RibEntryView } from "../bgp/views.ts";
import { asPathText } from "../bgp/views.ts";
import { formatCommunity, WELL_KNOWN_COMMUNITIES } from "../core/communities.ts";

/** "65535:65281" -> "no-export": the table shows well-known communities by name (JSON keeps ASN:VALUE). */
const COMMUNITY_NAMES = new Map(Object.entries(WELL_KNOWN_COMMUNITIES).map(([name, v]) => [formatCommunity(v), name]));

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? "").padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** Seconds as hh:mm:ss (hours grow past 99). */
export function clock(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * The Up/Down column: how long an Established session has been up (00:00:00 in its first
 * second: uptime is whole seconds), else "never" or "down" after it was up before.
 */
export function upDown(n: Pick<NeighborView, "state" | "uptime" | "counters">): string {
  if (n.state === "Established") return clock(n.uptime);
  return n.counters.establishedTransitions > 0 ? "down" : "never";
}

export function globalText(g: GlobalView): string {
  return [
    `AS:        ${g.asn}`, `Router-ID: ${g.routerId}`, `Listening: ${g.listen.address}:${g.listen.port}`,
    `Neighbors: ${g.neighbors} (${g.established} established)`, `RIB:       ${g.rib["ipv4-unicast"]} IPv4, ${g.rib["ipv6-unicast"]} IPv6 prefixes, ${g.rib.paths} paths`,
    `FIB:       ${g.fib.enabled ? `table ${g.fib.table}` : "disabled"}`, "",
  ].join("\n");
}

export function neighborsTable(list: NeighborView[]): string {
  return table(
    ["Peer", "AS", "Up/Down", "State", "Rcvd", "Accepted", "Advertised"],
    list.map((n) => [n.address, String(n.asn), upDown(n), n.state, String(n.counters.received), String(n.counters.accepted), String(n.counters.advertised)]),
  );
}

export function neighborDetail(n: NeighborView): string {
  const since = n.state === "Established" ? `up for ${clock(n.uptime)}` : n.counters.establishedTransitions > 0 ? `down (was up ${n.counters.establishedTransitions} times)` : "never up";
  const lines = [
    `BGP neighbor is ${n.address}, remote AS ${n.asn}${n.passive ? " (passive)" : ""}`,
    `  BGP version 4, remote router ID ${n.routerId ?? "unknown"}`,
    `  BGP state = ${n.state}, ${since}`,
    `  Configured hold time ${n.holdTime} s, families ${n.families.join(", ")}, export ${n.export}, port ${n.port}`,
  ];
  const options = [
    n.keepaliveTime && `keepalive ${n.keepaliveTime} s`, n.connectRetryTime && `connect retry ${n.connectRetryTime} s`,
    n.ttl !== undefined && `TTL ${n.ttl}`, n.passwordSet && "TCP MD5",
  ].filter(Boolean);
  if (options.length) lines.push(`  Options: ${options.join(", ")}`);
  if (n.bfd) {
    const b = n.bfd;
    lines.push(
      `  BFD: ${b.state} (diag ${b.diag}), peer ${b.remoteState} (diag ${b.remoteDiag}), since ${b.since}`,
      `    tx ${b.tx} ms, rx ${b.rx} ms, multiplier ${b.multiplier} (peer ${b.remoteMultiplier}), detection time ${b.detectionTime} ms`,
      `    discriminators ${b.localDiscriminator}/${b.remoteDiscriminator}, packets sent ${b.packetsOut}, received ${b.packetsIn}, up ${b.upTransitions} times`,
    );
  }
  if (n.negotiated) {
    lines.push(
      `  Negotiated hold time ${n.negotiated.holdTime} s, keepalive ${n.negotiated.keepalive} s`,
      `  Families: ${n.negotiated.families.join(", ")}`,
      `  Peer capabilities: ${n.negotiated.capabilities.join(", ")}`,
    );
  }
  const c = n.counters;
  lines.push(
    "  Message statistics:",
    table(["", "Sent", "Rcvd"], Object.keys(c.messagesIn).map((k) => [`    ${k}`, String(c.messagesOut[k] ?? 0), String(c.messagesIn[k] ?? 0)])).trimEnd(),
    `  Prefixes: received ${c.received}, accepted ${c.accepted}, advertised ${c.advertised}`,
  );
  if (n.lastError) lines.push(`  Last error: ${n.lastError}`);
  return lines.join("\n") + "\n";
}

export function ribTable(entries: RibEntryView[]): string {
  const rows: string[][] = [];
  for (const e of entries) {
    for (const p of e.paths) {
      rows.push([
        `${p.best ? "*>" : p.multipath ? "*=" : p.eligible ? "* " : "  "}${p.stale ? "S" : ""}`,
        e.prefix, p.nextHop, asPathText(p.asPath), p.origin, p.med === undefined ? "" : String(p.med),
        p.localPref === undefined ? "" : String(p.localPref), [...p.communities.map((c) => COMMUNITY_NAMES.get(c) ?? c), ...p.largeCommunities].join(" "), p.peer,
      ]);
    }
  }
  return table(["", "Network", "Next Hop", "AS_PATH", "Origin", "MED", "LocPrf", "Communities", "Peer"], rows);
}
