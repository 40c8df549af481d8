// The BFD sessions of a speaker: one per neighbour that asks for it, keyed by
// peer address. Owns the UDP sockets (a receive socket per address family,
// opened with the first session of that family; a transmit socket per
// session), allocates discriminators and hands each received packet to its
// session (RFC 5880 6.8.6 demultiplexing).
import type dgram from "node:dgram";
import { randomInt } from "node:crypto";
import { type Family, familyOf } from "../sockopt/sockets.ts";
import { BfdState, decodeControl } from "./packet.ts";
import { BfdSession, type BfdProfile, type StateChange } from "./session.ts";
import { BFD_PORT, openReceiveSocket, openTransmitSocket } from "./udp.ts";

export interface BfdManagerOptions {
  /** Port we receive on (3784; tests use others). */
  port?: number;
  /** Port packets are sent to (3784; tests use others). */
  peerPort?: number;
  log?: (line: string) => void;
  onChange?: (s: BfdSession, change: StateChange) => void;
}

interface Entry {
  session: BfdSession;
  tx: dgram.Socket;
  /** Sends not yet handed to the kernel: the socket closes after the last one (the AdminDown). */
  sending: number;
  closing: boolean;
}

export class BfdManager {
  private readonly sessions = new Map<string, Entry>();
  private readonly byDiscriminator = new Map<number, BfdSession>();
  private readonly receivers = new Map<Family, dgram.Socket>();
  readonly port: number;
  private readonly peerPort: number;
  /** Packets discarded before reaching a session, by reason. */
  readonly dropped = new Map<string, number>();

  constructor(private readonly opts: BfdManagerOptions = {}) {
    this.port = opts.port ?? BFD_PORT;
    this.peerPort = opts.peerPort ?? BFD_PORT;
  }

  get(peer: string): BfdSession | undefined {
    return this.sessions.get(peer)?.session;
  }

  all(): BfdSession[] {
    return [...this.sessions.values()].map((e) => e.session);
  }

  /** Starts a session to `peer` from `local` (any address when unset); throws when a socket cannot be opened. */
  add(peer: string, profile: BfdProfile, local?: string): BfdSession {
    if (this.sessions.has(peer)) throw new Error(`BFD: a session to ${peer} exists`);
    const family = familyOf(peer);
    this.receiver(family);
    const tx = openTransmitSocket(family, peer, local);
    tx.on("error", (err) => this.log(`BFD ${peer}: send: ${err.message}`));
    const entry = { tx, sending: 0, closing: false } as Entry;
    entry.session = new BfdSession(peer, this.newDiscriminator(), profile, {
      send: (packet) => {
        entry.sending++;
        tx.send(packet, this.peerPort, peer, () => {
          if (--entry.sending === 0 && entry.closing) tx.close();
        });
      },
      onChange: (s, change) => this.opts.onChange?.(s, change),
    });
    const session = entry.session;
    this.sessions.set(peer, entry);
    this.byDiscriminator.set(session.localDiscriminator, session);
    session.start();
    return session;
  }

  /** Ends the session: AdminDown to the peer (RFC 5880 6.8.16), then the sockets close. */
  remove(peer: string): void {
    const e = this.sessions.get(peer);
    if (!e) return;
    this.sessions.delete(peer);
    this.byDiscriminator.delete(e.session.localDiscriminator);
    e.closing = true;
    e.session.stop(true);
    if (e.sending === 0) e.tx.close();
    const family = familyOf(peer);
    if (![...this.sessions.keys()].some((p) => familyOf(p) === family)) {
      this.receivers.get(family)?.close();
      this.receivers.delete(family);
    }
  }

  close(): void {
    for (const peer of [...this.sessions.keys()]) this.remove(peer);
  }

  private receiver(family: Family): dgram.Socket {
    let rx = this.receivers.get(family);
    if (rx) return rx;
    rx = openReceiveSocket(family, this.port);
    rx.on("message", (msg, rinfo) => this.onPacket(msg, rinfo.address));
    rx.on("error", (err) => this.log(`BFD receive socket: ${err.message}`));
    this.receivers.set(family, rx);
    return rx;
  }

  private newDiscriminator(): number {
    for (;;) {
      const d = randomInt(1, 0xffffffff);
      if (!this.byDiscriminator.has(d)) return d;
    }
  }

  private drop(reason: string): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }

  /** RFC 5880 6.8.6: the session by Your Discriminator, else (only while Down) by source address. */
  private onPacket(msg: Uint8Array, from: string): void {
    const p = decodeControl(msg);
    if ("error" in p) return this.drop("malformed");
    const address = from.startsWith("::ffff:") ? from.slice(7) : from;
    let session: BfdSession | undefined;
    if (p.yourDiscriminator !== 0) {
      session = this.byDiscriminator.get(p.yourDiscriminator);
      if (!session) return this.drop("unknown-discriminator");
      // Single hop: the session is bound to the peer's address (RFC 5881 3).
      if (session.peer !== address) return this.drop("wrong-source");
    } else {
      if (p.state !== BfdState.Down && p.state !== BfdState.AdminDown) return this.drop("zero-discriminator");
      session = this.sessions.get(address)?.session;
      if (!session) return this.drop("unknown-peer");
    }
    session.receive(p);
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }
}
