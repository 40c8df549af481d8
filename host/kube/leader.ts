// Leader election through a coordination.k8s.io/v1 Lease, over the Store
// interface, so it works against the API server (KubeStore) and in standalone
// mode (LocalStore). The algorithm is client-go's leaderelection:
//
// - The lease names its holder (holderIdentity), for how long a renewal counts
//   (leaseDurationSeconds), when it was acquired and last renewed (acquireTime,
//   renewTime, MicroTime) and how often it changed hands (leaseTransitions).
// - A candidate takes the lease when it is absent (create), released (empty
//   holderIdentity) or expired. Expiry is judged by the candidate's own clock:
//   the holder's record must stay unchanged for leaseDurationSeconds from when
//   this candidate first saw it, so clock skew between nodes does not matter.
// - Every write is a replace with the resourceVersion just read: two
//   candidates racing for the lease cannot both win, and a leader whose renewal
//   gets 409 Conflict has lost the lease to someone else.
// - The leader renews every retryPeriodMs and gives up leadership when it has
//   not managed to renew for renewDeadlineMs (e.g. the API server is
//   unreachable): by then another replica may take over.
// - stop() releases a held lease (holderIdentity "") so a successor need not
//   wait for the lease to expire.

import { isAlreadyExists, isConflict, isUnreachable, microTime, type ObjectKey, type Store } from "./store.ts";
import { KINDS, type Lease } from "./types.ts";

export type { Lease, LeaseSpec } from "./types.ts";

export interface LeaderElectionConfig {
  store: Store;
  /** The Lease; namespace defaults to "default". */
  lease: ObjectKey;
  /** Unique per replica, e.g. the pod name (plus a random suffix when the name can repeat). */
  identity: string;
  /** Whole seconds (the Lease field is an integer). Default 15. */
  leaseDurationSeconds?: number;
  /** A leader that has not renewed for this long steps down. Default: two thirds of the lease duration. */
  renewDeadlineMs?: number;
  /** How often the leader renews and a candidate retries. Default: a fifth of the lease duration. */
  retryPeriodMs?: number;
  onStartedLeading?: () => void | Promise<void>;
  onStoppedLeading?: () => void | Promise<void>;
  /** Called whenever the observed holder changes (including to this replica). */
  onNewLeader?: (identity: string) => void;
  log?: (message: string) => void;
}

export class LeaderElector {
  private readonly key: ObjectKey;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private running = false;
  private lastError = "";
  private lastErrorAt = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private inFlight: Promise<void> = Promise.resolve();
  private lastRenewAt = 0;
  /** The holder record as last read, and when (by our clock) it last changed. */
  private observedRecord = "";
  private observedAt = 0;
  private observedHolder: string | undefined;

