// BlockIndexAllocator: a pool carved into blocks of blockSize, block indexes
// handed out lowest first, index <-> block CIDR, and the errors bad pools get.
import { describe, expect, test } from "bun:test";
import { BlockAllocator, BlockIndexAllocator } from "../../host/core/ipam.ts";

describe("BlockIndexAllocator (IPv4)", () => {
  test("the seed's pod pool 10.1.0.0/24 with blockSize 29: 32 blocks, lowest first", () => {
    const p = BlockIndexAllocator.create("10.1.0.0/24", 29);
    expect(p.size).toBe(32);
    expect([p.allocate(), p.allocate(), p.allocate()]).toEqual([0, 1, 2]);
    expect(p.blockCidr(0)).toBe("10.1.0.0/29");
    expect(p.blockCidr(3)).toBe("10.1.0.24/29");
    expect(p.blockCidr(31)).toBe("10.1.0.248/29");
    expect(p.indexOf("10.1.0.24/29")).toBe(3);
    expect(p.release(1)).toBe(true);
    expect(p.release(1)).toBe(false);
    expect(p.allocateIndex(5)).toBe(true);
    expect(p.allocateIndex(5)).toBe(false);
    expect(p.allocate()).toBe(1);
    expect(p.allocate()).toBe(3);
    expect(p.allocated()).toEqual([0, 1, 2, 3, 5]);
    expect(p.free()).toBe(27);
    expect(p.isAllocated(5)).toBe(true);
    expect(p.isAllocated(4)).toBe(false);
    p.dispose();
  });

  test("blockSize equal to the prefix (a service pool) is one block; a full pool returns undefined", () => {
    const p = BlockIndexAllocator.create("198.51.100.0/24", 24);
    expect(p.size).toBe(1);
    expect(p.allocate()).toBe(0);
    expect(p.allocate()).toBeUndefined();
    expect(p.blockCidr(0)).toBe("198.51.100.0/24");
    p.dispose();
  });

  test("blockSize 32: every address is a block", () => {
    const p = BlockIndexAllocator.create("10.10.0.0/29", 32);
    expect(p.size).toBe(8);
    expect(Array.from({ length: 8 }, (_, i) => p.blockCidr(i))).toEqual(
      Array.from({ length: 8 }, (_, i) => `10.10.0.${i}/32`),
    );
    p.dispose();
  });

  test("a /8 pool as /16 blocks feeds BlockAllocators", () => {
    const p = BlockIndexAllocator.create("10.0.0.0/8", 16);
    expect(p.size).toBe(256);
    p.allocateIndex(0);
    const i = p.allocate()!;
    const block = BlockAllocator.create(p.blockCidr(i));
    expect(block.cidr).toBe("10.1.0.0/16");
    expect(block.allocate()).toBe("10.1.0.0");
    expect(p.indexOf(block.cidr)).toBe(1);
    block.dispose();
    p.dispose();
  });
});

describe("BlockIndexAllocator (IPv6)", () => {
  test("a /64 pool carved into /104 blocks covers its first 2^24 blocks", () => {
    const p = BlockIndexAllocator.create("2001:db8:0:1::/64", 104);
    expect(p.totalBlocks).toBe(2 ** 40);
    expect(p.size).toBe(2 ** 24);
    expect(p.allocate()).toBe(0);
    expect(p.allocate()).toBe(1);
    expect(p.blockCidr(0)).toBe("2001:db8:0:1::/104");
    expect(p.blockCidr(1)).toBe("2001:db8:0:1::100:0/104");
    expect(p.blockCidr(2 ** 24 - 1)).toBe("2001:db8:0:1:0:ffff:ff00:0/104");
    for (const i of [0, 1, 255, 256, 65535, 65536, 2 ** 24 - 1]) expect(p.indexOf(p.blockCidr(i))).toBe(i);
    expect(() => p.indexOf("2001:db8:0:1:1::/104")).toThrow(
      "block 2001:db8:0:1:1::/104 is beyond the first 2^24 blocks of pool 2001:db8:0:1::/64",
    );
    const b = BlockAllocator.create(p.blockCidr(1));
    expect(b.allocate()).toBe("2001:db8:0:1::100:0");
    b.dispose();
    p.dispose();
  });

  test("a /64 pool carved into /120 blocks; a /112 pool into /128 blocks", () => {
    const p = BlockIndexAllocator.create("2001:db8::/64", 120);
    expect(p.blockCidr(3)).toBe("2001:db8::300/120");
    expect(p.indexOf("2001:db8::ff:ff00/120")).toBe(65535);
    p.dispose();
    const q = BlockIndexAllocator.create("2001:db8::/112", 128);
    expect(q.size).toBe(65536);
    expect(q.blockCidr(65535)).toBe("2001:db8::ffff/128");
    q.dispose();
  });
});

describe("bad pools and blocks", () => {
  test("blockSize outside the CIDR or too large a block", () => {
    expect(() => BlockIndexAllocator.create("10.1.0.0/24", 16)).toThrow(
      "pool '10.1.0.0/24': blockSize 16 must be an integer between 24 and 32",
    );
    expect(() => BlockIndexAllocator.create("10.1.0.0/24", 33)).toThrow(/blockSize 33 must be an integer between 24 and 32/);
    expect(() => BlockIndexAllocator.create("10.1.0.0/24", 28.5)).toThrow(/blockSize 28.5/);
    expect(() => BlockIndexAllocator.create("2001:db8::/48", 64)).toThrow(
      "pool '2001:db8::/48': blockSize 64 makes blocks of 2^64 addresses, above the 2^24 allowed per block (use /104 or longer)",
    );
    expect(() => BlockIndexAllocator.create("10.1.0.1/24", 29)).toThrow("CIDR '10.1.0.1/24' has host bits set");
  });

  test("indexes and block CIDRs that are not the pool's", () => {
    const p = BlockIndexAllocator.create("10.1.0.0/24", 29);
    expect(() => p.allocateIndex(32)).toThrow("pool '10.1.0.0/24': block index 32 is outside 0..31");
    expect(() => p.release(-1)).toThrow(/block index -1 is outside/);
    expect(() => p.blockCidr(1.5)).toThrow(/block index 1.5 is outside/);
    expect(() => p.indexOf("10.1.1.0/29")).toThrow("block 10.1.1.0/29 is outside pool 10.1.0.0/24");
    expect(() => p.indexOf("10.1.0.0/28")).toThrow("'10.1.0.0/28' is not a /29 block of pool 10.1.0.0/24");
    expect(() => p.indexOf("10.1.0.4/29")).toThrow(/host bits set/);
    expect(() => p.indexOf("2001:db8::/29")).toThrow(/not a \/29 block/);
    p.dispose();
  });
});
