// `sart bgp ...`: the speaker's (or agent's) HTTP API from the command line, like `gobgp`.
// Each AREA VERB is one entry below with its own --help; the API is found without flags
// (api-client.ts).
import type { GlobalView, NeighborView, RibEntryView } from "../bgp/views.ts";
import { parseCommunity, parseExtendedCommunity, parseLargeCommunity, WELL_KNOWN_COMMUNITIES } from "../core/communities.ts";
import { ApiClient, API_HELP, resolveApi } from "./api-client.ts";
import { flag, nonNegativeInt, type Parsed, parseArgs, UsageError, wantsHelp } from "./args.ts";
import { globalText, neighborDetail, neighborsTable, ribTable } from "./bgp-text.ts";

const COMMON = `Options for every sart bgp command:
${API_HELP}
  -o json      print the API's JSON instead of a table
  -h, --help   help for the command it follows`;

interface Outcome {
  value: unknown;
  text: () => string;
  /** Exit status (0 when unset) and a line for stderr, e.g. a prefix not found. */
  status?: number;
  error?: string;
}

interface Command {
  /** What follows "sart bgp AREA VERB". */
  args: string;
  summary: string;
  /** Extra lines of --help: what it does, its own flags. */
  details: string;
  flags?: string[];
  boolFlags?: string[];
  run(api: ApiClient, p: Parsed, arg: string | undefined): Promise<Outcome>;
}

const required = (arg: string | undefined, what: string): string => {
  if (!arg) throw new UsageError(`${what} is required`);
  return arg;
};

