#!/usr/bin/env python3
"""Runs every command README.md shows, so a README command cannot break silently.

- Each ```sh block is run in one bash session, in a copy of the repository's tracked files,
  with `kiln`, `kiln-webhook` and `kiln-certs` (debug builds) on PATH and cargo pointed at the
  repository's own target folder. A command must exit 0, except in a transcript.
- A transcript block (lines starting with `$ `) also checks output: the lines after a command
  are what it must print (stdout and stderr together), in order; a `...` line stands for any
  number of lines.
- A ```yaml block whose first line is `# NAME` is written to NAME first, so examples that show
  a file and then a command on it run on exactly the file shown. When NAME is a file of the
  repository, the block must be that file, byte for byte.
- A few commands cannot run as written here (they need a cluster, nightly Rust, or they are
  this test). Each has an entry in SPECIAL with what is run instead and why; a README command
  that is neither runnable nor listed fails the test, and so does a SPECIAL entry the README no
  longer shows.
- `make TARGET` and `bench/*.sh` named in the README's tables are checked to exist
  (`make -n`, executable scripts): they take minutes to hours (benchmarks) or run forever.

usage: tests/readme.py [README]
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# command as the README shows it -> (what runs instead, why). `{port}` is filled per run.
SPECIAL = {
    "make test": (
        None,
        "it is the command that runs this test",
    ),
    "cargo install --locked --path renderer": (
        "cargo install --locked --debug --path renderer",
        "into a temporary CARGO_INSTALL_ROOT; a debug build, since a release build of this copy"
        " takes minutes (the release binaries are built and run by image/test.sh)",
    ),
    "make image": (
        None,
        "image/test.sh, run by `make test` before this test, runs the same image/build.sh and"
        " tests the image it builds; building it again from this copy is a 3-minute link",
    ),
    "make webhook-local": (
        "webhook-local",
        "it serves until stopped: started in the background, checked on /healthz and /validate"
        " over TLS with the CA it generated, then stopped",
    ),
    "kubectl apply -k deploy/": (
        "kubectl kustomize deploy/ >/dev/null",
        "no cluster here: builds what apply -k would send",
    ),
    "kubectl -n kiln-system create secret generic kiln-webhook-tls --type kubernetes.io/tls"
    " --from-file=tls.crt=kiln-certs/tls.crt --from-file=tls.key=kiln-certs/tls.key"
    " --from-file=ca.crt=kiln-certs/ca.crt": (
        "kubectl -n kiln-system create secret generic kiln-webhook-tls --type kubernetes.io/tls"
        " --from-file=tls.crt=kiln-certs/tls.crt --from-file=tls.key=kiln-certs/tls.key"
        " --from-file=ca.crt=kiln-certs/ca.crt --dry-run=client -o yaml >/dev/null",
        "no cluster here: client-side dry run, which reads the three files",
    ),
    "cargo install cargo-fuzz": (
        None,
        "the fuzz targets need nightly Rust, which CI does not have; webhook/tests/fuzz_corpus.rs"
        " runs the same properties on stable (seeds, kept crashes, then mutations of the seeds)",
    ),
    "cd fuzz && cargo +nightly fuzz run -O spec_loader corpus/spec_loader seeds/spec_loader"
    " -- -max_total_time=300 -rss_limit_mb=2048 -timeout=10": (
        None,
        "needs nightly Rust and runs for 5 minutes; webhook/tests/fuzz_corpus.rs replays the"
        " seeds and kept crashes on stable and runs its properties on 10,000 mutations of the seeds",
    ),
}


def blocks(text):
    """Yields (info, first line number, lines) for every fenced block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = re.match(r"^```(\S*)\s*$", lines[i])
        if match and match.group(1):
            start = i
            i += 1
            body = []
            while i < len(lines) and lines[i] != "```":
                body.append(lines[i])
                i += 1
            yield match.group(1), start + 1, body
        i += 1


