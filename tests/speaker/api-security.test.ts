// The HTTP API's trust model (docs/api.md) against live speakers: requests a web page
// could send (DNS rebinding: a foreign Host; cross-site: a form or text/plain body, an
// Origin) are refused with 421/415/403 AND change nothing, over TCP and a unix socket;
// the unix socket is 0600 whatever the umask; the CLI keeps working over both.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { lstatSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import yaml from "js-yaml";
import { SART, type SpeakerProc, cleanupTmp, sartBgp, speakerConfig, startSpeaker, tmpDir, waitFor } from "./harness.ts";

interface RawResponse {
  status: number;
  json: any;
}

/** One HTTP/1.1 request written byte for byte (no client fixing up Host or Content-Type). */
function rawRequest(target: { host: string; port: number } | { path: string }, method: string, path: string, headers: Record<string, string>, body = ""): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = "path" in target ? net.connect(target.path) : net.connect(target.port, target.host);
    const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `Content-Length: ${Buffer.byteLength(body)}`, "Connection: close", "", body];
    let data = "";
    sock.setTimeout(10_000, () => sock.destroy(new Error(`${method} ${path}: no response in 10 s`)));
    sock.on("connect", () => sock.write(lines.join("\r\n")));
    sock.on("data", (d) => (data += d));
    sock.on("error", reject);
    sock.on("close", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1]);
      const text = data.slice(data.indexOf("\r\n\r\n") + 4);
      if (!status) return reject(new Error(`${method} ${path}: not an HTTP response: ${JSON.stringify(data.slice(0, 200))}`));
      resolve({ status, json: text ? JSON.parse(text) : undefined });
    });
  });
}

/** `sart speaker` with a config that must not start: its exit status and stderr. */
function failingSpeaker(name: string, config: Record<string, any>): { status: number | null; stderr: string } {
  const file = join(tmpDir(), `${name}.yaml`);
  writeFileSync(file, yaml.dump(config));
  const r = spawnSync(SART, ["speaker", "--config", file], { encoding: "utf8", timeout: 20_000 });
  return { status: r.status, stderr: r.stderr };
}

const prefixes = async (s: SpeakerProc) => (await s.get<any[]>("/v1/rib?family=ipv4-unicast")).map((e) => e.prefix);

let tcp: SpeakerProc;
let unix: SpeakerProc;
let tcpCfg: Record<string, any>;
let socketPath: string;
const running: SpeakerProc[] = [];

beforeAll(async () => {
  tcpCfg = await speakerConfig(65001, "192.0.2.1", { routes: [{ prefix: "198.51.100.0/24" }] });
  tcpCfg.listen.port = 0; // no BGP listener: the API is what is tested
  tcp = await startSpeaker("tcp", tcpCfg);
  running.push(tcp);
  socketPath = join(tmpDir(), "api.sock");
  const unixCfg = await speakerConfig(65002, "192.0.2.2", { api: { listen: `unix:${socketPath}` }, routes: [{ prefix: "198.51.100.0/24" }] });
  unixCfg.listen.port = 0;
  // A umask that would leave the socket open to everyone: the speaker must not inherit that.
  const old = process.umask(0);
  try {
    unix = await startSpeaker("unix", unixCfg);
  } finally {
    process.umask(old);
  }
  running.push(unix);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop("SIGKILL")));
  cleanupTmp();
});

