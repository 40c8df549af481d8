// Loopback addressing for tests and benchmarks: each run gets its own 127.X.Y.0/24
// (Linux routes all of 127.0.0.0/8 to lo, so nothing is configured) and free ports
// probed at run time, so helpers running tests at the same time never collide.
import net from "node:net";

/** A random 127.X.Y.0/24 block away from 127.0.0.0/16 (which other tools use by habit). */
export function loopbackBlock(): (host: number) => string {
  const x = 100 + Math.floor(Math.random() * 150);
  const y = 1 + Math.floor(Math.random() * 250);
  return (host: number) => `127.${x}.${y}.${host}`;
}

/** A TCP port free on `address` right now (listen on 0, read it, close). */
export function freePort(address = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", (err) => reject(new Error(`freePort(${address}): ${err.message}`)));
    srv.listen(0, address, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes
 * (throws naming `what`, with the last error seen). Every wait in tests is bounded.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}
