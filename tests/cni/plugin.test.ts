// The sart-cni binary on its own, as a runtime runs it: VERSION, the spec's error codes for
// a bad environment or config, and an agent that is not there or does not answer (11, or 50
// for STATUS) within the config's timeout. Under Bun and under Node (SART_RUNTIME=node) through
// build/bin/sart-cni, and as the compiled executable (build/cni/sart-cni).
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { removeDir, tempDir } from "../helpers/proc.ts";
import { errorProblems } from "./result-shape.ts";
import { SART_CNI_COMPILED, runCni, runPlugin } from "./harness.ts";

const dir = tempDir("cni-plugin");
const missing = join(dir, "nobody.sock");
afterAll(() => removeDir(dir));

const conf = (extra: Record<string, unknown> = {}, version = "1.0.0") => ({ cniVersion: version, name: "net1", type: "sart-cni", socket: missing, timeout: 5, ...extra });
const attach = { containerId: "c0ffee01", netns: "/var/run/netns/none", ifname: "eth0" };

for (const runtime of ["bun", "node", "compiled"] as const) {
  describe(`sart-cni under ${runtime}`, () => {
    test("VERSION lists 0.3.0 to 1.1.0 and echoes the asked version", async () => {
      for (const v of ["0.3.1", "1.0.0", "1.1.0"]) {
        const out = await runCni({ command: "VERSION", config: { cniVersion: v } }, 30_000, runtime);
        expect(out.exitCode).toBe(0);
        expect(out.json).toEqual({ cniVersion: v, supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] });
      }
    });

    test("environment errors are code 4 and name the variable", async () => {
      const noCommand = await runCni({ command: "ADD", config: conf(), env: { CNI_COMMAND: "" } }, 30_000, runtime);
      expect(noCommand.json).toMatchObject({ code: 4, details: expect.stringContaining("CNI_COMMAND") });
      const unknown = await runCni({ command: "ADD", config: conf(), env: { CNI_COMMAND: "FROB" } }, 30_000, runtime);
      expect(unknown.json).toMatchObject({ code: 4, details: expect.stringContaining("FROB") });
      const noNetns = await runCni({ command: "ADD", containerId: "c1", ifname: "eth0", config: conf() }, 30_000, runtime);
      expect(noNetns.exitCode).toBe(1);
      expect(noNetns.json).toMatchObject({ code: 4, details: expect.stringContaining("CNI_NETNS") });
      const badId = await runCni({ command: "DEL", containerId: "-bad", ifname: "eth0", config: conf() }, 30_000, runtime);
      expect(badId.json).toMatchObject({ code: 4, details: expect.stringContaining("CNI_CONTAINERID") });
      const badIf = await runCni({ command: "DEL", containerId: "c1", ifname: "a/b", config: conf() }, 30_000, runtime);
      // Before toMatchObject: Bun 1.4.5's toMatchObject writes its matchers into the received object.
      expect(errorProblems("1.0.0", badIf.json)).toEqual([]);
      expect(badIf.json).toMatchObject({ code: 4, details: expect.stringContaining("CNI_IFNAME") });
    });

    test("config errors: 6 undecodable, 1 version, 7 invalid field", async () => {
      const junk = await runCni({ command: "ADD", ...attach, config: "{not json" }, 30_000, runtime);
      expect(junk.json).toMatchObject({ code: 6 });
      const old = await runCni({ command: "ADD", ...attach, config: conf({}, "0.2.0") }, 30_000, runtime);
      expect(old.json).toMatchObject({ code: 1, details: expect.stringContaining("0.2.0") });
      const check = await runCni({ command: "CHECK", ...attach, config: conf({}, "0.3.1") }, 30_000, runtime);
      expect(check.json).toMatchObject({ code: 1, details: expect.stringContaining("CHECK") });
      for (const cmd of ["GC", "STATUS"] as const) {
        const r = await runCni({ command: cmd, config: conf({}, "1.0.0") }, 30_000, runtime);
        expect(r.json).toMatchObject({ code: 1, details: expect.stringContaining(cmd) });
      }
      const noName = await runCni({ command: "ADD", ...attach, config: { cniVersion: "1.0.0", type: "sart-cni" } }, 30_000, runtime);
      expect(noName.json).toMatchObject({ code: 7, details: expect.stringContaining("name") });
      const timeout = await runCni({ command: "ADD", ...attach, config: conf({ timeout: "soon" }) }, 30_000, runtime);
      expect(timeout.json).toMatchObject({ code: 7, details: expect.stringContaining("timeout") });
      const endpoint = await runCni({ command: "ADD", ...attach, config: conf({ socket: undefined, endpoint: "ftp://x" }) }, 30_000, runtime);
      expect(errorProblems("1.0.0", endpoint.json)).toEqual([]);
      expect(endpoint.json).toMatchObject({ code: 7, details: expect.stringContaining("endpoint") });
    });

    test("no agent on the socket: 11 (STATUS: 50) at once, naming the socket", async () => {
      const add = await runCni({ command: "ADD", ...attach, config: conf() }, 30_000, runtime);
      expect(add.exitCode).toBe(1);
      expect(add.json).toMatchObject({ cniVersion: "1.0.0", code: 11, details: expect.stringContaining(missing) });
      const del = await runCni({ command: "DEL", containerId: "c1", ifname: "eth0", config: conf({ endpoint: `unix:${missing}`, socket: undefined }) }, 30_000, runtime);
      expect(del.json).toMatchObject({ code: 11, details: expect.stringContaining(missing) });
      const status = await runCni({ command: "STATUS", config: conf({}, "1.1.0") }, 30_000, runtime);
      expect(status.json).toMatchObject({ cniVersion: "1.1.0", code: 50 });
    });
  });
}

