// crds/*.yaml against the TypeScript side: the field descriptors the types are
// inferred from (SHAPES in host/kube/types.ts), the KINDS table, the printer
// columns of SART-COMPAT.md, and the schema subset host/kube/schema supports.

import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { CRD_FILES, type CustomResourceDefinition, type JSONSchemaProps, compileCRD, crdFor, parseCRD } from "../../host/kube/schema/index.ts";
import type { ObjectShape, Shape } from "../../host/kube/schema/shape.ts";
import { API_VERSION, CUSTOM_KINDS, GROUP, KINDS, SHAPES, VERSION } from "../../host/kube/types.ts";

const CRD_DIR = join(import.meta.dir, "../../crds");

/** Differences between a descriptor and a schema, both ways, as readable lines. */
function compareShape(shape: Shape, schema: JSONSchemaProps, path: string, out: string[]): void {
  const want = shape.type === "map" ? "object" : shape.type;
  if (schema.type !== want) {
    out.push(`${path}: types.ts says ${shape.type}, CRD says ${schema.type}`);
    return;
  }
  switch (shape.type) {
    case "string": {
      const a = [...(shape.enum ?? [])].sort();
      const b = [...((schema.enum as string[] | undefined) ?? [])].sort();
      if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path}: enum ${JSON.stringify(a)} in types.ts, ${JSON.stringify(b)} in CRD`);
      return;
    }
    case "array":
      if (!schema.items) out.push(`${path}: CRD array without items`);
      else compareShape(shape.items, schema.items, `${path}[]`, out);
      return;
    case "map":
      if (typeof schema.additionalProperties !== "object" || schema.properties) {
        out.push(`${path}: types.ts says map, CRD has no additionalProperties schema`);
      } else {
        compareShape(shape.values, schema.additionalProperties, `${path}[*]`, out);
      }
      return;
    case "object": {
      const props = (shape as ObjectShape).properties;
      const schemaProps = schema.properties ?? {};
      for (const name of Object.keys(props)) if (!(name in schemaProps)) out.push(`${path}.${name}: in types.ts, not in CRD`);
      for (const name of Object.keys(schemaProps)) if (!(name in props)) out.push(`${path}.${name}: in CRD, not in types.ts`);
      const required = Object.keys(props).filter((n) => props[n]!.required).sort();
      const crdRequired = [...(schema.required ?? [])].sort();
      if (JSON.stringify(required) !== JSON.stringify(crdRequired)) {
        out.push(`${path}: required ${JSON.stringify(required)} in types.ts, ${JSON.stringify(crdRequired)} in CRD`);
      }
      for (const [name, prop] of Object.entries(props)) {
        if (schemaProps[name]) compareShape(prop.shape, schemaProps[name]!, `${path}.${name}`, out);
      }
      return;
    }
  }
}

function schemaOf(crd: CustomResourceDefinition): JSONSchemaProps {
  return crd.spec.versions.find((v) => v.name === VERSION)!.schema.openAPIV3Schema;
}

// SART-COMPAT.md, "Printer columns" (every kind also ends with AGE, as in the original).
const PRINTER_COLUMNS: Record<string, [string, string][]> = {
  AddressPool: [
    ["CIDR", ".spec.cidr"],
    ["TYPE", ".spec.type"],
    ["BLOCKSIZE", ".spec.blockSize"],
    ["AUTO", ".spec.autoAssign"],
    // sart's additions (the original's columns keep their order; AGE stays last).
    ["READY", '.status.conditions[?(@.type=="Ready")].status'],
    ["IN USE", ".status.inUse"],
    ["FREE", ".status.free"],
  ],
  AddressBlock: [
    ["CIDR", ".spec.cidr"],
    ["TYPE", ".spec.type"],
    ["POOLREF", ".spec.poolRef"],
    ["NODEREF", ".spec.nodeRef"],
  ],
  BGPPeer: [
    ["ASN", ".spec.asn"],
    ["ADDRESS", ".spec.addr"],
    ["NODEBGP", ".spec.nodeBGPRef"],
    ["CLUSTERBGP", ".spec.clusterBGPRef"],
    ["BACKOFF", ".status.backoff"],
    ["STATUS", ".status.conditions[-1:].status"],
  ],
  NodeBGP: [
    ["ASN", ".spec.asn"],
    ["ROUTERID", ".spec.routerId"],
    ["BACKOFF", ".status.backoff"],
    ["STATUS", ".status.conditions[-1:].status"],
  ],
  BGPAdvertisement: [
    ["CIDR", ".spec.cidr"],
    ["TYPE", ".spec.type"],
    ["PROTOCOL", ".spec.protocol"],
  ],
  BlockRequest: [
    ["POOL", ".spec.pool"],
    ["NODE", ".spec.node"],
  ],
  ClusterBGP: [],
  BGPPeerTemplate: [],
  BFDProfile: [
    ["RECEIVE", ".spec.receiveInterval"],
    ["TRANSMIT", ".spec.transmitInterval"],
    ["MULTIPLIER", ".spec.detectMultiplier"],
  ],
};

describe("crds/", () => {
  const files = readdirSync(CRD_DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");

  test("one file per custom kind, named after its plural, all embedded and in kustomization.yaml", () => {
    expect(files.sort()).toEqual(CUSTOM_KINDS.map((k) => `${KINDS[k].plural}.yaml`).sort());
    expect(Object.keys(CRD_FILES).sort()).toEqual(files);
    for (const f of files) expect(CRD_FILES[f]).toBe(readFileSync(join(CRD_DIR, f), "utf8"));
    const kustomization = yaml.load(readFileSync(join(CRD_DIR, "kustomization.yaml"), "utf8")) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(files);
  });

  for (const kind of CUSTOM_KINDS) {
    describe(kind, () => {
      const info = KINDS[kind];
      const file = `${info.plural}.yaml`;
      const crd = parseCRD(readFileSync(join(CRD_DIR, file), "utf8"), file);

      test("names, group, scope and status subresource agree with the KINDS table", () => {
        expect(crd.metadata.name).toBe(`${info.plural}.${GROUP}`);
        expect(crd.spec.group).toBe(GROUP);
        expect(info.apiVersion).toBe(API_VERSION);
        expect(crd.spec.names.kind).toBe(kind);
        expect(crd.spec.names.plural).toBe(info.plural);
        expect(crd.spec.names.singular).toBe(kind.toLowerCase());
        expect(crd.spec.names.listKind).toBe(`${kind}List`);
        expect(crd.spec.scope).toBe(info.namespaced ? "Namespaced" : "Cluster");
        expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([[VERSION, true, true]]);
        expect(crd.spec.versions[0]!.subresources?.status).toEqual(info.hasStatus ? {} : undefined);
      });

      test("spec and status fields match types.ts both ways (names, types, required, enums)", () => {
        const schema = schemaOf(crd);
        const problems: string[] = [];
        expect(schema.type).toBe("object");
        expect(schema.required).toEqual(["spec"]);
        expect(Object.keys(schema.properties ?? {}).sort()).toEqual(["apiVersion", "kind", "metadata", "spec", "status"]);
        compareShape(SHAPES[kind].spec, schema.properties!.spec!, "spec", problems);
        compareShape(SHAPES[kind].status, schema.properties!.status!, "status", problems);
        expect(problems).toEqual([]);
      });

      test("printer columns as SART-COMPAT.md lists them, then AGE", () => {
        const columns = crd.spec.versions[0]!.additionalPrinterColumns ?? [];
        expect(columns.map((c) => [c.name, c.jsonPath])).toEqual([...PRINTER_COLUMNS[kind]!, ["AGE", ".metadata.creationTimestamp"]]);
        expect(columns.at(-1)!.type).toBe("date");
      });

      test("every schema keyword, format and CEL rule is in the validator's subset", () => {
        expect(() => compileCRD(crd)).not.toThrow();
        expect(crdFor(kind).metadata.name).toBe(crd.metadata.name);
      });

      test("CEL rules only read strings with a maxLength (the API server's cost budget needs bounds)", () => {
        // Kubernetes refuses CRDs whose estimated rule cost is unbounded; every string a
        // cidr()/isCIDR()/isIP() rule or a matches() reads has a maxLength.
        const unbounded: string[] = [];
        const walk = (s: JSONSchemaProps, path: string) => {
          for (const r of s["x-kubernetes-validations"] ?? []) {
            const reads = [...r.rule.matchAll(/(?:isCIDR|cidr|isIP|ip)\((self(?:\.[A-Za-z]+)*)\)/g), ...r.rule.matchAll(/(self(?:\.[A-Za-z]+)*)\.matches\(/g)];
            for (const m of reads) {
              let target: JSONSchemaProps | undefined = s;
              for (const key of m[1]!.split(".").slice(1)) target = target?.properties?.[key];
              if (target?.type !== "string" || target.maxLength === undefined) unbounded.push(`${path}: ${m[0]}`);
            }
          }
          for (const [k, sub] of Object.entries(s.properties ?? {})) walk(sub, `${path}.${k}`);
          if (s.items) walk(s.items, `${path}[]`);
          if (typeof s.additionalProperties === "object") walk(s.additionalProperties, `${path}[*]`);
        };
        walk(schemaOf(crd), "");
        expect(unbounded).toEqual([]);
      });
    });
  }

  test("the peer session options have one schema in BGPPeer, BGPPeerTemplate, ClusterBGP peerConfig and NodeBGP peers", () => {
    const options = ["holdTime", "keepaliveTime", "ebgpMultihop", "sourceAddress", "connectRetryTime", "passwordSecret", "bfdProfile", "families"];
    const pick = (props: Record<string, JSONSchemaProps>) => Object.fromEntries(options.map((o) => [o, props[o]]));
    const spec = (kind: (typeof CUSTOM_KINDS)[number]) => schemaOf(crdFor(kind)).properties!.spec!;
    const peer = pick(spec("BGPPeer").properties!);
    expect(Object.values(peer).every(Boolean)).toBe(true);
    expect(pick(spec("BGPPeerTemplate").properties!)).toEqual(peer);
    expect(pick(spec("ClusterBGP").properties!.peers!.items!.properties!.peerConfig!.properties!)).toEqual(peer);
    expect(pick(spec("NodeBGP").properties!.peers!.items!.properties!.spec!.properties!)).toEqual(peer);
  });

  test("the comparison reports a field added to one side only, a type change and a required change", () => {
    const schema = structuredClone(schemaOf(crdFor("AddressPool")).properties!.spec!);
    schema.properties!.extra = { type: "string" };
    delete schema.properties!.autoAssign;
    schema.properties!.blockSize!.type = "string";
    schema.required = ["cidr"];
    const problems: string[] = [];
    compareShape(SHAPES.AddressPool.spec, schema, "spec", problems);
    expect(problems.sort()).toEqual([
      "spec.autoAssign: in types.ts, not in CRD",
      "spec.blockSize: types.ts says integer, CRD says string",
      "spec.extra: in CRD, not in types.ts",
      'spec: required ["cidr","type"] in types.ts, ["cidr"] in CRD',
    ]);
  });

  test("an unsupported CEL expression or schema keyword is refused, not skipped", () => {
    const base = crdFor("AddressPool");
    const withRule = (rule: string) => {
      const crd = structuredClone(base);
      schemaOf(crd).properties!.spec!["x-kubernetes-validations"] = [{ rule }];
      return crd;
    };
    expect(() => compileCRD(withRule("self.all(x, x > 0)"))).toThrow(/unsupported method all\(\)/);
    expect(() => compileCRD(withRule("self.blockSize * 2 > 3"))).toThrow(/unsupported character "\*"/);
    expect(() => compileCRD(withRule("quantity(self.cidr) > 0"))).toThrow(/unsupported function quantity\(\)/);
    expect(() => compileCRD(withRule("!has(self.blockSise) || self.blockSise > 0"))).toThrow(/selects self.blockSise, which the schema does not declare/);
    expect(() => compileCRD(withRule("self.cidr.size() > 0 && has(self.allocType)"))).not.toThrow();
    const withKeyword = structuredClone(base);
    (schemaOf(withKeyword).properties!.spec! as Record<string, unknown>).oneOf = [{ required: ["cidr"] }];
    expect(() => compileCRD(withKeyword)).toThrow(/schema keyword oneOf is not supported/);
  });
});
