// A scripted BFD peer for protocol tests: a UDP socket on a loopback address
// (IPv4 or IPv6) that records every Control packet it receives (with the
// time) and sends hand-made ones, with TTL / hop limit 255 unless told otherwise.
import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import { type ControlPacket, BfdState, decodeControl, encodeControl } from "../../host/bfd/packet.ts";
import { waitFor } from "../helpers/net.ts";

export interface Received {
  at: number;
  p: ControlPacket;
}

const udpType = (address: string) => (isIPv6(address) ? "udp6" : "udp4");

/** A UDP port free on `address` right now. */
export function freeUdpPort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(udpType(address));
    s.once("error", reject);
    s.bind(0, address, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export class RawBfdPeer {
  readonly received: Received[] = [];
  lastSentAt = 0;

  private constructor(private readonly socket: dgram.Socket, readonly address: string, readonly port: number) {
    socket.on("message", (msg) => {
      const p = decodeControl(msg);
      if (!("error" in p)) this.received.push({ at: Date.now(), p });
    });
  }

  static async open(address: string, port = 0): Promise<RawBfdPeer> {
    const socket = dgram.createSocket(udpType(address));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, address, () => resolve());
    });
    socket.setTTL(255);
    return new RawBfdPeer(socket, address, socket.address().port);
  }

  /** Sends raw bytes (or a packet: defaults are a Down packet from discriminator 0x5a5a) to `port` on `to`. */
  async send(to: string, port: number, packet: Partial<ControlPacket> | Uint8Array, ttl = 255): Promise<void> {
    const bytes = packet instanceof Uint8Array ? packet : encodeControl({
      diag: 0, state: BfdState.Down, poll: false, final: false, controlPlaneIndependent: false, demand: false,
      detectMult: 3, myDiscriminator: 0x5a5a, yourDiscriminator: 0, desiredMinTx: 1_000_000, requiredMinRx: 1_000_000, requiredMinEchoRx: 0,
      ...packet,
    });
    this.socket.setTTL(ttl);
    await new Promise<void>((resolve, reject) => this.socket.send(bytes, port, to, (err) => (err ? reject(err) : resolve())));
    this.lastSentAt = Date.now();
  }

  /** The first packet received from index `from` on that matches. */
  async next(what: string, match: (p: ControlPacket) => boolean, from = this.received.length, timeoutMs = 5000): Promise<Received & { index: number }> {
    return waitFor(what, () => {
      for (let i = from; i < this.received.length; i++) if (match(this.received[i].p)) return { ...this.received[i], index: i };
      return undefined;
    }, timeoutMs, 5);
  }

  close(): void {
    this.socket.close();
  }
}
