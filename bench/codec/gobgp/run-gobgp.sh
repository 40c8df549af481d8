#!/usr/bin/env bash
# Builds and runs the GoBGP decode benchmark (main.go beside this script) fully offline,
# from Debian packages only: golang-go and golang-github-osrg-gobgp-dev (GoBGP's source in
# /usr/share/gocode), which `scripts/install-deps.sh --bench` installs (`make bench` runs
# it); this script installs nothing. GOPATH mode (GO111MODULE=off, GOPROXY=off): the Go
# module proxy is never contacted. Debian ships GoBGP v3 under github.com/osrg/gobgp, so a
# temporary GOPATH maps the module path github.com/osrg/gobgp/v3 onto it with a symlink.
#
# Usage: run-gobgp.sh [-runs N] [-modes parse,objects] FILE...   (raw BGP message streams
# written by bench/codec/gen.ts). Output: main.go's lines, e.g.
#   gobgp-parse dense500.bin MB/s=123.4 messages/s=5678 prefixes/s=2839000 runs=5 messages=... prefixes=... bytes=...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode/src/github.com/osrg/gobgp

if ! command -v go >/dev/null || [ ! -d "$gocode/pkg/packet/bgp" ]; then
  echo "run-gobgp: needs the Debian packages golang-go and golang-github-osrg-gobgp-dev: run scripts/install-deps.sh --bench (as root)" >&2
  exit 1
fi

gopath=$(mktemp -d /tmp/sart-gobgp-bench.XXXXXX)
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/github.com/osrg/gobgp" "$gopath/src/sart-gobgp-bench"
ln -s "$gocode" "$gopath/src/github.com/osrg/gobgp/v3"
cp "$here/main.go" "$gopath/src/sart-gobgp-bench/"
(
  cd "$gopath/src/sart-gobgp-bench"
  GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode" GOCACHE="$gopath/cache" go build -o "$gopath/gobgp-decode-bench" .
)
"$gopath/gobgp-decode-bench" "$@"
