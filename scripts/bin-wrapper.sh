#!/bin/sh
# Installed by `make build` as build/bin/sart and build/bin/sart-cni: runs the
# program under Bun by default, under Node when SART_RUNTIME=node.
# Paths come from shell expansions, not dirname/basename processes: a container
# runtime starts sart-cni for every pod, and each fork counts (bench/cni).
set -e
self=$0
case $self in /*) ;; *) self=$PWD/$self ;; esac
root=${self%/*/*/*}
# Through a symlink (e.g. /opt/cni/bin/sart-cni), or a copy outside ROOT/build/bin: resolve it.
if [ -L "$self" ] || [ ! -d "$root/host" ]; then
  self=$(readlink -f "$0")
  root=${self%/*/*/*}
fi
name=${self##*/}
case "${SART_RUNTIME:-bun}" in
  node)
    # The agent keeps V8's young generation small (1 MiB semi-spaces, default 16): a burst of
    # watch events then costs ~30 MiB less resident memory for the same CPU (bench/RESULTS.md).
    case "$name $1" in
      "sart agent") exec node --max-semi-space-size=1 "$root/build/node/$name/main.js" "$@" ;;
      *) exec node "$root/build/node/$name/main.js" "$@" ;;
    esac ;;
  bun)
    bun="$root/node_modules/.bin/bun"
    [ -x "$bun" ] || bun=bun
    case "$name" in
      sart) entry="$root/host/cli/main.ts" ;;
      sart-cni)
        entry="$root/build/bun/sart-cni/main.js"
        [ -f "$entry" ] || entry="$root/host/cni/main.ts" ;;
    esac
    exec "$bun" "$entry" "$@" ;;
  *) echo "$name: SART_RUNTIME must be bun or node, not '$SART_RUNTIME'" >&2; exit 2 ;;
esac
