// The process-wide core for Node and Bun (the browser uses loadCoreFrom).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Core, instantiateCore } from "./wasm.ts";

let shared: Core | undefined;

/** $SART_WASM, else the nearest build/sart.wasm above this module (source tree or build/node bundle). */
export function locateWasm(): string {
  return locateBuildFile("sart.wasm", "SART_WASM");
}

/** $`envVar`, else the nearest build/`file` above this module; throws naming both when neither exists. */
export function locateBuildFile(file: string, envVar: string): string {
  if (process.env[envVar]) return process.env[envVar]!;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "build", file);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`build/${file} not found (run \`make build\`, or set ${envVar})`);
}

/** Loads sart.wasm on first use; every later call returns the same instance. */
export function nodeCore(): Core {
  shared ??= instantiateCore(readFileSync(locateWasm()));
  return shared;
}
