#!/usr/bin/env python3
"""The CI examples (examples/ci) run on examples/gitops, as their runners would run them.

GitHub Actions: the workflow is parsed by GitHub's own parser (@actions/workflow-parser,
tests/ci_workflow.mjs), which refuses unknown keys and bad expressions; its `run` steps then
run in order with bash -eo pipefail (GitHub's default shell), honouring `if: success()`,
`failure()` and `always()`. GitLab CI: the job's `script` lines run in one POSIX sh with
errexit, as the GitLab runner runs them in the job's Alpine image. The step that installs kiln from its image (`id: install`, the
`before_script`) is not run: there is no registry here; the host's kiln is on PATH instead.

Three repository states, each on a fresh copy of examples/gitops:
- current: every check passes, the diff step is skipped, the reports are empty;
- stale (a spec changed, deploy/ not rendered again): the stale check fails with an
  annotation on the stale file, and the log shows the change as a diff;
- invalid (a spec breaks a rule): validation fails with an annotation at the spec's line, and
  GitLab's Code Quality report holds the finding with every field GitLab requires.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.environ.get("KILN", os.path.join(ROOT, "target", "debug", "kiln"))
MODULES = os.path.join(ROOT, "target", "npm-actions")
PACKAGE = "@actions/workflow-parser@0.3.61"
GITHUB = os.path.join(ROOT, "examples", "ci", "github-actions.yaml")
GITLAB = os.path.join(ROOT, "examples", "ci", "gitlab-ci.yaml")
# The job keywords of GitLab CI this test knows how to run or may ignore.
GITLAB_KEYS = {"stage", "image", "services", "variables", "rules", "before_script", "script",
               "artifacts"}


def fail(message):
    sys.exit(f"tests/ci_examples.py: FAIL: {message}")


def project_copy(work, runner, state):
    """examples/gitops in a new folder, in one of the three states."""
    copy = os.path.join(work, f"{runner}-{state}")
    shutil.copytree(os.path.join(ROOT, "examples", "gitops"), copy)
    spec = os.path.join(copy, "specs", "payments.yaml")
    with open(spec) as f:
        text = f.read()
    if state == "stale":
        changed = text.replace("replicas: 2", "replicas: 5", 1)
    elif state == "invalid":
        changed = text.replace("replicas: 2", "replicas: -1", 1)
    else:
        changed = text
    if state != "current" and changed == text:
        fail("examples/gitops/specs/payments.yaml no longer says replicas: 2; update this test")
    with open(spec, "w") as f:
        f.write(changed)
    return copy


def environment(extra):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(KILN)) + os.pathsep + env["PATH"]
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def github_steps():
    marker = os.path.join(MODULES, "node_modules", "@actions", "workflow-parser", "package.json")
    if not os.path.exists(marker):
        os.makedirs(MODULES, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", MODULES, PACKAGE],
                       check=True)
    parsed = subprocess.run(["node", os.path.join(ROOT, "tests", "ci_workflow.mjs"), MODULES, GITHUB],
                            capture_output=True, text=True)
    if parsed.returncode != 0:
        fail(f"GitHub's workflow parser refuses {GITHUB}: {parsed.stdout}{parsed.stderr}")
    workflow = json.loads(parsed.stdout)
    if workflow["errors"]:
        fail(f"GitHub's workflow parser: {workflow['errors']}")
    # The control: the parser must refuse a mistyped key, or its silence proves nothing.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as bad:
        bad.write("on: push\njobs:\n  kiln:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
        bad.flush()
        refused = subprocess.run(["node", os.path.join(ROOT, "tests", "ci_workflow.mjs"), MODULES, bad.name],
                                 capture_output=True, text=True)
        if refused.returncode == 0 or "stepz" not in refused.stdout:
            fail(f"the workflow parser accepts an unknown key: {refused.stdout}")
    [job] = workflow["jobs"]
    return job


def run_github(job, copy):
    """The job's steps in order; returns (job failed, {step name: (exit, output)})."""
    failed = False
    results = {}
    for step in job["steps"]:
        condition = step["if"]
        wanted = {"${{ success() }}": not failed, "${{ failure() }}": failed, "${{ always() }}": True}
        if condition not in wanted:
            fail(f"the step {step.get('name') or step['id']} has a condition this test cannot run: {condition}")
        if not wanted[condition] or step.get("uses") or step["id"] == "install":
            continue
        run = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=copy,
                             env=environment(dict(job["env"], GITHUB_ACTIONS="true", CI="true")),
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
        results[step["name"]] = (run.returncode, run.stdout + run.stderr)
        failed |= run.returncode != 0
    return failed, results


