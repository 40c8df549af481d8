// A real podman (Debian's 4.3) for tests, with everything private: storage (vfs), run root
// and containers.conf in a temp dir, so nothing touches the machine's images or containers.
// The workarounds this machine needs (NOTES-lab): cgroupfs and file events in
// containers.conf; each call in its own mount namespace without the cgroup v2 mount (crun
// refuses the v1/v2 hybrid), with propagation unchanged so netns mounts stay visible;
// limits crun can set. With a Netns, podman runs inside it (`--network host` is that netns).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Netns } from "./netns.ts";
import { removeDir, run, tempDir } from "./proc.ts";

/** Options every `podman run` here needs: crun cannot raise limits on this machine. */
export const RUN_LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export class Podman {
  private constructor(readonly dir: string) {}

  /** `conf`: more containers.conf lines (e.g. a `[network]` table for a CNI backend). */
  static create(conf: string[] = []): Podman {
    const dir = tempDir("podman");
    writeFileSync(join(dir, "containers.conf"), ["[engine]", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', ...conf, ""].join("\n"));
    return new Podman(dir);
  }

  /**
   * `podman ARGS...` (in `ns` when given), stdout; throws with stderr on failure. With
   * `mergeStderr`, stderr too (`podman logs` writes a container's stderr to its own).
   */
  run(args: string[], opts: { ns?: Netns; timeoutMs?: number; mergeStderr?: boolean } = {}): Promise<string> {
    const podman = ["env", `CONTAINERS_CONF=${join(this.dir, "containers.conf")}`, "podman",
      "--root", join(this.dir, "root"), "--runroot", join(this.dir, "runroot"), "--storage-driver", "vfs", ...args];
    const inMountNs = ["unshare", "-m", "--propagation", "unchanged", "sh", "-c",
      `umount /sys/fs/cgroup/unified 2>/dev/null; exec ${podman.map(quote).join(" ")}${opts.mergeStderr ? " 2>&1" : ""}`];
    const [cmd, ...rest] = opts.ns ? ["nsenter", `--net=${opts.ns.path}`, ...inMountNs] : inMountNs;
    return run(cmd!, rest, opts.timeoutMs ?? 60_000);
  }

  /** Removes every container, then the storage. */
  async destroy(): Promise<void> {
    await this.run(["rm", "-f", "--all", "-t", "0"]).catch(() => {});
    removeDir(this.dir);
  }
}
