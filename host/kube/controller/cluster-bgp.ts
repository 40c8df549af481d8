// ClusterBGP -> NodeBGP (one per selected Node, named after it) and BGPPeers. A NodeBGP's
// desired state comes from every ClusterBGP selecting its node (the oldest one gives ASN,
// router ID and speaker), so reconciling any of them writes the same thing. BGPPeers come from
// BGPPeerTemplates (`peerTemplateRef`, overridden by `peerConfig`) or inline `peerConfig`,
// named `{template}-{node}-{asn}-{addr}` (`{node}-{asn}-{addr}` without a template) as the
// original names them, labelled bgppeer.sart.terassyi.net/node.
import { isAlreadyExists, isNotFound } from "../store.ts";
import type { BGPPeer, BGPPeerSpec, BGPPeerTemplate, ClusterBGP, Node, NodeBGP, NodeBGPPeer, NodeBGPSpec, PeerTemplateFields } from "../types.ts";
import { type Ctx, setFinalizer, warn } from "./context.ts";
import { canonicalIp } from "./ip.ts";
import { API_VERSION, CLUSTER_BGP_FINALIZER, NODE_ASN_LABEL, NODE_ROUTER_ID_LABEL, PEER_NODE_LABEL, Reason } from "./names.ts";
import type { ReconcileResult } from "./queue.ts";

export function matchesSelector(labels: Record<string, string> | undefined, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return Object.entries(selector).every(([k, v]) => l[k] === v);
}

export function nodeAsn(node: Node, cb: ClusterBGP): number {
  const sel = cb.spec.asnSelector;
  if (sel.from === "asn") {
    if (sel.asn === undefined || sel.asn === null) throw new Error("asnSelector.from is asn but asnSelector.asn is not set");
    return sel.asn;
  }
  const text = node.metadata.labels?.[NODE_ASN_LABEL];
  if (text === undefined) throw new Error(`node ${node.metadata.name} has no label ${NODE_ASN_LABEL}`);
  const asn = Number(text);
  if (!/^[0-9]+$/.test(text) || asn < 1 || asn > 4294967295) throw new Error(`node ${node.metadata.name}: label ${NODE_ASN_LABEL}=${JSON.stringify(text)} is not an ASN`);
  return asn;
}

function ipv4(text: string | undefined, what: string): string {
  const ip = text === undefined ? undefined : canonicalIp(text);
  if (!ip || ip.includes(":")) throw new Error(`${what}=${JSON.stringify(text)} is not an IPv4 address (a BGP router ID is one)`);
  return ip;
}

export function nodeRouterId(node: Node, cb: ClusterBGP): string {
  const sel = cb.spec.routerIdSelector;
  const n = node.metadata.name;
  if (sel.from === "routerId") return ipv4(sel.routerId, "routerIdSelector.routerId");
  if (sel.from === "label") return ipv4(node.metadata.labels?.[NODE_ROUTER_ID_LABEL], `node ${n} label ${NODE_ROUTER_ID_LABEL}`);
  const internal = node.status?.addresses?.filter((a) => a.type === "InternalIP") ?? [];
  const v4 = internal.find((a) => canonicalIp(a.address) && !a.address.includes(":"));
  if (!v4) throw new Error(`node ${n} has no IPv4 InternalIP in status.addresses`);
  return ipv4(v4.address, `node ${n} InternalIP`);
}

