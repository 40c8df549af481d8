// The layout rule: host/cli is the top of the program (it parses flags and starts
// things); no other room of host/ imports it. A library two commands share (the capture
// readers, once in cli/) lives in its own room. Walks every import in host/, so rooms
// added later (agent, cni, bfd, ...) are held to it too.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const HOST = resolve(import.meta.dir, "..", "..", "host");

/** Every module specifier a TypeScript source imports or re-exports, static or dynamic. */
export function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [/\b(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']/g, /\bimport\s*["']([^"']+)["']/g, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

/** [importer, imported] for every relative import in host/, both as paths relative to host/. */
function importEdges(): [string, string][] {
  const edges: [string, string][] = [];
  for (const file of sources(HOST)) {
    for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
      if (!spec.startsWith(".")) continue;
      edges.push([relative(HOST, file), relative(HOST, resolve(dirname(file), spec))]);
    }
  }
  return edges;
}

const roomOf = (path: string) => path.split("/")[0];

test("the import scanner sees static, re-exported, side-effect and dynamic imports", () => {
  const src = `import { a } from "../cli/x.ts";\nimport type {\n  B,\n} from './y.ts';\nexport { c } from "../cli/z.ts";\nimport "./side.ts";\nconst m = await import("./lazy.ts");`;
  expect(importSpecifiers(src).sort()).toEqual(["../cli/x.ts", "../cli/z.ts", "./lazy.ts", "./side.ts", "./y.ts"]);
});

test("no room of host/ imports host/cli (the capture readers live in host/capture)", () => {
  const edges = importEdges();
  // The walk reads the real tree: the inspector's and decode's use of host/capture is among the edges.
  expect(edges).toContainEqual(["inspector/input.ts", "capture/bgp-capture.ts"]);
  expect(edges).toContainEqual(["cli/decode.ts", "capture/bgp-capture.ts"]);
  const intoCli = edges.filter(([from, to]) => roomOf(from) !== "cli" && roomOf(to) === "cli");
  expect(intoCli).toEqual([]);
  expect(readdirSync(join(HOST, "cli")).filter((f) => /^(pcap|packets|tcp-flows|bgp-capture)\.ts$/.test(f))).toEqual([]);
});