const COMMANDS: Record<string, Record<string, Command>> = {
  global: {
    get: {
      args: "",
      summary: "the speaker's AS, router id, listener, neighbour and RIB counts",
      details: "Shows the speaker's AS, router id, BGP listener, neighbour counts, RIB size and FIB table.",
      async run(api) {
        const g = await api.call<GlobalView>("GET", "/v1/global");
        return { value: g, text: () => globalText(g) };
      },
    },
  },
  neighbor: {
    list: {
      args: "",
      summary: "every neighbour: AS, up/down time, state, prefix counts",
      details: "One line per neighbour: address, AS, time up (Established) or never/down, FSM state, prefixes\nreceived, accepted and advertised.",
      async run(api) {
        const list = await api.call<NeighborView[]>("GET", "/v1/neighbors");
        return { value: list, text: () => neighborsTable(list) };
      },
    },
    get: {
      args: "ADDR",
      summary: "one neighbour in detail (negotiated capabilities, counters, last error)",
      details: "The neighbour at ADDR: configuration, negotiated hold time, families and capabilities,\nmessage counters, prefix counts and the last error or NOTIFICATION.",
      async run(api, _p, arg) {
        const n = await api.call<NeighborView>("GET", `/v1/neighbors/${encodeURIComponent(required(arg, "ADDR"))}`);
        return { value: n, text: () => neighborDetail(n) };
      },
    },
    add: {
      args: "ADDR --asn N [--port P] [--local-address A] [--passive] [--hold-time S] [--families F,F] [--export local|all|none] [--extended-optional-parameters]",
      summary: "add a neighbour at run time",
      details: `Adds a neighbour, as a neighbors[] entry of the speaker's YAML would (docs/speaker.md).
  --asn N                 its AS (required)
  --port P                its BGP port (default 179)
  --local-address A       our source address for the session
  --passive               wait for it to connect
  --hold-time S           hold time to offer (default 90)
  --families F,F          ipv4-unicast and/or ipv6-unicast (default ipv4-unicast)
  --export local|all|none what we send it (default local: our own routes only)
  --extended-optional-parameters  our OPEN in the RFC 9072 format (peers that require it)`,
      flags: ["--asn", "--port", "--local-address", "--hold-time", "--families", "--export"],
      boolFlags: ["--passive", "--extended-optional-parameters"],
      async run(api, p, arg) {
        const asn = nonNegativeInt(flag(p, "--asn"), "--asn");
        if (asn === undefined) throw new UsageError("--asn is required");
        const body: Record<string, unknown> = { address: required(arg, "ADDR"), asn };
        const port = nonNegativeInt(flag(p, "--port"), "--port");
        if (port !== undefined) body.port = port;
        const hold = nonNegativeInt(flag(p, "--hold-time"), "--hold-time");
        if (hold !== undefined) body.holdTime = hold;
        if (p.flags.has("--passive")) body.passive = true;
        if (p.flags.has("--extended-optional-parameters")) body.extendedOptionalParameters = true;
        const fams = p.flags.get("--families");
        if (fams) body.families = fams.flatMap((f) => f.split(",")).filter(Boolean);
        if (flag(p, "--export")) body.export = flag(p, "--export");
        if (flag(p, "--local-address")) body.localAddress = flag(p, "--local-address");
        const n = await api.call<NeighborView>("POST", "/v1/neighbors", body);
        return { value: n, text: () => `neighbor ${n.address} added (AS ${n.asn})\n` };
      },
    },
    del: {
      args: "ADDR",
      summary: "remove a neighbour (it gets Cease 6/3)",
      details: "Removes the neighbour at ADDR; an Established session ends with Cease 6/3 (peer de-configured).",
      async run(api, _p, arg) {
        const r = await api.call<{ deleted: string }>("DELETE", `/v1/neighbors/${encodeURIComponent(required(arg, "ADDR"))}`);
        return { value: r, text: () => `neighbor ${r.deleted} deleted\n` };
      },
    },
  },
  rib: {
    get: {
      args: "[PREFIX|ADDRESS] [--family ipv4-unicast|ipv6-unicast] [--limit N] [--after PREFIX]",
      summary: "the Loc-RIB with every path, or the entry for one prefix or address",
      details: `Shows routes with every path (*> best, *= multipath, S stale through a graceful restart).
  PREFIX                  that prefix only (e.g. 198.51.100.0/24)
  ADDRESS                 the longest prefix containing the address (e.g. 198.51.100.7), like gobgp
  --family F              ipv4-unicast (default) or ipv6-unicast, without PREFIX
  --limit N               at most N prefixes (default: all, fetched 1000 at a time)
  --after PREFIX          start after PREFIX (address order)
Exit status 1 when PREFIX or ADDRESS is not in the RIB (-o json prints []).`,
      flags: ["--family", "--limit", "--after"],
      async run(api, p, arg) {
        if (arg) {
          if (p.flags.has("--limit") || p.flags.has("--after")) throw new UsageError("--limit and --after page the whole table: not with PREFIX");
          const found = await api.call<RibEntryView[]>("GET", `/v1/rib?${new URLSearchParams({ prefix: arg })}`);
          if (found.length === 0) return { value: found, text: () => "", status: 1, error: `${arg}: not in the RIB` };
          return { value: found, text: () => ribTable(found) };
        }
        const family = flag(p, "--family") ?? "ipv4-unicast";
        const limit = nonNegativeInt(flag(p, "--limit"), "--limit");
        let after = flag(p, "--after");
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
        return { value: entries, text: () => ribTable(entries) };
      },
    },
    add: {
      args: "PREFIX [--next-hop ADDR|self] [--community C ...] [--large-community L ...] [--extended-community E ...] [--local-pref N] [--med N]",
      summary: "originate a route",
      details: `Originates PREFIX (replacing an earlier origination of it) and announces it to the neighbours.
  --next-hop ADDR|self    next hop (default self: our address on each session)
  --community C           ASN:VALUE or a well-known name: ${Object.keys(WELL_KNOWN_COMMUNITIES).join(", ")}
  --large-community L     GLOBAL:LOCAL1:LOCAL2
  --extended-community E  rt:ADMIN:VALUE or soo:ADMIN:VALUE (ADMIN an ASN or IPv4 address), or 16 hex digits
  --local-pref N          LOCAL_PREF for iBGP neighbours
  --med N                 MULTI_EXIT_DISC
Community flags repeat, or take comma-separated lists.`,
      flags: ["--next-hop", "--community", "--large-community", "--extended-community", "--local-pref", "--med"],
      async run(api, p, arg) {
        const body: Record<string, unknown> = { prefix: required(arg, "PREFIX") };
        if (flag(p, "--next-hop")) body.nextHop = flag(p, "--next-hop");
        const lists: [string, string, (s: string) => unknown][] = [
          ["--community", "communities", parseCommunity],
          ["--large-community", "largeCommunities", parseLargeCommunity],
          ["--extended-community", "extendedCommunities", parseExtendedCommunity],
        ];
        for (const [name, field, parse] of lists) {
          const values = p.flags.get(name)?.flatMap((c) => c.split(",")).filter(Boolean);
          if (!values) continue;
          for (const v of values) {
            try {
              parse(v); // the speaker's own parser: a typo is a usage error here, before any request
            } catch (e) {
              throw new UsageError(`${name}: ${(e as Error).message}`);
            }
          }
          body[field] = values;
        }
        const localPref = nonNegativeInt(flag(p, "--local-pref"), "--local-pref");
        if (localPref !== undefined) body.localPref = localPref;
        const med = nonNegativeInt(flag(p, "--med"), "--med");
        if (med !== undefined) body.med = med;
        const r = await api.call<{ prefix: string }>("POST", "/v1/rib", body);
        return { value: r, text: () => `route ${r.prefix} added\n` };
      },
    },
    del: {
      args: "PREFIX",
      summary: "withdraw a route we originated",
      details: "Withdraws PREFIX, originated by the config, the API or the CLI; an error if we did not originate it.",
      async run(api, _p, arg) {
        const r = await api.call<{ withdrawn: string }>("DELETE", "/v1/rib", { prefix: required(arg, "PREFIX") });
        return { value: r, text: () => `route ${r.withdrawn} withdrawn\n` };
      },
    },
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).flatMap(([area, verbs]) => Object.entries(verbs).map(([verb, c]) => `  ${`${area} ${verb}`.padEnd(16)} ${c.summary}`));
  return `usage: sart bgp [--api ADDR] [-o json] AREA VERB [ARGS]

Queries and changes a running sart speaker or agent through its HTTP API.

${lines.join("\n")}

${COMMON}
Run sart bgp AREA VERB --help for a command's arguments.
`;
}

