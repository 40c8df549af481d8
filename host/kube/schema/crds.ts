// Our CRDs, embedded: the YAML files of crds/ are imported as text, so Bun runs
// them from the sources and `bun build` inlines them into the Node bundles (no
// path to resolve at run time, in a container or a standalone install).

import yaml from "js-yaml";
import addressblocks from "../../../crds/addressblocks.yaml" with { type: "text" };
import addresspools from "../../../crds/addresspools.yaml" with { type: "text" };
import bfdprofiles from "../../../crds/bfdprofiles.yaml" with { type: "text" };
import bgpadvertisements from "../../../crds/bgpadvertisements.yaml" with { type: "text" };
import bgppeers from "../../../crds/bgppeers.yaml" with { type: "text" };
import bgppeertemplates from "../../../crds/bgppeertemplates.yaml" with { type: "text" };
import blockrequests from "../../../crds/blockrequests.yaml" with { type: "text" };
import clusterbgps from "../../../crds/clusterbgps.yaml" with { type: "text" };
import nodebgps from "../../../crds/nodebgps.yaml" with { type: "text" };
import type { JSONSchemaProps } from "./openapi.ts";

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

export interface CRDVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: JSONSchemaProps };
  subresources?: { status?: Record<string, never>; scale?: unknown };
  additionalPrinterColumns?: PrinterColumn[];
}

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; [k: string]: unknown };
  spec: {
    group: string;
    names: { kind: string; plural: string; singular?: string; listKind?: string; shortNames?: string[]; categories?: string[] };
    scope: "Cluster" | "Namespaced";
    versions: CRDVersion[];
  };
}

/** File name (under crds/) -> text. */
export const CRD_FILES: Readonly<Record<string, string>> = {
  "addresspools.yaml": addresspools,
  "addressblocks.yaml": addressblocks,
  "blockrequests.yaml": blockrequests,
  "clusterbgps.yaml": clusterbgps,
  "nodebgps.yaml": nodebgps,
  "bgppeers.yaml": bgppeers,
  "bgppeertemplates.yaml": bgppeertemplates,
  "bgpadvertisements.yaml": bgpadvertisements,
  "bfdprofiles.yaml": bfdprofiles,
};

/** Parses one CRD document; `source` names it in errors. */
export function parseCRD(text: string, source: string): CustomResourceDefinition {
  const doc = yaml.load(text, { filename: source }) as CustomResourceDefinition | undefined;
  if (!doc || doc.kind !== "CustomResourceDefinition" || doc.apiVersion !== "apiextensions.k8s.io/v1") {
    throw new Error(`${source}: not an apiextensions.k8s.io/v1 CustomResourceDefinition`);
  }
  const { group, names } = doc.spec ?? {};
  if (!group || !names?.kind || !names.plural || doc.metadata?.name !== `${names.plural}.${group}`) {
    throw new Error(`${source}: metadata.name must be <plural>.<group> and spec.group/names.kind/names.plural set`);
  }
  return doc;
}

let embedded: Map<string, CustomResourceDefinition> | undefined;

/** Every embedded CRD by kind. */
export function embeddedCRDs(): ReadonlyMap<string, CustomResourceDefinition> {
  if (!embedded) {
    embedded = new Map();
    for (const [file, text] of Object.entries(CRD_FILES)) {
      const crd = parseCRD(text, `crds/${file}`);
      embedded.set(crd.spec.names.kind, crd);
    }
  }
  return embedded;
}
