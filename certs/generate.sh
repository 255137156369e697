#!/usr/bin/env bash
# Writes a CA and a serving certificate for kiln-webhook (clusters without cert-manager, or a
# local run) and prints the caBundle for the webhook configurations.
# usage: certs/generate.sh OUT_DIR [--service NAME] [--namespace NS] [--name EXTRA]...
#
# OUT_DIR is relative to the folder you run this from. It receives ca.key, the key that can
# sign certificates your cluster trusts for the webhook: keep it out of Git (the repository's
# .gitignore covers kiln-certs/, the README's example) and in a secret store.
set -euo pipefail
out="${1:?usage: certs/generate.sh OUT_DIR [kiln-certs flags]}"
shift
case "$out" in
  /*) ;;
  *) out="$PWD/$out" ;;
esac
# kiln-certs from an installed kiln, else built from this repository.
if command -v kiln-certs >/dev/null; then
  exec kiln-certs --out-dir "$out" "$@"
fi
cd "$(dirname "$0")/.."
exec cargo run -q -p kiln-webhook --bin kiln-certs -- --out-dir "$out" "$@"
