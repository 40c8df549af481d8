// Pod addresses of one node: the node's pod AddressBlocks (label
// addressblock.sart.terassyi.net/node), each with a core bitmap, and who holds each address.
// When no block of a pool has room the node asks for one (BlockRequest) and waits for the
// controller's answer; a pool with no free block left is refused at once. A block that stays
// empty for `releaseDelayMs` goes back to its pool: the agent's finalizer comes off and the
// block is deleted, and the controller frees its index. The agent announces pod blocks from
// the AddressBlock objects, so announcement follows the objects.
import { BlockAllocator, MAX_POOL_INDEX_BITS, cidrContains, normalizeAddress, parseAddress, parseCidr, type Cidr, type Family } from "../core/ipam.ts";
import { randomBytes } from "node:crypto";
import { setFinalizer } from "../kube/controller/context.ts";
import { BLOCK_REQUEST_LABEL } from "../kube/controller/names.ts";
import { olderFirst } from "../kube/controller/pools.ts";
import type { Informer, Store } from "../kube/store.ts";
import {
  API_VERSION,
  FINALIZER_ADDRESSBLOCK_AGENT,
  LABEL_ADDRESSBLOCK_NODE,
  poolBlockSize,
  type AddressBlock,
  type AddressPool,
  type BlockRequest,
} from "../kube/types.ts";
import { CniError, Code } from "./protocol.ts";

/** Pause before trying again to release a block whose API call failed. */
const RELEASE_RETRY_MS = 5_000;

export type Logger = (level: "info" | "warn" | "error", msg: string) => void;

interface NodeBlock {
  name: string;
  pool: string;
  cidr: Cidr;
  alloc: BlockAllocator;
  /** No new addresses: being released, or deleted by someone else and waiting to empty. */
  closing: boolean;
  emptyTimer?: ReturnType<typeof setTimeout>;
}

export interface NodeIpamOptions {
  store: Store;
  node: string;
  pools: Informer<AddressPool>;
  blocks: Informer<AddressBlock>;
  /** How long a block stays empty before it goes back to its pool. */
  releaseDelayMs: number;
  log: Logger;
}

export interface PoolInfo {
  name: string;
  family: Family;
  cidr: Cidr;
}

export class NodeIpam {
  private readonly blocks = new Map<string, NodeBlock>();
  /** Address (canonical text) -> holder (attachment key); includes addresses no block of ours covers yet. */
  private readonly holders = new Map<string, string>();
  /** One wait for a block per pool; concurrent ADDs share it. */
  private readonly requesting = new Map<string, Promise<void>>();
  /** Pool -> our BlockRequest not answered yet (its block has not arrived). */
  private readonly unanswered = new Map<string, string>();
  private changed = signal();
  private stopped = false;
  readonly counters = { blockRequests: 0, blocksReleased: 0 };

  constructor(private readonly o: NodeIpamOptions) {
    o.blocks.on(() => this.syncBlocks());
    o.pools.on(() => this.wake());
  }

  /** Brings the node's blocks in line with the informer cache (call once it is synced). */
  syncBlocks(): void {
    const mine = new Map<string, AddressBlock>();
    for (const b of this.o.blocks.list()) {
      if (b.spec.type === "pod" && b.spec.nodeRef === this.o.node && b.metadata.labels?.[LABEL_ADDRESSBLOCK_NODE] === this.o.node) mine.set(b.metadata.name, b);
    }
    for (const [name, nb] of this.blocks) {
      if (mine.has(name)) continue;
      if (nb.alloc.used() > 0) this.o.log("warn", `AddressBlock ${name} (${nb.cidr.text}) was deleted while it held ${nb.alloc.used()} addresses; they stay held`);
      clearTimeout(nb.emptyTimer);
      nb.alloc.dispose();
      this.blocks.delete(name);
    }
    for (const [name, b] of mine) {
      let nb = this.blocks.get(name);
      if (!nb) {
        let cidr: Cidr;
        let alloc: BlockAllocator;
        try {
          cidr = parseCidr(b.spec.cidr);
          alloc = BlockAllocator.create(b.spec.cidr);
        } catch (e) {
          this.o.log("error", `AddressBlock ${name}: ${(e as Error).message}`);
          continue;
        }
        nb = { name, pool: b.spec.poolRef, cidr, alloc, closing: false };
        this.blocks.set(name, nb);
        const answered = b.metadata.labels?.[BLOCK_REQUEST_LABEL];
        if (answered && this.unanswered.get(nb.pool) === answered) this.unanswered.delete(nb.pool);
        for (const addr of this.holders.keys()) if (alloc.contains(addr)) alloc.allocateAddress(addr);
        if (!b.metadata.finalizers?.includes(FINALIZER_ADDRESSBLOCK_AGENT) && !b.metadata.deletionTimestamp) {
          this.setFinalizer(name, true).catch((e) => this.o.log("warn", `AddressBlock ${name}: adding finalizer: ${(e as Error).message}`));
        }
        this.o.log("info", `AddressBlock ${name} (${b.spec.cidr}) of pool ${b.spec.poolRef}: ${alloc.used()} addresses held`);
        this.scheduleRelease(nb);
      }
      if (b.metadata.deletionTimestamp && !nb.closing) {
        // Deleted by someone else: no new addresses; the finalizer comes off once it is empty.
        clearTimeout(nb.emptyTimer);
        nb.emptyTimer = undefined;
        nb.closing = true;
        this.scheduleRelease(nb);
      }
    }
    this.wake();
  }

