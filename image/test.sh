#!/usr/bin/env bash
# Builds the image with image/build.sh, then checks it from its own files only: what it holds,
# its user and entry point, and that its binaries run chrooted into the image's file system as
# the image's user: `kiln-webhook --help`, `kiln-certs`, `kiln render`, the Argo CD plugin's
# generate step as uid 999 (tests/argocd.py --image-root), and real TLS admission
# reviews answered by the image's kiln-webhook (curl checks the certificate against the CA the
# image's kiln-certs wrote). Run by `make test` (CI installs buildah); needs root for chroot.
#
# usage: image/test.sh [IMAGE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

fail() {
  echo "image/test.sh: FAIL: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "needs root, to chroot into the image's files"

. image/lib.sh
image=${1:-$default_image}
work=$(mktemp -d)
webhook_pid=""
cleanup() {
  [ -z "$webhook_pid" ] || kill "$webhook_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Without any container tool, the build says which tools it looks for and exits 2.
mkdir "$work/bare-path"
for tool in sed head dirname; do ln -s "$(command -v "$tool")" "$work/bare-path/$tool"; done
status=0
message=$(PATH=$work/bare-path /bin/bash image/build.sh 2>&1) || status=$?
[ "$status" = 2 ] && grep -q "looked for docker (with a running daemon), podman and buildah" <<<"$message" ||
  fail "a build without a container tool should name the tools and exit 2, got exit $status: $message"

# The image is built without LTO here unless the caller says otherwise (CARGO_PROFILE_RELEASE_LTO,
# CARGO_PROFILE_RELEASE_CODEGEN_UNITS): a shorter build in CI (fat LTO over one codegen unit runs
# on one core at the end), and what this test checks (the files, the user, static binaries that
# run from the image alone) does not depend on optimisation. `make image` builds with LTO, as
# released.
CARGO_PROFILE_RELEASE_LTO=${CARGO_PROFILE_RELEASE_LTO:-false} \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-16} \
  image/build.sh "$image"
# The webhook chart runs what `make image` builds unless told otherwise.
grep -q "^image: $default_image$" charts/webhook/values.yaml ||
  fail "charts/webhook/values.yaml's image is not $default_image, the tag make image builds"

rootfs=$work/rootfs
mkdir -p "$rootfs"

# The image's file system and configuration, read back through the tool that built it.
tool=$(pick_tool)
case "$tool" in
  buildah)
    container=$(buildah from --quiet "$image")
    mount=$(buildah mount "$container")
    cp -a "$mount/." "$rootfs/"
    buildah umount "$container" >/dev/null
    buildah rm "$container" >/dev/null
    user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
    entrypoint=$(buildah inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$image")
    size=$(buildah images --format '{{.Size}}' "$image" | head -n 1)
    ;;
  *)
    container=$("$tool" create "$image")
    "$tool" export "$container" | tar -x -C "$rootfs"
    "$tool" rm "$container" >/dev/null
    user=$("$tool" image inspect --format '{{.Config.User}}' "$image")
    entrypoint=$("$tool" image inspect --format '{{.Config.Entrypoint}}' "$image")
    size=$("$tool" image inspect --format '{{.Size}}' "$image")
    ;;
esac

files=$(cd "$rootfs" && find . -type f | sort | tr '\n' ' ')
[ "$files" = "./usr/local/bin/kiln ./usr/local/bin/kiln-certs ./usr/local/bin/kiln-webhook " ] ||
  fail "the image should hold exactly the three binaries, it holds: $files"
[ "$user" = "10001:10001" ] || fail "the image's user should be 10001:10001 (charts/webhook's), got '$user'"
[ "$entrypoint" = '[/usr/local/bin/kiln-webhook]' ] || fail "unexpected entry point $entrypoint"
[ ! -e "$rootfs/bin/sh" ] || fail "the image holds a shell"

# Runs a command inside the image's files as the image's user: no library or file of the host
# is visible, so this is what a container runtime would run.
in_image() {
  chroot --userspec=10001:10001 "$rootfs" "$@"
}

