// One BFD session (RFC 5880, asynchronous mode, no Echo, no authentication):
// the state machine of 6.2/6.8.6, timer negotiation and the Poll Sequence
// (6.5, 6.8.3), periodic transmission with jitter (6.8.7) and the detection
// timer (6.8.4). Packets go out through `send`; the manager feeds received,
// already demultiplexed packets to `receive`.
import { BfdState, type ControlPacket, Diag, STATE_NAMES, type StateName, diagName, encodeControl } from "./packet.ts";

/** A profile, as MetalLB's BFDProfile: milliseconds and a count. */
export interface BfdProfile {
  /** Required minimum receive interval we ask of the peer (ms). */
  receiveInterval: number;
  /** Desired minimum transmit interval (ms). */
  transmitInterval: number;
  /** Detection multiplier we send: the peer declares us down after this many missed packets. */
  detectMultiplier: number;
}

export const DEFAULT_PROFILE: BfdProfile = { receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 };

/** RFC 5880 6.8.3: while not Up, transmit no faster than once a second. */
const SLOW_TX_US = 1_000_000;

export interface StateChange {
  from: BfdState;
  to: BfdState;
  diag: Diag;
  /** Down because the peer said AdminDown: RFC 5882 3.2 says clients should not act on it. */
  remoteAdminDown: boolean;
}

export interface SessionIo {
  send(packet: Uint8Array): void;
  onChange(s: BfdSession, change: StateChange): void;
}

export class BfdSession {
  state = BfdState.Down;
  remoteState = BfdState.Down;
  localDiag = Diag.None;
  remoteDiag = Diag.None;
  remoteDiscriminator = 0;
  /** bfd.RemoteMinRxInterval (µs); 1 until the peer speaks (6.8.1). */
  remoteMinRx = 1;
  /** The peer's Desired Min TX Interval (µs) and Detect Mult, from its last packet. */
  remoteDesiredMinTx = 0;
  remoteDetectMult = 0;
  /** bfd.DesiredMinTxInterval and bfd.RequiredMinRxInterval as sent (µs). */
  private advertisedTx = SLOW_TX_US;
  private advertisedRx: number;
  /** The values in force: an increase of TX or a decrease of RX waits for the Poll Sequence to end (6.8.3). */
  private txBase = SLOW_TX_US;
  private rxBase: number;
  private polling = false;
  private txTimer: ReturnType<typeof setTimeout> | undefined;
  private nextTxAt = 0;
  private detectTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  packetsIn = 0;
  packetsOut = 0;
  upTransitions = 0;
  downTransitions = 0;
  lastChangeAt = Date.now();
  /** The longest gap between two packets we sent (ms): event-loop stalls show here. */
  maxTxGapMs = 0;
  private lastTxAt = 0;

  constructor(
    readonly peer: string,
    readonly localDiscriminator: number,
    private profile: BfdProfile,
    private readonly io: SessionIo,
  ) {
    this.advertisedRx = this.rxBase = profile.receiveInterval * 1000;
  }

  get stateName(): StateName {
    return STATE_NAMES[this.state];
  }

  get config(): BfdProfile {
    return { ...this.profile };
  }

  /** The interval we transmit at (µs): our desired TX or the peer's required RX, whichever is slower (6.8.7). */
  get txInterval(): number {
    return Math.max(this.txBase, this.remoteMinRx);
  }

  /** The interval we expect the peer's packets at (µs). */
  get rxInterval(): number {
    return Math.max(this.rxBase, this.remoteDesiredMinTx);
  }

  /** Detection time (µs, 6.8.4): the peer's multiplier times the agreed receive interval; 0 before the peer speaks. */
  get detectionTime(): number {
    return this.remoteDetectMult * this.rxInterval;
  }

  start(): void {
    this.scheduleTx(0);
  }

  /** New timers (a changed profile): a Poll Sequence tells the peer while Up. */
  reconfigure(profile: BfdProfile): void {
    this.profile = { ...profile };
    this.updateTimers();
  }

  /** RFC 5880 6.8.6, from "If the Your Discriminator field is nonzero" on (the manager did the rest). */
  receive(p: ControlPacket): void {
    if (this.stopped) return;
    this.packetsIn++;
    this.remoteDiscriminator = p.myDiscriminator;
    this.remoteState = p.state;
    this.remoteDiag = p.diag;
    this.remoteDesiredMinTx = p.desiredMinTx;
    this.remoteDetectMult = p.detectMult;
    this.remoteMinRx = p.requiredMinRx;
    if (p.final && this.polling) this.endPoll();
    if (this.state === BfdState.AdminDown) return;
    this.armDetection();
    if (p.state === BfdState.AdminDown) {
      if (this.state !== BfdState.Down) this.transition(BfdState.Down, Diag.NeighborSignaledDown, true);
    } else if (this.state === BfdState.Down) {
      if (p.state === BfdState.Down) this.transition(BfdState.Init, Diag.None);
      else if (p.state === BfdState.Init) this.transition(BfdState.Up, Diag.None);
    } else if (this.state === BfdState.Init) {
      if (p.state === BfdState.Init || p.state === BfdState.Up) this.transition(BfdState.Up, Diag.None);
    } else if (p.state === BfdState.Down) {
      this.transition(BfdState.Down, Diag.NeighborSignaledDown);
    }
    // The answer to a Poll goes out now, whatever the timer says (6.8.6).
    if (p.poll) this.transmit(false, true);
    // A faster rate takes effect at once; a slower one from the next packet on.
    else if (this.txTimer && this.nextTxAt - Date.now() > this.txInterval / 1000) this.scheduleTx(this.jittered());
  }

