#!/usr/bin/env bash
# bgperf-style speaker benchmark (make bench): tester -> device -> monitor on loopback,
# for BIRD, gobgpd and sart (Bun, Node), N = 100,000 and 1,000,000, 4 and 500
# prefixes per UPDATE. Runs are interleaved (round 1 of every device, then round 2,
# ...) so load changes on a shared machine hit every device alike. Medians of 5
# rounds at 100k, 3 at 1M; gobgpd at 1M is slow (minutes per run), so it takes part
# in only the first GOBGP_1M_RUNS (default 1) rounds, with a long bound.
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
cache=$(mktemp -d /tmp/sart-bench-speaker.XXXXXX)
trap 'rm -rf "$cache"' EXIT
: >"$out"
echo "speaker bench: $(date -u +%FT%TZ), nproc $(nproc), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for n in $sizes; do
  for per in $packs; do
    rounds=$([ "$n" -ge 1000000 ] && echo 3 || echo 5)
    for round in $(seq "$rounds"); do
      for dev in $devices; do
        timeout=120
        if [ "$dev" = gobgpd ]; then
          timeout=300
          if [ "$n" -ge 1000000 ]; then
            [ "$round" -le "${GOBGP_1M_RUNS:-1}" ] || continue
            timeout=900
          fi
        fi
        echo "  $dev N=$n per-update=$per round $round/$rounds" >&2
        timeout $((timeout + 180)) "$bun" bench/speaker/bench.ts --device "$dev" --n "$n" --per-update "$per" \
          --runs 1 --first-run "$round" --timeout "$timeout" --cache "$cache" | tee -a "$out" >&2
      done
    done
  done
done
echo "speaker bench: done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$bun" bench/speaker/table.ts "$out"
