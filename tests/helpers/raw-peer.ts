// A minimal BGP peer of our own over node:net, for tests (malformed input,
// watching exactly what a speaker sends) and for the speaker benchmark's tester
// and monitor. OPEN is built with the core's encoder; framing is parsed here
// (header only) so a caller can count or decode UPDATE bodies as it likes.
import net from "node:net";
import { encodeMessage } from "../../host/core/codec.ts";

export const KEEPALIVE = new Uint8Array([...new Array(16).fill(0xff), 0, 19, 4]);

export interface RawPeerOptions {
  host: string;
  port: number;
  localAddress?: string;
  asn: number;
  routerId: string;
  holdTime?: number;
  /** Capabilities as in "sart decode JSON"; default: ipv4-unicast, 4-octet AS, route refresh. */
  capabilities?: Record<string, unknown>[];
  /** Called for every message received after the OPEN (whole message, header included). */
  onMessage?: (type: number, msg: Uint8Array) => void;
}

export class RawPeer {
  readonly socket: net.Socket;
  /** The peer's OPEN (whole message). */
  peerOpen?: Uint8Array;
  /** Resolves once both OPENs were exchanged and the peer's KEEPALIVE arrived. */
  readonly established: Promise<void>;
  /** Resolves when the connection closes (with the NOTIFICATION received, if any). */
  readonly closed: Promise<Uint8Array | undefined>;
  notification?: Uint8Array;
  private up = false;
  private tail: Buffer | undefined;
  private keepalive?: ReturnType<typeof setInterval>;

  constructor(readonly options: RawPeerOptions) {
    let resolveUp!: () => void;
    let rejectUp!: (e: Error) => void;
    this.established = new Promise((res, rej) => ((resolveUp = res), (rejectUp = rej)));
    this.established.catch(() => {});
    const hold = options.holdTime ?? 90;
    this.socket = net.connect({ host: options.host, port: options.port, localAddress: options.localAddress });
    this.socket.setNoDelay(true);
    this.socket.on("connect", () => {
      this.socket.write(
        encodeMessage({
          type: "OPEN",
          version: 4,
          asn: options.asn,
          holdTime: hold,
          routerId: options.routerId,
          capabilities: options.capabilities ?? [
            { code: 1, name: "multiprotocol", afi: 1, safi: 1 },
            { code: 65, name: "4-octet-as", asn: options.asn },
            { code: 2, name: "route-refresh" },
          ],
        }),
      );
      if (hold > 0) {
        this.keepalive = setInterval(() => this.socket.writable && this.socket.write(KEEPALIVE), Math.max(1000, (hold * 1000) / 3));
        this.keepalive.unref?.();
      }
    });
    this.socket.on("data", (chunk: Buffer) => this.receive(chunk, resolveUp));
    this.closed = new Promise((resolve) => {
      this.socket.on("close", () => {
        if (this.keepalive) clearInterval(this.keepalive);
        if (!this.up) rejectUp(new Error(`raw peer ${options.localAddress ?? ""} -> ${options.host}:${options.port}: closed before Established${this.notification ? " (NOTIFICATION received)" : ""}`));
        resolve(this.notification);
      });
    });
    this.socket.on("error", () => {}); // reported through `closed`
  }

  get isEstablished(): boolean {
    return this.up;
  }

  private receive(chunk: Buffer, resolveUp: () => void): void {
    let buf = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 19) {
      const len = (buf[off + 16] << 8) | buf[off + 17];
      if (len < 19) {
        this.socket.destroy();
        return;
      }
      if (buf.length - off < len) break;
      const type = buf[off + 18];
      const msg = buf.subarray(off, off + len);
      off += len;
      if (type === 1) {
        this.peerOpen = Uint8Array.from(msg);
        this.socket.write(KEEPALIVE);
      } else if (type === 4 && !this.up && this.peerOpen) {
        this.up = true;
        resolveUp();
      } else if (type === 3) {
        this.notification = Uint8Array.from(msg);
      }
      if (type !== 1) this.options.onMessage?.(type, msg);
    }
    this.tail = off < buf.length ? Buffer.from(buf.subarray(off)) : undefined;
  }

  /** Writes one buffer, resolving when the socket drained it into the kernel. */
  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.write(bytes)) resolve();
      else {
        const onClose = () => reject(new Error("raw peer: closed while writing"));
        this.socket.once("close", onClose);
        this.socket.once("drain", () => {
          this.socket.off("close", onClose);
          resolve();
        });
      }
    });
  }

  /** Closes the connection (a NOTIFICATION Cease first, unless `abrupt`). */
  async close(abrupt = false): Promise<void> {
    if (!this.socket.destroyed && !abrupt && this.socket.writable) {
      this.socket.end(encodeMessage({ type: "NOTIFICATION", code: 6, subcode: 2 }));
      await Promise.race([this.closed, new Promise((r) => setTimeout(r, 1000))]);
    }
    this.socket.destroy();
    await this.closed;
  }
}
