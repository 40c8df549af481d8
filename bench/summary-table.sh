#!/usr/bin/env bash
# Prints the summary rows (format: bench/README.md) found in the given files (benchmark
# logs) as one markdown table: sart / reference, and whether sart is ahead.
#   bash bench/summary-table.sh build/bench/*.log
set -euo pipefail
cat "$@" | awk -F'\t' '
  BEGIN { print "| benchmark | case | metric | sart | reference | sart / reference | sart |"; print "| --- | --- | --- | ---: | --- | ---: | --- |" }
  $1 == "summary" {
    ref = $7 ($8 == "-" ? "" : " " $8)
    if ($8 == "-" || $8 + 0 == 0) { ratio = "-"; verdict = "-" }
    else {
      r = $6 / $8
      ratio = sprintf("%.3gx", r)
      verdict = (($5 == "higher" && r >= 1) || ($5 == "lower" && r <= 1)) ? "ahead" : "behind"
    }
    printf "| %s | %s | %s (%s is better) | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, ref, ratio, verdict
  }'
