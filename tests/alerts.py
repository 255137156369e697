#!/usr/bin/env python3
"""The rendered alerts under the real Prometheus rule checker.

Renders the examples (the services, and kiln's own webhook with charts/webhook), writes the
`spec` of every PrometheusRule as a Prometheus rule file named NAMESPACE-NAME.yaml, runs
`promtool check rules` on each, then `promtool test rules` on every tests/alerts/*.test.yaml:
hand-written series and the alerts that must fire (labels and expanded annotations) or stay
silent. Needs promtool (Debian package `prometheus`) and a built kiln (KILN, default
target/debug/kiln).
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.environ.get("KILN", os.path.join(ROOT, "target", "debug", "kiln"))


def render(*args):
    run = subprocess.run([KILN, "render", *args], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"kiln render {' '.join(args)} failed:\n{run.stderr}")
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


def main():
    if shutil.which("promtool") is None:
        sys.exit("promtool is missing: apt-get install prometheus (make tools does)")
    objects = render("-f", "examples/services") + render(
        "-f", "examples/kiln-webhook.yaml", "--chart", "charts/webhook"
    )
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    if len(rules) < 6:
        sys.exit(f"expected a PrometheusRule per example service, per owned namespace and for the webhook; got {len(rules)}")
    with tempfile.TemporaryDirectory() as work:
        files = []
        for rule in rules:
            meta = rule["metadata"]
            path = os.path.join(work, f"{meta['namespace']}-{meta['name']}.yaml")
            with open(path, "w") as out:
                yaml.safe_dump(rule["spec"], out, sort_keys=False, width=1 << 20)
            files.append(path)
        check = subprocess.run(["promtool", "check", "rules", *files], capture_output=True, text=True)
        print(check.stdout + check.stderr, end="")
        if check.returncode != 0:
            sys.exit("promtool check rules failed")
        tests = sorted(glob.glob(os.path.join(ROOT, "tests", "alerts", "*.test.yaml")))
        if not tests:
            sys.exit("no tests/alerts/*.test.yaml")
        for test in tests:
            shutil.copy(test, work)
        run = subprocess.run(
            ["promtool", "test", "rules", *[os.path.basename(t) for t in tests]],
            cwd=work, capture_output=True, text=True,
        )
        print(run.stdout + run.stderr, end="")
        if run.returncode != 0:
            sys.exit("promtool test rules failed")
    print(f"alerts: {len(files)} rule files checked, {len(tests)} test files passed")


if __name__ == "__main__":
    main()
