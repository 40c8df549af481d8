// The JSON shape of a BFD session in the speaker API (`bfd` of a neighbour) and the CLI.
import { STATE_NAMES, diagName } from "./packet.ts";
import type { BfdProfile, BfdSession } from "./session.ts";

export interface BfdView {
  state: string;
  diag: string;
  remoteState: string;
  remoteDiag: string;
  /** The interval we expect the peer's packets at (ms): the slower of our receiveInterval and its transmit interval. */
  rx: number;
  /** The interval we send at (ms): the slower of our transmitInterval and the peer's receive interval; 1000 until Up. */
  tx: number;
  /** Our detect multiplier (the peer declares us down after this many missed packets). */
  multiplier: number;
  remoteMultiplier: number;
  /** After this long without a packet from the peer, the session goes Down (ms; 0 before the peer speaks). */
  detectionTime: number;
  localDiscriminator: number;
  remoteDiscriminator: number;
  profile: BfdProfile;
  upTransitions: number;
  packetsIn: number;
  packetsOut: number;
  /** The longest gap between two of our packets (ms): a stalled event loop shows here before the peer notices. */
  maxTxGap: number;
  /** When the state last changed. */
  since: string;
}

export function bfdView(s: BfdSession): BfdView {
  return {
    state: s.stateName,
    diag: diagName(s.localDiag),
    remoteState: STATE_NAMES[s.remoteState],
    remoteDiag: diagName(s.remoteDiag),
    rx: s.rxInterval / 1000,
    tx: s.txInterval / 1000,
    multiplier: s.config.detectMultiplier,
    remoteMultiplier: s.remoteDetectMult,
    detectionTime: s.detectionTime / 1000,
    localDiscriminator: s.localDiscriminator,
    remoteDiscriminator: s.remoteDiscriminator,
    profile: s.config,
    upTransitions: s.upTransitions,
    packetsIn: s.packetsIn,
    packetsOut: s.packetsOut,
    maxTxGap: s.maxTxGapMs,
    since: new Date(s.lastChangeAt).toISOString(),
  };
}
