#!/usr/bin/env bash
# Codec benchmark: sart's decode (count-only and objects, under Node and Bun) and GoBGP's
# (parse and objects) over the same files from bench/codec/gen.ts, in interleaved rounds
# (sart Node, sart Bun, GoBGP; then again) so load changes hit every decoder alike. Prints
# the result lines, the markdown table and the summary rows (bench/README.md).
#   bash bench/codec/run.sh [--quick]     (--quick: a tenth of the inputs, one round of 3 runs)
# Environment: ROUNDS (default 3), RUNS per round (default 5), CHUNK, SART_BENCH_DIR.
# Needs `make build` and GoBGP's parser (scripts/install-deps.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUN=${BUN:-node_modules/.bin/bun}
quick=
[ "${1:-}" = --quick ] && quick=--quick
rounds=${ROUNDS:-$([ -n "$quick" ] && echo 1 || echo 3)}
export RUNS=${RUNS:-$([ -n "$quick" ] && echo 3 || echo 5)}
dir=${SART_BENCH_DIR:-/tmp/sart-bench}${quick:+/quick}
export SART_WASM=${SART_WASM:-$PWD/build/sart.wasm}
mkdir -p "$dir" build/bench
[ -f "$dir/fulltable.bin" ] && [ -f "$dir/dense500.bin" ] || "$BUN" bench/codec/gen.ts "$dir" $quick
files=("$dir/fulltable.bin" "$dir/dense500.bin")
"$BUN" build bench/codec/decode.ts --target node --format esm --outfile "build/bench/codec-decode.mjs" >/dev/null
log=build/bench/codec-last-run.txt
echo "codec bench: $(date -u +%FT%TZ), $(nproc) cores, $(uname -r), node $(node --version), bun $("$BUN" --version), $(go version 2>/dev/null | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$log"
for round in $(seq "$rounds"); do
  node build/bench/codec-decode.mjs node "${files[@]}" | tee -a "$log"
  "$BUN" bench/codec/decode.ts bun "${files[@]}" | tee -a "$log"
  bash bench/codec/gobgp/run-gobgp.sh -runs "$RUNS" "${files[@]}" | tee -a "$log"
done
echo "codec bench: done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
"$BUN" bench/codec/table.ts "$log"
