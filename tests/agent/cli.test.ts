// `sart agent` flags (host/cli/agent.ts): defaults, both modes, errors that name the flag,
// and the real command (`bun run agent`, build/bin/sart under Node) for --help and bad flags.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAgentArgs } from "../../host/cli/agent.ts";
import { ROOT, SART_BIN } from "../helpers/sart.ts";

describe("parseAgentArgs", () => {
  test("defaults: Kubernetes mode, API from the NodeBGP, health 127.0.0.1:9467, /var/lib/sart, the main table", () => {
    expect(parseAgentArgs(["--node", "n1"], {})).toEqual({
      node: "n1",
      mode: { kind: "kubernetes", kubeconfig: undefined, context: undefined },
      api: undefined,
      cniSocket: "/run/sart/cni.sock",
      health: "127.0.0.1:9467",
      stateDir: "/var/lib/sart",
      bgpListen: undefined,
      fib: { enabled: true, table: 254 },
    });
    expect(parseAgentArgs([], { NODE_NAME: "from-env" }).node).toBe("from-env");
  });

  test("standalone and every flag, with --flag=value too", () => {
    const o = parseAgentArgs([
      "--node=h1", "--standalone", "--config", "/etc/sart", "--api", "unix:/run/sart/bgp.sock", "--health=none",
      "--cni-socket", "/tmp/c.sock", "--state-dir", "/tmp/s", "--bgp-listen", "[2001:db8::1]:1179", "--fib-table", "100",
    ], {});
    expect(o).toMatchObject({
      node: "h1", mode: { kind: "standalone", configDir: "/etc/sart" }, api: "unix:/run/sart/bgp.sock", health: "",
      cniSocket: "/tmp/c.sock", stateDir: "/tmp/s", bgpListen: { address: "2001:db8::1", port: 1179 }, fib: { enabled: true, table: 100 },
    });
    expect(parseAgentArgs(["--node", "h", "--bgp-listen", "0", "--no-fib", "--api", "none"], {})).toMatchObject({ bgpListen: { port: 0 }, fib: { enabled: false }, api: "" });
    expect(parseAgentArgs(["--node", "h", "--bgp-listen", ":1179"], {}).bgpListen).toEqual({ port: 1179 });
  });

  test("errors name the flag", () => {
    const err = (args: string[], env: NodeJS.ProcessEnv = {}) => {
      try {
        parseAgentArgs(args, env);
      } catch (e) {
        return (e as Error).message;
      }
      return "no error";
    };
    expect(err([])).toBe("--node NAME is required (or $NODE_NAME)");
    expect(err(["--node", "n", "--standalone"])).toBe("--standalone needs --config DIR");
    expect(err(["--node", "n", "--config", "d"])).toBe("--config goes with --standalone");
    expect(err(["--node", "n", "--standalone", "--config", "d", "--kubeconfig", "k"])).toBe("--kubeconfig/--context cannot be used with --standalone");
    expect(err(["--node", "n", "--fib-table", "0"])).toBe('--fib-table: a kernel table id 1..4294967294, not "0"');
    expect(err(["--node", "n", "--fib-table", "5", "--no-fib"])).toBe("--fib-table and --no-fib exclude each other");
    expect(err(["--node", "n", "--bgp-listen", "host:179"])).toBe('--bgp-listen: "host" is not an IP address');
    expect(err(["--node", "n", "--health", "nowhere"])).toBe(`--health: listen address "nowhere" is not HOST:PORT, [IPV6]:PORT or :PORT (port 0-65535)`);
    expect(parseAgentArgs(["--node", "n", "--health", ":9467"], {}).health).toBe(":9467");
    expect(err(["--node", "n", "--api"])).toBe("--api needs a value");
    expect(err(["--node", "n", "--bogus"])).toBe('unknown option "--bogus"');
  });
});

describe("the command", () => {
  test("bun run agent -- --help: the usage, exit 0", () => {
    const r = spawnSync(join(ROOT, "node_modules/.bin/bun"), ["run", "agent", "--", "--help"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("usage: sart agent --node NAME (--kubeconfig FILE | --standalone --config DIR)");
    for (const flag of ["--api", "--cni-socket", "--health", "--state-dir", "--bgp-listen", "--fib-table", "--no-fib"]) expect(r.stdout).toContain(`  ${flag} `);
  });

  test("build/bin/sart agent under Node: a bad flag is exit 2 naming it", () => {
    const r = spawnSync(SART_BIN, ["agent", "--node", "n", "--fib-table", "x"], { encoding: "utf8", timeout: 30_000, env: { ...process.env, SART_RUNTIME: "node" } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--fib-table: a kernel table id 1..4294967294, not "x"');
  });

  test("build/bin/sart under Node: the agent gets a small young generation, other commands Node's defaults", () => {
    // A `node` ahead in PATH that prints the arguments the wrapper gives it.
    const dir = mkdtempSync(join(tmpdir(), "sart-node-args-"));
    try {
      writeFileSync(join(dir, "node"), '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
      const run = (args: string[]) => spawnSync(SART_BIN, args, { encoding: "utf8", timeout: 30_000, env: { ...process.env, SART_RUNTIME: "node", PATH: `${dir}:${process.env.PATH}` } }).stdout.trim();
      expect(run(["agent", "--node", "n"])).toBe(`--max-semi-space-size=1 ${join(ROOT, "build/node/sart/main.js")} agent --node n`);
      expect(run(["controller", "--help"])).toBe(`${join(ROOT, "build/node/sart/main.js")} controller --help`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
