#!/usr/bin/env bash
# Soak: kiln-webhook (release) under steady load for SECONDS (default 180) from 16 kept-alive
# TLS connections (webhook/examples/soak.rs), with a mix of valid, invalid and malformed
# reviews, while its certificate is rotated every 20 s the way a Kubernetes Secret volume
# does it (a `..data` symlink swapped by rename). Prints requests, failures, p50/p99 latency,
# resident memory and certificates seen per 10 s; exits 1 on any failed well-formed review.
# Results: bench/out/soak.md. usage: bench/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-180}"
out=bench/out/soak
rm -rf "$out"
mkdir -p "$out/bodies" "$out/volume"
cargo build --release -q -p kiln-webhook --bins --examples

# One certificate set (its own CA) per rotation; the client trusts every CA.
rotations=$((seconds / 20 + 1))
for n in $(seq 1 "$rotations"); do
  target/release/kiln-certs --out-dir "$out/certs/$n" --name localhost --name 127.0.0.1 >/dev/null 2>&1
  cat "$out/certs/$n/ca.crt" >>"$out/trusted.pem"
done
swap() {
  local n=$1 volume="$out/volume"
  mkdir -p "$volume/..v$n"
  cp "$out/certs/$n/tls.crt" "$out/certs/$n/tls.key" "$volume/..v$n/"
  for file in tls.crt tls.key; do [ -L "$volume/$file" ] || ln -s "..data/$file" "$volume/$file"; done
  ln -sfn "..v$n" "$volume/..data_tmp"
  mv -T "$volume/..data_tmp" "$volume/..data"
}
swap 1

# Bodies: valid and invalid specs from the fixtures, and malformed bodies.
python3 - "$out/bodies" <<'PY'
import json, sys, yaml
def review(spec, operation="CREATE"):
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "custom.ops", "version": "v1", "kind": "MicroServiceDeploy"},
        "resource": {"group": "custom.ops", "version": "v1", "resource": "microservicedeploys"},
        "name": "soak", "namespace": "default", "operation": operation,
        "userInfo": {"username": "admin"}, "object": spec, "dryRun": False}})
base = "renderer/tests/fixtures/seed/"
out = sys.argv[1]
for name in ["ms-sample-v1s0-valid.yaml", "ms-sample-v1s0.yaml"]:
    open(f"{out}/valid-{name}.json", "w").write(review(yaml.safe_load(open(base + name))))
bad = yaml.safe_load(open(base + "ms-sample-v1s0-valid.yaml"))
bad["spec"]["replicas"] = -1
bad["spec"]["image"] = "Not An Image"
open(f"{out}/invalid-spec.json", "w").write(review(bad))
for n, body in enumerate(["{", "[]", '{"kind":"AdmissionReview"}', "\u00ff" * 100]):
    open(f"{out}/malformed-{n}", "w").write(body)
PY

RUST_LOG=warn target/release/kiln-webhook --listen 127.0.0.1:18445 \
  --tls-cert "$out/volume/tls.crt" --tls-key "$out/volume/tls.key" --cert-poll-ms 1000 \
  2>"$out/webhook.log" &
webhook=$!
trap 'kill $webhook 2>/dev/null || true' EXIT
sleep 1
(
  for n in $(seq 2 "$rotations"); do
    sleep 20
    swap "$n"
  done
) &
rotator=$!
trap 'kill $webhook $rotator 2>/dev/null || true' EXIT

status=0
target/release/examples/soak --port 18445 --ca "$out/trusted.pem" --pid "$webhook" \
  --seconds "$seconds" --connections 16 --bodies "$out/bodies" | tee "$out/../soak.md" || status=$?
reloads=$(curl -sk https://127.0.0.1:18445/metrics | grep -E '^kiln_webhook_certificate_reload' || true)
echo "$reloads" | tee -a "$out/../soak.md"
exit "$status"
