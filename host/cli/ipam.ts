// `sart ipam`: exercises the core's bitmap allocator by hand. With --state FILE
// the block's allocations are loaded before and saved after each command (the
// same bytes BlockAllocator.serialize() writes), so several commands can build up state.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { BlockAllocator, BlockIndexAllocator, type ChurnOrder, coreBench } from "../core/ipam.ts";

const USAGE = `usage: sart ipam <command> [args]

  alloc CIDR [N] [--state FILE]        allocate the N (default 1) lowest free addresses
  take CIDR ADDR... [--state FILE]     allocate the given addresses
  release CIDR ADDR... [--state FILE]  release the given addresses
  show CIDR --state FILE [-o json]     free count and allocated ranges
  blocks POOL BLOCKSIZE [N]            the first N (default 8) block CIDRs of a pool
  bench CIDR [--fill F] [--order random|fifo|sampled] [--iterations N]
                                       allocate+release pairs per second in the core:
                                       release an allocated address (random from a list,
                                       oldest first, or sampled from the bitmap),
                                       allocate the lowest free; F of the block held, at
                                       random places (default 0.5)
`;

interface Parsed {
  positional: string[];
  flags: Map<string, string>;
}

function parseArgs(args: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-o" || a.startsWith("--")) {
      const value = args[i + 1];
      if (value === undefined) throw new Error(`${a} needs a value`);
      flags.set(a, value);
      i++;
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
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
  const { positional, flags } = parseArgs(rest);
  const state = flags.get("--state");
  const out = (lines: string[]) => process.stdout.write(lines.length ? `${lines.join("\n")}\n` : "");
  switch (command) {
    case "alloc": {
      const [cidr, n] = positional;
      if (!cidr) throw new Error(`alloc needs a CIDR\n${USAGE}`);
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
      if (!cidr || addrs.length === 0) throw new Error(`${command} needs a CIDR and addresses\n${USAGE}`);
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
      if (!cidr) throw new Error(`show needs a CIDR\n${USAGE}`);
      const block = openBlock(cidr, state);
      const info = { cidr: block.cidr, size: block.size, free: block.free(), allocated: ranges(block) };
      if (flags.get("-o") === "json") out([JSON.stringify(info, null, 2)]);
      else out([`${info.cidr}: ${info.size - info.free} allocated, ${info.free} free`, ...info.allocated.map((r) => `  ${r}`)]);
      return 0;
    }
    case "blocks": {
      const [pool, size, n] = positional;
      if (!pool || size === undefined) throw new Error(`blocks needs a pool CIDR and a block size\n${USAGE}`);
      const p = BlockIndexAllocator.create(pool, count(size, "BLOCKSIZE", 0));
      const shown = Math.min(p.size, count(n, "N", 8));
      const lines = [`${p.cidr} blockSize ${p.blockSize}: ${p.totalBlocks} blocks${p.size < p.totalBlocks ? ` (first ${p.size} allocatable)` : ""}`];
      for (let i = 0; i < shown; i++) lines.push(`  ${i}: ${p.blockCidr(i)}`);
      out(lines);
      p.dispose();
      return 0;
    }
    case "bench": {
      const [cidr] = positional;
      if (!cidr) throw new Error(`bench needs a CIDR\n${USAGE}`);
      const fill = Number(flags.get("--fill") ?? "0.5");
      if (!(fill >= 0 && fill <= 1)) throw new Error(`--fill '${flags.get("--fill")}' is not between 0 and 1`);
      const order = flags.get("--order") ?? "random";
      if (order !== "random" && order !== "fifo" && order !== "sampled") {
        throw new Error(`--order '${order}' is not random, fifo or sampled`);
      }
      out([bench(cidr, fill, order, count(flags.get("--iterations"), "--iterations", 10_000_000))]);
      return 0;
    }
    default:
      process.stderr.write(`sart ipam: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}
