// `sart ipam`: exercises the core's bitmap allocator by hand. With --state FILE
// the block's allocations are loaded before and saved after each command (the
// same bytes BlockAllocator.serialize() writes), so several commands can build up state.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { flag, type Parsed, parseArgs, UsageError, wantsHelp } from "./args.ts";
import { BlockAllocator, BlockIndexAllocator, type ChurnOrder, coreBench } from "../core/ipam.ts";

interface Subcommand {
  args: string;
  summary: string;
  details: string;
  flags: string[];
}

const STATE = "  --state FILE        load the block's allocations from FILE first and save them after";

const SUBCOMMANDS: Record<string, Subcommand> = {
  alloc: { args: "CIDR [N] [--state FILE]", summary: "allocate the N (default 1) lowest free addresses", details: `Allocates the N (default 1) lowest free addresses of the block CIDR and prints them.\nExit status 1 when the block fills up first.\n${STATE}`, flags: ["--state"] },
  take: { args: "CIDR ADDR... [--state FILE]", summary: "allocate the given addresses", details: `Allocates the given addresses of the block CIDR; exit status 1 if one was already allocated.\n${STATE}`, flags: ["--state"] },
  release: { args: "CIDR ADDR... [--state FILE]", summary: "release the given addresses", details: `Releases the given addresses of the block CIDR; exit status 1 if one was not allocated.\n${STATE}`, flags: ["--state"] },
  show: { args: "CIDR --state FILE [-o json]", summary: "free count and allocated ranges", details: `Prints the block's free count and allocated address ranges.\n${STATE}\n  -o json             JSON: {cidr, size, free, allocated}`, flags: ["--state", "-o"] },
  blocks: { args: "POOL BLOCKSIZE [N]", summary: "the first N (default 8) block CIDRs of a pool", details: "Prints the first N (default 8) block CIDRs a pool of that CIDR hands out with that block size\n(a prefix length), and how many blocks it has.", flags: [] },
  bench: {
    args: "CIDR [--fill F] [--order random|fifo|sampled] [--iterations N]",
    summary: "allocate+release pairs per second in the core",
    details: `Measures allocate+release pairs per second in the core: releases an allocated address
(random from a list, oldest first, or sampled from the bitmap), then allocates the lowest free.
  --fill F            the share of the block held, at random places (default 0.5)
  --order O           random (default), fifo or sampled
  --iterations N      pairs to run (default 10000000)`,
    flags: ["--fill", "--order", "--iterations"],
  },
};

const USAGE = `usage: sart ipam <command> [args]

Exercises the core's bitmap address allocator by hand.

${Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join("\n")}

Run sart ipam <command> --help for its arguments.
`;

function subUsage(name: string): string {
  const c = SUBCOMMANDS[name];
  return `usage: sart ipam ${name} ${c.args}\n\n${c.details}\n`;
}

