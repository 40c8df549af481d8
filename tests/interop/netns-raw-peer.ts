// A raw BGP peer (tests/helpers/raw-peer.ts) inside a network namespace: the test
// process cannot open sockets in another namespace, so the peer runs as a child
// process there (`ip netns exec NS bun THIS_FILE OPTIONS`). Lines on its stdin are
// hex messages to send; on its stdout it reports `up OPEN_HEX` once Established
// (the speaker's OPEN), `msg TYPE HEX` for every message after it, and `closed`.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { waitFor } from "../helpers/net.ts";
import type { Netns } from "../helpers/netns.ts";
import { RawPeer, type RawPeerOptions } from "../helpers/raw-peer.ts";

type Options = Omit<RawPeerOptions, "onMessage">;

export class NetnsRawPeer {
  /** Messages received after the OPEN, in order: [type, whole message]. */
  readonly messages: [number, Uint8Array][] = [];
  up = false;
  closed = false;
  /** The speaker's OPEN. */
  peerOpen?: Uint8Array;
  private readonly child: ChildProcess;
  private stderr = "";

  constructor(ns: Netns, options: Options) {
    const [cmd, args] = ns.wrap(process.execPath, [import.meta.path, JSON.stringify(options)]);
    this.child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr!.on("data", (d) => (this.stderr += d));
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const [what, type, hex] = line.split(" ");
      if (what === "up") {
        this.peerOpen = Uint8Array.from(Buffer.from(type, "hex"));
        this.up = true;
      }
      else if (what === "msg") this.messages.push([Number(type), Uint8Array.from(Buffer.from(hex, "hex"))]);
      else if (what === "closed") this.closed = true;
    });
    this.child.on("exit", () => (this.closed = true));
  }

  async established(timeoutMs = 20000): Promise<void> {
    await waitFor("raw peer Established", () => {
      if (this.closed) throw new Error(`raw peer closed before Established ${this.stderr}`);
      return this.up;
    }, timeoutMs);
  }

  send(bytes: Uint8Array): void {
    this.child.stdin!.write(`${Buffer.from(bytes).toString("hex")}\n`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await gone;
  }
}

// The child: one RawPeer, driven by stdin, reporting on stdout.
if (import.meta.main) {
  const options = JSON.parse(process.argv[2]) as Options;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const peer = new RawPeer({ ...options, onMessage: (type, msg) => out(`msg ${type} ${Buffer.from(msg).toString("hex")}`) });
  peer.established.then(() => out(`up ${Buffer.from(peer.peerOpen!).toString("hex")}`), () => undefined);
  void peer.closed.then(() => {
    out("closed");
    process.exit(0);
  });
  createInterface({ input: process.stdin }).on("line", (hex) => {
    if (hex.trim()) void peer.write(Uint8Array.from(Buffer.from(hex.trim(), "hex")));
  });
}
