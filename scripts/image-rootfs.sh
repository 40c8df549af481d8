#!/usr/bin/env bash
# scripts/image-rootfs.sh DIR: lays out the sart image's root filesystem in DIR (which must
# not exist). The Containerfile's build stage runs it, and so does `make image` on this
# machine, so both images hold the same files. Needs: build/sart.wasm (make wasm), npm
# packages (node_modules), and from Debian iproute2, busybox-static, libc-bin (ldd).
#
#   /usr/local/bin/sart       one self-contained executable (Bun runtime + bundle + sart.wasm)
#   /usr/local/bin/sart-cni   the same file under a second name: the CNI plugin, which the
#                             agent's init container copies to the host's /opt/cni/bin
#   /usr/sbin/ip, /etc/iproute2  iproute2 (the agent's routes, veths and addresses)
#   /bin/busybox + applets    sh, cp, mv for the init container; nsenter for the agent
#   /lib..., /lib64/...       the shared libraries of the two dynamic executables
#   /etc/sart/cni/10-sart.conflist  the default CNI config (the ConfigMap mounts over it)
#   /usr/share/doc/...        sart's licence and the Debian copyright files of what is copied
set -euo pipefail
out=${1:?usage: scripts/image-rootfs.sh DIR}
cd "$(dirname "$0")/.."
root=$(pwd)
bun=$root/node_modules/.bin/bun
[ -f build/sart.wasm ] || { echo "image-rootfs: build/sart.wasm missing: run make wasm" >&2; exit 1; }
[ -x "$bun" ] || { echo "image-rootfs: $bun missing: run npm ci" >&2; exit 1; }
for tool in ip busybox ldd; do
  command -v "$tool" >/dev/null || { echo "image-rootfs: $tool not found (Debian: iproute2, busybox-static, libc-bin)" >&2; exit 1; }
done
[ -e "$out" ] && { echo "image-rootfs: $out exists; give a new directory" >&2; exit 1; }
mkdir -p "$out"/{usr/local/bin,usr/sbin,bin,etc/sart/cni,run/sart,var/lib/sart,root,usr/share/doc/sart}
install -d -m 1777 "$out/tmp"
ln -s ../run "$out/var/run" # as on the hosts: runtimes name pod namespaces /var/run/netns/...

# The executable. Its modules look for build/sart.wasm and package.json above themselves;
# compiled, they sit in /$bunfs/root/, so both are embedded there (--asset keeps the path
# relative to the working directory). Code splitting plus bytecode: the plugin's start-up
# loads only its own chunk, already compiled (about 13 ms against 100 ms for one plain bundle).
assets=$(mktemp -d)
trap 'rm -rf "$assets"' EXIT
mkdir "$assets/build"
cp build/sart.wasm "$assets/build/"
cp package.json "$assets/"
(cd "$assets" && "$bun" build --compile --splitting --bytecode --format esm --minify-syntax --minify-whitespace \
  --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
  --asset build --asset package.json "$root/host/cli/executable.ts" --outfile "$out/usr/local/bin/sart" >/dev/null)
ln "$out/usr/local/bin/sart" "$out/usr/local/bin/sart-cni"

# iproute2, with its name tables so `ip` prints what it prints on a Debian host.
cp "$(readlink -f "$(command -v ip)")" "$out/usr/sbin/ip"
cp -r /etc/iproute2 "$out/etc/iproute2"

# busybox: every applet but ip (the real one above is the one the agent is tested with).
cp "$(readlink -f "$(command -v busybox)")" "$out/bin/busybox"
for applet in $("$out/bin/busybox" --list); do
  case $applet in busybox | ip) continue ;; esac
  [ -e "$out/bin/$applet" ] || ln -s busybox "$out/bin/$applet"
done
ldd "$out/bin/busybox" >/dev/null 2>&1 && { echo "image-rootfs: busybox is not static (Debian: busybox-static)" >&2; exit 1; }

# Shared libraries, each at the path the dynamic loader looks for it.
# ldd prints "\tNAME => /PATH (ADDR)" per library and "\t/PATH (ADDR)" for the loader.
libraries() { ldd "$@" | awk '/^\t/ && $2 == "=>" && $3 ~ /^\// { print $3 } /^\t\// { print $1 }' | sort -u; }
mapfile -t libs < <(libraries "$out/usr/local/bin/sart" "$out/usr/sbin/ip")
for lib in "${libs[@]}"; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done

cp crds/deploy/cni/10-sart.conflist "$out/etc/sart/cni/10-sart.conflist"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$out/etc/passwd"
printf 'root:x:0:\n' >"$out/etc/group"

# Licences: sart's, and the Debian copyright file of each package a copied file came from
# (iproute2 and busybox are GPL-2; the libraries have their own terms).
cp LICENSE "$out/usr/share/doc/sart/LICENSE"
owner() { # owner PATH: the Debian package that installed PATH (usrmerge: try both spellings)
  local p=$1
  dpkg -S "$p" 2>/dev/null || dpkg -S "/usr$p" 2>/dev/null || dpkg -S "${p#/usr}" 2>/dev/null || true
}
for f in "$(readlink -f "$(command -v ip)")" "$(readlink -f "$(command -v busybox)")" "${libs[@]}"; do
  pkg=$(owner "$(readlink -f "$f")" | head -1 | cut -d: -f1)
  [ -n "$pkg" ] && [ -f "/usr/share/doc/$pkg/copyright" ] || continue
  mkdir -p "$out/usr/share/doc/$pkg"
  cp "/usr/share/doc/$pkg/copyright" "$out/usr/share/doc/$pkg/copyright"
done
