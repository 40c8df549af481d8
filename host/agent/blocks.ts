// This node's pod AddressBlocks (label addressblock.sart.terassyi.net/node) -> one
// route each, the whole block, to every peer of the node: the routers reach the
// node's pods through it. A block that goes (or leaves the node) is withdrawn.
import type { Informer } from "../kube/store.ts";
import type { AddressBlock } from "../kube/types.ts";
import type { OriginatedRoutes } from "./routes.ts";

const OWNER = "AddressBlock/";

export class PodBlocks {
  /** Block name -> the prefix it originates. */
  private readonly applied = new Map<string, string>();

  constructor(
    private readonly informer: Informer<AddressBlock>,
    private readonly routes: OriginatedRoutes,
    private readonly node: string,
  ) {}

  reconcile(name: string): void {
    const b = this.informer.get({ name });
    const prev = this.applied.get(name);
    const want = b && !b.metadata.deletionTimestamp && b.spec.type === "pod" && (b.spec.nodeRef ?? this.node) === this.node ? b.spec.cidr : undefined;
    if (prev && prev !== want) this.routes.remove(OWNER + name, prev);
    if (want) {
      this.routes.set(OWNER + name, want, { targets: "all", communities: [] });
      this.applied.set(name, want);
    } else {
      this.applied.delete(name);
    }
  }

  reconcileAll(): void {
    const names = new Set([...this.applied.keys(), ...this.informer.list().map((b) => b.metadata.name)]);
    for (const n of names) this.reconcile(n);
  }

  get originated(): number {
    return this.applied.size;
  }
}
