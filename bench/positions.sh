#!/usr/bin/env bash
# The position index under hostile nesting (integrity issue): a valid spec whose warning needs
# a position, followed by a document of N nested block sequences (`- - - ... x`). Before the
# index became a tree, 8,000 levels (16 KB) took 2.6 GB and 3.4 s, and 16,000 levels (32 KB)
# aborted after 8 GB. Reports wall time and peak resident memory of `kiln validate` for each
# depth, with the same for a plain valid spec as the baseline. Usage: bench/positions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/positions
mkdir -p "$out"
cargo build --release -q -p kiln
kiln=target/release/kiln
spec='apiVersion: custom.ops/v1
kind: MicroServiceDeploy
metadata: {name: a-v1s0}
spec: {msName: a, version: "1.0", image: "registry.example.com/a:1.0"}
'
printf '%s' "$spec" >"$out/baseline.yaml"
for levels in 8000 16000 100000; do
  { printf '%s---\n' "$spec"; python3 -c "print('- ' * $levels + 'x')"; } >"$out/deep-$levels.yaml"
done
printf '| input | size | exit | wall time | peak RSS |\n|---|---:|---:|---:|---:|\n'
for file in baseline deep-8000 deep-16000 deep-100000; do
  path="$out/$file.yaml"
  set +e
  /usr/bin/time -f "%e %M" -o "$out/.time" "$kiln" validate -f "$path" >/dev/null 2>&1
  code=$?
  set -e
  read -r seconds kb < <(tail -n 1 "$out/.time")
  printf '| %s | %s B | %s | %s s | %s MiB |\n' "$file" "$(stat -c %s "$path")" "$code" "$seconds" "$((kb / 1024))"
done
