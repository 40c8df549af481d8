#!/usr/bin/env bash
# bgperf-style speaker benchmark (make bench): testers -> device -> monitors on loopback,
# for BIRD, gobgpd and sart (Bun, Node), in one run:
#   single worst  1 tester, every UPDATE its own AS path (4 prefixes each): 100k and 1M
#   single table  1 tester, a full table's attribute sharing: 1M
#   peers         100 testers x 10,000 prefixes (table mix) -> 1 monitor
#   fanout        1 tester, 100,000 prefixes (table mix) -> 50 monitors
# Runs are interleaved (round 1 of every device, then round 2, ...) so load changes on a
# shared machine hit every device alike: medians of ROUNDS rounds (default 3; 5 for the
# 100k worst case). gobgpd needs minutes per run at a million prefixes (and with 100 peers
# or 50 monitors), so it takes part in the first GOBGP_ROUNDS rounds of those (default 1).
# Raw runs: bench/speaker/last-run.jsonl; then the table and summary rows.
#   bash bench/speaker/run.sh [--quick]   (--quick: one round at small sizes, the same rows
#                                          but gobgpd's with 100 peers and 50 monitors)
#   DEVICES="bird sart-bun" SCENARIOS="peers" ROUNDS=1 bash bench/speaker/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bun=node_modules/.bin/bun
export SART_WASM=${SART_WASM:-$PWD/build/sart.wasm}
quick=
[ "${1:-}" = --quick ] && quick=1
out=${OUT:-$([ -n "$quick" ] && echo build/bench/speaker-quick.jsonl || echo bench/speaker/last-run.jsonl)}
devices=${DEVICES:-bird gobgpd sart-bun sart-node}
scenarios=${SCENARIOS:-worst100k worst1m table1m peers fanout}
cache=$(mktemp -d /tmp/sart-bench-speaker.XXXXXX)
trap 'rm -rf "$cache"' EXIT
mkdir -p "$(dirname "$out")"
: >"$out"
# name -> bench.ts arguments, and the prefixes (per tester) at full size and with --quick
declare -A args=(
  [worst100k]="--scenario single --mix worst --per-update 4"
  [worst1m]="--scenario single --mix worst --per-update 4"
  [table1m]="--scenario single --mix table"
  [peers]="--scenario peers --mix table --testers 100"
  [fanout]="--scenario fanout --mix table --monitors 50"
)
declare -A full=([worst100k]=100000 [worst1m]=1000000 [table1m]=1000000 [peers]=10000 [fanout]=100000)
declare -A small=([worst100k]=10000 [worst1m]=30000 [table1m]=30000 [peers]=500 [fanout]=2000)
declare -A slow=([worst1m]=1 [table1m]=1 [peers]=1 [fanout]=1)
# Even at --quick sizes gobgpd needs minutes with 100 peers or 50 monitors: left out there.
declare -A quickNoGobgp=([peers]=1 [fanout]=1)
echo "speaker bench: $(date -u +%FT%TZ), nproc $(nproc), $(uname -r), $(bird --version 2>&1 | head -1), gobgpd $(gobgpd --version 2>&1 | awk '{print $NF}'), bun $("$bun" --version), node $(node --version), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for sc in $scenarios; do
  a="${args[$sc]:?unknown scenario $sc} --n $([ -n "$quick" ] && echo "${small[$sc]}" || echo "${full[$sc]}")"
  rounds=${ROUNDS:-$([ -n "$quick" ] && echo 1 || { [ "$sc" = worst100k ] && echo 5 || echo 3; })}
  for round in $(seq "$rounds"); do
    for dev in $devices; do
      if [ "$dev" = gobgpd ] && [ -z "$quick" ] && [ -n "${slow[$sc]:-}" ] && [ "$round" -gt "${GOBGP_ROUNDS:-1}" ]; then continue; fi
      if [ "$dev" = gobgpd ] && [ -n "$quick" ] && [ -n "${quickNoGobgp[$sc]:-}" ]; then continue; fi
      timeout=$([ "$dev" = gobgpd ] && echo 1200 || echo 120)
      echo "  $dev $sc round $round/$rounds" >&2
      timeout $((timeout + 180)) "$bun" bench/speaker/bench.ts --device "$dev" $a --run "$round" --timeout "$timeout" --cache "$cache" | tee -a "$out" >&2
    done
  done
done
echo "speaker bench: done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$bun" bench/speaker/table.ts "$out"
