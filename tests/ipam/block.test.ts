// BlockAllocator: lowest-free order, requested addresses, release and reuse,
// exhaustion, IPv6 blocks, and the errors a bad input gets.
import { describe, expect, test } from "bun:test";
import { BlockAllocator, normalizeAddress, parseCidr } from "../../host/core/ipam.ts";

describe("BlockAllocator (IPv4)", () => {
  test("hands out the lowest free address first, network address included", () => {
    const b = BlockAllocator.create("192.0.2.0/24");
    expect(b.size).toBe(256);
    expect([b.allocate(), b.allocate(), b.allocate()]).toEqual(["192.0.2.0", "192.0.2.1", "192.0.2.2"]);
    expect(b.free()).toBe(253);
    expect(b.used()).toBe(3);
    b.dispose();
  });

  test("requested addresses are taken once and skipped by lowest-free", () => {
    const b = BlockAllocator.create("192.0.2.0/24");
    expect(b.allocateAddress("192.0.2.0")).toBe(true);
    expect(b.allocateAddress("192.0.2.2")).toBe(true);
    expect(b.allocateAddress("192.0.2.2")).toBe(false);
    expect(b.allocateAddress("192.0.2.255")).toBe(true);
    expect(b.allocate()).toBe("192.0.2.1");
    expect(b.allocate()).toBe("192.0.2.3");
    expect(b.isAllocated("192.0.2.255")).toBe(true);
    expect(b.isAllocated("192.0.2.4")).toBe(false);
    expect(b.allocated()).toEqual(["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.255"]);
    b.dispose();
  });

  test("release frees an address for reuse, lowest first; double release is false", () => {
    const b = BlockAllocator.create("198.51.100.0/24");
    for (let i = 0; i < 10; i++) b.allocate();
    expect(b.release("198.51.100.7")).toBe(true);
    expect(b.release("198.51.100.3")).toBe(true);
    expect(b.release("198.51.100.3")).toBe(false);
    expect(b.release("198.51.100.200")).toBe(false);
    expect(b.allocate()).toBe("198.51.100.3");
    expect(b.allocate()).toBe("198.51.100.7");
    expect(b.allocate()).toBe("198.51.100.10");
    b.dispose();
  });

  test("exhaustion returns undefined and frees up again on release", () => {
    const b = BlockAllocator.create("203.0.113.16/28");
    const got = Array.from({ length: 16 }, () => b.allocate());
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => `203.0.113.${16 + i}`));
    expect(b.allocate()).toBeUndefined();
    expect(b.allocateOffset()).toBe(-1);
    expect(b.free()).toBe(0);
    expect(b.release("203.0.113.20")).toBe(true);
    expect(b.allocate()).toBe("203.0.113.20");
    expect(b.allocate()).toBeUndefined();
    b.dispose();
  });

  test("a /32 block holds exactly one address", () => {
    const b = BlockAllocator.create("192.0.2.7/32");
    expect(b.size).toBe(1);
    expect(b.allocate()).toBe("192.0.2.7");
    expect(b.allocate()).toBeUndefined();
    b.dispose();
  });

  test("sizes that are not a multiple of 64 never hand out padding bits", () => {
    for (const prefix of [32, 31, 30, 27, 26, 25, 23]) {
      const b = BlockAllocator.create(`10.20.0.0/${prefix}`);
      const seen = new Set<string>();
      for (let a = b.allocate(); a !== undefined; a = b.allocate()) seen.add(a);
      expect(seen.size).toBe(2 ** (32 - prefix));
      expect(b.free()).toBe(0);
      b.dispose();
    }
  });

  test("a /8 block (2^24 addresses) is allowed; a /7 is refused", () => {
    const b = BlockAllocator.create("10.0.0.0/8");
    expect(b.size).toBe(2 ** 24);
    expect(b.allocate()).toBe("10.0.0.0");
    expect(b.allocateAddress("10.255.255.255")).toBe(true);
    expect(b.allocated()).toEqual(["10.0.0.0", "10.255.255.255"]);
    b.dispose();
    expect(() => BlockAllocator.create("10.0.0.0/7")).toThrow(/'10\.0\.0\.0\/7' has 2\^25 addresses.*carve larger pools/);
  });
});

