#!/usr/bin/env bash
# Load test of kiln-webhook on loopback with keep-alive TLS (wrk), at several concurrency
# levels: /validate and /mutate with the seed spec, and in the same run a bare endpoint on the
# same stack (webhook/examples/bare.rs) answering a fixed body, as the ceiling; then the cost
# of one review in-process (webhook/examples/review.rs: no HTTP, no TLS, one thread).
# KILN_BEFORE=<kiln-webhook binary> adds another build to the same run (rows marked "before"),
# for before/after figures; CARGO_TARGET_DIR and CARGO_PROFILE_RELEASE_* are honoured.
# Results: bench/out/webhook.md. usage: bench/webhook.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
out=bench/out/webhook
mkdir -p "$out"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p kiln-webhook --bins --examples
bin="${CARGO_TARGET_DIR:-target}/release"
"$bin/kiln-certs" --out-dir "$out/certs" --name localhost --name 127.0.0.1 >/dev/null 2>&1

# The AdmissionReview bodies, from the seed spec.
python3 - "$out" <<'PY'
import json, sys, yaml
spec = yaml.safe_load(open("renderer/tests/fixtures/seed/ms-sample-v1s0-valid.yaml"))
review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
    "kind": {"group": "custom.ops", "version": "v1", "kind": "MicroServiceDeploy"},
    "resource": {"group": "custom.ops", "version": "v1", "resource": "microservicedeploys"},
    "name": "ms-sample-v1s0", "namespace": "default", "operation": "CREATE",
    "userInfo": {"username": "admin"}, "object": spec, "dryRun": False}}
body = json.dumps(review)
with open(f"{sys.argv[1]}/body.json", "w") as f:
    f.write(body)
with open(f"{sys.argv[1]}/post.lua", "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ' + json.dumps(body) + "\n")
PY

tls=(--tls-cert "$out/certs/tls.crt" --tls-key "$out/certs/tls.key")
RUST_LOG=warn "$bin/kiln-webhook" --listen 127.0.0.1:18443 "${tls[@]}" 2>"$out/webhook.log" &
webhook=$!
"$bin/examples/bare" --listen 127.0.0.1:18444 "${tls[@]}" &
bare=$!
before=""
targets=("kiln /validate|https://127.0.0.1:18443/validate" "kiln /mutate|https://127.0.0.1:18443/mutate")
if [ -n "${KILN_BEFORE:-}" ]; then
  RUST_LOG=warn "$KILN_BEFORE" --listen 127.0.0.1:18445 "${tls[@]}" 2>"$out/webhook-before.log" &
  before=$!
  targets+=("before /validate|https://127.0.0.1:18445/validate" "before /mutate|https://127.0.0.1:18445/mutate")
fi
targets+=("bare (ceiling)|https://127.0.0.1:18444/validate")
trap 'kill $webhook $bare $before 2>/dev/null || true' EXIT
sleep 1

echo "| endpoint | connections | requests/s | p50 | p99 | max |" >"$out/../webhook.md"
echo "|---|---:|---:|---:|---:|---:|" >>"$out/../webhook.md"
for connections in 1 8 32 128; do
  for target in "${targets[@]}"; do
    name="${target%%|*}"
    url="${target#*|}"
    threads=$((connections < 2 ? connections : 2))
    result=$(wrk -t "$threads" -c "$connections" -d "${seconds}s" --latency -s "$out/post.lua" "$url")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$result")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$result")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$result")
    max=$(awk '/Latency/ && !done {print $4; done=1}' <<<"$result")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$result" || true)
    [ -n "$errors" ] && echo "$name c=$connections: $errors" >&2
    echo "| $name | $connections | $rps | $p50 | $p99 | $max |" >>"$out/../webhook.md"
  done
done
# The same bodies in-process, one thread, no HTTP or TLS: what deciding costs.
echo >>"$out/../webhook.md"
for endpoint in validate mutate; do
  "$bin/examples/review" "$out/body.json" "$endpoint" 20000 | tail -1 >>"$out/../webhook.md"
done
cat "$out/../webhook.md"
