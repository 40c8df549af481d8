#!/usr/bin/env bash
# `make demo-down`: stops the lab `make demo KEEP=1` left running, and sweeps what a demo run
# leaves behind when it was killed. scripts/demo.sh calls it with the run's directory and
# namespace prefix when it exits; with no arguments it reads them from build/demo-lab.env.
#   1. the narrator holding the lab (RUN/keeper.pid): SIGTERM, a clean stop of everything
#      (bounded), then SIGKILL;
#   2. every process inside a network namespace named PREFIX-*, then those namespaces;
#   3. every process whose command line names RUN; then RUN itself.
set -uo pipefail
cd "$(dirname "$0")/.."
state=build/demo-lab.env
if [ $# -ge 2 ]; then
  run=$1 prefix=$2
elif [ -f "$state" ]; then
  # shellcheck disable=SC1090
  . "$state"
else
  echo "demo-down: no kept lab ($state not found)"
  exit 0
fi
case $run in /tmp/sart-demo.*) ;; *) echo "demo-down: refusing to sweep '$run'" >&2; exit 1 ;; esac
[ -n "$prefix" ] || { echo "demo-down: no namespace prefix" >&2; exit 1; }

gone() { [ ! -e "/proc/$1" ] || [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]; }

if [ -f "$run/keeper.pid" ]; then
  pid=$(cat "$run/keeper.pid")
  if ! gone "$pid"; then
    echo "demo-down: stopping the lab (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 300); do gone "$pid" && break; sleep 0.1; done
    gone "$pid" || kill -KILL "$pid" 2>/dev/null
  fi
fi

for ns in $(ip netns list | awk -v p="$prefix-" 'index($1, p) == 1 { print $1 }'); do
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
done
# Builtins only in this loop: a forked subshell of this script would name RUN too.
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  [ "$pid" = $$ ] && continue
  mapfile -d '' argv 2>/dev/null <"$dir/cmdline" || continue
  [[ " ${argv[*]} " == *"$run"* ]] && kill -KILL "$pid" 2>/dev/null
done
rm -rf "$run"
[ $# -ge 2 ] || rm -f "$state"
[ $# -ge 2 ] || echo "demo-down: done"
exit 0
