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
source bench/runs.sh
bench_runs "$out" 600 bench/controller/bench.ts --services "$SERVICES" --samples "$SAMPLES"
"$BUN" bench/controller/table.ts "$out"
