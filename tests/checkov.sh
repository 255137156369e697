#!/usr/bin/env bash
# An independent best-practice scan: renders the bundled examples into a folder and runs
# checkov (PyPI) on it. Prints the failed checks per check id, and fails when a check fails
# that the README's "Independent scan" section does not explain as deliberate.
# Usage: tests/checkov.sh [KILN]   (default: target/debug/kiln, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
kiln=${1:-target/debug/kiln}
[ -x "$kiln" ] || cargo build -q -p kiln
command -v checkov >/dev/null || python3 -m pip install --quiet --disable-pip-version-check checkov
# The README explains each of these (section "Independent scan").
explained="CKV_K8S_11 CKV_K8S_15 CKV_K8S_21 CKV_K8S_35 CKV_K8S_43"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$kiln" render -f examples/services -o "$work/rendered" 2>/dev/null
checkov -d "$work/rendered" --framework kubernetes --quiet --compact -o json >"$work/report.json" 2>/dev/null || true
python3 - "$work/report.json" "$explained" <<'PY'
import collections, json, sys
report = json.load(open(sys.argv[1]))
reports = report if isinstance(report, list) else [report]
explained = set(sys.argv[2].split())
passed = sum(r["summary"]["passed"] for r in reports)
failed = [f for r in reports for f in r["results"]["failed_checks"]]
print(f"checkov: {passed} passed, {len(failed)} failed")
counts = collections.Counter((f["check_id"], f["check_name"]) for f in failed)
for (check, name), count in sorted(counts.items()):
    mark = "explained" if check in explained else "NOT EXPLAINED"
    print(f"  {count:3} {check} {name} ({mark})")
unexplained = sorted({check for check, _ in counts} - explained)
if passed == 0:
    sys.exit("checkov ran no check: is the folder empty?")
if unexplained:
    sys.exit(f"checks the README does not explain: {', '.join(unexplained)}")
PY
