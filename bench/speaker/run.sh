#!/usr/bin/env bash
# bgperf-style speaker benchmark (make bench): tester -> device -> monitor on loopback,
# for BIRD, gobgpd and sart (Bun, Node), N = 100,000 and 1,000,000, 4 and 500
# prefixes per UPDATE. Medians of 5 runs at 100k, 3 at 1M; gobgpd at 1M is slow
# (minutes per run), so it gets GOBGP_1M_RUNS (default 1) runs with a long bound.
# Raw runs go to bench/speaker/last-run.jsonl, the markdown table to stdout.
#
#   bash bench/speaker/run.sh                       (everything)
#   DEVICES="bird sart-bun" SIZES=100000 bash bench/speaker/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bun=node_modules/.bin/bun
out=${OUT:-bench/speaker/last-run.jsonl}
devices=${DEVICES:-bird gobgpd sart-bun sart-node}
sizes=${SIZES:-100000 1000000}
packs=${PACKS:-4 500}
: >"$out"
echo "speaker bench: $(date -u +%FT%TZ), nproc $(nproc), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for n in $sizes; do
  for per in $packs; do
    for dev in $devices; do
      runs=$([ "$n" -ge 1000000 ] && echo 3 || echo 5)
      timeout=120
      if [ "$dev" = gobgpd ] && [ "$n" -ge 1000000 ]; then runs=${GOBGP_1M_RUNS:-1}; timeout=900; fi
      if [ "$dev" = gobgpd ] && [ "$n" -lt 1000000 ]; then timeout=300; fi
      echo "  $dev N=$n per-update=$per runs=$runs" >&2
      timeout $((runs * (timeout + 60) + 120)) "$bun" bench/speaker/bench.ts --device "$dev" --n "$n" --per-update "$per" --runs "$runs" --timeout "$timeout" | tee -a "$out" >&2
    done
  done
done
echo "speaker bench: done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$bun" bench/speaker/table.ts "$out"
