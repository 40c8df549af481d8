// serialize()/restore(): identical state after a restart, compact for blocks
// filled lowest-first, never an address handed out twice, corrupt state refused.
import { describe, expect, test } from "bun:test";
import { BlockAllocator, BlockIndexAllocator } from "../../host/core/ipam.ts";

/** Every observable part of a block's state. */
function stateOf(b: BlockAllocator) {
  return { cidr: b.cidr, free: b.free(), allocated: b.allocated() };
}

describe("block state round trip", () => {
  test("restore gives identical state and the same next allocations", () => {
    const a = BlockAllocator.create("192.0.2.0/24");
    for (let i = 0; i < 40; i++) a.allocate();
    for (const x of ["192.0.2.3", "192.0.2.17", "192.0.2.39"]) a.release(x);
    a.allocateAddress("192.0.2.200");
    const bytes = a.serialize();
    const b = BlockAllocator.restore("192.0.2.0/24", bytes);
    expect(stateOf(b)).toEqual(stateOf(a));
    const next = (x: BlockAllocator) => Array.from({ length: 10 }, () => x.allocate());
    expect(next(b)).toEqual(next(a));
    expect(b.serialize()).toEqual(a.serialize());
    a.dispose();
    b.dispose();
  });

  test("after restore, no address is handed out twice", () => {
    const a = BlockAllocator.create("203.0.113.0/24");
    const before = new Set<string>();
    for (let i = 0; i < 100; i++) before.add(a.allocate()!);
    for (let i = 0; i < 100; i += 7) {
      a.release(`203.0.113.${i}`);
      before.delete(`203.0.113.${i}`);
    }
    a.allocateAddress("203.0.113.250");
    before.add("203.0.113.250");
    const b = BlockAllocator.restore(a.cidr, a.serialize());
    a.dispose();
    const after: string[] = [];
    for (let x = b.allocate(); x !== undefined; x = b.allocate()) after.push(x);
    expect(after.length).toBe(256 - before.size);
    for (const x of after) expect(before.has(x)).toBe(false);
    for (const x of before) expect(b.allocateAddress(x)).toBe(false);
    b.dispose();
  });

  test("a block filled lowest-first serialises to a few bytes; a scattered one to the raw bitmap", () => {
    const big = BlockAllocator.create("10.0.0.0/8");
    for (let i = 0; i < 100000; i++) big.allocateOffset();
    expect(big.serialize().length).toBeLessThan(64);
    big.dispose();

    const v6 = BlockAllocator.create("2001:db8::/112");
    while (v6.allocateOffset() >= 0);
    for (let i = 0; i < 65536; i += 2) v6.releaseOffset(i);
    // Every other address allocated: runs would take 8 bytes per address, so the raw bitmap (8 KiB) is used.
    const bytes = v6.serialize();
    expect(bytes.length).toBe(24 + 12 + 65536 / 8);
    const back = BlockAllocator.restore("2001:db8::/112", bytes);
    expect(back.free()).toBe(v6.free());
    expect(back.allocatedOffsets()).toEqual(v6.allocatedOffsets());
    expect(back.allocate()).toBe(v6.allocate());
    back.dispose();
    v6.dispose();
  });

  test("empty and full blocks round trip", () => {
    for (const cidr of ["192.0.2.0/26", "192.0.2.0/25", "2001:db8::/125", "192.0.2.9/32"]) {
      const empty = BlockAllocator.create(cidr);
      const e2 = BlockAllocator.restore(cidr, empty.serialize());
      expect(stateOf(e2)).toEqual(stateOf(empty));
      while (empty.allocate() !== undefined);
      const f2 = BlockAllocator.restore(cidr, empty.serialize());
      expect(f2.free()).toBe(0);
      expect(f2.allocate()).toBeUndefined();
      for (const b of [empty, e2, f2]) b.dispose();
    }
  });
});

describe("pool state round trip", () => {
  test("block indexes survive, and restore refuses another pool's state", () => {
    const p = BlockIndexAllocator.create("2001:db8::/64", 104);
    p.allocate();
    p.allocate();
    p.allocateIndex(1000);
    const q = BlockIndexAllocator.restore("2001:db8::/64", 104, p.serialize());
    expect(q.allocated()).toEqual([0, 1, 1000]);
    expect(q.allocate()).toBe(2);
    expect(() => BlockIndexAllocator.restore("2001:db8::/64", 112, p.serialize())).toThrow(
      "pool '2001:db8::/64': saved state is for 2001:db8::/64 blockSize 104, not 2001:db8::/64 blockSize 112",
    );
    p.dispose();
    q.dispose();
  });
});

describe("corrupt or mismatched state", () => {
  const a = BlockAllocator.create("192.0.2.0/24");
  for (let i = 0; i < 5; i++) a.allocate();
  const good = a.serialize();
  a.dispose();

  test("another block's state", () => {
    expect(() => BlockAllocator.restore("198.51.100.0/24", good)).toThrow(
      "block '198.51.100.0/24': saved state is for 192.0.2.0/24, not 198.51.100.0/24",
    );
    const pool = BlockIndexAllocator.create("192.0.2.0/24", 24);
    expect(() => BlockAllocator.restore("192.0.2.0/24", pool.serialize())).toThrow(/not a block state/);
    pool.dispose();
  });

  test("truncated, unknown version, inconsistent count or runs", () => {
    expect(() => BlockAllocator.restore("192.0.2.0/24", good.subarray(0, 10))).toThrow(/too short/);
    expect(() => BlockAllocator.restore("192.0.2.0/24", good.subarray(0, good.length - 1))).toThrow(/truncated or wrong length/);
    const version = good.slice();
    version[4] = 9;
    expect(() => BlockAllocator.restore("192.0.2.0/24", version)).toThrow(/unknown version 9/);
    const count = good.slice();
    new DataView(count.buffer).setUint32(24 + 8, 6, true); // allocated count
    expect(() => BlockAllocator.restore("192.0.2.0/24", count)).toThrow(/count does not match/);
    const run = good.slice();
    new DataView(run.buffer).setUint32(24 + 20, 300, true); // run length past the block
    expect(() => BlockAllocator.restore("192.0.2.0/24", run)).toThrow(/out of order or out of range/);
  });
});
