// The user docs (docs/) stay true to the code: the speaker reference's example is a valid
// config and names every field the parser accepts, the API reference names every metric,
// the CLI reference every capability name, and relative links point at files that exist.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { checkConfig } from "../../host/bgp/config.ts";
import { CAPABILITY_NAMES } from "../../host/core/codec-names.ts";
import yaml from "js-yaml";

const ROOT = resolve(import.meta.dir, "..", "..");
const doc = (name: string) => readFileSync(join(ROOT, "docs", name), "utf8");

/** The fields the parser accepts at `path`, from its "unknown field (known: ...)" error. */
function knownFields(config: Record<string, unknown>): string[] {
  try {
    checkConfig(config, "probe");
  } catch (e) {
    const m = /unknown field \(known: ([^)]+)\)/.exec((e as Error).message);
    if (m) return m[1].split(", ");
    throw e;
  }
  throw new Error("the probe config was accepted");
}

test("docs/speaker.md: the example parses, and every field the parser knows has a row", () => {
  const text = doc("speaker.md");
  const example = /## Example\n\n```yaml\n([\s\S]*?)```/.exec(text)![1];
  expect(checkConfig(yaml.load(example), "docs/speaker.md").neighbors[0]).toMatchObject({ address: "192.0.2.2", export: "local" });
  const base = { asn: 65000, routerId: "192.0.2.1" };
  const fields = [
    ...knownFields({ ...base, zz: 1 }),
    ...knownFields({ ...base, listen: { zz: 1 } }).map((f) => `listen.${f}`),
    ...knownFields({ ...base, api: { zz: 1 } }).map((f) => `api.${f}`),
    ...knownFields({ ...base, fib: { zz: 1 } }).map((f) => `fib.${f}`),
    ...knownFields({ ...base, neighbors: [{ address: "192.0.2.2", asn: 1, zz: 1 }] }),
    ...knownFields({ ...base, routes: [{ prefix: "198.51.100.0/24", zz: 1 }] }),
  ].filter((f) => !["listen", "api", "fib"].includes(f));
  expect(fields.length).toBeGreaterThan(20);
  const rows = new Set([...text.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]));
  expect(fields.filter((f) => !rows.has(f))).toEqual([]);
});

test("docs/api.md names every /metrics series", () => {
  const source = readFileSync(join(ROOT, "host", "bgp", "metrics.ts"), "utf8");
  const names = [...source.matchAll(/e\.metric\("(sart_[a-z_]+)"/g)].map((m) => m[1]);
  expect(names.length).toBeGreaterThan(15);
  const text = doc("api.md");
  expect(names.filter((n) => !text.includes(`\`${n}\``))).toEqual([]);
});

test("docs/cli.md names every capability name sart decode prints", () => {
  const text = doc("cli.md");
  const names = [...new Set(Object.values(CAPABILITY_NAMES))];
  expect(names.filter((n) => !text.includes(`\`${n}\``))).toEqual([]);
});

test("relative links in docs/ and the READMEs point at files that exist", () => {
  const files = [
    ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => join(ROOT, "docs", f)),
    join(ROOT, "README.md"), join(ROOT, "host", "bgp", "README.md"), join(ROOT, "host", "inspector", "README.md"),
  ];
  const broken: string[] = [];
  for (const file of files) {
    for (const m of readFileSync(file, "utf8").matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(m[1])) continue; // http:, mailto:
      if (!existsSync(resolve(dirname(file), m[1]))) broken.push(`${file.slice(ROOT.length + 1)} -> ${m[1]}`);
    }
  }
  expect(broken).toEqual([]);
});
