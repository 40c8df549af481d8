// BFD Control packets (RFC 5880 4.1): the 24-byte mandatory section, and the
// receive checks of 6.8.6 that need no session. Intervals are microseconds on
// the wire, as in the RFC.

export enum BfdState {
  AdminDown = 0,
  Down = 1,
  Init = 2,
  Up = 3,
}

export const STATE_NAMES = ["AdminDown", "Down", "Init", "Up"] as const;
export type StateName = (typeof STATE_NAMES)[number];

/** Diagnostic codes (RFC 5880 4.1). */
export enum Diag {
  None = 0,
  DetectionTimeExpired = 1,
  EchoFailed = 2,
  NeighborSignaledDown = 3,
  ForwardingPlaneReset = 4,
  PathDown = 5,
  ConcatenatedPathDown = 6,
  AdministrativelyDown = 7,
  ReverseConcatenatedPathDown = 8,
}

export const DIAG_NAMES: Record<number, string> = {
  0: "none",
  1: "control-detection-time-expired",
  2: "echo-function-failed",
  3: "neighbor-signaled-session-down",
  4: "forwarding-plane-reset",
  5: "path-down",
  6: "concatenated-path-down",
  7: "administratively-down",
  8: "reverse-concatenated-path-down",
};

export function diagName(d: number): string {
  return DIAG_NAMES[d] ?? `diag-${d}`;
}

export interface ControlPacket {
  diag: number;
  state: BfdState;
  poll: boolean;
  final: boolean;
  /** C: control plane independent (we set it: BFD runs apart from BGP's state). */
  controlPlaneIndependent: boolean;
  demand: boolean;
  detectMult: number;
  myDiscriminator: number;
  yourDiscriminator: number;
  /** µs */
  desiredMinTx: number;
  /** µs */
  requiredMinRx: number;
  /** µs; 0 = no Echo function */
  requiredMinEchoRx: number;
}

export const CONTROL_LENGTH = 24;
const VERSION = 1;

export function encodeControl(p: ControlPacket): Uint8Array {
  const b = new Uint8Array(CONTROL_LENGTH);
  const v = new DataView(b.buffer);
  b[0] = (VERSION << 5) | (p.diag & 0x1f);
  b[1] = (p.state << 6) | (p.poll ? 0x20 : 0) | (p.final ? 0x10 : 0) | (p.controlPlaneIndependent ? 0x08 : 0) | (p.demand ? 0x02 : 0);
  b[2] = p.detectMult;
  b[3] = CONTROL_LENGTH;
  v.setUint32(4, p.myDiscriminator);
  v.setUint32(8, p.yourDiscriminator);
  v.setUint32(12, p.desiredMinTx);
  v.setUint32(16, p.requiredMinRx);
  v.setUint32(20, p.requiredMinEchoRx);
  return b;
}

/**
 * Decodes a received packet with the checks of RFC 5880 6.8.6 that do not need
 * a session: an error string names the first rule broken (the packet is then
 * discarded). Authentication is not supported, so a packet with the A bit is
 * discarded too (6.8.6: A set and bfd.AuthType zero).
 */
export function decodeControl(b: Uint8Array): ControlPacket | { error: string } {
  if (b.length < CONTROL_LENGTH) return { error: `short packet (${b.length} bytes)` };
  const version = b[0] >> 5;
  if (version !== VERSION) return { error: `version ${version}` };
  const length = b[3];
  if (length < CONTROL_LENGTH) return { error: `length field ${length} < 24` };
  if (length > b.length) return { error: `length field ${length} > ${b.length} bytes received` };
  if (b[1] & 0x04) return { error: "authentication present (not configured)" };
  if (b[1] & 0x01) return { error: "multipoint bit set" };
  const detectMult = b[2];
  if (detectMult === 0) return { error: "detect multiplier 0" };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const myDiscriminator = v.getUint32(4);
  if (myDiscriminator === 0) return { error: "my discriminator 0" };
  const poll = (b[1] & 0x20) !== 0;
  const final = (b[1] & 0x10) !== 0;
  if (poll && final) return { error: "poll and final both set" };
  return {
    diag: b[0] & 0x1f,
    state: (b[1] >> 6) as BfdState,
    poll,
    final,
    controlPlaneIndependent: (b[1] & 0x08) !== 0,
    demand: (b[1] & 0x02) !== 0,
    detectMult,
    myDiscriminator,
    yourDiscriminator: v.getUint32(8),
    desiredMinTx: v.getUint32(12),
    requiredMinRx: v.getUint32(16),
    requiredMinEchoRx: v.getUint32(20),
  };
}
