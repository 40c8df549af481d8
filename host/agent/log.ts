// The agent's log: one line per meaningful change. Repeated failures of one source (a
// reconcile pass, status writes the server refuses) are one line when they start, then at
// most one summary a minute, and one line when they stop. (An unreachable API server is
// KubeStore's to report, the same way.)

export type Log = (line: string) => void;

export function stderrLog(prefix = "sart agent"): Log {
  return (line) => process.stderr.write(`${new Date().toISOString()} ${prefix}: ${line}\n`);
}

interface Trouble {
  since: number;
  lastLogged: number;
  suppressed: number;
  last: string;
}

/** Failures keyed by source: the first logged at once, then a summary per interval while they go on. */
export class FailureLog {
  private readonly troubles = new Map<string, Trouble>();

  constructor(
    private readonly log: Log,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** `source` names what fails (e.g. "API server https://10.0.0.1:6443"); `message` says how. */
  fail(source: string, message: string): void {
    const t = this.troubles.get(source);
    const now = this.now();
    if (!t) {
      this.troubles.set(source, { since: now, lastLogged: now, suppressed: 0, last: message });
      this.log(`${source}: ${message}`);
      return;
    }
    t.last = message;
    if (now - t.lastLogged < this.intervalMs) {
      t.suppressed++;
      return;
    }
    this.log(`${source}: still failing for ${Math.round((now - t.since) / 1000)} s (${t.suppressed + 1} errors since the last report; last: ${message})`);
    t.lastLogged = now;
    t.suppressed = 0;
  }

  /** The source works again: one line if it was failing. */
  ok(source: string): void {
    const t = this.troubles.get(source);
    if (!t) return;
    this.troubles.delete(source);
    this.log(`${source}: working again after ${Math.round((this.now() - t.since) / 1000)} s`);
  }


}
