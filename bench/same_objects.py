#!/usr/bin/env python3
"""Checks that two manifest streams hold the same objects, so the benchmark compares equal
work. The config-hash annotation is ignored: kiln and the Helm chart hash different encodings.

usage: same_objects.py KILN.yaml OTHER.yaml
"""
import sys

import yaml


# libyaml's loader when PyYAML has it: the pure-Python one takes minutes at 10,000 services.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path):
    objects = {}
    with open(path) as f:
        for doc in yaml.load_all(f, Loader=LOADER):
            if not doc:
                continue
            template = doc.get("spec", {}).get("template", {}).get("metadata", {})
            template.get("annotations", {}).pop("kiln.dev/config-hash", None)
            key = (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])
            objects[key] = doc
    return objects


def main():
    kiln, other = load(sys.argv[1]), load(sys.argv[2])
    if kiln.keys() != other.keys():
        print(f"different objects: only kiln {sorted(kiln.keys() - other.keys())[:3]}, only other {sorted(other.keys() - kiln.keys())[:3]}")
        sys.exit(1)
    different = [key for key in kiln if kiln[key] != other[key]]
    if different:
        key = different[0]
        print(f"{len(different)} objects differ, e.g. {key}:\n kiln:  {kiln[key]}\n other: {other[key]}")
        sys.exit(1)
    print(f"same {len(kiln)} objects")


if __name__ == "__main__":
    main()
