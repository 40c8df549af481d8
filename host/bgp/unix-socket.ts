// A server listening on a unix socket that only its owner can use, whatever the umask.
// bind() creates the socket file with the umask's mode and a chmod after it leaves a
// window, so the socket is bound inside a fresh private directory (0700), given its
// mode there, and renamed into place: at its real path it is never wider than `mode`.
import { chmodSync, lstatSync, mkdtempSync, renameSync, rmSync, unlinkSync } from "node:fs";
import * as net from "node:net";
import { dirname, join } from "node:path";

/** True when something accepts connections on the socket at `path` (a live server, not a stale file). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    const done = (live: boolean) => {
      c.destroy();
      resolve(live);
    };
    c.once("connect", () => done(true));
    c.once("error", () => done(false));
    c.setTimeout(1000, () => done(false));
  });
}

/**
 * Listens on the unix socket `path` with file mode `mode` (0600 by default). A stale
 * socket file is replaced; a live one (another process serving it) or a file that is
 * not a socket is an error naming the path. The file is removed when the server closes.
 */
export async function listenUnix(server: net.Server, path: string, mode = 0o600): Promise<void> {
  const existing = lstatSync(path, { throwIfNoEntry: false });
  if (existing && !existing.isSocket()) throw new Error(`${path} exists and is not a socket`);
  if (existing && (await answers(path))) throw new Error(`${path} is in use by another process`);
  const dir = mkdtempSync(join(dirname(path), ".s"));
  const tmp = join(dir, "s");
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(err);
      server.once("error", fail);
      server.listen(tmp, () => {
        server.off("error", fail);
        resolve();
      });
    });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    server.close();
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ino = lstatSync(path).ino;
  server.once("close", () => {
    // Ours only: another process may have taken the path since.
    if (lstatSync(path, { throwIfNoEntry: false })?.ino === ino) unlinkSync(path);
  });
}
