// The process-wide core for Node and Bun (the browser uses loadCoreFrom).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Core, instantiateCore } from "./wasm.ts";

let shared: Core | undefined;

/** $SART_WASM, else the nearest build/sart.wasm above this module (source tree or build/node bundle). */
export function locateWasm(): string {
  if (process.env.SART_WASM) return process.env.SART_WASM;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "build", "sart.wasm");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error("build/sart.wasm not found (run `make build`, or set SART_WASM)");
}

/** Loads sart.wasm on first use; every later call returns the same instance. */
export function nodeCore(): Core {
  shared ??= instantiateCore(readFileSync(locateWasm()));
  return shared;
}
