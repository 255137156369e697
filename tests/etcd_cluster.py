#!/usr/bin/env python3
"""The etcd chart's rendered command lines, run with a real etcd.

Renders an EtcdCluster of three members of the installed etcd's version, takes each
member's command line from the rendered StatefulSet exactly as the kubelet would run it
($(POD_NAME) expanded), and moves it onto 127.0.0.1: every member's stable DNS name becomes
a local address with ports of its own, and the data directory a temporary folder. Nothing
else is changed. Then it checks what the chart promises:

1. the static bootstrap flags form one healthy cluster of exactly `size` members, and the
   readiness probe's endpoint (/health on the health port) answers healthy;
2. the backup CronJob's snapshot command saves a snapshot etcdctl can read, and its upload
   script, with a stand-in `aws` that records its calls, uploads it and keeps `retention`;
3. growing by one (spec.resize) works as rendered: the Job's `etcdctl member add`, then the
   new member's flags (state existing) join it; shrinking back removes it by its ID.

Needs etcd and etcdctl (Debian packages etcd-server and etcd-client) and a built kiln
(KILN, default target/debug/kiln).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.environ.get("KILN", os.path.join(ROOT, "target", "debug", "kiln"))
NAME, NAMESPACE = "example", "default"
BASE_PORT = 32300


def ports(member):
    """client, peer, health ports of member i on 127.0.0.1."""
    base = BASE_PORT + 10 * member
    return base, base + 1, base + 2


def render(spec, work):
    path = os.path.join(work, "spec.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(spec, f)
    run = subprocess.run([KILN, "render", "-f", path], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"kiln render failed:\n{run.stderr}")
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


def localize(arg, member, work):
    """The kubelet's $(POD_NAME), then cluster DNS names and listen addresses as local ones."""
    arg = arg.replace("$(POD_NAME)", f"{NAME}-{member}")
    arg = arg.replace("--data-dir=/var/lib/etcd/data", f"--data-dir={work}/member-{member}")
    client, peer, health = ports(member)
    arg = arg.replace("0.0.0.0:2379", f"127.0.0.1:{client}")
    arg = arg.replace("0.0.0.0:2380", f"127.0.0.1:{peer}")
    arg = arg.replace("0.0.0.0:2381", f"127.0.0.1:{health}")
    arg = arg.replace(f"{NAME}-client.{NAMESPACE}.svc:2379", f"127.0.0.1:{ports(0)[0]}")

    def local(match):
        other = int(match.group(1))
        return f"127.0.0.1:{ports(other)[0 if match.group(2) == '2379' else 1]}"

    return re.sub(rf"{NAME}-(\d+)\.{NAME}\.{NAMESPACE}\.svc:(2379|2380)", local, arg)


def local_command(command, member, work):
    """A container's command as run here: its binary (/usr/local/bin/NAME) from PATH, each
    argument localized."""
    assert command[0].startswith("/usr/local/bin/"), command
    return [os.path.basename(command[0])] + [localize(arg, member, work) for arg in command[1:]]


def of_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def member_command(objects):
    statefulset = of_kind(objects, "StatefulSet")[0]
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[0] == "/usr/local/bin/etcd", command
    return command, statefulset


def etcdctl(*args, endpoint=None, check=True):
    endpoint = endpoint or f"http://127.0.0.1:{ports(0)[0]}"
    run = subprocess.run(
        ["etcdctl", f"--endpoints={endpoint}", *args],
        capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"}, timeout=30,
    )
    if check and run.returncode != 0:
        raise AssertionError(f"etcdctl {' '.join(args)}: {run.stderr}")
    return run