def check_github(work):
    job = github_steps()
    names = [s.get("name") for s in job["steps"] if s.get("run") and s["id"] != "install"]
    if names != ["Validate", "Rendered output is current", "What a render would change",
                 "Findings for code scanning"]:
        fail(f"the workflow's steps changed; update this test: {names}")

    copy = project_copy(work, "github", "current")
    failed, results = run_github(job, copy)
    if failed or "What a render would change" in results:
        fail(f"the workflow fails on the current project: {results}")
    with open(os.path.join(copy, "kiln.sarif")) as f:
        sarif = json.load(f)
    if sarif["version"] != "2.1.0" or sarif["runs"][0]["results"]:
        fail("the SARIF of the current project is not an empty 2.1.0 log")
    print("ci: GitHub Actions on the current project: validate, check and SARIF pass, no diff step")

    copy = project_copy(work, "github", "stale")
    failed, results = run_github(job, copy)
    code, output = results["Rendered output is current"]
    if not failed or code != 1 or "::error file=deploy/prod/shop/payments-v1s0/deployment.yaml" not in output:
        fail(f"a stale deploy/ should fail the check with an annotation on the file: exit {code}: {output}")
    code, output = results.get("What a render would change", (None, ""))
    if code != 0 or "-  replicas: 2" not in output or "+  replicas: 5" not in output:
        fail(f"the diff step should print the change and succeed: exit {code}: {output}")
    print("ci: GitHub Actions on a stale project: the check fails with an annotation, the diff shows replicas 2 -> 5")

    copy = project_copy(work, "github", "invalid")
    failed, results = run_github(job, copy)
    code, output = results["Validate"]
    if not failed or code != 1 or "::error file=specs/payments.yaml,line=" not in output:
        fail(f"an invalid spec should fail validation with an annotation at its line: exit {code}: {output}")
    with open(os.path.join(copy, "kiln.sarif")) as f:
        results_of = json.load(f)["runs"][0]["results"]
    if not results_of:
        fail("the SARIF of an invalid project holds no result")
    print(f"ci: GitHub Actions on an invalid spec: {output.splitlines()[0]}")


def run_gitlab(job, copy):
    script = "\n".join(job["script"])
    # The job's image (docker:cli, Alpine) has a POSIX sh, not bash: the script must not need it.
    run = subprocess.run(["sh", "-e", "-c", script], cwd=copy,
                         env=environment(dict(job.get("variables", {}), GITLAB_CI="true", CI="true")),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr


def read_report(copy, job):
    path = job["artifacts"]["reports"]["codequality"]
    with open(os.path.join(copy, path)) as f:
        return json.load(f)


def check_gitlab(work):
    with open(GITLAB) as f:
        pipeline = yaml.safe_load(f)
    job = pipeline["kiln"]
    unknown = set(job) - GITLAB_KEYS
    if unknown:
        fail(f"job keys this test does not run: {sorted(unknown)}")
    if job["artifacts"]["when"] != "always":
        fail("the Code Quality report must be kept when the job fails, or GitLab never shows it")

    copy = project_copy(work, "gitlab", "current")
    code, output = run_gitlab(job, copy)
    if code != 0 or read_report(copy, job) != []:
        fail(f"the GitLab job fails on the current project: exit {code}: {output}")
    print("ci: GitLab CI on the current project: passes, empty Code Quality report")

    copy = project_copy(work, "gitlab", "stale")
    code, output = run_gitlab(job, copy)
    if code != 1 or "+  replicas: 5" not in output:
        fail(f"a stale deploy/ should fail the job with the diff in the log: exit {code}: {output}")
    print("ci: GitLab CI on a stale project: fails, the log shows replicas 2 -> 5")

    copy = project_copy(work, "gitlab", "invalid")
    code, output = run_gitlab(job, copy)
    report = read_report(copy, job)
    if code != 1 or not report:
        fail(f"an invalid spec should fail the job and fill the report: exit {code}: {output}")
    for issue in report:
        ok = (isinstance(issue.get("description"), str) and isinstance(issue.get("check_name"), str)
              and isinstance(issue.get("fingerprint"), str)
              and issue.get("severity") in ("info", "minor", "major", "critical", "blocker")
              and isinstance(issue["location"].get("path"), str)
              and isinstance(issue["location"]["lines"].get("begin"), int))
        if not ok:
            fail(f"a Code Quality issue lacks a field GitLab requires: {issue}")
    if report[0]["location"]["path"] != "specs/payments.yaml":
        fail(f"the issue is not at the spec: {report[0]}")
    fingerprints = [i["fingerprint"] for i in report]
    if len(set(fingerprints)) != len(fingerprints):
        fail("two Code Quality issues share a fingerprint: GitLab would show one")
    print(f"ci: GitLab CI on an invalid spec: fails; Code Quality: {report[0]['location']['path']}:"
          f"{report[0]['location']['lines']['begin']} {report[0]['description']}")


def main():
    with tempfile.TemporaryDirectory() as work:
        check_github(work)
        check_gitlab(work)
    print("ci: ok")


if __name__ == "__main__":
    main()
