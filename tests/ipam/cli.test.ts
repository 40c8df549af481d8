// `sart ipam`: the manual-check commands, with state carried in a file between runs.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const main = join(import.meta.dir, "../../host/cli/main.ts");
const dir = mkdtempSync(join(tmpdir(), "sart-ipam-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sart(...args: string[]) {
  const r = spawnSync(process.execPath, [main, "ipam", ...args], { encoding: "utf8", timeout: 30000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("sart ipam", () => {
  test("alloc, take, release and show share a state file", () => {
    const state = join(dir, "block.state");
    expect(sart("alloc", "192.0.2.0/24", "3", "--state", state)).toMatchObject({ code: 0, out: "192.0.2.0\n192.0.2.1\n192.0.2.2\n" });
    expect(sart("take", "192.0.2.0/24", "192.0.2.10", "--state", state).code).toBe(0);
    const taken = sart("take", "192.0.2.0/24", "192.0.2.1", "--state", state);
    expect(taken.code).toBe(1);
    expect(taken.err).toContain("192.0.2.1 is already allocated");
    expect(sart("release", "192.0.2.0/24", "192.0.2.1", "--state", state).code).toBe(0);
    expect(sart("alloc", "192.0.2.0/24", "--state", state).out).toBe("192.0.2.1\n");
    const shown = JSON.parse(sart("show", "192.0.2.0/24", "--state", state, "-o", "json").out);
    expect(shown).toEqual({ cidr: "192.0.2.0/24", size: 256, free: 252, allocated: ["192.0.2.0-192.0.2.2", "192.0.2.10"] });
    const other = sart("show", "198.51.100.0/24", "--state", state);
    expect(other.code).toBe(1);
    expect(other.err).toContain("saved state is for 192.0.2.0/24, not 198.51.100.0/24");
  });

  test("a full block exits 1 after printing what it got", () => {
    const r = sart("alloc", "203.0.113.0/31", "3");
    expect(r).toMatchObject({ code: 1, out: "203.0.113.0\n203.0.113.1\n" });
    expect(r.err).toContain("block 203.0.113.0/31 is full after 2 of 3");
  });

  test("blocks lists a pool's block CIDRs; bad input names itself", () => {
    expect(sart("blocks", "2001:db8::/64", "104", "2").out).toBe(
      "2001:db8::/64 blockSize 104: 1099511627776 blocks (first 16777216 allocatable)\n  0: 2001:db8::/104\n  1: 2001:db8::100:0/104\n",
    );
    const bad = sart("alloc", "192.0.2.1/24");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("CIDR '192.0.2.1/24' has host bits set");
  });
});
