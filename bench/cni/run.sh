#!/usr/bin/env bash
# CNI benchmark (bench/cni/bench.ts): sart-cni beside ptp+host-local and bridge+host-local
# on one node netns, and the thin client's start-up under Bun and Node. Needs root (network
# namespaces), `make build` and containernetworking-plugins in /usr/lib/cni.
#   bash bench/cni/run.sh [--quick]     (--quick: 10 sequential pods, 5 concurrent)
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "cni bench: $(date -u +%FT%TZ), $(nproc) cores, $(uname -r), node $(node --version), bun $(node_modules/.bin/bun --version), load $(cut -d' ' -f1-3 /proc/loadavg)"
node_modules/.bin/bun bench/cni/bench.ts "$@"
