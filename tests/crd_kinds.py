#!/usr/bin/env python3
"""Objects of CRD kinds that kiln renders or ships, checked against their CRD schemas.

kubernetes-validate knows only built-in kinds, so the Prometheus Operator's (PrometheusRule,
ServiceMonitor) and cert-manager's (Issuer, Certificate) objects of the rendered examples go
through the CRD schemas published as npm packages instead (tests/crd_kinds.mjs), and so do
the Argo CD Applications and Flux sources and Kustomizations of examples/gitops that deploy
the rendered folders. A control object of each group with a wrong type and a missing required
field must be refused, or the check proves nothing. Installs the pinned packages under
target/npm on first use; needs node and npm.
"""
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.environ.get("KILN", os.path.join(ROOT, "target", "debug", "kiln"))
MODULES = os.path.join(ROOT, "target", "npm")
PACKAGES = [
    "@kubernetes-models/prometheus-operator@6.0.0",
    "@kubernetes-models/cert-manager@4.4.4",
    "@kubernetes-models/argo-cd@4.0.0",
    "@kubernetes-models/flux-cd@4.0.0",
]
# The objects that deploy examples/gitops with Argo CD and Flux.
DEPLOYERS = ["examples/gitops/argocd", "examples/gitops/flux"]
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


def copy_of(obj):
    return json.loads(json.dumps(obj))


def must_pass(objects, what):
    run = validate(objects)
    print(run.stdout + run.stderr, end="")
    if run.returncode != 0:
        sys.exit(f"{what}: some do not match their CRD schemas")


def must_refuse(control, broken):
    """A broken control object must be refused, or passing proves nothing."""
    refused = validate([control])
    if refused.returncode == 0 or "INVALID" not in refused.stdout:
        sys.exit(f"the control {control['kind']} ({broken}) was not refused:\n{refused.stdout}{refused.stderr}")


def readme_deployers():
    """The Argo CD and Flux objects the README shows in its yaml blocks."""
    import re
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    objects = []
    for block in re.findall(r"^```yaml\n(.*?)^```", text, flags=re.S | re.M):
        if re.search(r"^apiVersion: (argoproj\.io|[a-z]+\.toolkit\.fluxcd\.io)/", block, flags=re.M):
            objects += [doc for doc in yaml.safe_load_all(block) if doc]
    if not objects:
        sys.exit("the README shows no Argo CD or Flux object; this check expected its Application")
    return objects


def main():
    markers = [os.path.join(MODULES, "node_modules", *p.rsplit("@", 1)[0].split("/"), "package.json") for p in PACKAGES]
    if not all(os.path.exists(marker) for marker in markers):
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
    must_pass(crd_objects, "objects of CRD kinds")
    control = copy_of(next(o for o in crd_objects if o["kind"] == "PrometheusRule"))
    control["spec"]["groups"][0]["rules"][0]["for"] = 5
    del control["spec"]["groups"][0]["name"]
    must_refuse(control, "for: 5, no group name")
    print(f"crd kinds: {len(crd_objects)} objects of {', '.join(kinds)} valid; the broken control is refused")

    deployers = readme_deployers()
    for folder in DEPLOYERS:
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            with open(os.path.join(ROOT, folder, name)) as f:
                deployers += [doc for doc in yaml.safe_load_all(f) if doc]
    kinds = sorted({f"{o['apiVersion'].split('/')[0]} {o['kind']}" for o in deployers})
    expected = [
        "argoproj.io Application",
        "kustomize.toolkit.fluxcd.io Kustomization",
        "source.toolkit.fluxcd.io GitRepository",
        "source.toolkit.fluxcd.io OCIRepository",
    ]
    if kinds != expected:
        sys.exit(f"expected {expected} in {DEPLOYERS}, got {kinds}")
    must_pass(deployers, "the Argo CD and Flux objects of examples/gitops and the README")
    application = copy_of(next(o for o in deployers if o["kind"] == "Application"))
    application["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    del application["spec"]["destination"]
    must_refuse(application, "prune: yes, no destination")
    kustomization = copy_of(next(o for o in deployers if o["kind"] == "Kustomization"))
    kustomization["spec"]["prune"] = "yes"
    del kustomization["spec"]["sourceRef"]
    must_refuse(kustomization, "prune: yes, no sourceRef")
    print(f"crd kinds: {len(deployers)} Argo CD and Flux objects of examples/gitops and the README valid; the broken controls are refused")


if __name__ == "__main__":
    main()
