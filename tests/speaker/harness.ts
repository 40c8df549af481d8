// Test helpers: sart speakers as real processes (build/bin/sart under Bun or
// Node), free loopback addresses and ports, API calls, bounded waits.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import yaml from "js-yaml";

export const ROOT = resolve(import.meta.dir, "../..");
export const SART = join(ROOT, "build/bin/sart");

let tmp: string | undefined;

/** This test file's scratch directory (configs, unix sockets), made on first use. */
export function tmpDir(): string {
  tmp ??= mkdtempSync(join(tmpdir(), "sart-speaker-test-"));
  return tmp;
}

export function cleanupTmp(): void {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}

/** A loopback address of our own (127.A.B.C, away from 127.0.0.1) for one test. */
export function loopbackAddress(): string {
  const r = () => Math.floor(Math.random() * 250) + 2;
  return `127.${100 + Math.floor(Math.random() * 100)}.${r()}.${r()}`;
}

export function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen({ host, port: 0 }, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolvePort(port));
    });
  });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await Bun.sleep(50);
  }
}

export interface SpeakerProc {
  name: string;
  /** "127.0.0.5:1234" or "unix:/path" */
  api: string;
  address: string;
  port: number;
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  get<T = any>(path: string): Promise<T>;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  runtime?: "bun" | "node";
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  args?: string[];
}

/** Writes the config and starts `sart speaker`; resolves once its API answers. */
export async function startSpeaker(name: string, config: Record<string, any>, opts: StartOptions = {}): Promise<SpeakerProc> {
  const file = join(tmpDir(), `${name}.yaml`);
  writeFileSync(file, yaml.dump(config));
  const api: string = config.api.listen;
  const cmd = opts.netns ? "ip" : SART;
  const args = [...(opts.netns ? ["netns", "exec", opts.netns, SART] : []), "speaker", "--config", file, ...(opts.args ?? [])];
  const proc = spawn(cmd, args, { env: { ...process.env, SART_RUNTIME: opts.runtime ?? "bun" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((res) => proc.on("exit", (code) => res(code)));
  const call = async (method: string, path: string, body?: unknown) => {
    // The API refuses a POST that is not application/json, even an empty one (docs/api.md).
    const json = body !== undefined || method === "POST";
    const init: RequestInit & { unix?: string } = { method, headers: json ? { "content-type": "application/json" } : {} };
    if (body !== undefined) init.body = JSON.stringify(body);
    let url: string;
    if (api.startsWith("unix:")) {
      init.unix = api.slice(5);
      url = `http://localhost${path}`;
    } else url = `http://${api}${path}`;
    const res = await fetch(url, init);
    const text = await res.text();
    return { status: res.status, json: res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text };
  };
  const sp: SpeakerProc = {
    name, api, address: config.listen?.address, port: config.listen?.port, proc, output: () => out, exited,
    call,
    async get(path) {
      const r = await call("GET", path);
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json;
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  await waitFor(`${name}'s API (${api})`, async () => {
    if (exitedEarly) throw new Error(`${name} exited: ${out}`);
    return (await call("GET", "/v1/global")).status === 200;
  }, 20_000).catch((e) => {
    proc.kill("SIGKILL");
    throw new Error(`${(e as Error).message}\n${out}`);
  });
  return sp;
}

/** A speaker config on its own loopback address with a free BGP and API port. */
export async function speakerConfig(asn: number, routerId: string, extra: Record<string, any> = {}): Promise<Record<string, any>> {
  const address = loopbackAddress();
  const port = await freePort(address);
  const apiPort = await freePort(address);
  return { asn, routerId, listen: { address, port }, api: { listen: `${address}:${apiPort}` }, neighbors: [], routes: [], ...extra };
}

export function neighborOf(cfg: Record<string, any>, extra: Record<string, any> = {}): Record<string, any> {
  return { address: cfg.listen.address, asn: cfg.asn, port: cfg.listen.port, holdTime: 9, ...extra };
}

/** `sart bgp ...` against a speaker; JSON output parsed when -o json is given. */
export function sartBgp(api: string, args: string[], runtime: "bun" | "node" = "bun"): { status: number; stdout: string; stderr: string; json?: any } {
  const r = spawnSync(SART, ["bgp", "--api", api, ...args], { env: { ...process.env, SART_RUNTIME: runtime }, encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  const json = args.includes("json") && r.status === 0 ? JSON.parse(r.stdout) : undefined;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}

export async function waitEstablished(s: SpeakerProc, neighbor: string, timeoutMs = 20_000): Promise<any> {
  return waitFor(`${s.name}: ${neighbor} Established`, async () => {
    const n = await s.get(`/v1/neighbors/${neighbor}`);
    return n.state === "Established" ? n : undefined;
  }, timeoutMs);
}

/** The RIB entry for a prefix (or undefined). */
export async function ribEntry(s: SpeakerProc, prefix: string): Promise<any> {
  const fam = prefix.includes(":") ? "ipv6-unicast" : "ipv4-unicast";
  const all = await s.get<any[]>(`/v1/rib?family=${fam}&limit=100000`);
  return all.find((e) => e.prefix === prefix);
}
