#!/usr/bin/env bash
# `make image`: the Containerfile's image, built here without a registry or a daemon, written
# as a docker-archive (build/sart-image.tar, tagged sart:dev) that `podman load`,
# `ctr images import` and `kind load image-archive` take.
#
# scripts/image-rootfs.sh lays out the rootfs on this machine; buildah builds the
# Containerfile with that directory as its `build` stage (so the Debian build stage, which
# needs a registry, is skipped) in a private vfs store under build/, removed afterwards.
# Needs: make wasm, buildah, and what image-rootfs.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
archive=${1:-build/sart-image.tar}
tag=${SART_IMAGE:-sart:dev}
command -v buildah >/dev/null || { echo "build-image: buildah is not installed (Debian: buildah)" >&2; exit 1; }

work=$(mktemp -d "$root/build/image.XXXXXX")
trap 'rm -rf "$work"' EXIT
scripts/image-rootfs.sh "$work/stage/rootfs"
mkdir "$work/context" # the final stage copies nothing from the context

bah() { buildah --storage-driver vfs --root "$work/store" --runroot "$work/run" "$@"; }
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' package.json | head -1)
bah bud --quiet --pull=never --layers=false --build-context "build=$work/stage" \
  --build-arg "REVISION=$revision" --build-arg "VERSION=$version" \
  -f "$root/Containerfile" -t "$tag" "$work/context" >/dev/null
rm -f "$archive.tmp"
bah push --quiet "$tag" "docker-archive:$archive.tmp:$tag"
mv "$archive.tmp" "$archive"
echo "image: $archive ($tag, revision $revision): $(du -m "$archive" | cut -f1) MB, $(gzip -c "$archive" | wc -c | awk '{printf "%d", $1/1048576}') MB gzipped"
