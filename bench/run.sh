#!/usr/bin/env bash
# `make bench`: runs every area's benchmark (bench/<area>/run.sh) in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/*/run.sh; do
  echo "== $b"
  bash "$b"
done
