#!/usr/bin/env bash
# Builds and runs the GoBGP decode benchmark (main.go beside this script) fully offline,
# from Debian packages only: golang-go and golang-github-osrg-gobgp-dev (GoBGP's source in
# /usr/share/gocode). GOPATH mode (GO111MODULE=off, GOPROXY=off): the Go module proxy is
# never contacted. Debian ships GoBGP v3 under github.com/osrg/gobgp, so a temporary GOPATH
# maps the module path github.com/osrg/gobgp/v3 onto it with a symlink.
#
# Inputs: raw BGP message streams written by bench/codec/gen.ts into $SART_BENCH_DIR
# (default /tmp/sart-bench): fulltable.bin and dense500.bin (or files given as arguments).
# Output: one line per file, e.g.
#   gobgp dense500.bin MB/s=123.4 messages/s=5678 prefixes/s=2839000 runs=5 messages=... prefixes=... bytes=...
# Environment: RUNS (default 5), SART_BENCH_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode/src/github.com/osrg/gobgp

if ! command -v go >/dev/null || [ ! -d "$gocode/pkg/packet/bgp" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run-gobgp: installing golang-go golang-github-osrg-gobgp-dev" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-github-osrg-gobgp-dev >/dev/null
  else
    echo "run-gobgp: needs the Debian packages golang-go and golang-github-osrg-gobgp-dev" >&2
    exit 1
  fi
fi

dir=${SART_BENCH_DIR:-/tmp/sart-bench}
if [ $# -gt 0 ]; then files=("$@"); else files=("$dir/fulltable.bin" "$dir/dense500.bin"); fi
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "run-gobgp: $f is missing (generate it with bench/codec/gen.ts first)" >&2; exit 1; }
done

gopath=$(mktemp -d /tmp/sart-gobgp-bench.XXXXXX)
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/github.com/osrg/gobgp" "$gopath/src/sart-gobgp-bench"
ln -s "$gocode" "$gopath/src/github.com/osrg/gobgp/v3"
cp "$here/main.go" "$gopath/src/sart-gobgp-bench/"
(
  cd "$gopath/src/sart-gobgp-bench"
  GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode" go build -o "$gopath/gobgp-decode-bench" .
)
"$gopath/gobgp-decode-bench" -runs "${RUNS:-5}" "${files[@]}"
