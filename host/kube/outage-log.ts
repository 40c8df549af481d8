// One log line when a dependency (the API server) becomes unreachable, at most one a minute
// while it stays so, and one when it answers again: a controller with a dozen informers and
// retrying work queues would otherwise print dozens of lines a second during an outage.

export class OutageLog {
  private since?: number;
  private lastLine = 0;

  /** `what` names the dependency in every line, e.g. "API server https://10.0.0.1:6443". */
  constructor(
    private readonly what: string,
    private readonly log: (message: string) => void,
    private readonly repeatMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get unreachable(): boolean {
    return this.since !== undefined;
  }

  /** A request got no answer. */
  failed(err: unknown): void {
    const t = this.now();
    const why = (err as Error)?.message ?? String(err);
    if (this.since === undefined) {
      this.since = this.lastLine = t;
      this.log(`${this.what} unreachable: ${why}; retrying (this repeats at most once a minute while it lasts)`);
    } else if (t - this.lastLine >= this.repeatMs) {
      this.lastLine = t;
      this.log(`${this.what} still unreachable after ${Math.round((t - this.since) / 1000)} s: ${why}`);
    }
  }

  /** A request got an answer (any HTTP status). */
  answered(): void {
    if (this.since === undefined) return;
    this.log(`${this.what} reachable again after ${Math.round((this.now() - this.since) / 1000)} s`);
    this.since = undefined;
  }
}
