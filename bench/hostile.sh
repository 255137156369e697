#!/usr/bin/env bash
# Hostile YAML against the loader: each input is refused (exit 1) or read, in time linear in
# its size. Every file is first indexed by saphyr (linear), which refuses nesting deeper than
# 100 levels, repeated keys, tags and merge keys before serde_yaml_ng (quadratic in the nesting
# depth) reads anything. Reports size, exit code, wall time and peak resident memory of
# `kiln validate` (release build, one run each). Usage: bench/hostile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/hostile
mkdir -p "$out"
cargo build --release -q -p kiln
kiln=target/release/kiln
python3 - "$out" <<'PY'
import sys
out = sys.argv[1]
spec = ('apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {name: a-v1s0}\n'
        'spec: {msName: a, version: "1.0", image: "registry.example.com/a:1.0"}\n')
def write(name, text):
    with open(f"{out}/{name}.yaml", "w") as f:
        f.write(text)
write("baseline", spec)
for levels in (8000, 100000):  # the integrity issue's attack on the position index
    write(f"block-seq-{levels}", spec + "---\n" + "- " * levels + "x\n")
for levels in (20000, 40000, 80000):  # the hardening issue's figures: 1.0 s, 4.2 s, 16.8 s
    write(f"flow-{levels}", spec.replace('a:1.0"}', 'a:1.0", config: ' + "[" * levels + "]" * levels + "}"))
write("open-100000", "spec:\n  config: " + "[" * 100000 + "\n")
write("brace-1MB", "{" * (1 << 20) + "\n")
# Block mappings indent one more space per level, so the file grows with the square of the
# depth: 5,000 levels is 12 MB, the largest under the 16 MiB file cap (10,000 would be 50 MB).
write("block-map-5000", "".join(" " * i + "k:\n" for i in range(5000)) + " " * 5000 + "x: 1\n")
write("keys-100000-dup", "spec:\n" + "".join(f"  k{i}: {i}\n" for i in range(100000)) + "  k0: again\n")
write("documents-10001", "---\na: 1\n" * 10001)
PY
printf '| input | size | exit | wall time | peak RSS | last finding |\n|---|---:|---:|---:|---:|---|\n'
for path in "$out"/*.yaml; do
  set +e
  /usr/bin/time -f "%e %M" -o "$out/.time" "$kiln" validate -f "$path" >"$out/.stdout" 2>&1
  code=$?
  set -e
  read -r seconds kb < <(tail -n 1 "$out/.time")
  last=$(grep -v '^kiln: ' "$out/.stdout" | tail -n 1 | sed "s|$out/||" | cut -c1-110)
  printf '| %s | %s B | %s | %s s | %s MiB | %s |\n' "$(basename "$path" .yaml)" \
    "$(stat -c %s "$path")" "$code" "$seconds" "$((kb / 1024))" "$last"
done
