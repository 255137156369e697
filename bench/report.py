#!/usr/bin/env python3
"""Turns bench/render.sh's measurements into the markdown table of the README.

usage: report.py OUTDIR N...
"""
import json
import os
import sys


def mean_and_sd(path, index):
    with open(path) as f:
        result = json.load(f)["results"][index]
    return result["mean"], result["stddev"] or 0.0


def main():
    out, sizes = sys.argv[1], sys.argv[2:]
    with open(os.path.join(out, f"n{sizes[0]}", "times.json")) as f:
        before = len(json.load(f)["results"]) > 2  # KILN_BEFORE was set
    extra = " kiln before | helm / before |" if before else ""
    print(f"| services | objects | kiln | helm template | kubectl kustomize | helm / kiln |{extra} kiln peak RSS | helm peak RSS | kustomize peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if before else "") + "---:|---:|---:|")
    for n in sizes:
        d = os.path.join(out, f"n{n}")
        columns = ""
        if before:
            old, old_sd = mean_and_sd(os.path.join(d, "times.json"), 2)
            helm_mean = mean_and_sd(os.path.join(d, "times.json"), 1)[0]
            columns = f" {old * 1000:,.1f} ms ± {old_sd * 1000:,.1f} | {helm_mean / old:,.1f}x |"
        kiln, kiln_sd = mean_and_sd(os.path.join(d, "times.json"), 0)
        helm, helm_sd = mean_and_sd(os.path.join(d, "times.json"), 1)
        kustomize_path = os.path.join(d, "kustomize.json")
        kustomize = "not run"
        if os.path.exists(kustomize_path):
            k, k_sd = mean_and_sd(kustomize_path, 0)
            kustomize = f"{k * 1000:,.0f} ms ± {k_sd * 1000:,.0f}"
        memory = dict(line.split() for line in open(os.path.join(d, "memory.txt")))
        objects = open(os.path.join(d, "same.txt")).read().split()[1]
        mib = lambda key: f"{int(memory[key]) / 1024:,.0f} MiB" if key in memory else "-"
        print(
            f"| {int(n):,} | {int(objects):,} | {kiln * 1000:,.1f} ms ± {kiln_sd * 1000:,.1f} "
            f"| {helm * 1000:,.0f} ms ± {helm_sd * 1000:,.0f} | {kustomize} | {helm / kiln:,.1f}x |"
            f"{columns} {mib('kiln')} | {mib('helm')} | {mib('kustomize')} |"
        )


if __name__ == "__main__":
    main()
