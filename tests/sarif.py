#!/usr/bin/env python3
"""kiln's SARIF output under Microsoft's SARIF validator, with GitHub code scanning's rules.

`Sarif.Multitool validate --rule-kind Sarif;Gh` (the npm package @microsoft/sarif-multitool,
pinned) checks each log against the SARIF 2.1.0 JSON schema, the specification's own rules and
what GitHub Advanced Security requires of an upload. The logs come from a project made with
`kiln init`: findings of both severities from `kiln validate`, stale files from `kiln diff`
and `render --check`, a broken chart from `kiln chart lint`, and a clean run. Any error from
the validator fails; of its warnings only SARIF2005 (the tool has no informationUri, for kiln
has no public home yet) is accepted. A log the schema refuses must fail, or the check proves
nothing. Installs the package under target/npm-sarif on first use; needs node and npm.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.environ.get("KILN", os.path.join(ROOT, "target", "debug", "kiln"))
MODULES = os.path.join(ROOT, "target", "npm-sarif")
PACKAGE = "@microsoft/sarif-multitool-linux@5.7.0"
TOOL = os.path.join(MODULES, "node_modules", "@microsoft", "sarif-multitool-linux", "Sarif.Multitool")
ACCEPTED_WARNINGS = {"SARIF2005"}


def kiln(cwd, *args, codes=(0, 1)):
    run = subprocess.run([KILN, *args], cwd=cwd, capture_output=True, text=True)
    if run.returncode not in codes:
        sys.exit(f"kiln {' '.join(args)} exited {run.returncode}:\n{run.stderr}")
    return run


def validate(path):
    """The validator's findings about one log: (level, rule id, message)."""
    out = path + ".validation.sarif"
    if os.path.exists(out):
        os.remove(out)
    env = dict(os.environ, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT="1", DOTNET_CLI_TELEMETRY_OPTOUT="1")
    run = subprocess.run(
        [TOOL, "validate", "--rule-kind", "Sarif;Gh", "--level", "Error;Warning", path, "-o", out],
        capture_output=True, text=True, env=env,
    )
    if not os.path.exists(out):
        sys.exit(f"the SARIF validator did not run ({run.returncode}):\n{run.stdout}{run.stderr}")
    with open(out) as f:
        log = json.load(f)
    found = []
    for result in log["runs"][0].get("results", []):
        found.append((result.get("level", "warning"), result["ruleId"], result["message"].get("text", "")))
    for notification in log["runs"][0].get("invocations", [{}])[0].get("toolExecutionNotifications", []):
        if notification.get("level") == "error":
            found.append(("error", "tool", notification["message"]["text"]))
    return found


def main():
    if not os.path.exists(TOOL):
        os.makedirs(MODULES, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", MODULES, PACKAGE], check=True)
        os.chmod(TOOL, 0o755)
    work = tempfile.mkdtemp(prefix="kiln-sarif-")
    try:
        project = os.path.join(work, "repo")
        os.makedirs(project)
        kiln(project, "init", codes=(0,))
        kiln(project, "render", "--all-envs", codes=(0,))
        logs = {}
        logs["clean"] = kiln(project, "validate", "--all-envs", "--output-format", "sarif", codes=(0,)).stdout
        spec = os.path.join(project, "specs", "hello.yaml")
        with open(spec) as f:
            text = f.read()
        # An error (unknown field) and a warning (a secret-looking config key) in one log.
        broken = text.replace("replicas: 2", "replica: 2") + "  config: \"password=hunter2\"\n"
        with open(spec, "w") as f:
            f.write(broken)
        logs["validate"] = kiln(project, "validate", "--env", "prod", "--output-format", "sarif").stdout
        with open(spec, "w") as f:
            f.write(text.replace("replicas: 2", "replicas: 3"))
        logs["diff"] = kiln(project, "diff", "--env", "prod", "--output-format", "sarif").stdout
        logs["check"] = kiln(project, "render", "--check", "--all-envs", "--output-format", "sarif").stdout
        kiln(work, "chart", "new", "chart", "--kind", "Nightly", "--api-version", "batch.example.com/v1", codes=(0,))
        schema = os.path.join(work, "chart", "schema.yaml")
        with open(schema) as f:
            chart_text = f.read()
        with open(schema, "w") as f:
            f.write(chart_text.replace("type: object", "type: objekt", 1))
        logs["lint"] = kiln(work, "chart", "lint", "chart", "--output-format", "sarif").stdout

        failures = []
        for name, text in logs.items():
            log = json.loads(text)
            results = log["runs"][0]["results"]
            if name != "clean" and not results:
                failures.append(f"{name}: the log has no results; the case tests nothing")
            path = os.path.join(work, f"{name}.sarif")
            with open(path, "w") as f:
                f.write(text)
            problems = [p for p in validate(path) if p[0] == "error" or p[1] not in ACCEPTED_WARNINGS]
            failures += [f"{name}: {level} {rule}: {message}" for level, rule, message in problems]
            print(f"ok    {name}: {len(results)} results, valid SARIF 2.1.0 for GitHub" if not problems else f"FAIL  {name}")
        levels = {r["level"] for r in json.loads(logs["validate"])["runs"][0]["results"]}
        if levels != {"error", "warning"}:
            failures.append(f"validate: expected an error and a warning, got levels {sorted(levels)}")

        # Control: a log the schema refuses must be refused.
        control = json.loads(logs["validate"])
        control["runs"][0]["results"][0]["level"] = "fatal"
        del control["runs"][0]["tool"]["driver"]["name"]
        path = os.path.join(work, "control.sarif")
        with open(path, "w") as f:
            json.dump(control, f)
        if not [p for p in validate(path) if p[0] == "error"]:
            failures.append("control: a log with a bad level and no tool name passed the validator")
        else:
            print("ok    control: a broken log is refused")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        sys.exit("SARIF check failed:\n" + "\n".join(failures))
    print("tests/sarif.py: every SARIF log kiln wrote passed the SARIF validator's schema and GitHub rules")


if __name__ == "__main__":
    main()
