// `sart bgp ...`: the speaker's HTTP API from the command line (like `gobgp`).
// undici is the client: "undici/index.js", since Bun maps the bare "undici" to
// a stub (NOTES-runtime); it also speaks HTTP over unix sockets (socketPath).
import { Client } from "undici/index.js";
import type { GlobalView, NeighborView, RibEntryView } from "../bgp/views.ts";
import { asPathText } from "../bgp/views.ts";

const USAGE = `usage: sart bgp [--api host:port|unix:/path] [-o json] COMMAND

  global get
  neighbor list
  neighbor get ADDR
  neighbor add ADDR --asn N [--port P] [--passive] [--hold-time S] [--families ipv4-unicast,ipv6-unicast] [--export local|all|none]
  neighbor del ADDR
  rib get [--family ipv4-unicast|ipv6-unicast] [--limit N] [--after PREFIX]
  rib add PREFIX [--next-hop ADDR|self] [--community ASN:VALUE ...]
  rib del PREFIX

  --api   the speaker's API (default 127.0.0.1:5000; $SART_API)
  -o json JSON output (default: a table)
`;

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
}

const VALUE_FLAGS = new Set(["--api", "-o", "--output", "--asn", "--port", "--hold-time", "--families", "--export", "--family", "--limit", "--after", "--next-hop", "--community", "--local-address"]);
const BOOL_FLAGS = new Set(["--passive", "-h", "--help"]);

