// AddressPools: a service pool gets one AddressBlock equal to its CIDR, named after the pool.
// Status says whether the pool is admitted (Ready), whether it is the auto-assign pool of its
// type and family (AutoAssign), how many addresses each block has handed out, and how many
// addresses (service pool) or blocks (pod pool) are in use and free. Deleting a pool that
// still has allocations is refused: the finalizer stays and a condition says why.
import { isNotFound } from "../store.ts";
import type { AddressBlock, AddressPool, AddressPoolStatus, Condition } from "../types.ts";
import { findCondition, sameCondition, setCondition, removeCondition } from "./conditions.ts";
import { type Ctx, setFinalizer, warn } from "./context.ts";
import { familyName } from "./ip.ts";
import { API_VERSION, POOL_FINALIZER, POOL_LABEL, Reason } from "./names.ts";
import type { ReconcileResult } from "./queue.ts";

export const READY_CONDITION = "Ready";
export const AUTO_ASSIGN_CONDITION = "AutoAssign";

type DesiredCondition = Omit<Condition, "lastTransitionTime">;

export async function reconcilePool(ctx: Ctx, name: string): Promise<ReconcileResult> {
  const pool = ctx.poolObjs.get(name);
  ctx.pools.sync(ctx.inf.pools.list());
  if (!pool) {
    ctx.poolObjs.forget(name);
    await deleteServiceBlock(ctx, name);
    return;
  }
  const entry = ctx.pools.get(name);
  const inUse = entry ? ctx.pools.inUse(entry) : 0;

  if (pool.metadata.deletionTimestamp) {
    if (inUse > 0) {
      const holders = entry!.type === "service" ? ctx.lb.holdersOf(name, 5) : [];
      const what = entry!.type === "service" ? `${inUse} address${inUse > 1 ? "es" : ""} still allocated` : `${inUse} pod block${inUse > 1 ? "s" : ""} still allocated`;
      const message = `deletion refused: ${what}${holders.length ? ` (${holders.join(", ")}${inUse > holders.length ? ", ..." : ""})` : ""}`;
      await writeStatus(ctx, pool, [{ type: READY_CONDITION, status: "False", reason: Reason.PoolInUse, message }], true);
      return { requeueAfterMs: 30_000 };
    }
    if (entry?.type !== "pod") await deleteServiceBlock(ctx, name);
    await setFinalizer(ctx, "AddressPool", pool, POOL_FINALIZER, false);
    ctx.poolObjs.forget(name);
    ctx.pools.sync(ctx.inf.pools.list().filter((p) => p.metadata.name !== name));
    return;
  }

  let current: AddressPool | undefined = pool;
  if (!pool.metadata.finalizers?.includes(POOL_FINALIZER)) {
    current = await setFinalizer(ctx, "AddressPool", pool, POOL_FINALIZER, true);
    if (!current) return;
    ctx.poolObjs.wrote(current);
  }

  const conditions: DesiredCondition[] = [];
  const rejection = ctx.pools.rejection(name);
  conditions.push(
    rejection
      ? { type: READY_CONDITION, status: "False", reason: Reason.InvalidPool, message: rejection }
      : { type: READY_CONDITION, status: "True", reason: "Admitted", message: `allocating from ${current.spec.cidr}` },
  );
  if (current.spec.autoAssign && entry) {
    const winner = ctx.pools.autoAssign(entry.type, entry.cidr.family);
    const scope = `${entry.type} ${familyName(entry.cidr.family)}`;
    const priority = entry.allocation?.priority ? `priority ${entry.allocation.priority}` : "no priority: after the pools with one";
    conditions.push(
      entry.allocation
        ? { type: AUTO_ASSIGN_CONDITION, status: "True", reason: "AutoAssign", message: `auto-assigns ${scope} addresses to the Services it serves (${priority}), before the default pool` }
        : winner?.name === name
          ? { type: AUTO_ASSIGN_CONDITION, status: "True", reason: "AutoAssign", message: `the auto-assign pool for ${scope} addresses` }
          : { type: AUTO_ASSIGN_CONDITION, status: "False", reason: Reason.AutoAssignConflict, message: `pool ${winner?.name ?? "?"} is already the auto-assign pool for ${scope} addresses; this one is used only when named (or give one of them serviceAllocation)` },
    );
  }

  if (entry?.type === "service" && !rejection) await ensureServiceBlock(ctx, current);
  await writeStatus(ctx, current, conditions, !current.spec.autoAssign);
}

