// `sart speaker --config FILE`: the standalone BGP speaker with its HTTP API.
// SIGTERM/SIGINT: Cease 6/2 to every peer, our kernel routes removed, exit 0.
import { createApi, listenApi } from "../bgp/api.ts";
import { loadConfig } from "../bgp/config.ts";
import { Speaker } from "../bgp/speaker.ts";

const USAGE = `usage: sart speaker --config FILE [--graceful-restart]

  --config FILE        the speaker's YAML configuration (docs/speaker.md)
  --graceful-restart   this start is a graceful restart (RFC 4724): our OPENs carry the
                       restart and forwarding-state bits, and kernel routes from the previous
                       run stay until every neighbor has sent End-of-RIB
`;

export async function run(args: string[]): Promise<number> {
  let file: string | undefined;
  let restarting = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--config" || a === "-c") file = args[++i];
    else if (a.startsWith("--config=")) file = a.slice(9);
    else if (a === "--graceful-restart") restarting = true;
    else if (a === "-h" || a === "--help") {
      process.stdout.write(USAGE);
      return 0;
    } else {
      process.stderr.write(`sart speaker: unknown argument ${JSON.stringify(a)}\n${USAGE}`);
      return 2;
    }
  }
  if (!file) {
    process.stderr.write(`sart speaker: --config FILE is required\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(file);
  } catch (e) {
    process.stderr.write(`sart speaker: ${(e as Error).message}\n`);
    return 2;
  }
  const speaker = new Speaker(config, { restarting });
  const api = createApi(speaker);
  let apiAddress = "";
  try {
    await speaker.start();
    if (config.api.listen) apiAddress = await listenApi(api, config.api.listen);
  } catch (e) {
    // A port in use and the like: leave nothing behind (peers get Cease 6/2, FIB routes go).
    process.stderr.write(`sart speaker: ${file}: ${(e as Error).message}\n`);
    await speaker.stop().catch(() => undefined);
    setTimeout(() => process.exit(1), 50).unref();
    return 1;
  }
  const l = speaker.listening;
  const bgp = l ? `${l.address.includes(":") ? `[${l.address}]` : l.address}:${l.port}` : "not listening";
  process.stderr.write(`sart speaker: AS ${config.asn}, router id ${config.routerId}, BGP ${bgp}, API ${apiAddress || "off"}, ${config.neighbors.length} neighbors\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`sart speaker: ${signal}: shutting down\n`);
      const hardStop = setTimeout(() => resolve(1), 10_000);
      api.close();
      api.closeAllConnections?.();
      speaker.stop().then(
        () => {
          clearTimeout(hardStop);
          resolve(0);
        },
        (e) => {
          process.stderr.write(`sart speaker: shutdown: ${(e as Error).message}\n`);
          clearTimeout(hardStop);
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  }).then((code) => {
    // Timers of closed sockets must not keep the process alive.
    setTimeout(() => process.exit(code), 50).unref();
    return code;
  });
}
