// The CustomResourceDefinitions a new server starts with: the repository's crds/*.yaml, or the
// definitions in other directories a test names.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";

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
