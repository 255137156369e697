#!/usr/bin/env bash
# Builds kiln's container image (the Containerfile at the repository root) offline, with
# whichever of docker (with a running daemon), podman or buildah is installed.
#
# usage: image/build.sh [IMAGE]
#   IMAGE defaults to localhost/kiln/kiln-webhook:<workspace version>, the tag charts/webhook
#   runs by default. KILN_IMAGE_TOOL=docker|podman|buildah picks the tool; buildah runs with
#   STORAGE_DRIVER=vfs and BUILDAH_ISOLATION=chroot unless they are set, which work without a
#   daemon, fuse or user namespaces (as root, on this kind of CI machine).
#
# The three binaries are built statically (glibc with crt-static: no download of another
# Rust target is needed), so the image is FROM scratch: no shell, no libc, nothing to patch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

. image/lib.sh
image=${1:-$default_image}
tool=$(pick_tool)

host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-gnu | *-linux-musl) ;;
  *) echo "image/build.sh: static Linux binaries are built on Linux; this host is $host" >&2; exit 2 ;;
esac

# --target keeps crt-static away from build scripts and proc macros, which must stay dynamic.
# No debug line tables in the image (the release profile keeps them for profiling): they are
# three quarters of the binaries' size.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo \
  cargo build --release --locked --target "$host" -p kiln -p kiln-webhook --bin kiln --bin kiln-webhook --bin kiln-certs

target_dir=${CARGO_TARGET_DIR:-target}
context=$target_dir/image/context
rm -rf "$context"
mkdir -p "$context"
for bin in kiln-webhook kiln-certs kiln; do
  file="$target_dir/$host/release/$bin"
  if ! ldd "$file" 2>&1 | grep -q -e 'statically linked' -e 'not a dynamic executable'; then
    echo "image/build.sh: $file is dynamically linked; the image has no libc" >&2
    exit 1
  fi
  cp "$file" "$context/$bin"
done

case "$tool" in
  buildah)
    buildah bud --quiet --layers=false --build-arg "VERSION=$kiln_version" -f Containerfile -t "$image" "$context" >/dev/null
    ;;
  *)
    "$tool" build --quiet --build-arg "VERSION=$kiln_version" -f Containerfile -t "$image" "$context" >/dev/null
    ;;
esac
echo "built $image with $tool ($(du -ch "$context"/* | tail -n 1 | cut -f 1) of binaries)"