describe("the API over TCP refuses what a browser could send", () => {
  const target = () => ({ host: tcpCfg.listen.address, port: Number(tcpCfg.api.listen.split(":")[1]) });
  const own = () => tcpCfg.api.listen as string;

  test("foreign Host (DNS rebinding), non-JSON writes (CSRF) and any Origin are refused, and the RIB is unchanged", async () => {
    const before = await prefixes(tcp);
    expect(before).toEqual(["198.51.100.0/24"]);
    const json = { "Content-Type": "application/json" };
    const cases: [string, string, string, Record<string, string>, string, number, RegExp][] = [
      ["text/plain from a rebinding name", "POST", "/v1/rib", { Host: "evil.example", "Content-Type": "text/plain" }, `{"prefix":"203.0.113.1/32"}`, 421, /Host "evil\.example" is not this API's address/],
      ["JSON from a rebinding name", "POST", "/v1/rib", { Host: "evil.example:5000", ...json }, `{"prefix":"203.0.113.2/32"}`, 421, /DNS rebinding/],
      ["a read from a rebinding name", "GET", "/v1/rib", { Host: "evil.example" }, "", 421, /not this API's address/],
      ["a withdrawal from a rebinding name", "DELETE", "/v1/rib?prefix=198.51.100.0/24", { Host: "evil.example" }, "", 421, /not this API's address/],
      ["no Host at all", "POST", "/v1/rib", { ...json }, `{"prefix":"203.0.113.3/32"}`, 0, /./],
      ["text/plain (a cross-site fetch)", "POST", "/v1/rib", { Host: own(), "Content-Type": "text/plain" }, `{"prefix":"203.0.113.4/32"}`, 415, /Content-Type must be application\/json, not "text\/plain"/],
      ["a form post", "POST", "/v1/rib", { Host: own(), "Content-Type": "application/x-www-form-urlencoded" }, `{"prefix":"203.0.113.5/32"}`, 415, /application\/json/],
      ["no Content-Type", "POST", "/v1/rib", { Host: own() }, `{"prefix":"203.0.113.6/32"}`, 415, /not missing/],
      ["a body-less POST (route refresh by form)", "POST", "/v1/neighbors/192.0.2.9/refresh", { Host: own() }, "", 415, /application\/json/],
      ["a text/plain DELETE body", "DELETE", "/v1/rib", { Host: own(), "Content-Type": "text/plain" }, `{"prefix":"198.51.100.0/24"}`, 415, /application\/json/],
      ["a neighbour added by text/plain", "POST", "/v1/neighbors", { Host: "localhost", "Content-Type": "text/plain;charset=UTF-8" }, `{"address":"192.0.2.9","asn":65009}`, 415, /application\/json/],
      ["JSON from a web page (Origin)", "POST", "/v1/rib", { Host: own(), Origin: "http://evil.example", ...json }, `{"prefix":"203.0.113.7/32"}`, 403, /Origin "http:\/\/evil\.example"/],
      ["JSON from a page on localhost (Origin)", "POST", "/v1/rib", { Host: "localhost", Origin: "http://localhost:8000", ...json }, `{"prefix":"203.0.113.8/32"}`, 403, /not browsers/],
    ];
    for (const [what, method, path, headers, body, status, message] of cases) {
      const r = await rawRequest(target(), method, path, headers, body);
      if (status === 0) {
        // HTTP/1.1 without Host: the runtime's HTTP server or our check answers 400 or 421.
        expect({ what, refused: r.status === 400 || r.status === 421 }).toEqual({ what, refused: true });
        continue;
      }
      expect({ what, status: r.status }).toEqual({ what, status });
      expect({ what, error: r.json?.error }).toEqual({ what, error: expect.stringMatching(message) });
    }
    // Then a well-formed write: it lands, and it is the only change.
    const ok = await rawRequest(target(), "POST", "/v1/rib", { Host: own(), ...json }, `{"prefix":"203.0.113.100/32","nextHop":"192.0.2.1"}`);
    expect(ok.status).toBe(201);
    expect(await prefixes(tcp)).toEqual(["198.51.100.0/24", "203.0.113.100/32"]);
    expect((await tcp.get("/v1/neighbors")).length).toBe(0);
    expect((await tcp.get("/v1/global")).originated).toBe(2);
  });

  test("localhost, IP addresses (v4 and v6 literals) and the listen address are accepted as Host", async () => {
    for (const host of ["localhost", `localhost:${target().port}`, "LOCALHOST", own(), "127.0.0.1", "[::1]:5000", "192.0.2.1"]) {
      const r = await rawRequest(target(), "GET", "/v1/global", { Host: host });
      expect({ host, status: r.status }).toEqual({ host, status: 200 });
    }
    // A body-less DELETE needs no Content-Type: a browser cannot send one cross-site without a preflight.
    const del = await rawRequest(target(), "DELETE", "/v1/rib?prefix=203.0.113.100/32", { Host: own() });
    expect(del.status).toBe(200);
    expect(await prefixes(tcp)).toEqual(["198.51.100.0/24"]);
  });

  test("the CLI works against it", () => {
    const add = sartBgp(own(), ["rib", "add", "203.0.113.9/32", "--next-hop", "192.0.2.1", "-o", "json"]);
    expect(add.stderr).toBe("");
    expect(add.status).toBe(0);
    const get = sartBgp(own(), ["rib", "get", "-o", "json"]);
    expect(get.json.map((e: any) => e.prefix)).toEqual(["198.51.100.0/24", "203.0.113.9/32"]);
    expect(sartBgp(own(), ["rib", "del", "203.0.113.9/32"]).status).toBe(0);
  });
});

describe("the API on a unix socket", () => {
  test("the socket is 0600 although the speaker started under umask 0", () => {
    const st = lstatSync(socketPath);
    expect(st.isSocket()).toBe(true);
    expect((st.mode & 0o777).toString(8)).toBe("600");
  });

  test("non-JSON writes and any Origin are refused and change nothing; Host is not checked (no browser reaches a socket file)", async () => {
    const target = { path: socketPath };
    const json = { "Content-Type": "application/json" };
    const cases: [string, Record<string, string>, number][] = [
      ["text/plain", { Host: "localhost", "Content-Type": "text/plain" }, 415],
      ["no Content-Type", { Host: "localhost" }, 415],
      ["Origin", { Host: "localhost", Origin: "http://evil.example", ...json }, 403],
    ];
    for (const [what, headers, status] of cases) {
      const r = await rawRequest(target, "POST", "/v1/rib", headers, `{"prefix":"203.0.113.1/32"}`);
      expect({ what, status: r.status }).toEqual({ what, status });
    }
    expect(await prefixes(unix)).toEqual(["198.51.100.0/24"]);
    const ok = await rawRequest(target, "POST", "/v1/rib", { Host: "sart-api", ...json }, `{"prefix":"203.0.113.2/32","nextHop":"192.0.2.2"}`);
    expect(ok.status).toBe(201);
    expect(await prefixes(unix)).toEqual(["198.51.100.0/24", "203.0.113.2/32"]);
  });

  test("the CLI works over it (--api unix:PATH)", () => {
    const add = sartBgp(unix.api, ["rib", "add", "203.0.113.3/32", "--next-hop", "192.0.2.2"]);
    expect(add.stderr).toBe("");
    expect(add.stdout).toBe("route 203.0.113.3/32 added\n");
    const get = sartBgp(unix.api, ["rib", "get", "-o", "json"]);
    expect(get.json.map((e: any) => e.prefix)).toContain("203.0.113.3/32");
  });

  test("a second speaker on a live socket fails naming it; a stale socket file is replaced; a clean stop removes the file", async () => {
    const cfg = await speakerConfig(65003, "192.0.2.3", { api: { listen: `unix:${socketPath}` } });
    cfg.listen.port = 0;
    const second = failingSpeaker("second", cfg);
    expect(second.stderr).toContain(`api.listen unix:${socketPath}: ${socketPath} is in use by another process`);
    expect(second.status).toBe(1);
    // The first one still serves the socket.
    expect((await unix.get("/v1/global")).asn).toBe(65002);
    // kill -9 leaves a stale file; the next start replaces it.
    await unix.stop("SIGKILL");
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    const next = await startSpeaker("next", cfg);
    running.push(next);
    expect((await next.get("/v1/global")).asn).toBe(65003);
    expect((lstatSync(socketPath).mode & 0o777).toString(8)).toBe("600");
    expect(await next.stop("SIGTERM")).toBe(0);
    await waitFor("the socket file removed", () => !lstatSync(socketPath, { throwIfNoEntry: false }) || undefined, 5000);
  });

  test("a path that is not a socket is never replaced", async () => {
    const file = join(tmpDir(), "not-a-socket");
    writeFileSync(file, "keep me\n");
    const cfg = await speakerConfig(65004, "192.0.2.4", { api: { listen: `unix:${file}` } });
    cfg.listen.port = 0;
    const r = failingSpeaker("file", cfg);
    expect(r.stderr).toContain(`api.listen unix:${file}: ${file} exists and is not a socket`);
    expect(r.status).toBe(1);
    expect(lstatSync(file).isFile()).toBe(true);
  });
});
