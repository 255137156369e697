#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/seeds/TARGET/ from the test fixtures:
spec files as they are, AdmissionReviews built from them (and a few malformed bodies),
quantities, image references and strings the YAML writer must escape. Run from anywhere;
the seeds are committed, so this runs only when the fixtures change."""
import glob, hashlib, json, os, pathlib, shutil
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
seeds = root / "fuzz" / "seeds"
shutil.rmtree(seeds, ignore_errors=True)


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = seeds / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


fixtures = sorted(glob.glob(str(root / "renderer/tests/fixtures/**/*.yaml"), recursive=True))
fixtures += sorted(glob.glob(str(root / "examples/**/*.yaml"), recursive=True))
for path in fixtures:
    text = pathlib.Path(path).read_text()
    put("spec_loader", text)
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        continue  # an invalid fixture is a spec_loader seed only
    for document in documents:
        if not isinstance(document, dict):
            continue
        api_version = str(document.get("apiVersion", "v1"))
        group, _, version = api_version.rpartition("/")
        for operation, old in [("CREATE", None), ("UPDATE", document), ("DELETE", document)]:
            request = {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": group, "version": version, "kind": document.get("kind", "")},
                "resource": {"group": group, "version": version, "resource": "things"},
                "name": (document.get("metadata") or {}).get("name", ""),
                "namespace": "default",
                "operation": operation,
                "userInfo": {"username": "admin"},
                "object": None if operation == "DELETE" else document,
                "oldObject": old,
                "dryRun": False,
            }
            put("admission_review", json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}))
for body in ["", "{}", "null", "[]", '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
             '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}']:
    put("admission_review", body)

for quantity in ["0", "1", "500m", "2", "4Gi", "128Mi", "1.5", "1e3", "1E-2", "100Ki", "0.1m", "1n",
                 "12345678901234567890", "-1", "+5", ".5", "5.", "1Ei", "999Pi", "2e30", "1u", "7k"]:
    put("quantity", quantity)

for image in ["nginx", "nginx:1.25", "docker.io/library/nginx:1.25", "localhost:5000/app:v1",
              "registry.example.com/team/app@sha256:" + "a" * 64, "ghcr.io/o/r:tag@sha256:" + "b" * 64,
              "[::1]:5000/app", "UPPER/app", "app:", "a/b/c/d:e"]:
    put("image_reference", image)

for text in ["plain", "", "yes", "no", "~", "null", "1", "0x1F", "1e3", ".inf", "- a", "a: b", "# c",
             "line\nbreak", "next\u0085line", "line\u2028sep", "para\u2029sep", "tab\there", "\ufeffbom",
             "quote'\"", "{a}", "[b]", "*alias", "&anchor", "!tag", "%directive", "@at", "`tick",
             "trailing ", " leading", "---", "...", "\x00nul", "\x7fdel", "\u00a0nbsp",
             json.dumps({"a": [1, 2.5, True, None, "s"], "b": {"c": "d"}})]:
    put("yaml_writer", text)
print(f"seeds written under {seeds.relative_to(root)}")