  /** Stops the session; with `adminDown`, tells the peer first (AdminDown, diag 7), as on de-configuration. */
  stop(adminDown: boolean): void {
    if (this.stopped) return;
    if (adminDown && this.state !== BfdState.AdminDown) {
      this.transition(BfdState.AdminDown, Diag.AdministrativelyDown);
      this.transmit(false, false);
    }
    this.stopped = true;
    if (this.txTimer) clearTimeout(this.txTimer);
    if (this.detectTimer) clearTimeout(this.detectTimer);
    this.txTimer = this.detectTimer = undefined;
  }

  private transition(to: BfdState, diag: Diag, remoteAdminDown = false): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.localDiag = diag;
    this.lastChangeAt = Date.now();
    if (to === BfdState.Up) this.upTransitions++;
    if (from === BfdState.Up) this.downTransitions++;
    if (to !== BfdState.Init && to !== BfdState.Up) {
      // Down: back to the slow rate; a Poll in progress is moot (its changes apply now).
      this.polling = false;
      if (this.detectTimer) clearTimeout(this.detectTimer);
      this.detectTimer = undefined;
    }
    this.updateTimers();
    this.io.onChange(this, { from, to, diag, remoteAdminDown });
    // Tell the peer at once rather than at the next (slow) tick: the handshake takes one round trip per step.
    if (!this.stopped && to !== BfdState.AdminDown) this.transmit(this.polling, false);
  }

  /** bfd.DesiredMinTxInterval / RequiredMinRxInterval from the profile and the state (6.8.3). */
  private updateTimers(): void {
    const up = this.state === BfdState.Up;
    const tx = up ? this.profile.transmitInterval * 1000 : Math.max(this.profile.transmitInterval * 1000, SLOW_TX_US);
    const rx = this.profile.receiveInterval * 1000;
    if (tx === this.advertisedTx && rx === this.advertisedRx) return;
    // While Up, a slower TX and a faster RX take effect when the peer confirms the Poll.
    if (!(up && tx > this.txBase)) this.txBase = tx;
    if (!(up && rx < this.rxBase)) this.rxBase = rx;
    this.advertisedTx = tx;
    this.advertisedRx = rx;
    if (up) this.polling = true;
    if (this.detectTimer) this.armDetection();
  }

  private endPoll(): void {
    this.polling = false;
    this.txBase = this.advertisedTx;
    this.rxBase = this.advertisedRx;
    if (this.detectTimer) this.armDetection();
  }

  private armDetection(): void {
    if (this.detectTimer) clearTimeout(this.detectTimer);
    this.detectTimer = undefined;
    const us = this.detectionTime;
    if (!us || this.stopped) return;
    this.detectTimer = setTimeout(() => {
      this.detectTimer = undefined;
      if (this.state !== BfdState.Init && this.state !== BfdState.Up) return;
      this.remoteDiscriminator = 0; // 6.8.1: forgotten when the detection time passes
      this.transition(BfdState.Down, Diag.DetectionTimeExpired);
    }, us / 1000);
  }

  /** 6.8.7: 75-100% of the interval (75-90% when our multiplier is 1), so peers do not synchronise. */
  private jittered(): number {
    const ms = this.txInterval / 1000;
    const max = this.profile.detectMultiplier === 1 ? 0.9 : 1;
    return ms * (0.75 + Math.random() * (max - 0.75));
  }

  private scheduleTx(delayMs: number): void {
    if (this.txTimer) clearTimeout(this.txTimer);
    this.nextTxAt = Date.now() + delayMs;
    this.txTimer = setTimeout(() => {
      this.txTimer = undefined;
      if (this.stopped) return;
      // No periodic packets while the peer asks for none (RemoteMinRxInterval 0, 6.8.7).
      if (this.remoteMinRx !== 0) this.transmit(this.polling, false);
      else this.scheduleTx(this.jittered());
    }, delayMs);
  }

  /** Sends one packet; the next periodic one follows a full (jittered) interval later. */
  private transmit(poll: boolean, final: boolean): void {
    const now = Date.now();
    if (this.lastTxAt) this.maxTxGapMs = Math.max(this.maxTxGapMs, now - this.lastTxAt);
    this.lastTxAt = now;
    this.packetsOut++;
    this.io.send(encodeControl({
      diag: this.localDiag,
      state: this.state,
      poll: poll && !final,
      final,
      controlPlaneIndependent: false, // BFD shares this process with BGP: it fails with it
      demand: false,
      detectMult: this.profile.detectMultiplier,
      myDiscriminator: this.localDiscriminator,
      yourDiscriminator: this.remoteDiscriminator,
      desiredMinTx: this.advertisedTx,
      requiredMinRx: this.advertisedRx,
      requiredMinEchoRx: 0,
    }));
    if (!this.stopped) this.scheduleTx(this.jittered());
  }

  describe(): string {
    return `BFD ${this.peer} ${this.stateName} (diag ${diagName(this.localDiag)})`;
  }
}
