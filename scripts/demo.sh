#!/usr/bin/env bash
# `make demo` (as root): scripts/demo.ts runs the lab and narrates it (see there). This
# wrapper checks the tools, gives the run one directory (TMPDIR, so every file the lab
# writes is under it) and one prefix for its network namespaces, and on exit, however the
# run ended, sweeps whatever is left (scripts/demo-down.sh): processes in the run's
# namespaces or naming its directory, the namespaces, the directory.
#
# KEEP=1: the narrator stays in the background holding the lab (its own session, so the
# terminal's signals do not reach it) and this script returns once it has printed how to
# reach the lab; `make demo-down` stops it. Only one kept lab at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bun="$root/node_modules/.bin/bun"
state="$root/build/demo-lab.env"
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
[ -x "$root/build/bin/sart" ] || { echo "demo: build/bin/sart missing: run make build" >&2; exit 1; }
for tool in ip nft curl busybox vtysh /usr/lib/frr/bgpd /usr/lib/frr/zebra; do
  command -v "$tool" >/dev/null || { echo "demo: $tool is missing (make deps installs what the demo needs)" >&2; exit 1; }
done
command -v kubectl >/dev/null || { echo "demo: kubectl is missing (apt-get install kubectl, or put one on PATH)" >&2; exit 1; }
if [ "${KEEP:-}" = 1 ] && [ -f "$state" ]; then
  echo "demo: a kept lab is still running ($state): make demo-down first" >&2
  exit 1
fi

run=$(mktemp -d /tmp/sart-demo.XXXXXX)
chmod 711 "$run" # FRR's zebra runs as its own user and needs to reach its directory below
prefix="sd${run##*.}" # the run's own random suffix
export TMPDIR=$run SART_DEMO_DIR=$run SART_DEMO_PREFIX=$prefix
sweep() { bash "$root/scripts/demo-down.sh" "$run" "$prefix"; }

if [ "${KEEP:-}" != 1 ]; then
  trap sweep EXIT
  trap 'exit 130' INT TERM HUP
  "$bun" "$root/scripts/demo.ts"
  exit
fi

# KEEP=1: the narrator runs in its own session with its output in a file, which this script
# shows until the narrator's last line ("demo: OK ..." or "demo: FAILED ..."), then returns.
printf 'run=%s\nprefix=%s\n' "$run" "$prefix" >"$state"
narration="$run/narration.log"
: >"$narration"
finished=0
on_exit() {
  [ -n "${tailer:-}" ] && kill "$tailer" 2>/dev/null
  [ $finished = 1 ] || { sweep; rm -f "$state"; }
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP
setsid -f "$bun" "$root/scripts/demo.ts" >"$narration" 2>&1 </dev/null
tail -n +1 -f "$narration" &
tailer=$!
for _ in $(seq 1800); do # 3 minutes at most
  grep -qE '^demo: (OK|FAILED)' "$narration" && break
  sleep 0.1
done
sleep 0.2 # tail shows the last lines
if grep -q '^demo: OK' "$narration"; then
  finished=1
else
  echo "demo: the lab did not come up (make demo-down cleans up anything left)" >&2
  exit 1
fi
