// Who holds which pod addresses, kept on disk so no address is handed out twice after a
// crash. An append-only log of JSON lines ("add" an attachment, "del" it): one write and one
// fdatasync per burst of changes (concurrent ADDs share them), never a rewrite of the whole
// state per ADD. Once written (in the page cache) a record survives the agent's death, which
// is when it matters (a power loss takes the pods too): so a caller may act on a record as
// soon as it is written, and report success once it is synced. When the log has grown well past the live entries it is compacted: the live
// entries go to a new file (fsync, rename, fsync of the directory), so a crash at any moment
// leaves either the old log or the new one. A torn last line (a crash mid-write) was never
// acknowledged and is dropped on open.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, ftruncateSync, writeFileSync, existsSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
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

export class AllocationLog {
  private readonly live = new Map<string, Attachment>();
  private records = 0;
  private pending: { rec: Line; written: () => void; done: () => void; fail: (e: Error) => void }[] = [];
  private writing = false;
  readonly counters = { writes: 0, compactions: 0 };

  private constructor(
    readonly file: string,
    private fh: FileHandle,
    private readonly opts: LogOptions,
  ) {}

  /** Opens (or creates) the log in `dir` and replays it. */
  static async open(dir: string, opts: LogOptions = {}): Promise<AllocationLog> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, FILE);
    if (!existsSync(file)) {
      writeFileSync(file, `${JSON.stringify({ format: FORMAT })}\n`, { mode: 0o600 });
      syncPath(file);
      syncPath(dir);
    }
    const text = readFileSync(file, "utf8");
    const complete = text.lastIndexOf("\n") + 1;
    if (complete < Buffer.byteLength(text)) {
      // Written but never synced before a crash: the caller never acted on it.
      opts.log?.(`${file}: dropping a torn last record (${Buffer.byteLength(text) - complete} bytes)`);
      const fd = openSync(file, "r+");
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, complete)));
      fsyncSync(fd);
      closeSync(fd);
    }
    const lines = text.slice(0, complete).split("\n").filter((l) => l);
    let header: { format?: string } = {};
    try {
      header = JSON.parse(lines[0] ?? "{}");
    } catch {}
    if (header.format !== FORMAT) throw new Error(`${file}: not a sart-cni allocation log (first line ${JSON.stringify(lines[0]?.slice(0, 80))})`);
    const log = new AllocationLog(file, await open(file, "a"), opts);
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
   * Records an attachment: `written` resolves once the record is in the file (get() returns
   * it from then on; it survives the agent's death), `synced` once it is on disk.
   */
  add(a: Attachment): { written: Promise<void>; synced: Promise<void> } {
    return this.append({ op: "add", ...a });
  }

  /** Forgets an attachment; resolves once that is on disk (get() returns it until it is written). */
  remove(containerId: string, ifname: string): Promise<void> {
    if (!this.live.has(attachmentKey(containerId, ifname))) return Promise.resolve();
    return this.append({ op: "del", containerId, ifname }).synced;
  }

  async close(): Promise<void> {
    while (this.writing || this.pending.length) await new Promise((r) => setTimeout(r, 5));
    await this.fh.close();
  }

  private apply(rec: Line): void {
    const key = attachmentKey(rec.containerId, rec.ifname);
    if (rec.op === "add") {
      const { op: _, ...a } = rec;
      this.live.set(key, a);
    } else if (rec.op === "del") this.live.delete(key);
  }

  private append(rec: Line): { written: Promise<void>; synced: Promise<void> } {
    let written!: () => void;
    let failWritten!: (e: Error) => void;
    const writtenP = new Promise<void>((ok, no) => ((written = ok), (failWritten = no)));
    const synced = new Promise<void>((done, failSynced) => {
      this.pending.push({ rec, written, done, fail: (e) => (failWritten(e), failSynced(e)) });
      if (!this.writing) void this.drain();
    });
    writtenP.catch(() => {}); // callers that wait only for `synced` hear of failures there
    return { written: writtenP, synced };
  }

  /** Writes everything queued in one write + fdatasync; repeats while more arrived meanwhile. */
  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.fh.write(batch.map((p) => `${JSON.stringify(p.rec)}\n`).join(""));
          this.counters.writes++;
          this.records += batch.length;
          // The live map holds what is in the file, so a compaction right after sees every record.
          for (const p of batch) {
            this.apply(p.rec);
            p.written();
          }
          await this.fh.datasync();
          for (const p of batch) p.done();
        } catch (e) {
          const err = new Error(`${this.file}: ${(e as Error).message}`);
          for (const p of batch) p.fail(err);
        }
        if (this.records > Math.max(this.opts.minRecords ?? 1000, 2 * this.live.size)) await this.compact();
      }
    } finally {
      this.writing = false;
    }
  }

  /** Rewrites the log as the live entries alone; the old log stays valid until the rename. */
  private async compact(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const lines = [JSON.stringify({ format: FORMAT }), ...[...this.live.values()].map((a) => JSON.stringify({ op: "add", ...a }))];
    try {
      writeFileSync(tmp, `${lines.join("\n")}\n`, { mode: 0o600 });
      syncPath(tmp);
      renameSync(tmp, this.file);
      syncPath(join(this.file, ".."));
      await this.fh.close();
      this.fh = await open(this.file, "a");
      this.records = this.live.size;
      this.counters.compactions++;
    } catch (e) {
      this.opts.log?.(`${this.file}: compaction failed (the log stays as it is): ${(e as Error).message}`);
    }
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