function parse(args: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let value: string | undefined;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (VALUE_FLAGS.has(a)) {
      if (value === undefined) {
        if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
        value = args[++i];
      }
      flags.set(a, [...(flags.get(a) ?? []), value]);
    } else if (BOOL_FLAGS.has(a)) {
      flags.set(a, ["true"]);
    } else if (a.startsWith("-") && a.length > 1) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

class Api {
  private client: Client;

  constructor(readonly target: string) {
    if (target.startsWith("unix:")) this.client = new Client("http://localhost", { socketPath: target.slice(5) });
    else this.client = new Client(`http://${target}`);
  }

  async call<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    let res;
    try {
      res = await this.client.request({
        method, path,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`cannot reach the speaker API at ${this.target}: ${(e as Error).message}`);
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(`${method} ${path}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`);
    }
    if (res.statusCode >= 400) throw new Error((json as { error?: string })?.error ?? `${method} ${path}: HTTP ${res.statusCode}`);
    return json as T;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? "").padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

function duration(s: number): string {
  if (!s) return "never";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function neighborsTable(list: NeighborView[]): string {
  return table(
    ["Peer", "AS", "Up/Down", "State", "Rcvd", "Accepted", "Advertised"],
    list.map((n) => [n.address, String(n.asn), duration(n.uptime), n.state, String(n.counters.received), String(n.counters.accepted), String(n.counters.advertised)]),
  );
}

function neighborDetail(n: NeighborView): string {
  const lines = [
    `BGP neighbor is ${n.address}, remote AS ${n.asn}${n.passive ? " (passive)" : ""}`,
    `  BGP version 4, remote router ID ${n.routerId ?? "unknown"}`,
    `  BGP state = ${n.state}, up for ${duration(n.uptime)}`,
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

function ribTable(entries: RibEntryView[]): string {
  const rows: string[][] = [];
  for (const e of entries) {
    for (const p of e.paths) {
      rows.push([
        `${p.best ? "*>" : p.multipath ? "*=" : p.eligible ? "* " : "  "}${p.stale ? "S" : ""}`,
        e.prefix, p.nextHop, asPathText(p.asPath), p.origin, p.med === undefined ? "" : String(p.med),
        p.localPref === undefined ? "" : String(p.localPref), p.communities.join(" "), p.peer,
      ]);
    }
  }
  return table(["", "Network", "Next Hop", "AS_PATH", "Origin", "MED", "LocPrf", "Communities", "Peer"], rows);
}

function one(flags: Map<string, string[]>, name: string): string | undefined {
  return flags.get(name)?.at(-1);
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a non-negative integer, not ${JSON.stringify(v)}`);
  return n;
}

async function execute(api: Api, p: Parsed, json: boolean): Promise<string> {
  const [area, verb, arg] = p.positional;
  const out = (value: unknown, text: () => string) => (json ? JSON.stringify(value, null, 2) + "\n" : text());
  const need = (what: string) => {
    if (!arg) throw new UsageError(`${area} ${verb}: ${what} is required`);
    return arg;
  };
  switch (`${area} ${verb}`) {
    case "global get": {
      const g = await api.call<GlobalView>("GET", "/v1/global");
      return out(g, () => [
        `AS:        ${g.asn}`, `Router-ID: ${g.routerId}`, `Listening: ${g.listen.address}:${g.listen.port}`,
        `Neighbors: ${g.neighbors} (${g.established} established)`, `RIB:       ${g.rib["ipv4-unicast"]} IPv4, ${g.rib["ipv6-unicast"]} IPv6 prefixes, ${g.rib.paths} paths`,
        `FIB:       ${g.fib.enabled ? `table ${g.fib.table}` : "disabled"}`, "",
      ].join("\n"));
    }
    case "neighbor list": {
      const list = await api.call<NeighborView[]>("GET", "/v1/neighbors");
      return out(list, () => neighborsTable(list));
    }
    case "neighbor get": {
      const n = await api.call<NeighborView>("GET", `/v1/neighbors/${encodeURIComponent(need("ADDR"))}`);
      return out(n, () => neighborDetail(n));
    }
    case "neighbor add": {
      const asn = int(one(p.flags, "--asn"), "--asn");
      if (asn === undefined) throw new UsageError("neighbor add: --asn is required");
      const body: Record<string, unknown> = { address: need("ADDR"), asn };
      const port = int(one(p.flags, "--port"), "--port");
      if (port !== undefined) body.port = port;
      const hold = int(one(p.flags, "--hold-time"), "--hold-time");
      if (hold !== undefined) body.holdTime = hold;
      if (p.flags.has("--passive")) body.passive = true;
      const fams = p.flags.get("--families");
      if (fams) body.families = fams.flatMap((f) => f.split(",")).filter(Boolean);
      if (one(p.flags, "--export")) body.export = one(p.flags, "--export");
      if (one(p.flags, "--local-address")) body.localAddress = one(p.flags, "--local-address");
      const n = await api.call<NeighborView>("POST", "/v1/neighbors", body);
      return out(n, () => `neighbor ${n.address} added (AS ${n.asn})\n`);
    }
    case "neighbor del": {
      const r = await api.call<{ deleted: string }>("DELETE", `/v1/neighbors/${encodeURIComponent(need("ADDR"))}`);
      return out(r, () => `neighbor ${r.deleted} deleted\n`);
    }
    case "rib get": {
      const family = one(p.flags, "--family") ?? "ipv4-unicast";
      const limit = int(one(p.flags, "--limit"), "--limit");
      let after = one(p.flags, "--after");
      const entries: RibEntryView[] = [];
      // Without --limit: every page.
      for (;;) {
        const q = new URLSearchParams({ family, limit: String(limit ?? 1000) });
        if (after) q.set("after", after);
        const page = await api.call<RibEntryView[]>("GET", `/v1/rib?${q}`);
        entries.push(...page);
        if (limit !== undefined || page.length < 1000) break;
        after = page[page.length - 1].prefix;
      }
      return out(entries, () => ribTable(entries));
    }
    case "rib add": {
      const body: Record<string, unknown> = { prefix: need("PREFIX") };
      if (one(p.flags, "--next-hop")) body.nextHop = one(p.flags, "--next-hop");
      const comms = p.flags.get("--community");
      if (comms) body.communities = comms.flatMap((c) => c.split(",")).filter(Boolean);
      const r = await api.call<{ prefix: string }>("POST", "/v1/rib", body);
      return out(r, () => `route ${r.prefix} added\n`);
    }
    case "rib del": {
      const r = await api.call<{ withdrawn: string }>("DELETE", "/v1/rib", { prefix: need("PREFIX") });
      return out(r, () => `route ${r.withdrawn} withdrawn\n`);
    }
  }
  throw new UsageError(p.positional.length ? `unknown command: ${p.positional.join(" ")}` : "a command is required");
}

export async function run(args: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parse(args);
  } catch (e) {
    process.stderr.write(`sart bgp: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (p.flags.has("-h") || p.flags.has("--help") || p.positional[0] === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const output = one(p.flags, "-o") ?? one(p.flags, "--output");
  if (output !== undefined && output !== "json") {
    process.stderr.write(`sart bgp: -o supports json only, not ${JSON.stringify(output)}\n`);
    return 2;
  }
  const api = new Api(one(p.flags, "--api") ?? process.env.SART_API ?? "127.0.0.1:5000");
  try {
    process.stdout.write(await execute(api, p, output === "json"));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sart bgp: ${e.message}\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`sart bgp: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await api.close().catch(() => undefined);
  }
}
