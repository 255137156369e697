#!/usr/bin/env bash
# The GitOps folder write (`kiln render -o`), side by side in one run with `helm template
# --output-dir` on the same services (bench/helm-microservice), for a first render into an
# empty folder and for a re-render where nothing changed. kiln stages the new tree next to
# the root and swaps it in atomically (integrity issue); set KILN_BEFORE to another kiln
# binary to time it in the same run. Results: bench/out/output/results.md.
# Usage: bench/output.sh [N ...]   (default 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000}")
read -r -a sizes <<<"${sizes[*]}"
out=bench/out/output
mkdir -p "$out"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
bench/get-helm.sh >/dev/null
cargo build --release -q -p kiln
kiln=target/release/kiln
helm=bench/.tools/helm
before=${KILN_BEFORE:-}
: >"$out/results.md"
for n in "${sizes[@]}"; do
  dir="$out/n$n"
  rm -rf "$dir" && mkdir -p "$dir"
  python3 bench/gen_specs.py "$n" "$dir"
  runs=5
  [ "$n" -ge 10000 ] && runs=3
  commands=(
    -n "kiln -o, empty folder" --prepare "rm -rf $dir/kiln" "$kiln render -f $dir/specs -o $dir/kiln"
    -n "helm --output-dir, empty folder" --prepare "rm -rf $dir/helm" "$helm template bench bench/helm-microservice -f $dir/helm-values.yaml --output-dir $dir/helm"
  )
  if [ -n "$before" ]; then
    commands+=(-n "kiln before, empty folder" --prepare "rm -rf $dir/before" "$before render -f $dir/specs -o $dir/before")
  fi
  hyperfine -N --runs "$runs" --output=null --export-markdown "$dir/first.md" "${commands[@]}"
  "$kiln" render -f "$dir/specs" -o "$dir/again" 2>/dev/null
  again=(-n "kiln -o, nothing changed" "$kiln render -f $dir/specs -o $dir/again")
  if [ -n "$before" ]; then
    "$before" render -f "$dir/specs" -o "$dir/again-before" 2>/dev/null
    again+=(-n "kiln before, nothing changed" "$before render -f $dir/specs -o $dir/again-before")
  fi
  hyperfine -N --warmup 1 --runs "$runs" --output=null --export-markdown "$dir/again.md" "${again[@]}"
  { echo "### $n services"; cat "$dir/first.md" "$dir/again.md"; echo; } >>"$out/results.md"
  rm -rf "$dir/specs" "$dir/kiln" "$dir/helm" "$dir/before" "$dir/again" "$dir/again-before"
done
cat "$out/results.md"