  /** A pod pool that can hand out addresses, or CniError 101 naming it. */
  pool(name: string): PoolInfo {
    const p = this.o.pools.get({ name });
    if (!p) throw new CniError(Code.UnknownPool, `AddressPool ${name} does not exist`);
    if (p.spec.type !== "pod") throw new CniError(Code.UnknownPool, `AddressPool ${name} is a ${p.spec.type} pool, not a pod pool`);
    if (p.metadata.deletionTimestamp) throw new CniError(Code.UnknownPool, `AddressPool ${name} is being deleted`);
    const ready = p.status?.conditions?.find((c) => c.type === "Ready");
    if (ready?.status === "False") throw new CniError(Code.UnknownPool, `AddressPool ${name} is not usable: ${ready.message ?? ready.reason}`);
    const cidr = parseCidr(p.spec.cidr);
    return { name, family: cidr.family, cidr };
  }

  /** The auto-assign pod pool of each family: the oldest autoAssign pool, as the controller picks it. */
  autoAssignPools(): PoolInfo[] {
    const best = new Map<Family, AddressPool>();
    for (const p of this.o.pools.list()) {
      if (p.spec.type !== "pod" || p.spec.autoAssign !== true || p.metadata.deletionTimestamp) continue;
      if (p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "False")) continue;
      let family: Family;
      try {
        family = parseCidr(p.spec.cidr).family;
      } catch {
        continue;
      }
      const cur = best.get(family);
      if (!cur || olderFirst(p, cur) < 0) best.set(family, p);
    }
    return [...best.values()].map((p) => this.pool(p.metadata.name)).sort((a, b) => a.family - b.family);
  }

  /** The pod pool whose CIDR holds `addr`. */
  poolContaining(addr: string): PoolInfo | undefined {
    for (const p of this.o.pools.list()) {
      if (p.spec.type !== "pod") continue;
      try {
        if (cidrContains(parseCidr(p.spec.cidr), addr)) return this.pool(p.metadata.name);
      } catch {}
    }
    return undefined;
  }

  /** Records that `holder` holds `addr` (recovery); marks it in its block when we have the block. */
  hold(addr: string, holder: string): void {
    const a = normalizeAddress(addr);
    const prior = this.holders.get(a);
    if (prior && prior !== holder) this.o.log("error", `address ${a} is claimed by both ${prior} and ${holder}; it stays held by ${prior}`);
    if (prior) return;
    this.holders.set(a, holder);
    const nb = this.blockOf(a);
    if (nb) {
      nb.alloc.allocateAddress(a);
      this.taken(nb, a, holder);
    }
  }

  holderOf(addr: string): string | undefined {
    return this.holders.get(normalizeAddress(addr));
  }

  /**
   * The lowest free address of `pool` in this node's blocks for `holder`; asks for a new
   * block when none has room and waits for it until `deadline`.
   */
  async allocate(pool: PoolInfo, holder: string, deadline: number): Promise<string> {
    for (;;) {
      if (this.stopped) throw new CniError(Code.TryAgainLater, "the CNI server is stopping");
      for (const nb of this.openBlocks(pool.name)) {
        const addr = nb.alloc.allocate();
        if (addr === undefined) continue;
        this.taken(nb, addr, holder);
        return addr;
      }
      await this.newBlock(pool, deadline);
    }
  }

  /** `addr` for `holder`: it must lie in one of this node's blocks of `pool` and be free. */
  allocateAddress(pool: PoolInfo, addr: string, holder: string): string {
    const a = normalizeAddress(addr);
    const prior = this.holders.get(a);
    if (prior) throw new CniError(Code.AddressInUse, `address ${a} of pool ${pool.name} is held by ${prior}`);
    const nb = this.blockOf(a);
    if (!nb || nb.pool !== pool.name) {
      const mine = [...this.blocks.values()].filter((b) => b.pool === pool.name).map((b) => b.cidr.text);
      throw new CniError(
        Code.AddressUnavailable,
        `address ${a} is not in an AddressBlock of pool ${pool.name} on node ${this.o.node} (its blocks here: ${mine.join(", ") || "none"})`,
      );
    }
    if (nb.closing) throw new CniError(Code.AddressUnavailable, `address ${a} is in AddressBlock ${nb.name}, which is being released`);
    if (!nb.alloc.allocateAddress(a)) throw new CniError(Code.AddressInUse, `address ${a} of pool ${pool.name} is already allocated`);
    this.taken(nb, a, holder);
    return a;
  }

  /** Frees `addr`; a block that became empty goes back to its pool after the delay. */
  release(addr: string): void {
    const a = normalizeAddress(addr);
    if (!this.holders.delete(a)) return;
    const nb = this.blockOf(a);
    if (!nb) return;
    nb.alloc.release(a);
    this.scheduleRelease(nb);
  }

  /** Per block: name, pool, CIDR, addresses held and size (metrics, STATUS). */
  blockStats(): { name: string; pool: string; cidr: string; used: number; size: number }[] {
    return [...this.blocks.values()].map((b) => ({ name: b.name, pool: b.pool, cidr: b.cidr.text, used: b.alloc.used(), size: b.alloc.size }));
  }

  /** Whether `pool` can hand out another address: a block with room here, or a free block in the pool. */
  hasRoom(pool: PoolInfo): boolean {
    return this.openBlocks(pool.name).some((b) => b.alloc.free() > 0) || !this.poolFull(pool.name);
  }

  stop(): void {
    this.stopped = true;
    for (const nb of this.blocks.values()) {
      clearTimeout(nb.emptyTimer);
      nb.alloc.dispose();
    }
    this.blocks.clear();
    this.wake();
  }

  private taken(nb: NodeBlock, addr: string, holder: string): void {
    this.holders.set(addr, holder);
    clearTimeout(nb.emptyTimer);
    nb.emptyTimer = undefined;
  }

  private blockOf(addr: string): NodeBlock | undefined {
    if (!parseAddress(addr)) return undefined;
    for (const nb of this.blocks.values()) if (nb.alloc.contains(addr)) return nb;
    return undefined;
  }

  /** Blocks of `pool` that take new addresses, oldest (lowest CIDR) first so later ones empty out. */
  private openBlocks(pool: string): NodeBlock[] {
    return [...this.blocks.values()].filter((b) => b.pool === pool && !b.closing).sort((a, b) => compareWords(a.cidr, b.cidr));
  }

  /** Every block of the pool, on any node, is taken. */
  private poolFull(pool: string): boolean {
    const p = this.o.pools.get({ name: pool });
    if (!p) return true;
    const cidr = parseCidr(p.spec.cidr);
    const total = 2 ** Math.min(poolBlockSize(p.spec) - cidr.prefix, MAX_POOL_INDEX_BITS);
    let n = 0;
    for (const b of this.o.blocks.list()) if (b.spec.poolRef === pool && b.spec.type === "pod") n++;
    return n >= total;
  }

  private async newBlock(pool: PoolInfo, deadline: number): Promise<void> {
    if (this.poolFull(pool.name)) {
      throw new CniError(Code.PoolExhausted, `pool ${pool.name} (${pool.cidr.text}) has no free address on node ${this.o.node} and no free block left`);
    }
    let pending = this.requesting.get(pool.name);
    if (!pending) {
      pending = this.requestBlock(pool, deadline).finally(() => this.requesting.delete(pool.name));
      this.requesting.set(pool.name, pending);
    }
    await pending;
  }

  /**
   * Creates a BlockRequest (unless one of ours for the pool is still unanswered: the
   * controller deletes a request once its block exists, and the agent leaves requests to it)
   * and waits until a new block of the pool arrives, the pool fills up, or the deadline.
   */
  private async requestBlock(pool: PoolInfo, deadline: number): Promise<void> {
    const known = new Set(this.openBlocks(pool.name).map((b) => b.name));
    let name = this.unanswered.get(pool.name);
    if (!name) {
      // Named here (not generateName) so that the answer, which may arrive before create()
      // returns, finds it in `unanswered`.
      name = `${`${pool.name}-${this.o.node}`.slice(0, 240).replace(/[^a-z0-9]+$/, "")}-${randomBytes(3).toString("hex")}`;
      this.unanswered.set(pool.name, name);
      const request: BlockRequest = { apiVersion: API_VERSION, kind: "BlockRequest", metadata: { name }, spec: { pool: pool.name, node: this.o.node } };
      try {
        await this.o.store.create(request);
      } catch (e) {
        this.unanswered.delete(pool.name);
        throw e;
      }
      this.counters.blockRequests++;
      this.o.log("info", `BlockRequest ${name}: pool ${pool.name} has no room on node ${this.o.node}`);
    }
    for (;;) {
      const wait = this.changed.promise;
      if (this.openBlocks(pool.name).some((b) => !known.has(b.name))) return;
      if (this.stopped) throw new CniError(Code.TryAgainLater, "the CNI server is stopping");
      if (this.poolFull(pool.name)) {
        throw new CniError(Code.PoolExhausted, `pool ${pool.name} (${pool.cidr.text}) has no free block left for node ${this.o.node}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new CniError(Code.TryAgainLater, `no AddressBlock of pool ${pool.name} arrived for BlockRequest ${name} in time; is the controller running?`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([wait, new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  }

  private scheduleRelease(nb: NodeBlock, delay = nb.closing ? 0 : this.o.releaseDelayMs): void {
    if (nb.alloc.used() > 0 || nb.emptyTimer) return;
    // A block deleted by someone else waits only for its last address; ours stay a while.
    nb.emptyTimer = setTimeout(() => void this.releaseBlock(nb), delay);
    nb.emptyTimer.unref?.();
  }

  private async releaseBlock(nb: NodeBlock): Promise<void> {
    nb.emptyTimer = undefined;
    if (this.stopped || nb.alloc.used() > 0 || this.blocks.get(nb.name) !== nb) return;
    const wasClosing = nb.closing;
    nb.closing = true;
    try {
      await this.setFinalizer(nb.name, false);
      await this.o.store.delete("AddressBlock", { name: nb.name });
      this.counters.blocksReleased++;
      this.o.log("info", `AddressBlock ${nb.name} (${nb.cidr.text}) released to pool ${nb.pool}: empty for ${wasClosing ? "deletion" : `${this.o.releaseDelayMs} ms`}`);
    } catch (e) {
      this.o.log("warn", `releasing AddressBlock ${nb.name}: ${(e as Error).message}; retrying in ${RELEASE_RETRY_MS / 1000} s`);
      nb.closing = wasClosing;
      this.scheduleRelease(nb, RELEASE_RETRY_MS);
    }
  }

  /** Adds or removes the agent's finalizer on one of our blocks (the controller's guarded patch). */
  private async setFinalizer(name: string, present: boolean): Promise<void> {
    const b = this.o.blocks.get({ name }) ?? (await this.o.store.get<AddressBlock>("AddressBlock", { name }));
    if (b && !(present && b.metadata.deletionTimestamp)) await setFinalizer(this.o, "AddressBlock", b, FINALIZER_ADDRESSBLOCK_AGENT, present);
  }

  private wake(): void {
    const s = this.changed;
    this.changed = signal();
    s.resolve();
  }
}

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function compareWords(a: Cidr, b: Cidr): number {
  for (let k = 0; k < 4; k++) if (a.words[k] !== b.words[k]) return a.words[k]! - b.words[k]!;
  return 0;
}
