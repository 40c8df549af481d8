// BlockRequests from node agents: a pod pool hands the node its lowest free block index n as
// AddressBlock `{pool}-{n}` (CIDR = pool network + n * block size; status.index = n; labelled
// with the node). The request is deleted once its block exists; the block carries the
// request's name, so a request seen again after a crash never gets a second block.
// Indexes are held in the pool's bitmap: recovered from existing blocks at start, released
// when a block is deleted, never handed out twice while allocated.
import { isAlreadyExists } from "../store.ts";
import type { AddressBlock, BlockRequest } from "../types.ts";
import { type Ctx, warn } from "./context.ts";
import { API_VERSION, BLOCK_NODE_LABEL, BLOCK_REQUEST_LABEL, POOL_LABEL, Reason } from "./names.ts";
import type { PoolEntry } from "./pools.ts";
import type { ReconcileResult } from "./queue.ts";

/** The block index of a pod AddressBlock: status.index, else the `-{n}` suffix of its name. */
export function blockIndex(block: AddressBlock): number | undefined {
  const i = block.status?.index;
  if (typeof i === "number" && Number.isInteger(i) && i >= 0) return i;
  const m = block.metadata.name.match(/-([0-9]+)$/);
  return m && block.metadata.name.slice(0, -m[0].length) === block.spec.poolRef ? Number(m[1]) : undefined;
}

/** Marks the indexes of a pod pool's existing blocks as taken (recovery, or a pool admitted later). */
export function claimPodBlocks(ctx: Ctx, pool: PoolEntry, blocks: AddressBlock[] = ctx.inf.blocks.list()): void {
  for (const b of blocks) {
    if (b.spec.type !== "pod" || b.spec.poolRef !== pool.name) continue;
    const i = blockIndex(b);
    if (i === undefined || i >= pool.blocks!.size) {
      ctx.log("warn", `AddressBlock ${b.metadata.name}: no usable block index; its addresses stay reserved only by name`);
      continue;
    }
    pool.blocks!.allocateIndex(i);
  }
}

export async function reconcileBlockRequest(ctx: Ctx, name: string): Promise<ReconcileResult> {
  const br = ctx.inf.blockRequests.get({ name });
  if (!br || br.metadata.deletionTimestamp) {
    ctx.waitingBlockRequests.delete(name);
    return;
  }
  const answered = ctx.inf.blocks.list().find((b) => b.metadata.labels?.[BLOCK_REQUEST_LABEL] === name);
  if (answered) {
    await ctx.store.delete("BlockRequest", { name });
    ctx.waitingBlockRequests.delete(name);
    return;
  }
  const pool = ctx.pools.get(br.spec.pool);
  const refuse = async (reason: string, message: string) => {
    ctx.waitingBlockRequests.add(name);
    await warn(ctx, br, reason, message);
  };
  if (!pool) return await refuse(Reason.NoPool, `pool ${br.spec.pool} ${ctx.pools.rejection(br.spec.pool) ? `is not usable: ${ctx.pools.rejection(br.spec.pool)}` : "does not exist"}`);
  if (pool.type !== "pod" || !pool.blocks) return await refuse(Reason.InvalidPool, `pool ${pool.name} is a ${pool.type} pool; blocks come only from pod pools`);
  if (pool.deleting) return await refuse(Reason.NoPool, `pool ${pool.name} is being deleted`);
  if (!br.spec.node) return await refuse(Reason.InvalidNode, "spec.node is empty");

  const index = pool.blocks.allocate();
  if (index === undefined) return await refuse(Reason.PoolExhausted, `pool ${pool.name} (${pool.cidrText}) has no free /${pool.blockSize} block`);
  const blockName = `${pool.name}-${index}`;
  const poolObj = ctx.inf.pools.get({ name: pool.name });
  const block: AddressBlock = {
    apiVersion: API_VERSION,
    kind: "AddressBlock",
    metadata: {
      name: blockName,
      labels: { [BLOCK_NODE_LABEL]: br.spec.node, [POOL_LABEL]: pool.name, [BLOCK_REQUEST_LABEL]: name },
      ...(poolObj?.metadata.uid ? { ownerReferences: [{ apiVersion: API_VERSION, kind: "AddressPool", name: pool.name, uid: poolObj.metadata.uid }] } : {}),
    },
    spec: { cidr: pool.blocks.blockCidr(index), type: "pod", poolRef: pool.name, nodeRef: br.spec.node, autoAssign: pool.autoAssign },
  };
  try {
    await ctx.store.create(block);
  } catch (e) {
    // A block of that name we did not know of: keep its index taken and try the next one.
    if (isAlreadyExists(e)) throw new Error(`AddressBlock ${blockName} already exists though index ${index} was free; retrying with another index`);
    pool.blocks.release(index);
    throw e;
  }
  await ctx.store.patchStatus("AddressBlock", { name: blockName }, { index });
  await ctx.store.delete("BlockRequest", { name });
  ctx.waitingBlockRequests.delete(name);
  ctx.log("info", `BlockRequest ${name}: ${blockName} (${block.spec.cidr}) for node ${br.spec.node}`);
}

/** A pod block went away: its index is free again. */
export function releasePodBlock(ctx: Ctx, block: AddressBlock): void {
  if (block.spec.type !== "pod") return;
  const pool = ctx.pools.get(block.spec.poolRef);
  const i = blockIndex(block);
  if (pool?.blocks && i !== undefined && i < pool.blocks.size && pool.blocks.release(i)) {
    ctx.log("info", `AddressBlock ${block.metadata.name} (${block.spec.cidr}) of node ${block.spec.nodeRef ?? "?"} deleted: block ${i} of pool ${pool.name} is free`);
    for (const name of ctx.waitingBlockRequests) ctx.q.blockRequests.add(name);
    ctx.q.pools.add(pool.name);
  }
}