def strip_comment(line):
    """Drops a trailing `# comment` that is outside quotes."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index].rstrip()
    return line.rstrip()


def join_continuations(lines):
    joined, current = [], ""
    for line in lines:
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        joined.append(current + line.strip() if current else line)
        current = ""
    return joined


def parse_sh(body):
    """Returns [(command, expected output lines or None)]."""
    if any(line.startswith("$ ") for line in body):
        steps = []
        for line in body:
            if line.startswith("$ "):
                steps.append((line[2:].strip(), []))
            elif steps:
                steps[-1][1].append(line)
        return steps
    commands = []
    for line in join_continuations(body):
        line = strip_comment(line)
        if line:
            commands.append((re.sub(r"\s+", " ", line.strip()), None))
    return commands


def matches(expected, actual):
    """`...` (with an optional comment) stands for any number of lines."""
    expected = [strip_comment(line) if line.lstrip().startswith("...") else line for line in expected]
    while expected and expected[-1] == "":
        expected.pop()
    actual = actual.rstrip("\n").split("\n") if actual.strip() else []

    def walk(e, a):
        if e == len(expected):
            return a == len(actual)
        if expected[e].strip() == "...":
            return any(walk(e + 1, k) for k in range(a, len(actual) + 1))
        return a < len(actual) and expected[e] == actual[a] and walk(e + 1, a + 1)

    return walk(0, 0)


def run_session(workdir, env, steps):
    """Runs the steps in one bash session; returns [(status, output)] per step."""
    marker = "@@kiln-readme-step@@"
    script = ["set -u", "cd " + shlex.quote(workdir)]
    for command, _ in steps:
        script.append(f"{command} 2>&1\n__status=$?\nprintf '\\n{marker} %d\\n' \"$__status\"\n(exit $__status)")
    completed = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    results = []
    rest = completed.stdout
    for _ in steps:
        output, sep, rest = rest.partition(f"\n{marker} ")
        if not sep:
            results.append((None, output))
            break
        status, _, rest = rest.partition("\n")
        results.append((int(status), output))
    return results


def webhook_local(workdir, env):
    """`make webhook-local`: starts it, checks it answers over TLS, stops it."""
    process = subprocess.Popen(
        ["make", "webhook-local"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    # The Makefile writes the certificates under target/ of the folder it runs in.
    ca = os.path.join(workdir, "target", "dev-certs", "ca.crt")
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            if process.poll() is not None:
                return 1, process.stdout.read()
            probe = subprocess.run(
                ["curl", "-sS", "--fail", "--cacert", ca, "https://127.0.0.1:8443/healthz"],
                capture_output=True,
                text=True,
            )
            if probe.returncode == 0:
                review = subprocess.run(
                    ["curl", "-sS", "--fail", "--cacert", ca, "-H", "Content-Type: application/json",
                     "--data-binary", '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",'
                     '"request":{"uid":"readme","kind":{"group":"apps","version":"v1","kind":"Deployment"},'
                     '"resource":{"group":"apps","version":"v1","resource":"deployments"},'
                     '"operation":"DELETE","userInfo":{}}}',
                     "https://127.0.0.1:8443/validate"],
                    capture_output=True,
                    text=True,
                )
                if '"allowed":true' not in review.stdout:
                    return 1, "validate answered: " + review.stdout + review.stderr
                return 0, ""
            time.sleep(0.5)
        return 1, "no answer on https://127.0.0.1:8443/healthz within 300 s"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main():
    readme = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "README.md"))
    text = open(readme, encoding="utf-8").read()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    # The same build `cargo test --workspace` makes (dev-dependencies turn on features of
    # shared crates, so `cargo build -p ...` would compile much of the tree again).
    subprocess.run(["cargo", "test", "-q", "--workspace", "--no-run"], cwd=REPO, check=True)

    failures, ran, special_seen = [], 0, set()
    with tempfile.TemporaryDirectory(prefix="kiln-readme-") as tmp:
        workdir = os.path.join(tmp, "repo")
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, check=True
        ).stdout.decode().split("\0")
        tracked = set(filter(None, files))
        for name in filter(None, files):
            source = os.path.join(REPO, name)
            if not os.path.exists(source):
                continue
            os.makedirs(os.path.join(workdir, os.path.dirname(name)), exist_ok=True)
            shutil.copy2(source, os.path.join(workdir, name), follow_symlinks=False)
        env = dict(os.environ)
        env["CARGO_TARGET_DIR"] = target
        env["PATH"] = os.path.join(target, "debug") + os.pathsep + env["PATH"]
        env["CARGO_INSTALL_ROOT"] = os.path.join(tmp, "cargo-install")
        env.pop("CARGO_TERM_COLOR", None)

        for info, line, body in blocks(text):
            if info == "yaml" and body and re.match(r"^# [\w./-]+\.ya?ml$", body[0]):
                path = os.path.join(workdir, body[0][2:])
                if os.path.exists(os.path.join(REPO, body[0][2:])) and body[0][2:] in tracked:
                    # The README shows a file of the repository: it must be that file.
                    with open(os.path.join(REPO, body[0][2:]), encoding="utf-8") as f:
                        if f.read() != "\n".join(body) + "\n":
                            failures.append(f"README.md:{line}: shows {body[0][2:]}, but the file differs")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as out:
                    out.write("\n".join(body) + "\n")
                continue
            if info != "sh":
                continue
            steps = []
            for command, expected in parse_sh(body):
                if command in SPECIAL:
                    special_seen.add(command)
                    replacement, why = SPECIAL[command]
                    print(f"README.md:{line}: {command}\n    instead: {replacement or 'not run'} ({why})")
                    if replacement == "webhook-local":
                        status, output = webhook_local(workdir, env)
                        ran += 1
                        if status != 0:
                            failures.append(f"README.md:{line}: {command}: {output}")
                        continue
                    if replacement is None:
                        continue
                    command = replacement
                steps.append((command, expected))
            if not steps:
                continue
            started = time.monotonic()
            results = run_session(workdir, env, steps)
            print(f"README.md:{line}: block of {len(steps)} command(s) took {time.monotonic() - started:.1f} s")
            for (command, expected), (status, output) in zip(steps, results + [(None, "")] * len(steps)):
                ran += 1
                print(f"README.md:{line}: ran: {command}")
                if status is None:
                    failures.append(f"README.md:{line}: {command}: the session stopped before it\n{output}")
                    break
                if expected is None:
                    if status != 0:
                        failures.append(f"README.md:{line}: {command}: exit {status}\n{output}")
                elif not matches(expected, output):
                    failures.append(
                        f"README.md:{line}: {command}: the output differs from the README's\n"
                        f"--- README\n" + "\n".join(expected) + f"\n--- actual (exit {status})\n{output}"
                    )

        # Seeds are generated from fixtures: the command above must reproduce the committed ones.
        seeds = subprocess.run(
            ["diff", "-r", os.path.join(REPO, "fuzz", "seeds"), os.path.join(workdir, "fuzz", "seeds")],
            capture_output=True,
            text=True,
        )
        if seeds.returncode != 0:
            failures.append("python3 fuzz/seed.py does not reproduce fuzz/seeds/:\n" + seeds.stdout[:2000])

    for stale in sorted(set(SPECIAL) - special_seen):
        failures.append(f"tests/readme.py: SPECIAL lists a command the README no longer shows: {stale}")

    # Commands named in tables: they must exist.
    for target_name in sorted(set(re.findall(r"`make ([a-z-]+)", text))):
        check = subprocess.run(["make", "-n", target_name], cwd=REPO, capture_output=True, text=True)
        if check.returncode != 0:
            failures.append(f"README names `make {target_name}`, which make does not know: {check.stderr}")
    for script in sorted(set(re.findall(r"`(bench/[\w.-]+\.sh)", text))):
        if not os.access(os.path.join(REPO, script), os.X_OK):
            failures.append(f"README names {script}, which is missing or not executable")

    if failures:
        print(f"\n{len(failures)} README command(s) failed:", file=sys.stderr)
        for failure in failures:
            print("\n" + failure, file=sys.stderr)
        sys.exit(1)
    print(f"tests/readme.py: ok: {ran} README commands ran")


if __name__ == "__main__":
    main()
