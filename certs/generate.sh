#!/usr/bin/env bash
# Writes a CA and a serving certificate for kiln-webhook (clusters without cert-manager, or a
# local run) and prints the caBundle for the webhook configurations.
# usage: certs/generate.sh OUT_DIR [--service NAME] [--namespace NS] [--name EXTRA]...
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: certs/generate.sh OUT_DIR [kiln-certs flags]}"
shift
cargo run -q -p kiln-webhook --bin kiln-certs -- --out-dir "$out" "$@"
