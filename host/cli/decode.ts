// `sart decode`: BGP messages (hex arguments, a raw message stream, or a pcap/pcapng
// capture) to the JSON of docs/cli.md, printed as one array.
import { readFileSync } from "node:fs";
import { type CodecOptions, decodeMessages, sessionFlags } from "../core/codec.ts";
import { decodeCapture, portHint } from "../capture/bgp-capture.ts";
import { CaptureError, captureFormat } from "../capture/pcap.ts";

const USAGE = `usage: sart decode [options] HEX...
       sart decode [options] --file FILE

Decodes BGP messages and prints a JSON array, one object per message.
  HEX             one or more whole messages in hex per argument (spaces and ':' allowed, optional 0x)
  --file FILE     a raw stream of BGP messages, or a pcap/pcapng capture (detected by its magic
                  number; '-' reads standard input, e.g. tcpdump -w -); capture messages carry
                  "flow" and "time", and each TCP connection's 4-octet AS, ADD-PATH and
                  extended message use is learned from its two OPENs
  --add-path FAM  NLRI of family FAM carry path identifiers (repeatable: ipv4-unicast, ipv6-unicast)
  --no-as4        AS_PATH and AGGREGATOR use 2-octet AS numbers
  --extended-message  messages may be up to 65535 octets (RFC 8654)
  --port N        TCP port BGP runs on in a capture (default 179)
Options other than --port apply to hex and raw input, and to capture connections whose OPENs
were not captured.
Exit status: 0 all messages decoded, 1 a message had an error (or treat-as-withdraw / attribute
discard outcome, or the capture broke off, or it has TCP data but none on the port: stderr names
the ports that carried data), 2 usage error or unreadable file. stdout is always a JSON array.
`;

class UsageError extends Error {}

interface Args {
  hex: string[];
  file?: string;
  port: number;
  codec: CodecOptions;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { hex: [], port: 179, codec: { as4: true, addPath: [], extendedMessage: false } };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || (v.startsWith("--") && v.length > 2)) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--file":
        if (args.file !== undefined) throw new UsageError("--file given twice");
        args.file = argv[i + 1] === "-" ? argv[++i] : value(i++, a);
        break;
      case "--add-path": {
        const family = value(i++, a);
        try {
          sessionFlags({ addPath: [family] });
        } catch {
          throw new UsageError(`--add-path: unknown family '${family}' (e.g. ipv4-unicast, ipv6-unicast)`);
        }
        args.codec.addPath!.push(family);
        break;
      }
      case "--port": {
        const v = value(i++, a);
        const port = Number(v);
        if (!/^\d+$/.test(v) || port < 1 || port > 65535) throw new UsageError(`--port: '${v}' is not a TCP port (1-65535)`);
        args.port = port;
        break;
      }
      case "--no-as4":
        args.codec.as4 = false;
        break;
      case "--extended-message":
        args.codec.extendedMessage = true;
        break;
      default:
        if (a.startsWith("-") && a.length > 1) throw new UsageError(`unknown option '${a}'`);
        args.hex.push(a);
    }
  }
  if (args.file !== undefined && args.hex.length > 0) throw new UsageError("give hex arguments or --file, not both");
  if (args.file === undefined && args.hex.length === 0) throw new UsageError("nothing to decode: give hex arguments or --file");
  return args;
}

/** Hex text (optional 0x, whitespace and ':' separators) to bytes. */
export function parseHex(text: string, which: string): Uint8Array {
  const clean = text.replace(/^0x/i, "").replace(/[\s:]/g, "");
  const bad = clean.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new UsageError(`${which}: '${clean[bad]}' is not a hex digit`);
  if (clean.length % 2 !== 0) throw new UsageError(`${which}: odd number of hex digits (${clean.length})`);
  if (clean.length === 0) throw new UsageError(`${which}: empty`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function failed(m: Record<string, unknown>): boolean {
  return m.error !== undefined || m.treatAsWithdraw !== undefined || m.discardedAttributes !== undefined;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  let args: Args;
  let inputs: Uint8Array[] = [];
  try {
    args = parseArgs(argv);
    inputs = args.hex.map((h, i) => parseHex(h, `argument ${i + 1}`));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`sart decode: ${err.message}\n${USAGE}`);
    return 2;
  }

  let messages: Record<string, unknown>[] = [];
  let broken = false;
  if (args.file !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(args.file === "-" ? 0 : args.file);
    } catch (err) {
      process.stderr.write(`sart decode: cannot read ${args.file}: ${(err as Error).message}\n`);
      return 2;
    }
    if (captureFormat(bytes)) {
      try {
        const result = decodeCapture(bytes, (b, o) => decodeMessages(b, o) as Record<string, unknown>[], {
          port: args.port,
          defaults: args.codec,
        });
        messages = result.messages;
        if (result.dataElsewhere) {
          // Nothing on the port: say where the data went. Data on other ports is most likely a
          // wrong --port, so the exit status says the decode failed; an empty capture is not an error.
          process.stderr.write(`sart decode: ${args.file}: ${portHint(args.port, result.dataElsewhere, (p) => `try --port ${p}`)}\n`);
          if (result.dataElsewhere.length > 0) broken = true;
        }
        if (result.problem) {
          process.stderr.write(`sart decode: ${args.file}: ${result.problem} (messages before it are printed)\n`);
          broken = true;
        }
      } catch (err) {
        if (!(err instanceof CaptureError)) throw err;
        process.stderr.write(`sart decode: ${args.file}: ${err.message}\n`);
        return 1;
      }
    } else {
      messages = decodeMessages(bytes, args.codec) as Record<string, unknown>[];
    }
  } else {
    for (const bytes of inputs) messages.push(...(decodeMessages(bytes, args.codec) as Record<string, unknown>[]));
  }

  process.stdout.write(`${JSON.stringify(messages, null, 2)}\n`);
  return broken || messages.some(failed) ? 1 : 0;
}
