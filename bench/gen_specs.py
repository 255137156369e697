#!/usr/bin/env python3
"""Writes N MicroServiceDeploy specs for the render benchmark, and the same services as
values for the equivalent Helm chart (bench/helm-microservice).

usage: gen_specs.py N OUTDIR
  OUTDIR/specs/batch-NNNN.yaml   100 specs per multi-document file, 50 services per namespace
  OUTDIR/helm-values.yaml        the same services, fully spelled out for Helm
"""
import json
import os
import sys

SERVICES_PER_NAMESPACE = 50
SPECS_PER_FILE = 100


def service(i):
    """One service; the mix covers every branch of the chart (HPA, PDB, idle, auth)."""
    major, minor = 1 + i % 3, i % 7
    replicas = 1 + i % 4
    autoscaling = i % 3 == 0
    idle = i % 10 == 9
    cpu_milli = 100 + 50 * (i % 5)
    memory_mi = 128 * (1 + i % 4)
    return {
        "msName": f"svc-{i:05d}",
        "fullName": f"svc-{i:05d}-v{major}s{minor}",
        "namespace": f"team-{i // SERVICES_PER_NAMESPACE:04d}",
        "version": f"{major}.{minor}",
        "path": f"v{major}",
        "image": f"registry.example.com/team/svc-{i:05d}:{major}.{minor}.0",
        "replicas": replicas,
        "autoscaling": autoscaling,
        "needAuth": i % 2 == 0,
        "idle": idle,
        "config": {"log.level": "info", "upstream.url": f"http://svc-{(i + 1):05d}.example:8080"},
        "cpuMilli": cpu_milli,
        "memoryMi": memory_mi,
    }


def spec_yaml(s):
    config = "\\n".join(f"{k}={v}" for k, v in s["config"].items())
    return f"""apiVersion: custom.ops/v1
kind: MicroServiceDeploy
metadata:
  name: {s['fullName']}
  namespace: {s['namespace']}
spec:
  msName: {s['msName']}
  version: "{s['version']}"
  image: {s['image']}
  replicas: {s['replicas']}
  autoscaling: {json.dumps(s['autoscaling'])}
  needAuth: {json.dumps(s['needAuth'])}
  idle: {json.dumps(s['idle'])}
  config: "{config}"
  resourceRequirements:
    requests: {{cpu: {s['cpuMilli']}m, memory: {s['memoryMi']}Mi}}
    limits: {{cpu: {2 * s['cpuMilli']}m, memory: {2 * s['memoryMi']}Mi}}
"""


def main():
    count, out = int(sys.argv[1]), sys.argv[2]
    specs_dir = os.path.join(out, "specs")
    os.makedirs(specs_dir, exist_ok=True)
    services = [service(i) for i in range(count)]
    for start in range(0, count, SPECS_PER_FILE):
        batch = services[start:start + SPECS_PER_FILE]
        with open(os.path.join(specs_dir, f"batch-{start // SPECS_PER_FILE:04d}.yaml"), "w") as f:
            f.write("---\n".join(spec_yaml(s) for s in batch))
    # JSON is YAML: Helm reads this as its values file.
    with open(os.path.join(out, "helm-values.yaml"), "w") as f:
        json.dump({"services": services}, f)


if __name__ == "__main__":
    main()
