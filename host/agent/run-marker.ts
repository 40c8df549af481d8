// How the agent knows it restarted: a file in --state-dir that exists while it runs.
// A clean shutdown removes it; kill -9 or a crash leaves it, so the next start is a
// graceful restart (routers keep our routes until we re-send them). The file holds
// the pid: a second agent on the same state directory is refused.
import { readFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export class RunMarker {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = join(stateDir, "agent.running");
  }

  /** Records this run; true when the previous one did not end cleanly. Throws when another agent runs. */
  async begin(): Promise<boolean> {
    await mkdir(join(this.file, ".."), { recursive: true });
    let previous: number | undefined;
    try {
      previous = Number((await readFile(this.file, "utf8")).split("\n")[0]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${this.file}: ${(e as Error).message}`);
    }
    if (previous && previous !== process.pid && alive(previous)) {
      throw new Error(`another agent (pid ${previous}) runs with this state directory (${this.file})`);
    }
    await writeFile(this.file, `${process.pid}\n${new Date().toISOString()}\n`, { mode: 0o644 });
    return previous !== undefined;
  }

  /** Clean shutdown: the next start is a fresh one. */
  async end(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

/** Whether an agent runs with this pid: alive, not a zombie, "agent" on its command line (pids are reused). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") return false;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("agent");
  } catch {
    return false;
  }
}
