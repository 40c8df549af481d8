#!/usr/bin/env bash
# Controller benchmark: 10,000 LoadBalancer Services created at once against the test API
# server; time until all have an address and a BGPAdvertisement, controller peak RSS, and the
# steady-state creation -> status latency. RUNS runs per runtime (the controller under Bun and
# under Node; the API server and the driver always run under Bun), then medians.
# Env: RUNS (default 5), SERVICES (10000), SAMPLES (200), RUNTIMES ("bun node").
# --quick: 1 run of 1,000 Services and 20 samples per runtime.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUN=node_modules/.bin/bun
quick=
[ "${1:-}" = --quick ] && quick=1
RUNS=${RUNS:-$([ -n "$quick" ] && echo 1 || echo 5)}
SERVICES=${SERVICES:-$([ -n "$quick" ] && echo 1000 || echo 10000)}
SAMPLES=${SAMPLES:-$([ -n "$quick" ] && echo 20 || echo 200)}
RUNTIMES=${RUNTIMES:-bun node}
[ -f build/node/sart/main.js ] || { echo "bench/controller: run 'make build' first (build/node/sart/main.js missing)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for rt in $RUNTIMES; do
  for i in $(seq 1 "$RUNS"); do
    line=$(timeout 600 "$BUN" bench/controller/bench.ts --runtime "$rt" --services "$SERVICES" --samples "$SAMPLES" | tail -1)
    echo "$line"
    echo "$line" >>"$out"
  done
done
echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
"$BUN" bench/controller/table.ts "$out"