function count(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} '${text}' is not a non-negative integer`);
  return n;
}

function openBlock(cidr: string, state: string | undefined): BlockAllocator {
  if (state && existsSync(state)) return BlockAllocator.restore(cidr, new Uint8Array(readFileSync(state)));
  return BlockAllocator.create(cidr);
}

function saveBlock(block: BlockAllocator, state: string | undefined): void {
  if (!state) return;
  const tmp = `${state}.${process.pid}.tmp`;
  writeFileSync(tmp, block.serialize());
  renameSync(tmp, state);
}

/** Allocated offsets as "first-last" address ranges. */
function ranges(block: BlockAllocator): string[] {
  const out: string[] = [];
  let start = -1;
  let prev = -2;
  const flush = () => {
    if (start >= 0) out.push(start === prev ? block.addressAt(start) : `${block.addressAt(start)}-${block.addressAt(prev)}`);
  };
  for (const i of block.allocatedOffsets()) {
    if (i !== prev + 1) {
      flush();
      start = i;
    }
    prev = i;
  }
  flush();
  return out;
}

function bench(cidr: string, fill: number, order: ChurnOrder, iterations: number): string {
  const block = BlockAllocator.create(cidr);
  const core = coreBench();
  const h = block.coreHandle;
  const held = Math.max(1, Math.min(block.size, Math.round(block.size * fill)));
  core.prepare(h, held, block.size - held, 12345);
  const t0 = performance.now();
  core.churn(h, iterations, order);
  const ms = performance.now() - t0;
  core.finish(h);
  const rate = (iterations / ms) * 1000;
  const line =
    `${block.cidr}: ${iterations} pairs (${order} release, ${held} of ${block.size} held) in ${ms.toFixed(1)} ms: ` +
    `${(rate / 1e6).toFixed(2)} M pairs/s; bitmap ${block.memoryBytes()} bytes`;
  block.dispose();
  return line;
}

export async function run(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === "-h" || command === "--help") {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (!SUBCOMMANDS[command]) {
    process.stderr.write(`sart ipam: unknown command '${command}'\n${USAGE}`);
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(subUsage(command));
    return 0;
  }
  let p: Parsed;
  try {
    p = parseArgs(rest, SUBCOMMANDS[command].flags, []);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`sart ipam ${command}: ${e.message}\n${subUsage(command)}`);
    return 2;
  }
  const positional = p.positional;
  const get = (name: string) => flag(p, name);
  const state = get("--state");
  const out = (lines: string[]) => process.stdout.write(lines.length ? `${lines.join("\n")}\n` : "");
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`${command} needs ${what}\n${subUsage(command)}`);
  };
  switch (command) {
    case "alloc": {
      const [cidr, n] = positional;
      need(!!cidr, "a CIDR");
      const block = openBlock(cidr, state);
      const got: string[] = [];
      const want = count(n, "N", 1);
      for (let i = 0; i < want; i++) {
        const a = block.allocate();
        if (a === undefined) break;
        got.push(a);
      }
      out(got);
      saveBlock(block, state);
      if (got.length < want) {
        process.stderr.write(`sart ipam: block ${block.cidr} is full after ${got.length} of ${want}\n`);
        return 1;
      }
      return 0;
    }
    case "take":
    case "release": {
      const [cidr, ...addrs] = positional;
      need(!!cidr && addrs.length > 0, "a CIDR and addresses");
      const block = openBlock(cidr, state);
      let failed = 0;
      for (const a of addrs) {
        const ok = command === "take" ? block.allocateAddress(a) : block.release(a);
        if (!ok) {
          failed++;
          process.stderr.write(`sart ipam: ${a} ${command === "take" ? "is already allocated" : "was not allocated"}\n`);
        }
      }
      saveBlock(block, state);
      return failed ? 1 : 0;
    }
    case "show": {
      const [cidr] = positional;
      need(!!cidr, "a CIDR");
      const block = openBlock(cidr, state);
      const info = { cidr: block.cidr, size: block.size, free: block.free(), allocated: ranges(block) };
      if (get("-o") === "json") out([JSON.stringify(info, null, 2)]);
      else out([`${info.cidr}: ${info.size - info.free} allocated, ${info.free} free`, ...info.allocated.map((r) => `  ${r}`)]);
      return 0;
    }
    case "blocks": {
      const [pool, size, n] = positional;
      need(!!pool && size !== undefined, "a pool CIDR and a block size");
      const p = BlockIndexAllocator.create(pool, count(size, "BLOCKSIZE", 0));
      const shown = Math.min(p.size, count(n, "N", 8));
      const lines = [`${p.cidr} blockSize ${p.blockSize}: ${p.totalBlocks} blocks${p.size < p.totalBlocks ? ` (first ${p.size} allocatable)` : ""}`];
      for (let i = 0; i < shown; i++) lines.push(`  ${i}: ${p.blockCidr(i)}`);
      out(lines);
      p.dispose();
      return 0;
    }
    default: {
      // bench (run checked the name against SUBCOMMANDS)
      const [cidr] = positional;
      need(!!cidr, "a CIDR");
      const fill = Number(get("--fill") ?? "0.5");
      if (!(fill >= 0 && fill <= 1)) throw new Error(`--fill '${get("--fill")}' is not between 0 and 1`);
      const order = get("--order") ?? "random";
      if (order !== "random" && order !== "fifo" && order !== "sampled") {
        throw new Error(`--order '${order}' is not random, fifo or sampled`);
      }
      out([bench(cidr, fill, order, count(get("--iterations"), "--iterations", 10_000_000))]);
      return 0;
    }
  }
}
