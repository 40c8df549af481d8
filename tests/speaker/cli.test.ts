// `sart` as an operator meets it: `rib get PREFIX|ADDRESS` filters (longest match for an
// address, like gobgp), every command and subcommand has its own --help, --version, the API
// is found without flags (SART_API, --api, the agent's default address) and an unreachable
// one is one line naming the address; a fresh session is not shown as "never".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_API, resolveApi } from "../../host/cli/api-client.ts";
import { upDown } from "../../host/cli/bgp-text.ts";
import { ROOT, SART, type SpeakerProc, cleanupTmp, freePort, neighborOf, sartBgp, speakerConfig, startSpeaker, tmpDir, waitEstablished } from "./harness.ts";

/** build/bin/sart with SART_API only when given (the test runner's own is dropped). */
function sart(args: string[], env: Record<string, string> = {}, runtime: "bun" | "node" = "bun") {
  const { SART_API: _ignored, ...base } = process.env;
  const r = spawnSync(SART, args, { env: { ...base, ...env, SART_RUNTIME: runtime }, encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let a: SpeakerProc;
let b: SpeakerProc;
let ca: Record<string, any>;
let cb: Record<string, any>;

beforeAll(async () => {
  ca = await speakerConfig(65001, "192.0.2.1", {
    routes: [{ prefix: "198.51.100.0/24" }, { prefix: "198.51.100.128/25", communities: ["no-export", "65001:7"] }, { prefix: "2001:db8:1::/48", nextHop: "2001:db8::1" }],
  });
  cb = await speakerConfig(65002, "192.0.2.2");
  ca.neighbors = [neighborOf(cb)];
  cb.neighbors = [neighborOf(ca)];
  a = await startSpeaker("a", ca);
  b = await startSpeaker("b", cb);
});

afterAll(async () => {
  await Promise.all([a, b].filter(Boolean).map((s) => s.stop("SIGKILL")));
  cleanupTmp();
});

describe("sart bgp rib get PREFIX|ADDRESS", () => {
  test("a prefix shows that prefix only; an address its longest match (IPv4 and IPv6)", () => {
    const cases: [string, string][] = [
      ["198.51.100.0/24", "198.51.100.0/24"],
      ["198.51.100.128/25", "198.51.100.128/25"],
      ["198.51.100.200", "198.51.100.128/25"],
      ["198.51.100.7", "198.51.100.0/24"],
      ["2001:db8:1::1", "2001:db8:1::/48"],
      ["2001:db8:1::/48", "2001:db8:1::/48"],
    ];
    for (const [arg, want] of cases) {
      const r = sartBgp(a.api, ["rib", "get", arg, "-o", "json"]);
      expect({ arg, status: r.status, prefixes: r.json?.map((e: any) => e.prefix) }).toEqual({ arg, status: 0, prefixes: [want] });
    }
    const table = sartBgp(a.api, ["rib", "get", "198.51.100.200"]);
    expect(table.stdout.trimEnd().split("\n")).toHaveLength(2); // header + the /25's one path
    expect(table.stdout).toMatch(/\*>\s+198\.51\.100\.128\/25\s+self/);
    // Well-known communities by name in the table; the JSON keeps ASN:VALUE.
    expect(table.stdout).toMatch(/IGP\s+no-export 65001:7\s+local/);
    expect(sartBgp(a.api, ["rib", "get", "198.51.100.200", "-o", "json"]).json[0].paths[0].communities).toEqual(["65535:65281", "65001:7"]);
    // Without an argument: the whole IPv4 table.
    expect(sartBgp(a.api, ["rib", "get", "-o", "json"]).json.map((e: any) => e.prefix)).toEqual(["198.51.100.0/24", "198.51.100.128/25"]);
  });

  test("not in the RIB: exit 1 and one line on stderr; -o json still prints valid JSON ([])", () => {
    for (const arg of ["203.0.113.0/24", "203.0.113.9", "198.51.100.0/23"]) {
      const r = sartBgp(a.api, ["rib", "get", arg]);
      expect({ arg, status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ arg, status: 1, stdout: "", stderr: `sart bgp: ${arg}: not in the RIB\n` });
    }
    const json = spawnSync(SART, ["bgp", "--api", a.api, "rib", "get", "203.0.113.9", "-o", "json"], { encoding: "utf8" });
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([]);
    const bad = sartBgp(a.api, ["rib", "get", "not-an-address"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("neither a prefix (ADDR/LEN) nor an address");
    const paged = sartBgp(a.api, ["rib", "get", "198.51.100.0/24", "--limit", "1"]);
    expect(paged.status).toBe(2);
    expect(paged.stderr).toContain("--limit and --after page the whole table: not with PREFIX");
  });
});

describe("help and version", () => {
  const BGP = ["global get", "neighbor list", "neighbor get", "neighbor add", "neighbor del", "rib get", "rib add", "rib del"];

  test("every sart bgp subcommand has its own --help (no API needed), and each area lists its verbs", () => {
    const texts = new Set<string>();
    for (const cmd of BGP) {
      // An API address nothing listens on: help must not need it.
      const r = sart(["bgp", ...cmd.split(" "), "--help"], { SART_API: "127.0.0.1:1" });
      expect({ cmd, status: r.status, stderr: r.stderr }).toEqual({ cmd, status: 0, stderr: "" });
      expect(r.stdout.startsWith(`usage: sart bgp ${cmd}`)).toBe(true);
      expect(r.stdout).toContain("--api ADDR");
      texts.add(r.stdout);
    }
    expect(texts.size).toBe(BGP.length);
    expect(sart(["bgp", "rib", "add", "--help"]).stdout).toContain("--next-hop ADDR|self");
    expect(sart(["bgp", "neighbor", "add", "-h"]).stdout).toContain("--export local|all|none");
    const area = sart(["bgp", "neighbor", "--help"]);
    expect(area.stdout.startsWith("usage: sart bgp neighbor VERB")).toBe(true);
    for (const verb of ["list", "get", "add", "del"]) expect(area.stdout).toMatch(new RegExp(`^  ${verb} `, "m"));
    const top = sart(["bgp", "--help"]);
    for (const cmd of BGP) expect(top.stdout).toContain(`  ${cmd}`);
    expect(top.stdout).toContain("SART_API");
    expect(top.stdout).toContain(DEFAULT_API);
  });

  test("every sart command has its own --help; sart help CMD is the same", () => {
    const texts = new Set<string>();
    for (const cmd of ["decode", "speaker", "bgp", "controller", "agent", "ipam"]) {
      const r = sart([cmd, "--help"]);
      expect({ cmd, status: r.status }).toEqual({ cmd, status: 0 });
      expect({ cmd, head: r.stdout.split("\n")[0] }).toEqual({ cmd, head: expect.stringMatching(new RegExp(`^usage: sart ${cmd}\\b`)) });
      expect(sart(["help", cmd]).stdout).toBe(r.stdout);
      texts.add(r.stdout);
    }
    expect(texts.size).toBe(6);
    for (const sub of ["alloc", "take", "release", "show", "blocks", "bench"]) {
      const r = sart(["ipam", sub, "--help"]);
      expect({ sub, status: r.status, head: r.stdout.split("\n")[0] }).toEqual({ sub, status: 0, head: expect.stringMatching(new RegExp(`^usage: sart ipam ${sub} `)) });
    }
    const top = sart(["--help"]);
    expect(top.stdout).toContain("sart <command> --help");
    expect(top.stdout).toContain("SART_API");
  });

  test("sart --version: package version, git commit of the checkout, runtime (Bun and Node)", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short=12", "HEAD"], { encoding: "utf8" }).trim();
    const bun = sart(["--version"]);
    expect(bun).toEqual({ status: 0, stdout: `sart ${pkg.version} (commit ${commit}), Bun ${process.versions.bun}\n`, stderr: "" });
    const node = sart(["--version"], {}, "node");
    expect(node.status).toBe(0);
    expect(node.stdout).toMatch(new RegExp(`^sart ${pkg.version.replace(/\./g, "\\.")} \\(commit ${commit}\\), Node v?20\\.`));
  });
});

describe("finding the API", () => {
  test("the default is the agent's address 127.0.0.1:5000; SART_API overrides it and --api overrides both", () => {
    expect(resolveApi(undefined, {})).toEqual({ address: "127.0.0.1:5000", source: "the default" });
    expect(resolveApi(undefined, { SART_API: "unix:/run/sart/bgp.sock" })).toEqual({ address: "unix:/run/sart/bgp.sock", source: "SART_API" });
    expect(resolveApi("[::1]:5001", { SART_API: "127.0.0.1:9" })).toEqual({ address: "[::1]:5001", source: "--api" });
    expect(() => resolveApi(undefined, { SART_API: "localhost" })).toThrow('SART_API: must be host:port ([v6]:port) or unix:/path, not "localhost"');
  });

  test("SART_API alone reaches the speaker; --api wins over it", () => {
    const viaEnv = sart(["bgp", "global", "get", "-o", "json"], { SART_API: a.api });
    expect(viaEnv.status).toBe(0);
    expect(JSON.parse(viaEnv.stdout).asn).toBe(65001);
    const both = sart(["bgp", "--api", b.api, "global", "get", "-o", "json"], { SART_API: a.api });
    expect(JSON.parse(both.stdout).asn).toBe(65002);
  });

  test("an unreachable API is one line naming the address, where it came from, and how to point elsewhere", async () => {
    const port = await freePort("127.0.0.1");
    const viaFlag = sart(["bgp", "--api", `127.0.0.1:${port}`, "neighbor", "list"]);
    expect(viaFlag.status).toBe(1);
    expect(viaFlag.stdout).toBe("");
    expect(viaFlag.stderr).toBe(
      `sart bgp: cannot reach the sart API at 127.0.0.1:${port} (--api): connection refused; is sart agent or sart speaker running? Point to its API with --api HOST:PORT|unix:PATH or SART_API=...\n`,
    );
    const sock = join(tmpDir(), "nothing.sock");
    const viaEnv = sart(["bgp", "rib", "get"], { SART_API: `unix:${sock}` }, "node");
    expect(viaEnv.status).toBe(1);
    expect(viaEnv.stderr.split("\n")).toEqual([`sart bgp: cannot reach the sart API at unix:${sock} (SART_API): no such socket file; is sart agent or sart speaker running? Point to its API with --api HOST:PORT|unix:PATH or SART_API=...`, ""]);
  });
});

describe("neighbour up/down time", () => {
  test("an Established session in its first second is 00:00:00, not never", () => {
    const counters = { establishedTransitions: 1 } as any;
    expect(upDown({ state: "Established", uptime: 0, counters })).toBe("00:00:00");
    expect(upDown({ state: "Established", uptime: 3725, counters })).toBe("01:02:05");
    expect(upDown({ state: "Active", uptime: 0, counters: { establishedTransitions: 0 } as any })).toBe("never");
    expect(upDown({ state: "Idle", uptime: 0, counters })).toBe("down");
  });

  test("neighbor list of a live session shows its time up", async () => {
    await waitEstablished(a, cb.listen.address);
    const list = sartBgp(a.api, ["neighbor", "list"]);
    expect(list.stdout).toMatch(new RegExp(`${cb.listen.address.replace(/\./g, "\\.")}\\s+65002\\s+\\d\\d:\\d\\d:\\d\\d\\s+Established`));
    const detail = sartBgp(a.api, ["neighbor", "get", cb.listen.address]);
    expect(detail.stdout).toMatch(/BGP state = Established, up for \d\d:\d\d:\d\d/);
  });
});
