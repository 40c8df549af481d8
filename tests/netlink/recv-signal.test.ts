// A signal to the agent while it waits for a netlink answer (a child's exit, SIGHUP) ends
// poll(2) with EINTR, whatever SA_RESTART says. recv must wait out its time, not fail the
// request. Both backends: bun:ffi and the Node addon (which Bun loads too).
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ffiSyscalls } from "../../host/sockopt/ffi.ts";
import type { Syscalls } from "../../host/sockopt/syscalls.ts";
import { ROOT } from "../helpers/sart.ts";

const require = createRequire(import.meta.url);
const EAGAIN = 11;
const AF_INET = 2;
const SOCK_DGRAM = 2;

const backends: [string, () => Syscalls][] = [
  ["bun:ffi", () => ffiSyscalls(require("bun:ffi"))],
  ["the Node addon", () => require(join(ROOT, "build/sart-sockopt.node")) as Syscalls],
];

let signals = 0;
const onSignal = () => signals++;
process.on("SIGUSR2", onSignal);
afterAll(() => void process.off("SIGUSR2", onSignal));

describe.each(backends)("recv under a signal (%s)", (_name, load) => {
  test("a signal during the wait: recv still waits its time and answers EAGAIN, not EINTR", async () => {
    const sys = load();
    const fd = sys.socket(AF_INET, SOCK_DGRAM, 0);
    expect(fd).toBeGreaterThanOrEqual(0);
    try {
      // struct sockaddr_in 127.0.0.1, port 0: a socket nothing is sent to.
      const addr = new Uint8Array(16);
      addr.set([AF_INET, 0, 0, 0, 127, 0, 0, 1]);
      expect(sys.bind(fd, addr)).toBe(0);
      const before = signals;
      const child = spawn("sh", ["-c", `sleep 0.1; kill -USR2 ${process.pid}`], { stdio: "ignore" });
      const exited = new Promise((r) => child.on("exit", r));
      const t = performance.now();
      const r = sys.recv(fd, new Uint8Array(64), 800);
      const waited = performance.now() - t;
      await exited;
      // The handler runs once recv has returned: the signal did arrive during the wait.
      for (let i = 0; i < 100 && signals === before; i++) await new Promise((res) => setTimeout(res, 10));
      expect(signals).toBe(before + 1);
      expect(r).toBe(-EAGAIN);
      expect(waited).toBeGreaterThan(600);
    } finally {
      sys.close(fd);
    }
  });
});
