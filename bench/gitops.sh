#!/usr/bin/env bash
# The CI side of a GitOps repository: `kiln render --check` and `kiln diff` against a plain
# `kiln render` of the same project, in one run, for N services (default 10,000) in a
# kiln.yaml project with one environment. Issue 8 asks that check and diff cost no more than
# 1.5x a plain render. `helm template --output-dir` over the same services is the outside
# reference (Helm has no built-in diff; kustomize is quadratic and takes minutes at 10,000).
#
# Rows: the render to stdout (`-o -`, what the Argo CD plugin runs), the render into the
# committed folder when nothing changed (what a developer runs), check and diff when the
# folder is current (a passing CI job), and check and diff when one spec changed (a failing
# one: the diff prints the change). Peak memory of each from /usr/bin/time.
# Results: bench/out/gitops/results.md. Usage: bench/gitops.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
out=$PWD/bench/out/gitops
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
bench/get-helm.sh >/dev/null
cargo build --release -q -p kiln
kiln=$PWD/target/release/kiln
helm=$PWD/bench/.tools/helm
rm -rf "$out" && mkdir -p "$out"
project=$out/project
python3 bench/gen_specs.py "$n" "$project"
cat >"$project/kiln.yaml" <<'EOF'
apiVersion: kiln.dev/v1alpha1
kind: Project
specs: [specs/]
environments:
  prod:
    output: deploy/prod
EOF
(cd "$project" && "$kiln" render >/dev/null 2>&1)
# A second project whose first spec file says replicas 9 where the committed output says
# otherwise: check fails, diff prints one Deployment's change.
stale=$out/stale
cp -r "$project" "$stale"
sed -i '0,/replicas: [0-9]*/s//replicas: 9/' "$stale/specs/batch-0000.yaml"
runs=5
[ "$n" -ge 10000 ] && runs=3
in_project() { echo "sh -c 'cd $1 && exec $kiln $2 >/dev/null 2>&1'"; }
# -i: check and diff exit 1 on the stale project, as CI would see them.
hyperfine -i --warmup 1 --runs "$runs" --export-json "$out/times.json" --export-markdown "$out/times.md" \
  -n "render -o - (stdout)" "$(in_project "$project" "render -o -")" \
  -n "render (folder current)" "$(in_project "$project" render)" \
  -n "render --check (current)" "$(in_project "$project" "render --check")" \
  -n "diff (current)" "$(in_project "$project" diff)" \
  -n "render --check (1 stale)" "$(in_project "$stale" "render --check")" \
  -n "diff (1 stale)" "$(in_project "$stale" "diff --color never")" \
  -n "helm template --output-dir" "sh -c 'rm -rf $out/helm && $helm template bench bench/helm-microservice -f $project/helm-values.yaml --output-dir $out/helm >/dev/null'"
# The stale project's exit codes, so the rows above time what they claim to.
set +e
(cd "$stale" && "$kiln" render --check >/dev/null 2>&1); check=$?
(cd "$stale" && "$kiln" diff --color never >"$out/stale.diff" 2>/dev/null); diff=$?
(cd "$project" && "$kiln" diff >/dev/null 2>&1); current=$?
set -e
[ "$check" = 1 ] && [ "$diff" = 1 ] && [ "$current" = 0 ] ||
  { echo "unexpected exit codes: check $check, diff $diff (stale), diff $current (current)" >&2; exit 1; }
peak_kb() { # peak resident memory of one run in a project folder, in KiB
  # time writes "Command exited with non-zero status" first when kiln exits 1.
  (cd "$1" && { /usr/bin/time -f "%M" -o .mem "$kiln" "${@:2}" >/dev/null 2>&1 || true; } && tail -n 1 .mem && rm .mem)
}
{
  echo "render $(peak_kb "$project" render -o -)"
  echo "check $(peak_kb "$project" render --check)"
  echo "diff $(peak_kb "$project" diff)"
  echo "diff-stale $(peak_kb "$stale" diff --color never)"
} >"$out/memory.txt"
python3 - "$out" "$n" <<'EOF' | tee "$out/results.md"
import json, os, sys
out, n = sys.argv[1], int(sys.argv[2])
results = json.load(open(os.path.join(out, "times.json")))["results"]
base = results[0]["mean"]
print(f"{n:,} services, mean of hyperfine runs; ratio against `render -o -`")
print()
print("| command | time | ratio |")
print("|---|---:|---:|")
for r in results:
    print(f"| {r['command']} | {r['mean'] * 1000:,.0f} ms ± {(r['stddev'] or 0) * 1000:,.0f} | {r['mean'] / base:.2f}x |")
print()
memory = dict(line.split() for line in open(os.path.join(out, "memory.txt")))
print("peak RSS: " + ", ".join(f"{k} {int(v) / 1024:,.0f} MiB" for k, v in memory.items()))
print(f"stale diff: {sum(1 for _ in open(os.path.join(out, 'stale.diff')))} lines")
EOF
rm -rf "$project" "$stale" "$out/helm"