help=$(in_image /usr/local/bin/kiln-webhook --help) || fail "kiln-webhook --help failed"
grep -q -- "--listen" <<<"$help" || fail "kiln-webhook --help does not describe --listen: $help"
in_image /usr/local/bin/kiln --version >/dev/null || fail "kiln --version failed"

# kiln renders from the image, with its compiled-in charts.
rendered=$(in_image /usr/local/bin/kiln render -f - <examples/services/ms-sample-v1s0.yaml 2>/dev/null) ||
  fail "kiln render of examples/services/ms-sample-v1s0.yaml failed inside the image"
grep -q "^kind: Deployment$" <<<"$rendered" || fail "kiln render gave no Deployment"

# The Argo CD plugin's generate step as argocd-cmp-server runs it in the kiln sidecar: the
# image's kiln, chrooted into the image's files as uid 999, in a repository copy under /tmp,
# compared with the host's render of the same project (tests/argocd.py).
# (the build `cargo test --workspace` makes, so that after it nothing is compiled again)
cargo test -q --workspace --no-run
python3 tests/argocd.py --image-root "$rootfs" || fail "the Argo CD plugin's generate failed inside the image"

# Certificates by the image's kiln-certs, written where the image's user may write.
mkdir -p "$rootfs/certs"
chown 10001:10001 "$rootfs/certs"
in_image /usr/local/bin/kiln-certs --out-dir /certs --name 127.0.0.1 --name localhost >/dev/null ||
  fail "kiln-certs failed inside the image"

log=$work/webhook.log
# chroot itself, not the in_image function, goes in the background: $! is then the webhook's
# pid (chroot execs it), not a subshell's that a kill would leave it running behind.
chroot --userspec=10001:10001 "$rootfs" /usr/local/bin/kiln-webhook --listen 127.0.0.1:0 \
  --tls-cert /certs/tls.crt --tls-key /certs/tls.key >/dev/null 2>"$log" &
webhook_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*serving listen=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$webhook_pid" 2>/dev/null || fail "kiln-webhook exited: $(cat "$log")"
  sleep 0.05
done
[ -n "$port" ] || fail "kiln-webhook did not start: $(cat "$log")"

review() { # ENDPOINT UID SPEC_JSON
  curl --silent --show-error --fail --cacert "$rootfs/certs/ca.crt" \
    -H 'Content-Type: application/json' \
    --data-binary @- "https://127.0.0.1:$port/$1" <<EOF
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
 "uid":"$2","kind":{"group":"custom.ops","version":"v1","kind":"MicroServiceDeploy"},
 "resource":{"group":"custom.ops","version":"v1","resource":"microservicedeploys"},
 "namespace":"shop","operation":"CREATE","userInfo":{"username":"image-test"},
 "object":{"apiVersion":"custom.ops/v1","kind":"MicroServiceDeploy",
  "metadata":{"name":"web-v1s0","namespace":"shop"},"spec":$3}}}
EOF
}

answer=$(review validate denied-1 '{"msName":"web","version":"1.0","image":"registry.example.com/web:1.0.3","replicas":-1}') ||
  fail "the validate request failed: $(cat "$log")"
grep -q '"uid":"denied-1"' <<<"$answer" || fail "the answer does not carry the request's uid: $answer"
grep -q '"allowed":false' <<<"$answer" || fail "replicas -1 was not denied: $answer"
grep -q 'spec.replicas: must be at least 0 (got -1)' <<<"$answer" || fail "the denial lacks the CLI's message: $answer"

answer=$(review mutate defaults-1 '{"msName":"web","version":"1.0","image":"registry.example.com/web:1.0.3"}') ||
  fail "the mutate request failed: $(cat "$log")"
grep -q '"allowed":true' <<<"$answer" || fail "a valid spec was not allowed: $answer"
grep -q '"patchType":"JSONPatch"' <<<"$answer" || fail "no defaults patch for a spec without fullName: $answer"

metrics=$(curl --silent --fail --cacert "$rootfs/certs/ca.crt" "https://127.0.0.1:$port/metrics")
grep -q 'kiln_webhook_admission_requests_total{.*verdict="denied"' <<<"$metrics" ||
  fail "the denial is not counted in /metrics"

echo "image/test.sh: ok: $image ($size), user $user, binaries run from the image's files only"
