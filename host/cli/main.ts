#!/usr/bin/env bun
// `sart`: one entry for the CLI and the daemons. Each command lives in its own
// module, loaded only when used so `sart decode` does not pay for the Kubernetes client.

type Command = { run(args: string[]): Promise<number | void> };

const commands: Record<string, { describe: string; load: () => Promise<Command> }> = {
  decode: { describe: "decode BGP messages (hex, raw stream, pcap/pcapng) to JSON", load: () => import("./decode.ts") },
  speaker: { describe: "run the standalone BGP speaker from a YAML config", load: () => import("./speaker.ts") },
  bgp: { describe: "query and change a running agent or speaker (global, neighbor, rib)", load: () => import("./bgp.ts") },
  controller: { describe: "run the Kubernetes controller (IPAM, LoadBalancer, BGP objects)", load: () => import("./controller.ts") },
  agent: { describe: "run the node agent (speaker, FIB, CNI server), or --standalone", load: () => import("./agent.ts") },
  ipam: { describe: "inspect and exercise the address allocator", load: () => import("./ipam.ts") },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.describe}`);
  return `usage: sart <command> [args]
       sart <command> --help     a command's own help
       sart --version

commands:
${lines.join("\n")}

sart bgp finds the local agent's or speaker's API at 127.0.0.1:5000; --api ADDR or SART_API=ADDR
point it elsewhere (HOST:PORT or unix:PATH). Documentation: docs/cli.md.
`;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "--version" || first === "-V" || first === "version") {
    process.stdout.write((await import("./version.ts")).versionText());
    return 0;
  }
  // `sart help CMD ...` is `sart CMD ... --help`.
  const [name, args] = first === "help" && rest.length > 0 ? [rest[0], [...rest.slice(1), "--help"]] : [first, rest];
  if (!name || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`sart: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  return (await (await command.load()).run(args)) ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`sart: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
