#!/usr/bin/env bash
# Installs the Debian packages the demo and the tests use, when missing: real BGP peers
# (gobgpd, bird2, exabgp), capture and dissection (tcpdump, tshark), netns plumbing
# (iproute2), FRR routers for the agent lab, reference CNI plugins, podman + busybox-static
# (a real CNI runtime on a local rootfs), buildah (make image), nftables, curl and kubectl (the demo's
# kube-proxy stand-in and client), and Chromium for the inspector's browser test
# (driven by playwright-core). Run by `make test`, `make demo` and .ci/run.
# `--bench` adds what only the benchmarks need (`make bench`, `make bench-quick`): Go and
# GoBGP's source (golang-go, golang-github-osrg-gobgp-dev) to build GoBGP's parser for
# bench/codec, so `make test` never pulls them.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(gobgpd bird2 exabgp frr tshark tcpdump iproute2 containernetworking-plugins procps chromium podman busybox-static buildah nftables curl kubectl)
case "${1:-}" in
  --bench) packages+=(golang-go golang-github-osrg-gobgp-dev) ;;
  "") ;;
  *) echo "usage: scripts/install-deps.sh [--bench]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "sart: missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "sart: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
