// sart-cni: the CNI plugin the container runtime runs. A thin client: it checks the
// environment and the network config, forwards the call to the sart agent over its unix
// socket, prints the agent's answer (or the spec's error JSON) and exits. It never waits
// past the config's `timeout`. VERSION is answered here, without the agent.
// Start-up cost is paid per pod: under Bun it loads no node: module at all (node:fs alone
// costs Bun about 6 ms; Bun.stdin and Bun.connect do the job), under Node only what it uses.
import { callAgent } from "./call.ts";
import { bun, CniError, Code, DEFAULT_SOCKET, SUPPORTED_VERSIONS, errorJson, readEnv, readTransport } from "./protocol.ts";

const LATEST = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1];

// console.log, not process.stdout.write: Bun sets up the stdout stream lazily, at a cost of
// about 20 ms of start-up; both write synchronously to a pipe on Linux.
const print = (line: string) => console.log(line);

function fail(version: string, e: unknown): void {
  const err = e instanceof CniError ? e : new CniError(Code.Internal, (e as Error)?.message ?? String(e));
  print(errorJson(version, err.body()));
  process.exitCode = 1;
}

async function readStdin(): Promise<string> {
  if (bun) return await bun.stdin.text();
  const { readFileSync } = await import("node:fs");
  return readFileSync(0, "utf8");
}

async function main(): Promise<void> {
  let version: string = LATEST;
  try {
    let stdin: string;
    try {
      stdin = await readStdin();
    } catch (e) {
      throw new CniError(Code.IoFailure, `reading the network config from stdin: ${(e as Error).message}`);
    }
    let asked: unknown;
    try {
      asked = JSON.parse(stdin).cniVersion;
    } catch {}
    // Errors carry the config's version when it is one we speak.
    if ((SUPPORTED_VERSIONS as readonly string[]).includes(asked as string)) version = asked as string;
    const env = readEnv(process.env);
    if (env.command === "VERSION") {
      print(JSON.stringify({ cniVersion: typeof asked === "string" ? asked : LATEST, supportedVersions: SUPPORTED_VERSIONS }));
      return;
    }
    // SART_CNI_SOCKET: where the agent listens when the config names no socket (e.g. the
    // original's netconf.json, whose `endpoint` is a TCP URL) and the agent is not on the default.
    const { config, transport } = readTransport(stdin, env.command, process.env.SART_CNI_SOCKET || DEFAULT_SOCKET);
    const answer = await callAgent(transport.socket, { env, config, deadline: Date.now() + transport.timeoutMs }, transport.timeoutMs, env.command);
    if ("error" in answer) {
      print(errorJson(version, answer.error));
      process.exitCode = 1;
    } else if (answer.result) {
      print(JSON.stringify(answer.result));
    }
  } catch (e) {
    fail(version, e);
  }
}

void main();
