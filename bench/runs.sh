# Sourced by bench/agent/run.sh and bench/controller/run.sh: runs SCRIPT (a bench.ts that
# prints one JSON line per run) RUNS times under each runtime in RUNTIMES, each run bounded by
# LIMIT seconds and given ARGS, prints and appends every line to the file OUT, then the machine.
#   bench_runs OUT LIMIT SCRIPT ARGS...        (needs BUN, RUNS, RUNTIMES)
bench_runs() {
  local out=$1 limit=$2 script=$3 rt i line
  shift 3
  for rt in $RUNTIMES; do
    for i in $(seq 1 "$RUNS"); do
      line=$(timeout "$limit" "$BUN" "$script" --runtime "$rt" "$@" | tail -1)
      echo "$line"
      echo "$line" >>"$out"
    done
  done
  echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
}