describe("BlockAllocator (IPv6)", () => {
  test("a /104 block: lowest free, requested, release", () => {
    const b = BlockAllocator.create("2001:db8:1::/104");
    expect(b.size).toBe(2 ** 24);
    expect(b.allocate()).toBe("2001:db8:1::");
    expect(b.allocate()).toBe("2001:db8:1::1");
    expect(b.allocateAddress("2001:db8:1::ff:ffff")).toBe(true);
    expect(b.allocateAddress("2001:DB8:1:0::FF:FFFF")).toBe(false);
    expect(b.isAllocated("2001:db8:1::ff:ffff")).toBe(true);
    expect(b.release("2001:db8:1::")).toBe(true);
    expect(b.allocate()).toBe("2001:db8:1::");
    expect(b.allocate()).toBe("2001:db8:1::2");
    expect(b.allocated()).toEqual(["2001:db8:1::", "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::ff:ffff"]);
    b.dispose();
  });

  test("a /120 block exhausts after 256 addresses", () => {
    const b = BlockAllocator.create("2001:db8::100/120");
    let last: string | undefined;
    for (let i = 0; i < 256; i++) last = b.allocate();
    expect(last).toBe("2001:db8::1ff");
    expect(b.allocate()).toBeUndefined();
    b.dispose();
  });

  test("a /103 block is refused", () => {
    expect(() => BlockAllocator.create("2001:db8::/103")).toThrow(/2\^25 addresses.*\/104 or longer/);
  });
});

describe("bad input", () => {
  test("CIDR errors name the input", () => {
    expect(() => BlockAllocator.create("192.0.2.1/24")).toThrow("CIDR '192.0.2.1/24' has host bits set (the network is 192.0.2.0/24)");
    expect(() => BlockAllocator.create("2001:db8::1/120")).toThrow("CIDR '2001:db8::1/120' has host bits set (the network is 2001:db8::/120)");
    expect(() => BlockAllocator.create("192.0.2.0")).toThrow("CIDR '192.0.2.0': missing '/prefix'");
    expect(() => BlockAllocator.create("192.0.2.0/33")).toThrow("CIDR '192.0.2.0/33': prefix length '33' is not 0-32");
    expect(() => BlockAllocator.create("192.0.2.0/x")).toThrow(/prefix length 'x'/);
    expect(() => BlockAllocator.create("192.0.256.0/24")).toThrow("'192.0.256.0' is not an IPv4 or IPv6 address");
    expect(() => BlockAllocator.create("2001:db8:::/120")).toThrow(/'2001:db8:::' is not an IPv4 or IPv6 address/);
    expect(() => BlockAllocator.create("2001:db8::/129")).toThrow(/prefix length '129' is not 0-128/);
  });

  test("addresses outside the block throw, naming address and block", () => {
    const b = BlockAllocator.create("192.0.2.0/25");
    expect(() => b.allocateAddress("192.0.2.128")).toThrow("address 192.0.2.128 is outside block 192.0.2.0/25");
    expect(() => b.release("2001:db8::1")).toThrow("address 2001:db8::1 is outside block 192.0.2.0/25");
    expect(() => b.isAllocated("not-an-ip")).toThrow("'not-an-ip' is not an IPv4 or IPv6 address");
    expect(b.contains("192.0.2.127")).toBe(true);
    expect(b.contains("192.0.2.128")).toBe(false);
    b.dispose();
  });

  test("use after dispose throws", () => {
    const b = BlockAllocator.create("192.0.2.0/24");
    b.dispose();
    b.dispose();
    expect(() => b.allocate()).toThrow("ipam allocator used after dispose()");
  });
});

describe("address text", () => {
  test("parseCidr canonicalises; normalizeAddress compresses IPv6 per RFC 5952", () => {
    expect(parseCidr("2001:DB8:0:0:0:0:0:0/32").text).toBe("2001:db8::/32");
    expect(normalizeAddress("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(normalizeAddress("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(normalizeAddress("::ffff:192.0.2.1")).toBe("::ffff:c000:201");
    expect(normalizeAddress("::")).toBe("::");
    expect(normalizeAddress("192.0.2.1")).toBe("192.0.2.1");
    expect(() => normalizeAddress("192.0.2.01")).toThrow(/not an IPv4 or IPv6 address/);
  });
});
