#!/usr/bin/env bash
# `make bench` / `make bench-quick`: runs every benchmark (a directory bench/NAME with a
# run.sh), logs each one's output to build/bench/NAME.log, and ends with one table of the
# summary rows they all printed (format: bench/README.md).
#   bash bench/run.sh [--quick] [NAME...]
set -uo pipefail
cd "$(dirname "$0")/.."
quick=
if [ "${1:-}" = --quick ]; then quick=--quick; shift; fi
if [ $# -gt 0 ]; then names=("$@"); else names=(); for d in bench/*/run.sh; do names+=("$(basename "$(dirname "$d")")"); done; fi
mkdir -p build/bench
failed=()
start=$(date +%s)
echo "bench: $(date -u +%FT%TZ) ${quick:-full} run of ${names[*]}; $(nproc) cores, $(uname -r), node $(node --version), bun $(node_modules/.bin/bun --version), load $(cut -d' ' -f1-3 /proc/loadavg)"
for name in "${names[@]}"; do
  [ -f "bench/$name/run.sh" ] || { echo "bench: no bench/$name/run.sh" >&2; failed+=("$name"); continue; }
  echo "== $name ($(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg))"
  t0=$(date +%s)
  if ! bash "bench/$name/run.sh" $quick 2>&1 | tee "build/bench/$name.log"; then failed+=("$name"); fi
  grep -q $'^summary\t' "build/bench/$name.log" || { echo "bench: $name printed no summary row"; [[ " ${failed[*]} " == *" $name "* ]] || failed+=("$name"); }
  echo "== $name: $(( $(date +%s) - t0 )) s"
done
echo
echo "Summary ($(date -u +%FT%TZ), ${quick:-full} run, $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)): sart / reference, and whether sart is ahead"
echo
logs=()
for name in "${names[@]}"; do [ -f "build/bench/$name.log" ] && logs+=("build/bench/$name.log"); done
[ ${#logs[@]} -gt 0 ] && bash bench/summary-table.sh "${logs[@]}"
if [ ${#failed[@]} -gt 0 ]; then echo "bench: failed: ${failed[*]} (logs in build/bench/)"; exit 1; fi
