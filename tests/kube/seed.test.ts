// The original project's manifests must be accepted unchanged by our CRDs: no
// errors, and no unknown fields pruned (kubectl's strict field validation would
// refuse them). They are kept byte for byte in crds/samples/, and
// tests/fixtures/seed-manifests.sha256 records the originals' digests, so every
// clone checks that the copies were not edited.

import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { admit, crdFor, validate } from "../../host/kube/schema/index.ts";
import { API_VERSION, KINDS, poolBlockSize } from "../../host/kube/types.ts";

const SAMPLES = join(import.meta.dir, "../../crds/samples");
const DIGESTS = join(import.meta.dir, "../fixtures/seed-manifests.sha256");

interface Doc {
  file: string;
  obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> };
}

function loadSeed(dir: string): Doc[] {
  const docs: Doc[] = [];
  for (const sub of ["cni", "lb"]) {
    for (const f of readdirSync(join(dir, sub)).sort()) {
      if (!f.endsWith(".yaml") || f === "kustomization.yaml") continue;
      for (const obj of yaml.loadAll(readFileSync(join(dir, sub, f), "utf8"))) {
        if (obj) docs.push({ file: `${sub}/${f}`, obj: obj as Doc["obj"] });
      }
    }
  }
  return docs;
}

describe("seed manifests (crds/samples)", () => {
  const docs = loadSeed(SAMPLES);
  const ours = docs.filter((d) => d.obj.apiVersion === API_VERSION);

  test("the seed has objects of our kinds (the loader found them)", () => {
    const kinds = new Set(ours.map((d) => d.obj.kind));
    expect([...kinds].sort()).toEqual(["AddressPool", "BGPPeer", "BGPPeerTemplate", "ClusterBGP"]);
    expect(ours.length).toBe(15);
  });

  test("every object of our kinds validates with zero errors and no unknown fields", () => {
    const problems: string[] = [];
    for (const { file, obj } of ours) {
      const { errors, unknownFields } = admit(obj, crdFor(obj.kind));
      for (const e of errors) problems.push(`${file} ${obj.kind}/${obj.metadata.name}: ${e.message}`);
      for (const f of unknownFields) problems.push(`${file} ${obj.kind}/${obj.metadata.name}: unknown field ${f}`);
    }
    expect(problems).toEqual([]);
  });

  test("re-applying every object unchanged is a valid update (immutability rules pass)", () => {
    for (const { obj } of ours) expect(validate(obj, crdFor(obj.kind), obj)).toEqual([]);
  });

  test("every core kind in the seed is one the KINDS table knows, or a workload sart does not read", () => {
    const other = docs.filter((d) => d.obj.apiVersion !== API_VERSION);
    const unknown = other.filter(
      (d) => !(d.obj.kind in KINDS && KINDS[d.obj.kind as keyof typeof KINDS].apiVersion === d.obj.apiVersion) && d.obj.kind !== "Deployment",
    );
    expect(unknown.map((d) => `${d.file} ${d.obj.apiVersion} ${d.obj.kind}`)).toEqual([]);
  });

  test("defaults: the lb pool without blockSize gets allocType bit and its prefix length as block size", () => {
    const pool = ours.find((d) => d.obj.kind === "AddressPool" && d.obj.metadata.name === "default-lb-pool")!.obj;
    expect(pool.spec!.blockSize).toBeUndefined();
    const { object } = admit<{ spec: { cidr: string; blockSize?: number; allocType: string; autoAssign: boolean } }>(pool, crdFor("AddressPool"));
    expect(object.spec.allocType).toBe("bit");
    expect(object.spec.autoAssign).toBe(true);
    expect(poolBlockSize(object.spec)).toBe(24);
  });
});

test("crds/samples/cni and lb are the original project's files byte for byte (recorded SHA-256)", () => {
  const recorded = new Map<string, string>();
  for (const line of readFileSync(DIGESTS, "utf8").split("\n")) {
    const m = /^([0-9a-f]{64})  (\S+)$/.exec(line);
    if (m) recorded.set(m[2], m[1]);
  }
  const actual = new Map<string, string>();
  for (const sub of ["cni", "lb"]) {
    for (const f of readdirSync(join(SAMPLES, sub))) {
      actual.set(`${sub}/${f}`, createHash("sha256").update(readFileSync(join(SAMPLES, sub, f))).digest("hex"));
    }
  }
  expect(recorded.size).toBe(23);
  expect([...actual.entries()].sort()).toEqual([...recorded.entries()].sort());
});
