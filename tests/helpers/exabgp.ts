// A real exabgp for tests: config in a temp dir, never listening itself (it
// connects out), and an API process relaying commands we write to a FIFO
// ("announce route ...", "withdraw route ..."). Bounded readiness, guaranteed stop.
import { execFileSync } from "node:child_process";
import { chmodSync, closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Daemon, removeDir, startDaemon, tempDir } from "./proc.ts";

export interface ExabgpOptions {
  /** The neighbor block body (without the `api` part, which is added). */
  neighbor: string;
  /** The peer exabgp connects to. */
  peerAddress: string;
}

export class Exabgp {
  private constructor(readonly daemon: Daemon, readonly dir: string, private readonly fifo: number) {}

  static start(o: ExabgpOptions): Exabgp {
    const dir = tempDir("exabgp");
    const fifoPath = join(dir, "api.fifo");
    execFileSync("mkfifo", [fifoPath]);
    // Opened read-write so neither side blocks on open and the relay never sees EOF.
    const fifo = openSync(fifoPath, "r+");
    const relay = join(dir, "api.sh");
    writeFileSync(relay, `#!/bin/sh\nexec cat ${fifoPath}\n`);
    chmodSync(relay, 0o755);
    const config = join(dir, "exabgp.conf");
    writeFileSync(config, `process ctl {\n  run ${relay};\n  encoder text;\n}\nneighbor ${o.peerAddress} {\n${o.neighbor}\n  api { processes [ ctl ]; }\n}\n`);
    const env = {
      ...process.env,
      exabgp_daemon_drop: "false", exabgp_daemon_user: "root", exabgp_api_cli: "false", exabgp_api_ack: "false",
      exabgp_log_destination: "stdout", exabgp_tcp_bind: "", exabgp_daemon_daemonize: "false",
    };
    const daemon = startDaemon("exabgp", "exabgp", [config], join(dir, "exabgp.log"), env);
    return new Exabgp(daemon, dir, fifo);
  }

  /** Sends one API command (e.g. "withdraw route 203.0.113.0/24 next-hop 192.0.2.3"). */
  command(line: string): void {
    writeSync(this.fifo, line + "\n");
  }

  log(): string {
    return this.daemon.log();
  }

  async stop(): Promise<void> {
    await this.daemon.stop("SIGTERM", 5000);
    // The relay (`cat`) is exabgp's child: it ends when the FIFO closes or with its parent.
    closeSync(this.fifo);
    removeDir(this.dir);
  }
}
