#!/usr/bin/env bash
# Builds the sc and sc-server container images from this checkout with podman, pulling nothing:
# FROM scratch + a root directory holding the node binary and the libraries ldd lists, then dist/src and the
# production node_modules. Run `npm run build` first (npm run build:images does both).
#
# Usage: deploy/container/build.sh [--client-image NAME[:TAG]] [--server-image NAME[:TAG]] [--only client|server]
# Defaults: sluice-sc:<version> and sluice-server:<version>. See docs/deploy.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/deploy/container"
version="$(node -p "require('$root/package.json').version")"
client_image="sluice-sc:$version"
server_image="sluice-server:$version"
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --client-image) client_image="${2:?--client-image needs a value}"; shift 2 ;;
    --server-image) server_image="${2:?--server-image needs a value}"; shift 2 ;;
    --only) only="${2:?--only needs client or server}"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
  esac
done
case "$only" in ""|client|server) ;; *) echo "build.sh: --only takes client or server, not \"$only\"" >&2; exit 2 ;; esac
command -v podman >/dev/null || { echo "build.sh: podman is not installed (scripts/setup-debian.sh installs it)" >&2; exit 1; }
[ -f "$root/dist/deploy/container/entrypoint.js" ] || { echo "build.sh: no dist/: run npm run build first" >&2; exit 1; }

ctx="$(mktemp -d /tmp/sluice-image-XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
rootfs="$ctx/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/app" "$rootfs/etc" "$rootfs/tmp" "$rootfs/var/lib/sluice" "$rootfs/home/sluice"
chmod 1777 "$rootfs/tmp"
mkdir -p "$ctx/empty" # COPY --chown of it makes the home and data directories the user's

# The node binary and what the dynamic loader needs for it and for native addons.
node_bin="$(readlink -f "$(command -v node)")"
cp "$node_bin" "$rootfs/usr/local/bin/node"

# dist/src, package.json and exactly the production dependency tree npm resolves (no devDependencies).
mkdir -p "$rootfs/app/dist"
cp -a "$root/dist/src" "$rootfs/app/dist/src"
cp "$root/package.json" "$rootfs/app/"
for f in LICENSE README.md; do if [ -f "$root/$f" ]; then cp "$root/$f" "$rootfs/app/"; fi; done
# (npm ls exits non-zero on a tree with extraneous or invalid packages: the list is still what we want, but it
# must not be empty.)
deps="$(cd "$root" && npm ls --omit=dev --all --parseable 2>/dev/null || true)"
[ -n "$deps" ] || { echo "build.sh: npm ls listed no production dependencies: run npm ci first" >&2; exit 1; }
printf '%s\n' "$deps" | while read -r dir; do
  [ "$dir" = "$root" ] && continue
  rel="${dir#"$root"/}"
  # A nested package came with its parent's directory already.
  [ -e "$rootfs/app/$rel" ] && continue
  mkdir -p "$rootfs/app/$(dirname "$rel")"
  cp -a "$dir" "$rootfs/app/$rel"
done
# Build leftovers of native addons (sources, object files) are not needed at run time.
if [ -d "$rootfs/app/node_modules/better-sqlite3" ]; then
  rm -rf "$rootfs/app/node_modules/better-sqlite3/"{deps,src} \
    "$rootfs/app/node_modules/better-sqlite3/build/Release/"{obj,obj.target,.deps,test_extension.node}
fi
mkdir -p "$rootfs/app/dist/deploy/container"
cp "$root/dist/deploy/container/"{entrypoint,server-health}.js "$rootfs/app/dist/deploy/container/"

{ echo "$node_bin"; find "$rootfs/app/node_modules" -name '*.node' -type f; } | while read -r bin; do
  ldd "$bin" | awk '/=> \//{print $3} /^[ \t]*\/[^ ]+ \(/{print $1}'
done | sort -u | while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
  # The loader is found by the path in the ELF header (/lib64/ld-linux-x86-64.so.2): keep that path too.
done
# A user to run as (not root), and the group of the data volume.
printf 'root:x:0:0:root:/root:/sbin/nologin\nsluice:x:10001:10001:sluice:/home/sluice:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nsluice:x:10001:\n' >"$rootfs/etc/group"

commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
build() { # kind image
  cp "$here/Containerfile.$1" "$ctx/Containerfile"
  podman build --network=none --pull=never --layers=false --format docker --quiet \
    --build-arg "VERSION=$version" --build-arg "COMMIT=$commit" \
    -f "$ctx/Containerfile" -t "$2" "$ctx" >/dev/null
  echo "built $2"
}
[ "$only" = server ] || build client "$client_image"
[ "$only" = client ] || build server "$server_image"
