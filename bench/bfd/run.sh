#!/usr/bin/env bash
# BFD failover benchmarks: namespaces, FRR and sart, so root.
#   bench/bfd/failover.ts      two namespaces: sart's speaker (or FRR) against FRR
#   bench/bfd/lab-failover.ts  the agent lab: BFDProfile and BGPPeer objects, sart agent, FRR
#   bash bench/bfd/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/bench
echo "bfd bench: $(date -u +%FT%TZ), $(nproc) cores, $(uname -r), node $(node --version), bun $(node_modules/.bin/bun --version), $(/usr/lib/frr/bgpd --version | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
node_modules/.bin/bun bench/bfd/failover.ts "$@"
node_modules/.bin/bun bench/bfd/lab-failover.ts "$@"
echo "bfd bench: done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
