# Shared by image/build.sh and image/test.sh (sourced, from the repository root): the
# workspace version, the default tag, and which container tool builds and reads the image.

kiln_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
# The tag charts/webhook runs by default (its values.yaml `image`).
default_image=localhost/kiln/kiln-webhook:$kiln_version

# Prints docker (only with a running daemon: a client alone cannot build), podman or buildah,
# or KILN_IMAGE_TOOL when set; exits 2 naming what it looked for when none is installed.
pick_tool() {
  if [ -n "${KILN_IMAGE_TOOL:-}" ]; then
    command -v "$KILN_IMAGE_TOOL" >/dev/null || {
      echo "image: KILN_IMAGE_TOOL=$KILN_IMAGE_TOOL is not installed" >&2
      exit 2
    }
    echo "$KILN_IMAGE_TOOL"
    return
  fi
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then echo docker; return; fi
  if command -v podman >/dev/null; then echo podman; return; fi
  if command -v buildah >/dev/null; then echo buildah; return; fi
  {
    echo "image/build.sh: no container tool found: looked for docker (with a running daemon), podman and buildah"
    echo "hint: install one, e.g. 'apt-get install -y buildah' (works offline, no daemon)"
  } >&2
  exit 2
}

# buildah without a daemon, fuse or user namespaces (as root on a CI machine), unless set.
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
