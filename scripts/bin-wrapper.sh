#!/bin/sh
# Installed by `make build` as build/bin/sart and build/bin/sart-cni: runs the
# program under Bun by default, under Node when SART_RUNTIME=node.
set -e
self=$(readlink -f "$0")
bin=$(dirname "$self")
root=$(dirname "$(dirname "$bin")")
name=$(basename "$self")
case "${SART_RUNTIME:-bun}" in
  node) exec node "$root/build/node/$name/main.js" "$@" ;;
  bun)
    bun="$root/node_modules/.bin/bun"
    [ -x "$bun" ] || bun=bun
    case "$name" in
      sart) entry="$root/host/cli/main.ts" ;;
      sart-cni) entry="$root/host/cni/main.ts" ;;
    esac
    exec "$bun" "$entry" "$@" ;;
  *) echo "$name: SART_RUNTIME must be bun or node, not '$SART_RUNTIME'" >&2; exit 2 ;;
esac
