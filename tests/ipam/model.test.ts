// Randomised checks against simple reference models, with fixed seeds: every
// result of the core allocator must match a plain Set-based model, including
// lowest-free on nearly full /8s where the summary levels do all the work.
import { describe, expect, test } from "bun:test";
import { BlockAllocator, BlockIndexAllocator } from "../../host/core/ipam.ts";
import { mulberry32 as rng } from "../codec/bytes.ts";

/** The operations both allocators share, on offsets / indexes. */
interface Offsets {
  size: number;
  lowest(): number; // -1 when full
  at(i: number): boolean;
  release(i: number): boolean;
  isAllocated(i: number): boolean;
  free(): number;
}

function blockOffsets(b: BlockAllocator): Offsets {
  return {
    size: b.size,
    lowest: () => b.allocateOffset(),
    at: (i) => b.allocateAddress(b.addressAt(i)),
    release: (i) => b.release(b.addressAt(i)),
    isAllocated: (i) => b.isAllocated(b.addressAt(i)),
    free: () => b.free(),
  };
}

function poolOffsets(p: BlockIndexAllocator): Offsets {
  return {
    size: p.size,
    lowest: () => p.allocate() ?? -1,
    at: (i) => p.allocateIndex(i),
    release: (i) => p.release(i),
    isAllocated: (i) => p.isAllocated(i),
    free: () => p.free(),
  };
}

/** Offsets that sit on word and summary-word edges (64, 4096, 262144), where off-by-ones hide. */
function pickOffset(r: () => number, size: number): number {
  if (r() < 0.5) return Math.floor(r() * size);
  const edge = [64, 4096, 262144][Math.floor(r() * 3)]!;
  const base = Math.floor((r() * size) / edge) * edge;
  const i = base + Math.floor(r() * 3) - 1 + (r() < 0.5 ? 0 : edge);
  return Math.min(size - 1, Math.max(0, i));
}

describe("small and medium blocks against a Set model", () => {
  const cases = ["192.0.2.0/32", "192.0.2.0/29", "192.0.2.0/26", "198.51.100.0/22", "2001:db8::/116", "10.0.0.0/18"];
  for (const [k, cidr] of cases.entries()) {
    test(`${cidr}: 20,000 seeded operations with restarts`, () => {
      const r = rng(1000 + k);
      let b = BlockAllocator.create(cidr);
      const used = new Set<number>();
      const lowestFree = () => {
        for (let i = 0; i < b.size; i++) if (!used.has(i)) return i;
        return -1;
      };
      for (let op = 0; op < 20000; op++) {
        const x = r();
        const i = Math.floor(r() * b.size);
        if (x < 0.4) {
          const want = lowestFree();
          expect(b.allocateOffset()).toBe(want);
          if (want >= 0) used.add(want);
        } else if (x < 0.55) {
          expect(b.allocateAddress(b.addressAt(i))).toBe(!used.has(i));
          used.add(i);
        } else if (x < 0.9) {
          // Mostly release something allocated, sometimes something free.
          const target = used.size > 0 && r() < 0.8 ? [...used][Math.floor(r() * used.size)]! : i;
          expect(b.release(b.addressAt(target))).toBe(used.has(target));
          used.delete(target);
        } else if (x < 0.999) {
          expect(b.isAllocated(b.addressAt(i))).toBe(used.has(i));
        } else {
          const restored = BlockAllocator.restore(cidr, b.serialize());
          b.dispose();
          b = restored;
        }
        if (op % 500 === 0) expect(b.free()).toBe(b.size - used.size);
      }
      expect(b.allocatedOffsets()).toEqual([...used].sort((p, q) => p - q));
      b.dispose();
    });
  }
});

/**
 * Fills `a` completely, releases a few offsets, then runs seeded operations keeping
 * it nearly full; the model is the small set of free offsets. Ends by draining: the
 * allocator must hand out exactly the model's free offsets, ascending.
 */
function nearlyFull(a: Offsets, seed: number, ops: number): void {
  const r = rng(seed);
  for (let n = 0; n < a.size; n++) if (a.lowest() !== n) throw new Error(`fill: expected ${n}`);
  expect(a.lowest()).toBe(-1);
  const free = new Set<number>();
  const lowest = () => {
    let m = -1;
    for (const i of free) if (m < 0 || i < m) m = i;
    return m;
  };
  for (let op = 0; op < ops; op++) {
    const x = r();
    const i = pickOffset(r, a.size);
    if (x < 0.45 || free.size === 0) {
      expect(a.release(i)).toBe(!free.has(i));
      free.add(i);
    } else if (x < 0.8) {
      const want = lowest();
      expect(a.lowest()).toBe(want);
      free.delete(want);
    } else if (x < 0.9) {
      expect(a.at(i)).toBe(free.has(i));
      free.delete(i);
    } else {
      expect(a.isAllocated(i)).toBe(!free.has(i));
    }
    if (free.size > 300) {
      // Keep it nearly full: take the lowest back in one go.
      for (let k = 0; k < 100; k++) {
        const want = lowest();
        expect(a.lowest()).toBe(want);
        free.delete(want);
      }
    }
  }
  expect(a.free()).toBe(free.size);
  const drained: number[] = [];
  for (let i = a.lowest(); i >= 0; i = a.lowest()) drained.push(i);
  expect(drained).toEqual([...free].sort((p, q) => p - q));
}

describe("nearly full /8s: summary levels against a free-set model", () => {
  test("10.0.0.0/8 as one block of 2^24 addresses", () => {
    const b = BlockAllocator.create("10.0.0.0/8");
    nearlyFull(blockOffsets(b), 7, 30000);
    b.dispose();
  });

  test("2001:db8:ff00::/104 as one block of 2^24 addresses", () => {
    const b = BlockAllocator.create("2001:db8:ff00::/104");
    nearlyFull(blockOffsets(b), 8, 10000);
    b.dispose();
  });

  test("10.0.0.0/8 as /16 blocks: the pool's blocks and every block nearly full", () => {
    const pool = BlockIndexAllocator.create("10.0.0.0/8", 16);
    const blocks: BlockAllocator[] = [];
    for (let i = pool.allocate(); i !== undefined; i = pool.allocate()) blocks.push(BlockAllocator.create(pool.blockCidr(i)));
    expect(blocks.length).toBe(256);
    expect(blocks[255]!.cidr).toBe("10.255.0.0/16");
    for (const [k, b] of blocks.entries()) nearlyFull(blockOffsets(b), 100 + k, k % 16 === 0 ? 2000 : 100);
    for (const b of blocks) b.dispose();
    pool.dispose();
  });

  test("a /8 pool of /32 blocks: 2^24 block indexes nearly full", () => {
    const pool = BlockIndexAllocator.create("10.0.0.0/8", 32);
    nearlyFull(poolOffsets(pool), 9, 20000);
    pool.dispose();
  });
});
