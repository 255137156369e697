#!/usr/bin/env bash
# Renders N = 1, 100, 1,000 and 10,000 services with kiln and, in the same run, the same
# objects with `helm template` (bench/helm-microservice) and `kubectl kustomize` (over kiln's
# own output folder: what a GitOps controller assembles on every sync). Checks that kiln and
# helm produce the same objects, then times them with hyperfine and records peak memory.
# KILN_BEFORE=<kiln binary> times another kiln build in the same hyperfine runs (columns
# "kiln before" and "helm / before"), for before/after figures.
# Results: bench/out/results.md. Usage: bench/render.sh [N ...]
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1 100 1000 10000}")
read -r -a sizes <<<"${sizes[*]}"
out=bench/out
mkdir -p "$out"

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
python3 -c "import yaml" 2>/dev/null || python3 -m pip install --quiet pyyaml
bench/get-helm.sh >/dev/null
cargo build --release -q -p kiln
kiln=target/release/kiln
helm=bench/.tools/helm

runs_for() { # fewer runs where one run takes long
  case "$1" in 1|100) echo 30 ;; 1000) echo 5 ;; *) echo 3 ;; esac
}

peak_kb() { # peak resident memory of one run, in KiB
  /usr/bin/time -f "%M" -o "$out/.mem" "$@" >/dev/null 2>&1
  cat "$out/.mem"
}

for n in "${sizes[@]}"; do
  dir="$out/n$n"
  rm -rf "$dir" && mkdir -p "$dir"
  python3 bench/gen_specs.py "$n" "$dir"
  "$kiln" render -f "$dir/specs" >"$dir/kiln.yaml" 2>"$dir/kiln.err"
  "$helm" template bench bench/helm-microservice -f "$dir/helm-values.yaml" >"$dir/helm.yaml"
  python3 bench/same_objects.py "$dir/kiln.yaml" "$dir/helm.yaml" | tee "$dir/same.txt"
  "$kiln" render -f "$dir/specs" -o "$dir/folder" 2>/dev/null
  commands=("$kiln render -f $dir/specs" "$helm template bench bench/helm-microservice -f $dir/helm-values.yaml")
  [ -n "${KILN_BEFORE:-}" ] && commands+=("$KILN_BEFORE render -f $dir/specs")
  # kustomize is quadratic in the number of resources: 31 s for 1,000 services here, so
  # one run at 1,000 and none at 10,000.
  kustomize_runs=0
  case "$n" in 1|100) kustomize_runs=5 ;; 1000) kustomize_runs=1 ;; esac
  hyperfine -N --warmup 1 --runs "$(runs_for "$n")" --output=null \
    --export-json "$dir/times.json" "${commands[@]}"
  if [ "$kustomize_runs" -gt 0 ]; then
    hyperfine -N --runs "$kustomize_runs" --output=null --export-json "$dir/kustomize.json" \
      "kubectl kustomize $dir/folder"
  fi
  {
    echo "kiln $(peak_kb "$kiln" render -f "$dir/specs")"
    echo "helm $(peak_kb "$helm" template bench bench/helm-microservice -f "$dir/helm-values.yaml")"
    [ "$kustomize_runs" -gt 0 ] && echo "kustomize $(peak_kb kubectl kustomize "$dir/folder")"
  } >"$dir/memory.txt"
  rm -rf "$dir/folder" "$dir/specs" "$dir/kiln.yaml" "$dir/helm.yaml"
done
python3 bench/report.py "$out" "${sizes[@]}" | tee "$out/results.md"