/** The peers one ClusterBGP gives a node. Throws naming a missing template. */
export function peersFor(cb: ClusterBGP, node: Node, templates: (name: string) => BGPPeerTemplate | undefined): NodeBGPPeer[] {
  const out: NodeBGPPeer[] = [];
  const nodeName = node.metadata.name;
  for (const p of cb.spec.peers ?? []) {
    if (!matchesSelector(node.metadata.labels, p.nodeBGPSelector)) continue;
    const fields: PeerTemplateFields = {};
    if (p.peerTemplateRef) {
      const t = templates(p.peerTemplateRef);
      if (!t) throw new Error(`BGPPeerTemplate ${p.peerTemplateRef} does not exist`);
      Object.assign(fields, definedOnly(t.spec));
    }
    if (p.peerConfig) Object.assign(fields, definedOnly(p.peerConfig));
    if (!fields.asn || !fields.addr) throw new Error(`a peer of node ${nodeName} has no ${!fields.asn ? "asn" : "addr"} (template ${p.peerTemplateRef ?? "none"})`);
    const addr = fields.addr.replaceAll(":", "-");
    const name = p.peerTemplateRef ? `${p.peerTemplateRef}-${nodeName}-${fields.asn}-${addr}` : `${nodeName}-${fields.asn}-${addr}`;
    // Every template field (the session options included) carries over; the ClusterBGP adds the rest.
    const { asn, addr: address, ...options } = fields;
    out.push({ name, spec: { asn, addr: address, ...options, nodeBGPRef: nodeName, clusterBGPRef: cb.metadata.name, speaker: cb.spec.speaker } });
  }
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

function olderFirst(a: ClusterBGP, b: ClusterBGP): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  return ta !== tb ? (ta < tb ? -1 : 1) : a.metadata.name < b.metadata.name ? -1 : 1;
}

function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
}

/**
 * Reconciles every NodeBGP and BGPPeer a ClusterBGP touches. Problems with one node (no ASN
 * label, a missing template) are reported as Events on the ClusterBGP and skip that node only.
 */
