#!/usr/bin/env bash
# Codec benchmark: core decode throughput under Node and Bun on the files
# bench/codec/gen.ts writes, and GoBGP's decoder on the same files when
# bench/codec/gobgp/run-gobgp.sh is present. Environment: RUNS, CHUNK, SART_BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUN=${BUN:-node_modules/.bin/bun}
dir=${SART_BENCH_DIR:-/tmp/sart-bench}
export SART_WASM=${SART_WASM:-$PWD/build/sart.wasm}
mkdir -p "$dir"
[ -f "$dir/fulltable.bin" ] && [ -f "$dir/dense500.bin" ] || SART_BENCH_DIR=$dir "$BUN" bench/codec/gen.ts
files=("$dir/fulltable.bin" "$dir/dense500.bin")
"$BUN" build bench/codec/decode.ts --target node --format esm --outfile "$dir/codec-decode.mjs" >/dev/null
echo "machine: $(nproc) cores, $(uname -r), node $(node --version), bun $("$BUN" --version)"
node "$dir/codec-decode.mjs" sart-node "${files[@]}"
"$BUN" bench/codec/decode.ts sart-bun "${files[@]}"
if [ -f bench/codec/gobgp/run-gobgp.sh ]; then
  SART_BENCH_DIR=$dir bash bench/codec/gobgp/run-gobgp.sh "${files[@]}"
fi
