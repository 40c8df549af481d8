// The CustomResourceDefinitions a new server starts with: the repository's crds/*.yaml when they
// exist, plus a minimal schema-less definition for every sart kind no file defines, so tests can
// create sart objects before (or without) the real CRD files.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";

export const SART_GROUP = "sart.terassyi.net";
export const SART_VERSION = "v1alpha2";

export const SART_KINDS: ReadonlyArray<{ kind: string; plural: string; namespaced: boolean }> = [
  { kind: "AddressPool", plural: "addresspools", namespaced: false },
  { kind: "AddressBlock", plural: "addressblocks", namespaced: false },
  { kind: "BlockRequest", plural: "blockrequests", namespaced: false },
  { kind: "ClusterBGP", plural: "clusterbgps", namespaced: false },
  { kind: "NodeBGP", plural: "nodebgps", namespaced: false },
  { kind: "BGPPeer", plural: "bgppeers", namespaced: false },
  { kind: "BGPPeerTemplate", plural: "bgppeertemplates", namespaced: false },
  { kind: "BGPAdvertisement", plural: "bgpadvertisements", namespaced: true },
];

/** The repository's crds/ directory (tests/kube/apiserver -> ../../../crds). */
export const REPO_CRD_DIR = new URL("../../../crds/", import.meta.url).pathname;

/** Every CustomResourceDefinition document in the *.yaml / *.yml files of `dir` (not recursive). */
export function readCrdFiles(dir: string): any[] {
  if (!existsSync(dir)) return [];
  const out: any[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!/\.ya?ml$/.test(f)) continue;
    const path = join(dir, f);
    let docs: unknown[];
    try {
      docs = yaml.loadAll(readFileSync(path, "utf8"));
    } catch (e) {
      throw new Error(`test apiserver: cannot parse ${path}: ${(e as Error).message}`);
    }
    for (const d of docs) if (d && typeof d === "object" && (d as any).kind === "CustomResourceDefinition") out.push(d);
  }
  return out;
}

export function minimalSartCrd(k: { kind: string; plural: string; namespaced: boolean }): any {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${k.plural}.${SART_GROUP}`, annotations: { "sart.terassyi.net/test-apiserver": "minimal CRD: no crds/*.yaml defined this kind" } },
    spec: {
      group: SART_GROUP,
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.kind.toLowerCase() },
      scope: k.namespaced ? "Namespaced" : "Cluster",
      versions: [{ name: SART_VERSION, served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
    },
  };
}

/** The CRDs to install at start: files first, then minimal ones for the sart kinds still missing. */
export function startupCrds(dirs: string[], withSartFallback: boolean): any[] {
  const crds = dirs.flatMap(readCrdFiles);
  if (withSartFallback) {
    const have = new Set(crds.map((c) => `${c.spec?.group}/${c.spec?.names?.kind}`));
    for (const k of SART_KINDS) if (!have.has(`${SART_GROUP}/${k.kind}`)) crds.push(minimalSartCrd(k));
  }
  return crds;
}
