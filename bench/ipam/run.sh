#!/usr/bin/env bash
# IPAM allocator benchmark: bench/ipam/bench.ts under Bun (sources) and under Node
# (bundled with bun build --target node). Prints one JSON line per runtime to stdout
# and progress to stderr; with --quick, a short smoke run.
# Uses build/sart.wasm (make build), or $SART_WASM.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUN=node_modules/.bin/bun
out=build/bench-ipam
mkdir -p "$out"
"$BUN" build bench/ipam/bench.ts --target node --format esm --outfile "$out/bench.mjs" >/dev/null
# The bundle lives in build/bench-ipam, so point it at the wasm explicitly.
export SART_WASM="${SART_WASM:-$PWD/build/sart.wasm}"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, kernel $(uname -r), bun $("$BUN" --version), node $(node --version)" >&2
"$BUN" bench/ipam/bench.ts "$@" | tee "$out/bun.json"
node "$out/bench.mjs" "$@" | tee "$out/node.json"
"$BUN" bench/ipam/table.ts "$out/bun.json" "$out/node.json" | tee "$out/table.md"
