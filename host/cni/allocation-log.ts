// Who holds which pod addresses, kept on disk so no address is handed out twice after a
// crash. An append-only log of JSON lines ("add" an attachment, "del" it), never a rewrite
// of the whole state per ADD. A record is written at once (a plain write into the page
// cache: it survives the agent's death, which is when it matters, as a power loss takes the
// pods too), so a caller may act on it straight away; fdatasync runs behind, one for every
// record written while the previous one ran (concurrent ADDs share it), and the caller
// reports success once its record is synced. When the log has grown well past the live
// entries it is compacted: the live entries go to a new file (fsync, rename, fsync of the
// directory), so a crash at any moment leaves either the old log or the new one. A torn
// last line (a crash mid-write) was never acted on and is dropped on open.
import { closeSync, existsSync, fdatasync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, ftruncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

const FORMAT = "sart-cni-allocations/1";
const FILE = "cni-allocations.log";

/** One container interface attached to a sart network, and the addresses it holds. */
export interface Attachment {
  containerId: string;
  ifname: string;
  /** The network config's `name` (GC works per network). */
  network: string;
  /** Canonical address texts, one per family, with the pool each came from. */
  addresses: { address: string; pool: string }[];
  /** The host-side veth. */
  veth: string;
  netns?: string;
  /** Pod namespace/name from CNI_ARGS, for messages. */
  pod?: string;
}

export const attachmentKey = (containerId: string, ifname: string) => `${containerId}/${ifname}`;

type Line = ({ op: "add" } & Attachment) | { op: "del"; containerId: string; ifname: string };

export interface LogOptions {
  /** Compact when the log holds more than max(minRecords, 2 x live) records. */
  minRecords?: number;
  log?: (msg: string) => void;
}

interface Waiter {
  done: () => void;
  fail: (e: Error) => void;
}

export class AllocationLog {
  private readonly live = new Map<string, Attachment>();
  private records = 0;
  /** Records written since the last fdatasync started. */
  private unsynced: Waiter[] = [];
  private syncing = false;
  /** The fd the running fdatasync works on (a compaction meanwhile must not close it). */
  private syncingFd = -1;
  readonly counters = { writes: 0, syncs: 0, compactions: 0 };

  private constructor(
    readonly file: string,
    private fd: number,
    private readonly opts: LogOptions,
  ) {}

  /** Opens (or creates) the log in `dir` and replays it. */
  static open(dir: string, opts: LogOptions = {}): AllocationLog {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, FILE);
    if (!existsSync(file)) {
      writeFileSync(file, `${JSON.stringify({ format: FORMAT })}\n`, { mode: 0o600 });
      syncPath(file);
      syncPath(dir);
    }
    const bytes = readFileSync(file);
    const complete = bytes.lastIndexOf(0x0a) + 1;
    if (complete < bytes.length) {
      opts.log?.(`${file}: dropping a torn last record (${bytes.length - complete} bytes)`);
      const fd = openSync(file, "r+");
      ftruncateSync(fd, complete);
      fsyncSync(fd);
      closeSync(fd);
    }
    const lines = bytes.subarray(0, complete).toString("utf8").split("\n").filter((l) => l);
    let header: { format?: string } = {};
    try {
      header = JSON.parse(lines[0] ?? "{}");
    } catch {}
    if (header.format !== FORMAT) throw new Error(`${file}: not a sart-cni allocation log (first line ${JSON.stringify(lines[0]?.slice(0, 80))})`);
    const log = new AllocationLog(file, openSync(file, "a"), opts);
    for (let i = 1; i < lines.length; i++) {
      let rec: Line;
      try {
        rec = JSON.parse(lines[i]!);
      } catch {
        opts.log?.(`${file}: record ${i} is not JSON; skipped`);
        continue;
      }
      log.apply(rec);
    }
    log.records = lines.length - 1;
    return log;
  }

  get(containerId: string, ifname: string): Attachment | undefined {
    return this.live.get(attachmentKey(containerId, ifname));
  }

  all(): Attachment[] {
    return [...this.live.values()];
  }

  get size(): number {
    return this.live.size;
  }

  /**
   * Records an attachment: written at once (get() returns it from now on; it survives the
   * agent's death; throws when the write fails), `synced` resolves once it is on disk.
   */
  add(a: Attachment): { synced: Promise<void> } {
    return { synced: this.append({ op: "add", ...a }) };
  }

  /** Forgets an attachment at once; resolves once that is on disk. */
  remove(containerId: string, ifname: string): Promise<void> {
    if (!this.live.has(attachmentKey(containerId, ifname))) return Promise.resolve();
    return this.append({ op: "del", containerId, ifname });
  }

  /** Waits for the last fdatasync, then closes the file. */
  async close(): Promise<void> {
    await new Promise<void>((done, fail) => (this.syncing || this.unsynced.length ? this.unsynced.push({ done, fail }) : done())).catch(() => {});
    closeSync(this.fd);
  }

  private apply(rec: Line): void {
    const key = attachmentKey(rec.containerId, rec.ifname);
    if (rec.op === "add") {
      const { op: _, ...a } = rec;
      this.live.set(key, a);
    } else if (rec.op === "del") this.live.delete(key);
  }

  private append(rec: Line): Promise<void> {
    try {
      writeSync(this.fd, `${JSON.stringify(rec)}\n`);
    } catch (e) {
      throw new Error(`${this.file}: ${(e as Error).message}`);
    }
    this.counters.writes++;
    this.records++;
    this.apply(rec);
    const synced = new Promise<void>((done, fail) => this.unsynced.push({ done, fail }));
    if (this.records > Math.max(this.opts.minRecords ?? 1000, 2 * this.live.size)) this.compact();
    this.sync();
    return synced;
  }

  /** One fdatasync for every record written since the last one started; again while more wait. */
  private sync(): void {
    if (this.syncing || !this.unsynced.length) return;
    this.syncing = true;
    const batch = this.unsynced;
    this.unsynced = [];
    const fd = this.fd;
    this.syncingFd = fd;
    fdatasync(fd, (err) => {
      this.syncing = false;
      this.syncingFd = -1;
      this.counters.syncs++;
      if (fd !== this.fd) closeSync(fd); // compacted meanwhile: the new file holds these records, synced
      for (const w of batch) err && fd === this.fd ? w.fail(new Error(`${this.file}: ${err.message}`)) : w.done();
      this.sync();
    });
  }

  /**
   * Rewrites the log as the live entries alone (synchronously: no record can slip in between);
   * the old log stays valid until the rename. Records waiting for their fdatasync are on disk
   * in the new file.
   */
  private compact(): void {
    const tmp = `${this.file}.tmp`;
    const lines = [JSON.stringify({ format: FORMAT }), ...[...this.live.values()].map((a) => JSON.stringify({ op: "add", ...a }))];
    try {
      writeFileSync(tmp, `${lines.join("\n")}\n`, { mode: 0o600 });
      syncPath(tmp);
      renameSync(tmp, this.file);
      syncPath(join(this.file, ".."));
    } catch (e) {
      this.opts.log?.(`${this.file}: compaction failed (the log stays as it is): ${(e as Error).message}`);
      return;
    }
    const old = this.fd;
    this.fd = openSync(this.file, "a");
    if (old !== this.syncingFd) closeSync(old); // else the running fdatasync closes it when done
    for (const w of this.unsynced.splice(0)) w.done();
    this.records = this.live.size;
    this.counters.compactions++;
  }
}

function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
