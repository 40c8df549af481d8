// Command-line parsing shared by the `sart` subcommands: positional words and flags in
// any order ("--flag value", "--flag=value", repeatable), checked against the flags the
// chosen command takes, so a typo is an error naming it instead of being ignored.

export class UsageError extends Error {}

export interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
}

export const HELP_FLAGS = ["-h", "--help"];

/** `valueFlags` take a value, `boolFlags` do not; anything else starting with "-" is an error. */
export function parseArgs(args: string[], valueFlags: Iterable<string>, boolFlags: Iterable<string>): Parsed {
  const values = new Set(valueFlags);
  const bools = new Set([...boolFlags, ...HELP_FLAGS]);
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
    if (values.has(a)) {
      if (value === undefined) {
        if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
        value = args[++i];
      }
      flags.set(a, [...(flags.get(a) ?? []), value]);
    } else if (bools.has(a) && value === undefined) {
      flags.set(a, ["true"]);
    } else if (a.startsWith("-") && a.length > 1) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

/** True when -h or --help is among the arguments (before any parsing that could fail). */
export function wantsHelp(args: string[]): boolean {
  return args.some((a) => HELP_FLAGS.includes(a));
}

/** The last value of a flag. */
export function flag(p: Parsed, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = p.flags.get(n)?.at(-1);
    if (v !== undefined) return v;
  }
  return undefined;
}

export function nonNegativeInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`${name} must be a non-negative integer, not ${JSON.stringify(v)}`);
  return n;
}