describe("an agent that accepts but never answers", () => {
  let server: Server;
  const held: Socket[] = [];
  const hung = join(dir, "hung.sock");
  afterAll(() => {
    for (const s of held) s.destroy();
    server?.close();
  });

  test("the call gives up with 11 after the config's timeout, not later", async () => {
    server = createServer((s) => held.push(s));
    await new Promise<void>((r) => server.listen(hung, r));
    const started = Date.now();
    // The test's own bound (8 s) is what a hang would break; the config asks for 1 s.
    const out = await runCni({ command: "ADD", ...attach, config: conf({ socket: hung, timeout: 1 }) }, 8_000);
    expect(out.json).toMatchObject({ code: 11, details: expect.stringContaining("1 s") });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(held.length).toBe(1);
  });
});

describe("the compiled plugin and the runtime's working directory", () => {
  test("a .env or bunfig.toml where the runtime runs changes nothing", async () => {
    // Bun's executables load both from the working directory unless built not to: a file the
    // container runtime happens to sit next to would redirect the plugin or run code in it.
    const cwd = tempDir("cni-cwd");
    try {
      writeFileSync(join(cwd, ".env"), `SART_CNI_SOCKET=${join(cwd, "from-dotenv.sock")}\n`);
      writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./preload.js"]\n');
      writeFileSync(join(cwd, "preload.js"), 'console.log("PRELOADED")\n');
      // The original's netconf: no socket in it, so SART_CNI_SOCKET (unset here) or the default decides.
      const config = JSON.stringify({ cniVersion: "1.1.0", name: "net1", type: "sart-cni", endpoint: "http://localhost:6000", timeout: 2 });
      const out = await runPlugin(SART_CNI_COMPILED, { PATH: process.env.PATH ?? "/usr/bin:/bin", CNI_COMMAND: "STATUS" }, config, 30_000, undefined, cwd);
      expect(out.stdout).not.toContain("PRELOADED");
      expect(out.stdout).not.toContain("from-dotenv");
      expect(out.json).toBeDefined();
    } finally {
      removeDir(cwd);
    }
  });
});