/** Writes the conditions (and allocation counts) when they differ; Events for new problems. */
async function writeStatus(ctx: Ctx, pool: AddressPool, want: DesiredCondition[], dropAutoAssign: boolean): Promise<void> {
  const name = pool.metadata.name;
  let conditions = pool.status?.conditions;
  let changed = false;
  for (const c of want) {
    const prior = findCondition(conditions, c.type);
    if (sameCondition(prior, { ...c, observedGeneration: prior?.observedGeneration })) continue;
    if (c.status === "False") await warn(ctx, pool, c.reason!, c.message!);
    if (c.type === READY_CONDITION && prior?.status !== c.status) {
      if (c.status === "True") ctx.log("info", `AddressPool ${name}: admitted (${pool.spec.type} ${pool.spec.cidr})`);
      else ctx.log("warn", `AddressPool ${name}: not ready: ${c.reason}: ${c.message}`);
    }
    conditions = setCondition(conditions, c);
    changed = true;
  }
  if (dropAutoAssign && findCondition(conditions, AUTO_ASSIGN_CONDITION)) {
    conditions = removeCondition(conditions, AUTO_ASSIGN_CONDITION);
    changed = true;
  }
  const status: AddressPoolStatus = { conditions };
  const entry = ctx.pools.get(name);
  if (entry) {
    const used = ctx.pools.inUse(entry);
    const free = ctx.pools.free(entry);
    if (pool.status?.inUse !== used || pool.status?.free !== free) {
      status.inUse = used;
      status.free = free;
      changed = true;
    }
    if (entry.type === "service" && pool.status?.allocated?.[name] !== used) {
      status.allocated = { [name]: used };
      changed = true;
    }
  }
  if (!changed) return;
  try {
    ctx.poolObjs.wrote(await ctx.store.patchStatus<AddressPool>("AddressPool", { name }, status));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

async function ensureServiceBlock(ctx: Ctx, pool: AddressPool): Promise<void> {
  const name = pool.metadata.name;
  const existing = ctx.inf.blocks.get({ name });
  const autoAssign = pool.spec.autoAssign === true;
  if (existing) {
    if (existing.spec.poolRef !== name) {
      await warn(ctx, pool, Reason.InvalidPool, `AddressBlock ${name} exists but belongs to pool ${existing.spec.poolRef}`);
      return;
    }
    if (existing.spec.autoAssign !== autoAssign) await ctx.store.patch("AddressBlock", { name }, { spec: { autoAssign } });
    return;
  }
  const block: AddressBlock = {
    apiVersion: API_VERSION,
    kind: "AddressBlock",
    metadata: {
      name,
      labels: { [POOL_LABEL]: name },
      ...(pool.metadata.uid ? { ownerReferences: [{ apiVersion: API_VERSION, kind: "AddressPool", name, uid: pool.metadata.uid, controller: true }] } : {}),
    },
    spec: { cidr: pool.spec.cidr, type: "service", poolRef: name, autoAssign },
  };
  try {
    await ctx.store.create(block);
  } catch (e) {
    if ((e as { reason?: string }).reason !== "AlreadyExists") throw e;
  }
}

async function deleteServiceBlock(ctx: Ctx, name: string): Promise<void> {
  const block = ctx.inf.blocks.get({ name });
  if (block && block.spec.type === "service" && block.spec.poolRef === name) await ctx.store.delete("AddressBlock", { name });
}
