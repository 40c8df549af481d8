// Builds the browser inspector as a static directory: index.html, main.js (host/inspector/main.ts
// bundled for browsers) and sart.wasm (a copy of build/sart.wasm, the module every consumer loads).
// usage: bun scripts/build-inspector.ts [OUTDIR]   (default build/inspector; needs build/sart.wasm)
import { copyFileSync, existsSync, mkdirSync, renameSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const SOURCE = join(ROOT, "host", "inspector");

const BUILTINS = new Set(builtinModules);

/**
 * For target "browser" Bun silently replaces node:fs & co. with empty objects, so a Node-only
 * import would build and then fail in the page: fail the build instead, naming the importer.
 */
const refuseNodeBuiltins: Bun.BunPlugin = {
  name: "refuse-node-builtins",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.path.startsWith("node:") || BUILTINS.has(args.path)) {
        throw new Error(`${args.importer} imports the Node module '${args.path}': the inspector bundle must be browser-safe`);
      }
      return undefined;
    });
  },
};

export async function buildInspector(outDir: string, wasm = join(ROOT, "build", "sart.wasm")): Promise<void> {
  if (!existsSync(wasm)) throw new Error(`build-inspector: ${wasm} not found (run \`make wasm\` first)`);
  mkdirSync(outDir, { recursive: true });
  try {
    await Bun.build({
      entrypoints: [join(SOURCE, "main.ts")],
      outdir: outDir,
      target: "browser",
      format: "esm",
      plugins: [refuseNodeBuiltins],
    });
  } catch (err) {
    const causes = err instanceof AggregateError ? err.errors.map((e) => String(e?.message ?? e)) : [String(err)];
    throw new Error(`build-inspector: bundling host/inspector/main.ts failed:\n  ${causes.join("\n  ")}`);
  }
  copyFileSync(join(SOURCE, "index.html"), join(outDir, "index.html"));
  // Through a temporary name, so a server never hands out half a module.
  const tmp = join(outDir, `sart.${process.pid}.tmp.wasm`);
  copyFileSync(wasm, tmp);
  renameSync(tmp, join(outDir, "sart.wasm"));
}

if (import.meta.main) {
  const outDir = process.argv[2] ?? join(ROOT, "build", "inspector");
  try {
    await buildInspector(outDir);
    console.log(`inspector: ${outDir} (serve it from any static server and open index.html)`);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
