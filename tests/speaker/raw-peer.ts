// A hand-driven BGP peer for tests: a TCP socket that writes bytes the test
// builds (encodeMessage or hex) and reads back whole decoded messages.
import { afterAll, beforeAll } from "bun:test";
import * as net from "node:net";
import { type DecodedMessage, decodeMessages, encodeMessage } from "../../host/core/codec.ts";
import { type SpeakerProc, cleanupTmp, loopbackAddress, speakerConfig, startSpeaker } from "./harness.ts";

export class RawPeer {
  private buf = new Uint8Array(0);
  private queue: DecodedMessage[] = [];
  private wake: (() => void) | undefined;
  closed = false;
  readonly closedPromise: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      const b = new Uint8Array(this.buf.length + d.length);
      b.set(this.buf);
      b.set(d, this.buf.length);
      let p = 0;
      while (b.length - p >= 19) {
        const len = (b[p + 16] << 8) | b[p + 17];
        if (b.length - p < len) break;
        this.queue.push(...decodeMessages(b.subarray(p, p + len), { addPath: [] }));
        p += len;
      }
      this.buf = b.slice(p);
      this.wake?.();
    });
    socket.on("error", () => undefined);
    this.closedPromise = new Promise((res) => socket.on("close", () => {
      this.closed = true;
      this.wake?.();
      res();
    }));
  }

  static connect(host: string, port: number, localAddress: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress }, () => resolve(new RawPeer(s)));
      s.once("error", reject);
    });
  }

  send(bytes: Uint8Array | string): void {
    this.socket.write(typeof bytes === "string" ? Buffer.from(bytes.replace(/\s+/g, ""), "hex") : bytes);
  }

  sendMessage(msg: DecodedMessage): void {
    this.send(encodeMessage(msg));
  }

  /** The next message of `type` (others before it are skipped unless `strict`). */
  async next(type: string, timeoutMs = 10_000, strict = false): Promise<DecodedMessage> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      while (this.queue.length) {
        const m = this.queue.shift()!;
        if (m.type === type) return m;
        if (strict) throw new Error(`expected ${type}, got ${JSON.stringify(m)}`);
      }
      if (this.closed) throw new Error(`connection closed while waiting for ${type}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.wake = () => {
          clearTimeout(t);
          res();
        };
      });
      this.wake = undefined;
    }
  }

  /** Every message received so far (drains the queue). */
  drain(): DecodedMessage[] {
    return this.queue.splice(0);
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface OpenOptions {
  asn: number;
  routerId: string;
  holdTime?: number;
  version?: number;
  gracefulRestart?: { restartTime: number; restarting?: boolean; forwarding?: boolean };
  enhancedRouteRefresh?: boolean;
  /** Add-path send for IPv4 unicast. */
  addPathSend?: boolean;
  /** AFIs offered in multiprotocol capabilities (unicast): default [1], IPv4 only. */
  afis?: number[];
  extendedMessage?: boolean;
}

export function openMsg(o: OpenOptions): DecodedMessage {
  const caps: Record<string, unknown>[] = [
    ...(o.afis ?? [1]).map((afi) => ({ code: 1, afi, safi: 1 })),
    { code: 2 },
    { code: 65, asn: o.asn },
  ];
  if (o.enhancedRouteRefresh) caps.push({ code: 70 });
  if (o.addPathSend) caps.push({ code: 69, families: [{ afi: 1, safi: 1, sendReceive: "send" }] });
  if (o.extendedMessage) caps.push({ code: 6 });
  if (o.gracefulRestart) {
    caps.push({
      code: 64, restartTime: o.gracefulRestart.restartTime, restarting: !!o.gracefulRestart.restarting,
      families: [{ afi: 1, safi: 1, forwarding: !!o.gracefulRestart.forwarding }],
    });
  }
  return { type: "OPEN", version: o.version ?? 4, asn: o.asn, holdTime: o.holdTime ?? 90, routerId: o.routerId, capabilities: caps as never };
}

/** OPEN, KEEPALIVE both ways: the session is Established on both sides when this returns. */
export async function handshake(p: RawPeer, o: OpenOptions): Promise<DecodedMessage> {
  const theirs = await p.next("OPEN");
  p.sendMessage(openMsg(o));
  p.sendMessage({ type: "KEEPALIVE" });
  await p.next("KEEPALIVE");
  return theirs;
}

/** One speaker under test and the raw peers connected to it. */
export interface SpeakerFixture {
  x: SpeakerProc;
  cx: Record<string, any>;
  /**
   * Adds a passive neighbour at a fresh loopback address and connects a raw peer to
   * the speaker from there (nothing exchanged yet).
   */
  neighbor(asn: number, config?: Record<string, unknown>): Promise<{ address: string; peer: RawPeer }>;
}

/**
 * A speaker for the tests of a file (or a describe block): started in beforeAll;
 * its raw peers closed, the speaker killed and the scratch directory removed in afterAll.
 */
export function speakerFixture(asn = 65000, routerId = "192.0.2.50"): SpeakerFixture {
  const peers: RawPeer[] = [];
  const f = {
    async neighbor(peerAs: number, config: Record<string, unknown> = {}) {
      const address = loopbackAddress();
      const r = await f.x.call("POST", "/v1/neighbors", { address, asn: peerAs, passive: true, holdTime: 30, ...config });
      if (r.status !== 201) throw new Error(`adding neighbor ${address}: ${r.status} ${JSON.stringify(r.json)}`);
      const peer = await RawPeer.connect(f.cx.listen.address, f.cx.listen.port, address);
      peers.push(peer);
      return { address, peer };
    },
  } as SpeakerFixture;
  beforeAll(async () => {
    f.cx = await speakerConfig(asn, routerId);
    f.x = await startSpeaker("x", f.cx);
  });
  afterAll(async () => {
    for (const p of peers) p.close();
    await f.x?.stop("SIGKILL");
    cleanupTmp();
  });
  return f;
}

export function announce(prefixes: string[], asPath: number[], nextHop: string, extra: Record<string, unknown> = {}): DecodedMessage {
  return {
    type: "UPDATE", nlri: prefixes,
    attributes: { origin: "IGP", asPath: asPath.length ? [{ type: "AS_SEQUENCE", asns: asPath }] : [], nextHop, ...extra },
  };
}

export const END_OF_RIB: DecodedMessage = { type: "UPDATE" };
