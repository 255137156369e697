"""Checks `kiln schema KIND` output with an independent JSON Schema implementation (the
`jsonschema` package, draft-07): the schema is itself valid, every document of the valid
fixtures passes, and each invalid fixture document gets the errors an editor would show.

usage: editor_schema.py SCHEMA_DIR VALID_FILE... -- INVALID_FILE...
Prints one JSON object: {"valid": {file: [errors]}, "invalid": {file: [errors]}}.
"""
import json
import pathlib
import sys

import jsonschema
import yaml

schema_dir = pathlib.Path(sys.argv[1])
split = sys.argv.index("--")
valid_files, invalid_files = sys.argv[2:split], sys.argv[split + 1:]
schemas = {}
for path in schema_dir.glob("*.json"):
    schema = json.loads(path.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    props = schema["properties"]
    schemas[(props["apiVersion"]["const"], props["kind"]["const"])] = jsonschema.Draft7Validator(schema)


def errors(file):
    found = []
    for document in yaml.safe_load_all(pathlib.Path(file).read_text()):
        if not document:
            continue
        validator = schemas[(document["apiVersion"], document["kind"])]
        for error in validator.iter_errors(document):
            where = ".".join(str(p) for p in error.absolute_path)
            found.append(f"{where}: {error.message}")
    return sorted(found)


print(json.dumps({
    "valid": {f: errors(f) for f in valid_files},
    "invalid": {f: errors(f) for f in invalid_files},
}))