def start(command, member, work, processes):
    log = open(os.path.join(work, f"member-{member}.log"), "w")
    args = local_command(command, member, work)
    processes[member] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(members, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            for member in members:
                health = ports(member)[2]
                with urllib.request.urlopen(f"http://127.0.0.1:{health}/health", timeout=2) as r:
                    body = json.loads(r.read())
                    assert body["health"] in ("true", True), body
            return
        except Exception as error:  # not up yet
            if time.time() > deadline:
                raise AssertionError(f"members {members} not healthy after {timeout}s: {error}")
            time.sleep(0.5)


def run_job(command, backoff_limit):
    """A Job's command, retried as its backoffLimit allows (etcd refuses a membership change
    until the cluster has been healthy for a few seconds)."""
    for attempt in range(backoff_limit + 1):
        run = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"})
        if run.returncode == 0:
            return
        time.sleep(2)
    raise AssertionError(f"{' '.join(command)} failed {backoff_limit + 1} times: {run.stderr}")


def run_membership_job(objects, name, member, work):
    """The resize Job `name`, as rendered, run as its Pod would (`member`: whose address the
    localized arguments use)."""
    job = of_kind(objects, "Job")[0]
    assert job["metadata"]["name"] == name, job["metadata"]["name"]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    run_job(local_command(command, member, work), job["spec"]["backoffLimit"])


def member_names():
    listing = json.loads(etcdctl("member", "list", "-w", "json").stdout)
    return {m.get("name", ""): m["ID"] for m in listing["members"]}


def check_backup(objects, work):
    cronjob = of_kind(objects, "CronJob")[0]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    snapshot = pod["initContainers"][0]["command"]
    backup_dir = os.path.join(work, "backup")
    os.makedirs(backup_dir)
    args = [a.replace("/backup/", backup_dir + "/") for a in local_command(snapshot, 0, work)]
    run = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"})
    assert run.returncode == 0, run.stderr
    status = subprocess.run(
        ["etcdctl", "snapshot", "status", f"{backup_dir}/snapshot.db", "-w", "json"],
        capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"},
    )
    assert status.returncode == 0 and json.loads(status.stdout)["totalKey"] >= 1, status

    # The upload script, with an `aws` that records its calls and lists 16 older snapshots.
    upload = pod["containers"][0]
    script = upload["command"][2].replace("/backup/", backup_dir + "/")
    stub_dir = os.path.join(work, "bin")
    os.makedirs(stub_dir)
    calls = os.path.join(work, "aws-calls")
    with open(os.path.join(stub_dir, "aws"), "w") as f:
        f.write(
            "#!/bin/sh\n"
            f'echo "$*" >> {calls}\n'
            'case "$*" in *list-objects-v2*)\n'
            "  printf 'default/example/20260101T030000Z.db'\n"
            "  for d in 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16; do\n"
            "    printf '\\tdefault/example/202601%sT030000Z.db' $d; done\n"
            "  printf '\\tdefault/example/notes.txt\\n';;\n"
            "esac\n"
        )
    os.chmod(os.path.join(stub_dir, "aws"), 0o755)
    env = {e["name"]: e["value"] for e in upload["env"]}
    env["HOME"] = work  # the pod's HOME is its writable emptyDir
    env["PATH"] = f"{stub_dir}:{os.environ['PATH']}"
    run = subprocess.run(["/bin/sh", "-ec", script], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = open(calls).read().splitlines()
    assert lines[0].startswith(f"--endpoint-url {env['ENDPOINT']} s3 cp {backup_dir}/snapshot.db s3://etcd-backups/default/example/"), lines[0]
    deleted = [line.split("--key ")[1] for line in lines if "delete-object" in line]
    # 16 listed + the one just uploaded is not listed by the stand-in: keep the newest
    # `retention` (5) of the listed ones, delete the 11 oldest; never the .txt.
    assert deleted == [f"default/example/202601{d:02d}T030000Z.db" for d in range(11, 0, -1)], deleted
    assert "addressing_style = path" in open(os.path.join(work, ".aws", "config")).read()


def main():
    for tool in ("etcd", "etcdctl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install etcd-server etcd-client (make tools does)")
    version = re.search(r"etcd Version: (\S+)", subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout).group(1)
    processes = {}
    with tempfile.TemporaryDirectory() as work:
        spec = {
            "apiVersion": "etcd.database.coreos.com/v1beta2", "kind": "EtcdCluster",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": {"size": 3, "version": version, "backup": {
                "schedule": "@daily", "endpoint": "https://minio.storage.svc:9000",
                "bucket": "etcd-backups", "credentialsSecret": "minio", "retention": 5}},
        }
        try:
            objects = render(spec, work)
            command, statefulset = member_command(objects)
            assert statefulset["spec"]["replicas"] == 3
            for member in range(3):
                start(command, member, work, processes)
            wait_healthy(range(3))
            assert sorted(member_names()) == [f"{NAME}-{i}" for i in range(3)], member_names()
            etcdctl("put", "kiln", "rendered", endpoint=f"http://127.0.0.1:{ports(2)[0]}")
            assert etcdctl("get", "kiln", "--print-value-only").stdout.strip() == "rendered"
            print(f"bootstrap: 3 members of etcd {version} from the rendered flags, healthy")

            check_backup(objects, work)
            print("backup: snapshot saved and readable; upload and retention as scripted")

            grown = render({**spec, "spec": {**spec["spec"], "size": 4, "resize": {"from": 3}}}, work)
            run_membership_job(grown, f"{NAME}-3-join", 3, work)
            command, statefulset = member_command(grown)
            assert "--initial-cluster-state=existing" in command
            start(command, 3, work, processes)
            wait_healthy(range(4))
            assert sorted(member_names()) == [f"{NAME}-{i}" for i in range(4)], member_names()
            print("grow: the join Job added member 3, which joined with the rendered flags")

            member_id = format(member_names()[f"{NAME}-3"], "x")
            shrunk = render({**spec, "spec": {**spec["spec"], "size": 3, "resize": {"from": 4, "removeMemberID": member_id}}}, work)
            run_membership_job(shrunk, f"{NAME}-3-leave", 0, work)
            processes.pop(3).wait(timeout=30)  # a removed member stops by itself
            wait_healthy(range(3))
            assert sorted(member_names()) == [f"{NAME}-{i}" for i in range(3)], member_names()
            print("shrink: the leave Job removed member 3 by its ID; 3 healthy members remain")
        except Exception:
            for member in sorted(os.listdir(work)):
                if member.endswith(".log"):
                    print(f"--- {member}\n" + open(os.path.join(work, member)).read()[-3000:], file=sys.stderr)
            raise
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
    print("tests/etcd_cluster.py: the rendered etcd flags form, back up, grow and shrink a real cluster")


if __name__ == "__main__":
    main()