  constructor(private readonly cfg: LeaderElectionConfig) {
    this.key = { name: cfg.lease.name, namespace: cfg.lease.namespace || "default" };
    this.leaseDurationSeconds = Math.max(1, Math.round(cfg.leaseDurationSeconds ?? 15));
    const leaseMs = this.leaseDurationSeconds * 1000;
    this.renewDeadlineMs = cfg.renewDeadlineMs ?? Math.floor((leaseMs * 2) / 3);
    this.retryPeriodMs = cfg.retryPeriodMs ?? Math.floor(leaseMs / 5);
    if (this.renewDeadlineMs >= leaseMs) {
      throw new Error(`leader election: renewDeadlineMs (${this.renewDeadlineMs}) must be below the lease duration (${leaseMs} ms)`);
    }
    if (this.retryPeriodMs >= this.renewDeadlineMs) {
      throw new Error(`leader election: retryPeriodMs (${this.retryPeriodMs}) must be below renewDeadlineMs (${this.renewDeadlineMs})`);
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder last seen in the Lease ("" when released), undefined before the first read. */
  get leader(): string | undefined {
    return this.observedHolder;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops campaigning; a leader releases the lease and gets onStoppedLeading. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    // Release even when not (yet) leading: a renewal may have landed as we stopped.
    try {
      await this.withDeadline(this.release(), "release");
    } catch (e) {
      this.log(`releasing lease ${this.leaseName()}: ${(e as Error).message}`);
    }
    this.stepDown("stopped");
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.tick().finally(() => {
        // Candidates jitter so that they do not all hit the API server at once.
        const next = this.leading ? this.retryPeriodMs : this.retryPeriodMs * (1 + Math.random() * 0.2);
        this.schedule(next);
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    try {
      const held = await this.withDeadline(this.tryAcquireOrRenew(), "acquire/renew");
      if (!this.running) return;
      if (held) {
        this.lastRenewAt = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.log(`${this.cfg.identity} acquired lease ${this.leaseName()}`);
          this.callback(this.cfg.onStartedLeading, "onStartedLeading");
        }
      } else if (this.leading) {
        this.stepDown(`lease ${this.leaseName()} is now held by ${this.observedHolder || "nobody"}`);
      }
    } catch (e) {
      // An unreachable API server is reported by the store; the same failure again, once a minute.
      const message = `lease ${this.leaseName()}: ${(e as Error).message}`;
      const now = Date.now();
      if (!isUnreachable(e) && (message !== this.lastError || now - this.lastErrorAt >= 60_000)) {
        this.log(message);
        this.lastError = message;
        this.lastErrorAt = now;
      }
      if (this.leading && Date.now() - this.lastRenewAt > this.renewDeadlineMs) {
        this.stepDown(`could not renew lease ${this.leaseName()} for ${this.renewDeadlineMs} ms`);
      }
    }
  }

  /** True when this replica holds the lease after the call. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { store, identity } = this.cfg;
    const now = new Date();
    const lease = await store.get<Lease>("Lease", this.key);
    if (!lease) {
      const fresh: Lease = {
        apiVersion: KINDS.Lease.apiVersion,
        kind: "Lease",
        metadata: { name: this.key.name, namespace: this.key.namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.leaseDurationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.observe(await store.create(fresh));
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false; // another candidate created it first
        throw e;
      }
    }
    this.observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const mine = holder === identity;
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
    if (holder && !mine && this.observedAt + durationMs > Date.now()) return false; // held and not expired
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: this.leaseDurationSeconds,
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      this.observe(await store.update(next));
      return true;
    } catch (e) {
      if (isConflict(e)) return false; // someone else wrote the lease since we read it
      throw e;
    }
  }

  private async release(): Promise<void> {
    const lease = await this.cfg.store.get<Lease>("Lease", this.key);
    if (!lease || lease.spec?.holderIdentity !== this.cfg.identity) return;
    const now = microTime();
    await this.cfg.store.update<Lease>({
      ...lease,
      spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
    });
    this.log(`${this.cfg.identity} released lease ${this.leaseName()}`);
  }

  private observe(lease: Lease): void {
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const holder = lease.spec?.holderIdentity ?? "";
    if (holder !== this.observedHolder) {
      this.observedHolder = holder;
      if (holder) this.cfg.onNewLeader?.(holder);
    }
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.log(`${this.cfg.identity} stopped leading: ${why}`);
    this.callback(this.cfg.onStoppedLeading, "onStoppedLeading");
  }

  private callback(fn: (() => void | Promise<void>) | undefined, name: string): void {
    if (!fn) return;
    try {
      Promise.resolve(fn()).catch((e) => this.log(`${name} failed: ${(e as Error).message}`));
    } catch (e) {
      this.log(`${name} failed: ${(e as Error).message}`);
    }
  }

  /** Bounds a store call: a hung request must not keep a leader believing it still leads. */
  private withDeadline<R>(p: Promise<R>, what: string): Promise<R> {
    let t: ReturnType<typeof setTimeout>;
    const deadline = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} timed out after ${this.renewDeadlineMs} ms`)), this.renewDeadlineMs);
    });
    return Promise.race([p, deadline]).finally(() => clearTimeout(t));
  }

  private leaseName(): string {
    return `${this.key.namespace}/${this.key.name}`;
  }

  private log(message: string): void {
    this.cfg.log?.(`leader election: ${message}`);
  }
}
