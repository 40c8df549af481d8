// Child processes for tests and benchmarks: logs in a temp dir, a bounded stop
// (SIGTERM, then SIGKILL), and a process-exit hook that kills whatever a test
// forgot, so no daemon outlives the run.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const c of live) {
      try {
        process.kill(c.pid!, "SIGCONT");
        c.kill("SIGKILL");
      } catch {}
    }
  };
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** A temp dir for one daemon's config, sockets and logs. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sart-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export class Daemon {
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;

  constructor(readonly name: string, readonly child: ChildProcess, readonly logFile: string) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        live.delete(child);
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      });
      // Spawn failures are reported through the log, so waits that read it name the cause.
      child.once("error", (err) => {
        live.delete(child);
        this.exitCode = -1;
        try {
          appendFileSync(logFile, `${name}: cannot start: ${err.message}\n`);
        } catch {}
        resolve(-1);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }

  /** The last lines of the log, for error messages. */
  tail(lines = 30): string {
    return this.log().split("\n").slice(-lines).join("\n");
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** SIGTERM (or `sig`), SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(sig: NodeJS.Signals = "SIGTERM", graceMs = 3000): Promise<void> {
    if (!this.running) return;
    try {
      process.kill(this.pid, "SIGCONT"); // a stopped process cannot act on SIGTERM
      process.kill(this.pid, sig);
    } catch {}
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {}
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Starts `cmd args` with stdout+stderr appended to `logFile`. */
export function startDaemon(name: string, cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Daemon {
  hookExit();
  const fd = openSync(logFile, "a");
  const child = spawn(cmd, args, { stdio: ["ignore", fd, fd], env: env ?? process.env });
  closeSync(fd);
  live.add(child);
  return new Daemon(name, child, logFile);
}

/** Runs a command to completion (bounded), returning stdout; throws with stderr on failure. */
export function run(cmd: string, args: string[], timeoutMs = 10000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}${stderr ? `\n${stderr}` : ""}`));
      else resolve(stdout);
    });
  });
}

/** A memory figure of /proc/PID/status (VmRSS, VmHWM, ...) in bytes, or 0 when the process is gone. */
function statusBytes(pid: number, field: string): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes now (VmRSS), or 0 when it is gone. */
export function rss(pid: number): number {
  return statusBytes(pid, "VmRSS");
}

/** Peak resident set size of a process in bytes (VmHWM), or 0 when it is gone. */
export function peakRss(pid: number): number {
  return statusBytes(pid, "VmHWM");
}
