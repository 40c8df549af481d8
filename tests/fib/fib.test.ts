// The FIB writer against a real kernel table, inside a network namespace of our own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { FibWriter, SART_RT_PROTO } from "../../host/fib/fib.ts";

const ns = `sartfib${process.pid}${Math.floor(Math.random() * 1e4)}`;
const ip = (...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });

interface KernelRoute {
  dst: string;
  gateway?: string;
  protocol?: string | number;
  nexthops?: { gateway: string }[];
}

function kernelRoutes(family: "-4" | "-6", proto: number | string = SART_RT_PROTO): Map<string, string[]> {
  const routes = JSON.parse(ip(family, "-j", "route", "show", "table", "254", "proto", String(proto)) || "[]") as KernelRoute[];
  return new Map(routes.map((r) => [r.dst, r.nexthops ? r.nexthops.map((n) => n.gateway).sort() : [r.gateway!]]));
}

beforeAll(() => {
  execFileSync("ip", ["netns", "add", ns]);
  ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
  ip("link", "set", "v0", "up");
  ip("link", "set", "v1", "up");
  ip("addr", "add", "192.0.2.1/24", "dev", "v0");
  ip("addr", "add", "2001:db8::1/64", "dev", "v0", "nodad");
});

afterAll(() => {
  execFileSync("ip", ["netns", "del", ns]);
});

describe("FibWriter in a network namespace", () => {
  test("installs single and ECMP routes, replaces and withdraws them, in one ip process per burst", async () => {
    const fib = new FibWriter({ table: 254, netns: ns, batchDelayMs: 1 });
    await fib.start();
    const batchesBefore = fib.counters.batches;
    fib.apply([
      { prefix: "198.51.100.0/24", nextHops: ["192.0.2.2"] },
      { prefix: "203.0.113.0/24", nextHops: ["192.0.2.2", "192.0.2.3"] },
      { prefix: "2001:db8:1::/48", nextHops: ["2001:db8::2", "2001:db8::3"] },
    ]);
    await fib.flush();
    expect(fib.counters.batches - batchesBefore).toBe(1);
    expect(kernelRoutes("-4")).toEqual(
      new Map([
        ["198.51.100.0/24", ["192.0.2.2"]],
        ["203.0.113.0/24", ["192.0.2.2", "192.0.2.3"]],
      ]),
    );
    expect(kernelRoutes("-6")).toEqual(new Map([["2001:db8:1::/48", ["2001:db8::2", "2001:db8::3"]]]));

    // An ECMP member goes away, another route is withdrawn: the last change per prefix wins.
    fib.apply([{ prefix: "203.0.113.0/24", nextHops: ["192.0.2.3"] }]);
    fib.apply([
      { prefix: "198.51.100.0/24", nextHops: [] },
      { prefix: "2001:db8:1::/48", nextHops: [] },
    ]);
    await fib.flush();
    expect(kernelRoutes("-4")).toEqual(new Map([["203.0.113.0/24", ["192.0.2.3"]]]));
    expect(kernelRoutes("-6").size).toBe(0);
    expect(fib.routes()).toEqual(["203.0.113.0/24"]);
    await fib.stop();
    expect(kernelRoutes("-4").size).toBe(0);
  });

  test("never touches routes of another protocol, and clears its own leftovers on start", async () => {
    ip("route", "add", "198.51.100.128/25", "via", "192.0.2.9", "proto", "static");
    ip("route", "add", "203.0.113.128/25", "via", "192.0.2.9", "proto", String(SART_RT_PROTO));
    const fib = new FibWriter({ table: 254, netns: ns });
    await fib.start();
    expect(kernelRoutes("-4").size).toBe(0);
    fib.apply([{ prefix: "198.51.100.0/24", nextHops: ["192.0.2.4"] }]);
    await fib.flush();
    await fib.stop();
    expect(kernelRoutes("-4", "static")).toEqual(new Map([["198.51.100.128/25", ["192.0.2.9"]]]));
  });

  test("a route the kernel refuses is counted as a failure and does not stop the batch", async () => {
    const logged: string[] = [];
    const fib = new FibWriter({ table: 254, netns: ns, log: (line) => logged.push(line) });
    await fib.start();
    fib.apply([
      { prefix: "198.51.100.0/24", nextHops: ["203.0.113.77"] }, // unreachable gateway
      { prefix: "203.0.113.0/24", nextHops: ["192.0.2.5"] },
    ]);
    await fib.flush();
    expect(fib.counters.failures).toBe(1);
    expect(logged.join("\n")).toContain("1 of 2 route changes failed in table 254");
    expect(fib.routes()).toEqual(["203.0.113.0/24"]);
    expect(kernelRoutes("-4")).toEqual(new Map([["203.0.113.0/24", ["192.0.2.5"]]]));
    await fib.stop();
  });

  test("rejects an impossible table id naming the field", () => {
    expect(() => new FibWriter({ table: 0 })).toThrow("fib.table");
  });
});
