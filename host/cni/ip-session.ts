// A long-lived `ip -force -batch -` in the agent's own network namespace, fed jobs (groups
// of lines) over its stdin, without a process start each: every DEL's `link del`, and the
// host side of ADD where pods' networks are built with `ip` (no rtnetlink in this runtime:
// see podnet.ts).
// ip answers nothing for a successful change and "<message>\nCommand failed -:N" on stderr
// for a failed line (N counts every line the process has read), unbuffered and in input
// order. Each job ends with a line ip always refuses (MARKER): its failure marks the job done.
//
// Once an addr or route line has named a device, iproute2 keeps its index for the life of
// the process, so a veth deleted (by us, or with its pod's netns) and made again under the
// same name would be addressed by its old index: after a job that deletes a link, renew()
// hands later jobs to a fresh process while the old one finishes its queue and exits;
// prepare() starts it ahead of a job (ADD through `ip` does while its pod side is being made).
import { spawn, type ChildProcess } from "node:child_process";

export interface JobFailure {
  line: string;
  message: string;
}

interface Job {
  first: number;
  lines: string[];
  failures: JobFailure[];
  done: (failures: JobFailure[]) => void;
  fail: (e: Error) => void;
}

const MARKER = "sart-job-done";

/** One ip process and the jobs it has been given. */
class IpProcess {
  private readonly child: ChildProcess;
  private readonly jobs: Job[] = [];
  private lineNo = 0;
  private buffer = "";
  private message: string[] = [];
  alive = true;

  constructor(netns?: string) {
    const child = spawn("ip", [...(netns ? ["-n", netns] : []), "-force", "-batch", "-"], { stdio: ["pipe", "ignore", "pipe"] });
    this.child = child;
    child.stderr!.setEncoding("utf8").on("data", (d: string) => this.read(d));
    const lost = (why: string) => {
      this.alive = false;
      for (const job of this.jobs.splice(0)) job.fail(new Error(`ip -batch session ${why}`));
    };
    child.on("error", (e) => lost(`could not run: ${e.message}`));
    child.on("close", (code, signal) => lost(`ended (${signal ?? `exit ${code}`})`)); // after stderr is drained
    child.stdin!.on("error", () => {}); // the exit handler reports it
  }

  run(lines: string[]): Promise<JobFailure[]> {
    return new Promise((done, fail) => {
      this.jobs.push({ first: this.lineNo + 1, lines, failures: [], done, fail });
      this.lineNo += lines.length + 1;
      this.child.stdin!.write(`${[...lines, MARKER].join("\n")}\n`);
    });
  }

  /** No more jobs: the process exits once it has answered the ones it has. */
  end(): void {
    this.alive = false;
    this.child.stdin!.end();
  }

  kill(): void {
    this.end();
    this.child.kill();
  }

  private read(data: string): void {
    this.buffer += data;
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const failed = /^Command failed -:(\d+)$/.exec(line);
      if (!failed) {
        this.message.push(line);
        continue;
      }
      const n = Number(failed[1]);
      const job = this.jobs[0];
      if (job && n === job.first + job.lines.length) {
        this.jobs.shift();
        job.done(job.failures);
      } else if (job && n >= job.first) {
        job.failures.push({ line: job.lines[n - job.first]!, message: this.message.join(" ").trim() });
      }
      this.message = [];
    }
  }
}

export class IpSession {
  private current?: IpProcess;
  private closed = false;

  /** `netns`: a /run/netns name to work in instead of the agent's own namespace. */
  constructor(private readonly netns?: string) {}

  /** Runs `lines` (in order, each even if one before failed); resolves with the lines that failed. */
  run(lines: string[]): Promise<JobFailure[]> {
    if (this.closed) return Promise.reject(new Error("ip -batch session closed"));
    if (!this.current?.alive) this.current = new IpProcess(this.netns);
    return this.current.run(lines);
  }

  /** Later jobs go to a fresh process (see the header); the current one finishes its jobs. */
  renew(): void {
    this.current?.end();
    this.current = undefined;
  }

  /** Starts the process now if there is none, so that a job soon to come does not wait for it. */
  prepare(): void {
    if (!this.closed && !this.current?.alive) this.current = new IpProcess(this.netns);
  }

  close(): void {
    this.closed = true;
    this.current?.kill();
    this.current = undefined;
  }
}