function areaUsage(area: string): string {
  const lines = Object.entries(COMMANDS[area]).map(([verb, c]) => `  ${verb.padEnd(6)} ${c.summary}`);
  return `usage: sart bgp ${area} VERB [ARGS]

${lines.join("\n")}

${COMMON}
`;
}

function commandUsage(area: string, verb: string): string {
  const c = COMMANDS[area][verb];
  return `usage: sart bgp ${area} ${verb}${c.args ? ` ${c.args}` : ""}

${c.details}

${COMMON}
`;
}

const COMMON_FLAGS = ["--api", "-o", "--output"];
const VALUE_FLAGS = new Set([...COMMON_FLAGS, ...Object.values(COMMANDS).flatMap((verbs) => Object.values(verbs).flatMap((c) => c.flags ?? []))]);

export async function run(args: string[]): Promise<number> {
  // AREA and VERB are the first two words that are not flags or flag values (flags go anywhere).
  const words = args.filter((a, i) => !a.startsWith("-") && !VALUE_FLAGS.has(args[i - 1] ?? ""));
  const helpWord = words[0] === "help"; // sart bgp help [AREA [VERB]]
  const [area, verb] = helpWord ? words.slice(1) : words;
  const command = area && verb ? COMMANDS[area]?.[verb] : undefined;
  const fail = (message: string, help: string) => {
    process.stderr.write(`sart bgp: ${message}\n${help}`);
    return 2;
  };
  if (wantsHelp(args) || helpWord) {
    process.stdout.write(command ? commandUsage(area, verb) : area && COMMANDS[area] ? areaUsage(area) : usage());
    return 0;
  }
  if (!area) return fail("a command is required", usage());
  if (!COMMANDS[area]) return fail(`unknown command: ${area}`, usage());
  if (!command) return fail(verb ? `unknown command: ${area} ${verb}` : `${area}: a verb is required`, areaUsage(area));
  let p: Parsed;
  let api: ApiClient;
  try {
    p = parseArgs(args, [...COMMON_FLAGS, ...(command.flags ?? [])], command.boolFlags ?? []);
    if (p.positional.length > 3) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[3])}`);
    const output = flag(p, "-o", "--output");
    if (output !== undefined && output !== "json") throw new UsageError(`-o supports json only, not ${JSON.stringify(output)}`);
    api = new ApiClient(resolveApi(flag(p, "--api")));
  } catch (e) {
    if (e instanceof UsageError) return fail(`${area} ${verb}: ${e.message}`, commandUsage(area, verb));
    throw e;
  }
  const json = flag(p, "-o", "--output") === "json";
  try {
    const r = await command.run(api, p, p.positional[2]);
    process.stdout.write(json ? JSON.stringify(r.value, null, 2) + "\n" : r.text());
    if (r.error) process.stderr.write(`sart bgp: ${r.error}\n`);
    return r.status ?? 0;
  } catch (e) {
    if (e instanceof UsageError) return fail(`${area} ${verb}: ${e.message}`, commandUsage(area, verb));
    process.stderr.write(`sart bgp: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await api.close().catch(() => undefined);
  }
}
