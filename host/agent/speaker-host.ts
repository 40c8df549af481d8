// The agent's embedded BGP speaker and its HTTP API. The speaker is made once the
// node's ASN and router ID are known (its NodeBGP), and made again, sessions and all,
// when they change (a new OPEN for every peer). The process's first speaker uses the
// process's core (the codec loads it anyway: one WASM memory less); any later one gets a
// fresh core, since the first one's RIB stays in the shared one.
// The first speaker of a process that restarted without a clean shutdown is a
// graceful-restart speaker, held until the agent has re-originated its routes.
import { readFileSync } from "node:fs";
import type * as http from "node:http";
import { createApi, listenApi } from "../bgp/api.ts";
import type { SpeakerConfig } from "../bgp/config.ts";
import type { Timings } from "../bgp/neighbor.ts";
import { Speaker } from "../bgp/speaker.ts";
import { locateWasm, nodeCore } from "../core/node.ts";
import { instantiateCore } from "../core/wasm.ts";
import type { Log } from "./log.ts";

/** What the node's NodeBGP and Node say about its speaker. */
export interface SpeakerSettings {
  asn: number;
  routerId: string;
  multipath: boolean;
  /** Passive BGP listener; port 0: none. */
  listen: { address: string; port: number };
  /** The HTTP API ("127.0.0.1:5000", "unix:/path"); "" none. */
  api: string;
}

export interface SpeakerHostOptions {
  fib: { enabled: boolean; table: number };
  /** This process restarts after an unclean end (kill -9, crash): the first speaker is a graceful-restart speaker. */
  restarting: boolean;
  /** Our graceful restart time (s); default the speaker's 120. */
  restartTime?: number;
  timings?: Partial<Timings>;
  log: Log;
  onSessionChange: (address: string, up: boolean, reason: string) => void;
  onFlush: () => void;
}

let wasm: Uint8Array | undefined;
/** Speakers made in this process: only the first gets the shared core (its RIB is never handed to another). */
let sharedCoreTaken = 0;

export class SpeakerHost {
  speaker: Speaker | undefined;
  settings: SpeakerSettings | undefined;
  apiAddress = "";
  private api: http.Server | undefined;
  private restartHold: (() => void) | undefined;
  private firstDone = false;

  constructor(private readonly opts: SpeakerHostOptions) {}

  /** Applies the settings; true when a new speaker was made (its sessions and routes must be configured again). */
  async apply(next: SpeakerSettings): Promise<boolean> {
    const cur = this.settings;
    const same = (a: SpeakerSettings, b: SpeakerSettings) =>
      a.asn === b.asn && a.routerId === b.routerId && a.multipath === b.multipath && a.listen.address === b.listen.address && a.listen.port === b.listen.port;
    if (cur && this.speaker && same(cur, next)) {
      if (cur.api !== next.api) await this.listenApi(next.api);
      this.settings = next;
      return false;
    }
    if (this.speaker) {
      this.opts.log(`speaker: AS ${cur!.asn} router id ${cur!.routerId} -> AS ${next.asn} router id ${next.routerId}${cur!.multipath !== next.multipath ? `, multipath ${next.multipath}` : ""}: every session starts again`);
      await this.stopSpeaker();
    }
    const restarting = this.opts.restarting && !this.firstDone;
    this.firstDone = true;
    const config: SpeakerConfig = {
      asn: next.asn,
      routerId: next.routerId,
      listen: next.listen,
      api: { listen: "" },
      multipath: next.multipath,
      fib: this.opts.fib,
      neighbors: [],
      routes: [],
    };
    const speaker = new Speaker(config, {
      core: sharedCoreTaken++ === 0 ? nodeCore() : instantiateCore((wasm ??= readFileSync(locateWasm()))),
      restarting,
      restartTime: this.opts.restartTime,
      timings: this.opts.timings,
      // A LoadBalancer address arrives from the routers (another node announced it first) just
      // before this node announces it too: coalesced, the kernel never sees it come and go.
      fibBatchDelayMs: 200,
      log: (l) => this.opts.log(l),
      onSessionChange: (a, up, reason) => this.opts.onSessionChange(a, up, reason),
      onFlush: () => this.opts.onFlush(),
    });
    if (restarting) this.restartHold = speaker.holdRestart();
    await speaker.start();
    this.speaker = speaker;
    this.settings = next;
    const l = speaker.listening;
    this.opts.log(`speaker: AS ${next.asn}, router id ${next.routerId}, BGP ${l ? `${l.address}:${l.port}` : "not listening"}, multipath ${next.multipath}, FIB ${this.opts.fib.enabled ? `table ${this.opts.fib.table}` : "off"}${restarting ? ", graceful restart (routers keep our routes until our End-of-RIB)" : ""}`);
    await this.listenApi(next.api);
    return true;
  }

  /** The agent has re-originated everything it knows: a restart may now end (End-of-RIB to the routers). */
  releaseRestartHold(): void {
    const release = this.restartHold;
    this.restartHold = undefined;
    release?.();
  }

  private async listenApi(address: string): Promise<void> {
    await this.closeApi();
    if (!address || !this.speaker) return;
    const api = createApi(this.speaker);
    try {
      this.apiAddress = await listenApi(api, address);
      this.api = api;
    } catch (e) {
      this.opts.log(`speaker API ${address}: ${(e as Error).message}; no API`);
    }
  }

  private async closeApi(): Promise<void> {
    const api = this.api;
    this.api = undefined;
    this.apiAddress = "";
    if (!api) return;
    api.closeAllConnections?.();
    await new Promise<void>((r) => api.close(() => r()));
  }

  private async stopSpeaker(): Promise<void> {
    await this.closeApi();
    const s = this.speaker;
    this.speaker = undefined;
    this.restartHold = undefined;
    await s?.stop();
  }

  /** Clean shutdown: Cease 6/2 to every peer, our kernel routes removed, the API closed. */
  async stop(): Promise<void> {
    await this.stopSpeaker();
  }
}