export async function reconcileClusterBgp(ctx: Ctx, name: string): Promise<ReconcileResult> {
  const cb = ctx.inf.clusterBgps.get({ name });
  if (cb && !cb.metadata.deletionTimestamp && !cb.metadata.finalizers?.includes(CLUSTER_BGP_FINALIZER)) {
    if (!(await setFinalizer(ctx, "ClusterBGP", cb, CLUSTER_BGP_FINALIZER, true))) return;
  }
  const live = ctx.inf.clusterBgps.list().filter((c) => !c.metadata.deletionTimestamp).sort(olderFirst);
  const templates = (t: string) => ctx.inf.templates.get({ name: t });

  // Desired NodeBGPs and BGPPeers of every node any live ClusterBGP selects.
  const wantNodes = new Map<string, { spec: NodeBGPSpec; owners: ClusterBGP[]; labels?: Record<string, string> }>();
  const problems: { cb: ClusterBGP; message: string }[] = [];
  // Nodes with a problem keep what they have (a missing label must not tear down sessions).
  const untouched = new Set<string>();
  for (const node of ctx.inf.nodes.list()) {
    const selecting = live.filter((c) => matchesSelector(node.metadata.labels, c.spec.nodeSelector));
    if (!selecting.length) continue;
    const first = selecting[0];
    try {
      const peers: NodeBGPPeer[] = [];
      for (const c of selecting) {
        try {
          peers.push(...peersFor(c, node, templates));
        } catch (e) {
          problems.push({ cb: c, message: (e as Error).message });
          untouched.add(node.metadata.name);
        }
      }
      const seen = new Set<string>();
      const unique = peers.filter((p) => !seen.has(p.name) && seen.add(p.name));
      wantNodes.set(node.metadata.name, {
        spec: { asn: nodeAsn(node, first), routerId: nodeRouterId(node, first), speaker: first.spec.speaker, ...(unique.length ? { peers: unique } : {}) },
        owners: selecting,
        labels: node.metadata.labels,
      });
    } catch (e) {
      problems.push({ cb: first, message: (e as Error).message });
      untouched.add(node.metadata.name);
    }
  }
  for (const p of problems) if (!cb || p.cb.metadata.name === name) await warn(ctx, p.cb, Reason.InvalidNode, p.message);

  for (const n of untouched) wantNodes.delete(n);
  for (const [nodeName, want] of wantNodes) await applyNodeBgp(ctx, nodeName, want.spec, want.owners, want.labels);

  // BGPPeers: create or update the wanted ones, delete ours that nobody wants any more.
  const wantPeers = new Map<string, BGPPeerSpec>();
  for (const w of wantNodes.values()) for (const p of w.spec.peers ?? []) wantPeers.set(p.name, p.spec);
  for (const [peerName, spec] of wantPeers) await applyPeer(ctx, peerName, spec, live.find((c) => c.metadata.name === spec.clusterBGPRef));
  for (const peer of ctx.inf.peers.list()) {
    const ref = peer.spec.clusterBGPRef;
    if (ref && !wantPeers.has(peer.metadata.name) && !untouched.has(peer.spec.nodeBGPRef) && !peer.metadata.deletionTimestamp) await ctx.store.delete("BGPPeer", { name: peer.metadata.name });
  }
  // NodeBGPs made by a ClusterBGP for nodes no ClusterBGP selects any more.
  for (const nb of ctx.inf.nodeBgps.list()) {
    const ours = nb.metadata.ownerReferences?.some((o) => o.kind === "ClusterBGP");
    if (ours && !wantNodes.has(nb.metadata.name) && !untouched.has(nb.metadata.name) && !nb.metadata.deletionTimestamp) await ctx.store.delete("NodeBGP", { name: nb.metadata.name });
  }

  if (cb && !cb.metadata.deletionTimestamp) {
    const nodes = [...wantNodes.entries()].filter(([, w]) => w.owners.some((o) => o.metadata.name === name)).map(([n]) => n).sort();
    const status = { desiredNodes: nodes, nodes: nodes.filter((n) => ctx.inf.nodeBgps.get({ name: n })) };
    if (stable(status) !== stable({ desiredNodes: cb.status?.desiredNodes ?? [], nodes: cb.status?.nodes ?? [] })) {
      try {
        await ctx.store.patchStatus("ClusterBGP", { name }, status);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }
  if (cb?.metadata.deletionTimestamp) await setFinalizer(ctx, "ClusterBGP", cb, CLUSTER_BGP_FINALIZER, false);
}

/** A new NodeBGP carries its Node's labels, as the original's do. */
async function applyNodeBgp(ctx: Ctx, nodeName: string, spec: NodeBGPSpec, owners: ClusterBGP[], labels?: Record<string, string>): Promise<void> {
  const ownerReferences = owners
    .filter((o) => o.metadata.uid)
    .map((o) => ({ apiVersion: API_VERSION, kind: "ClusterBGP", name: o.metadata.name, uid: o.metadata.uid! }));
  const existing = ctx.inf.nodeBgps.get({ name: nodeName });
  if (!existing) {
    const metadata = { name: nodeName, ...(labels ? { labels: { ...labels } } : {}), ...(ownerReferences.length ? { ownerReferences } : {}) };
    const nb: NodeBGP = { apiVersion: API_VERSION, kind: "NodeBGP", metadata, spec };
    try {
      await ctx.store.create(nb);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    return;
  }
  const sameSpec = stable(existing.spec) === stable(spec);
  const sameOwners = stable(existing.metadata.ownerReferences ?? []) === stable(ownerReferences);
  if (sameSpec && sameOwners) return;
  // Merge patch replaces lists whole: peers and ownerReferences are written complete.
  await ctx.store.patch("NodeBGP", { name: nodeName }, {
    metadata: { ownerReferences: ownerReferences.length ? ownerReferences : null },
    spec: { ...spec, peers: spec.peers ?? null },
  });
}

async function applyPeer(ctx: Ctx, name: string, spec: BGPPeerSpec, owner: ClusterBGP | undefined): Promise<void> {
  const labels = { [PEER_NODE_LABEL]: spec.nodeBGPRef };
  const existing = ctx.inf.peers.get({ name });
  if (!existing) {
    const peer: BGPPeer = {
      apiVersion: API_VERSION,
      kind: "BGPPeer",
      metadata: {
        name,
        labels,
        ...(owner?.metadata.uid ? { ownerReferences: [{ apiVersion: API_VERSION, kind: "ClusterBGP", name: owner.metadata.name, uid: owner.metadata.uid }] } : {}),
      },
      spec,
    };
    try {
      await ctx.store.create(peer);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    return;
  }
  if (stable(existing.spec) === stable(spec) && existing.metadata.labels?.[PEER_NODE_LABEL] === spec.nodeBGPRef) return;
  const cleared = Object.fromEntries(Object.keys(existing.spec).filter((k) => !(k in spec)).map((k) => [k, null]));
  await ctx.store.patch("BGPPeer", { name }, { metadata: { labels }, spec: { ...cleared, ...spec } });
}
