#!/usr/bin/env python3
"""Objects of CRD kinds that kiln renders, checked against their CRD schemas.

kubernetes-validate knows only built-in kinds, so the Prometheus Operator's (PrometheusRule,
ServiceMonitor) and cert-manager's (Issuer, Certificate) objects of the rendered examples go
through the CRD schemas published as npm packages instead (tests/crd_kinds.mjs). A control
object with a wrong type and a missing required field must be refused, or the check proves
nothing. Installs the pinned packages under target/npm on first use; needs node and npm.
"""
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.environ.get("KILN", os.path.join(ROOT, "target", "debug", "kiln"))
MODULES = os.path.join(ROOT, "target", "npm")
PACKAGES = ["@kubernetes-models/prometheus-operator@6.0.0", "@kubernetes-models/cert-manager@4.4.4"]
CRD_GROUPS = ("monitoring.coreos.com/", "cert-manager.io/")


def render(*args):
    run = subprocess.run([KILN, "render", *args], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"kiln render {' '.join(args)} failed:\n{run.stderr}")
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


def validate(objects):
    return subprocess.run(
        ["node", os.path.join(ROOT, "tests", "crd_kinds.mjs"), MODULES],
        input=json.dumps(objects), capture_output=True, text=True,
    )


def main():
    marker = os.path.join(MODULES, "node_modules", "@kubernetes-models", "cert-manager", "package.json")
    if not os.path.exists(marker):
        os.makedirs(MODULES, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", MODULES, *PACKAGES], check=True)
    objects = (
        render("-f", "examples/services")
        + render("-f", "examples/kiln-webhook.yaml", "--chart", "charts/webhook")
        + render("-f", "examples/etcd")
    )
    crd_objects = [o for o in objects if o["apiVersion"].startswith(CRD_GROUPS)]
    kinds = sorted({o["kind"] for o in crd_objects})
    expected = ["Certificate", "Issuer", "PrometheusRule", "ServiceMonitor"]
    if kinds != expected:
        sys.exit(f"expected objects of {expected} in the rendered examples, got {kinds}")
    run = validate(crd_objects)
    print(run.stdout + run.stderr, end="")
    if run.returncode != 0:
        sys.exit("objects of CRD kinds do not match their CRD schemas")

    control = json.loads(json.dumps(next(o for o in crd_objects if o["kind"] == "PrometheusRule")))
    control["spec"]["groups"][0]["rules"][0]["for"] = 5
    del control["spec"]["groups"][0]["name"]
    refused = validate([control])
    if refused.returncode == 0 or "INVALID" not in refused.stdout:
        sys.exit(f"the control PrometheusRule (for: 5, no group name) was not refused:\n{refused.stdout}{refused.stderr}")
    print(f"crd kinds: {len(crd_objects)} objects of {', '.join(kinds)} valid; the broken control is refused")


if __name__ == "__main__":
    main()
