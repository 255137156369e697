#!/usr/bin/env python3
"""kiln's Argo CD Config Management Plugin (deploy/argocd), run as argocd-cmp-server runs it.

argocd-cmp-server (cmpserver/plugin/plugin.go in Argo CD) unpacks the repository into a fresh
folder under /tmp/_cmp_server, matches `discover.fileName` against the Application's path,
then execs `generate.command` + `generate.args` with no shell and no terminal: working
directory the Application's path, environment its own plus the Application's (ARGOCD_APP_*,
KUBE_*, plugin env entries as ARGOCD_ENV_*, parameters as ARGOCD_APP_PARAMETERS and PARAM_*),
stdout read as the manifests and stderr shown only when the exit status is not 0. This test
does exactly that with the plugin.yaml kiln ships, on a copy of examples/gitops, and checks:

- stdout is nothing but the manifests: byte for byte `kiln render --env ENV -o -`, and as
  objects the folder kiln commits for that environment;
- the environment comes from the parameter `env` or the env entry KILN_ENV, a wrong or
  missing or contradictory one fails with the reason on stderr and nothing on stdout;
- the repository copy is left as it was (the sidecar's root file system is read-only);
- Argo CD's and Flux's annotations that a chart or a patch sets reach the output;
- the sidecar install (kustomize component) builds on an argocd-repo-server Deployment,
  runs kiln's image as uid 999 with a read-only root file system, mounts plugin.yaml where
  argocd-cmp-server reads it, and passes kubernetes-validate --strict (1.30 and newest).

With --image-root ROOTFS (image/test.sh), generate runs chrooted into the image's own files
as uid 999, the sidecar's user: the image's kiln, with nothing of the host. Without it, the
host's target/debug/kiln stands in for the image's /usr/local/bin/kiln.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.environ.get("KILN", os.path.join(ROOT, "target", "debug", "kiln"))
PLUGIN = os.path.join(ROOT, "deploy", "argocd", "plugin.yaml")
PROJECT = os.path.join(ROOT, "examples", "gitops")
SIDECAR_UID = 999
# The fields argocd-cmp-server reads (PluginConfigSpec, cmpserver/plugin/config.go).
SPEC_FIELDS = {"version", "init", "generate", "discover", "allowConcurrency", "lockRepo",
               "parameters", "preserveFileMode"}
# What a container runtime gives a process of an image without ENV PATH.
CONTAINER_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "HOSTNAME": "argocd-repo-server-5f7d9c8b4-x2x7q", "HOME": "/"}


def fail(message):
    sys.exit(f"tests/argocd.py: FAIL: {message}")


def application_env(name, env_entries=(), parameters=()):
    """The variables the repo server sends with a manifest request (reposerver's newEnv,
    getPluginEnvs and getPluginParamEnvs), for an Application of examples/gitops."""
    env = {
        "ARGOCD_APP_NAME": name,
        "ARGOCD_APP_NAMESPACE": "argocd",
        "ARGOCD_APP_PROJECT_NAME": "default",
        "ARGOCD_APP_REVISION": "6f1c2a9e0b7d4c3a8e5f6a7b8c9d0e1f2a3b4c5d",
        "ARGOCD_APP_REVISION_SHORT": "6f1c2a9",
        "ARGOCD_APP_REVISION_SHORT_8": "6f1c2a9e",
        "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.com/platform/gitops.git",
        "ARGOCD_APP_SOURCE_PATH": ".",
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
        "KUBE_VERSION": "1.30.4",
        "KUBE_API_VERSIONS": "v1,apps/v1,batch/v1,policy/v1,networking.k8s.io/v1,autoscaling/v2",
    }
    for key, value in env_entries:
        env[f"ARGOCD_ENV_{key}"] = value
    if parameters:
        env["ARGOCD_APP_PARAMETERS"] = json.dumps([{"name": k, "string": v} for k, v in parameters])
        for key, value in parameters:
            env["PARAM_" + "".join(c if c.isalnum() else "_" for c in key).upper()] = value
    # Argo CD drops entries whose value is empty (plugin.go, environ).
    return {k: v for k, v in env.items() if v}


def tree_digest(folder):
    digest = hashlib.sha256()
    for base, dirs, files in sorted(os.walk(folder)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(base, name)
            digest.update(os.path.relpath(path, folder).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


class Server:
    """argocd-cmp-server's side: the plugin's config, a repository copy, the exec."""

    def __init__(self, plugin, image_root):
        self.plugin = plugin
        self.image_root = image_root
        base = None
        if image_root:
            # The sidecar's /tmp: an emptyDir, the one place it may write.
            base = os.path.join(image_root, "tmp")
            os.makedirs(base, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="_cmp_server-", dir=base)
        # The repository as the repo server streams it: every file of the project.
        self.repo = os.path.join(self.work, "repo")
        shutil.copytree(PROJECT, self.repo, symlinks=True)
        if image_root:
            for base_dir, dirs, files in os.walk(self.work):
                for name in [base_dir] + [os.path.join(base_dir, n) for n in dirs + files]:
                    os.chown(name, SIDECAR_UID, SIDECAR_UID)

    def close(self):
        shutil.rmtree(self.work)

    def discovers(self, app_path):
        """discover.fileName, globbed in the Application's path (MatchRepository)."""
        import glob
        pattern = os.path.join(self.repo, app_path, self.plugin["spec"]["discover"]["fileName"])
        return bool(glob.glob(pattern))

    def generate(self, app_path, env):
        command = self.plugin["spec"]["generate"]
        argv = command["command"] + command.get("args", [])
        app_dir = os.path.normpath(os.path.join(self.repo, app_path))
        full_env = dict(CONTAINER_ENV, **env)
        if self.image_root:
            inside = "/" + os.path.relpath(app_dir, self.image_root)
            launcher = (
                "import os, sys\n"
                "root, cwd, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
                "os.chroot(root); os.chdir(cwd); os.setgroups([]); os.setgid(uid); os.setuid(uid)\n"
                "os.execve(sys.argv[4], sys.argv[4:], dict(os.environ))\n"
            )
            run_argv = [sys.executable, "-c", launcher, self.image_root, inside, str(SIDECAR_UID)] + argv
        else:
            # The image's /usr/local/bin/kiln is the host's build here.
            if argv[0] != "/usr/local/bin/kiln":
                fail(f"generate runs {argv[0]}, not the image's /usr/local/bin/kiln")
            run_argv = [KILN] + argv[1:]
        return subprocess.run(run_argv, cwd=None if self.image_root else app_dir, env=full_env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)


def objects_of(stream):
    return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def committed_objects(env):
    """The objects of deploy/ENV, in the order of its kustomization.yaml."""
    folder = os.path.join(PROJECT, "deploy", env)
    with open(os.path.join(folder, "kustomization.yaml")) as f:
        listing = yaml.safe_load(f)
    objects = []
    for path in listing["resources"]:
        with open(os.path.join(folder, path)) as f:
            objects += objects_of(f)
    return objects


def check_plugin_file(plugin):
    if plugin.get("apiVersion") != "argoproj.io/v1alpha1" or plugin.get("kind") != "ConfigManagementPlugin":
        fail(f"{PLUGIN} is not a ConfigManagementPlugin: {plugin.get('apiVersion')} {plugin.get('kind')}")
    if plugin["metadata"].get("name") != "kiln":
        fail("the plugin's name is not kiln (Applications name it in spec.source.plugin.name)")
    unknown = set(plugin["spec"]) - SPEC_FIELDS
    if unknown:
        fail(f"fields argocd-cmp-server does not read: {sorted(unknown)}")
    if plugin["spec"]["discover"] != {"fileName": "kiln.yaml"}:
        fail(f"discovery should be the presence of kiln.yaml: {plugin['spec']['discover']}")
    static = plugin["spec"]["parameters"]["static"]
    if [p["name"] for p in static] != ["env"]:
        fail(f"the plugin should announce one parameter, env: {static}")
    with open(os.path.join(PROJECT, "argocd", "shop-staging-plugin.yaml")) as f:
        app = yaml.safe_load(f)
    if app["spec"]["source"]["plugin"]["name"] != plugin["metadata"]["name"]:
        fail("the example Application names another plugin")


def check_generate(server, rendered):
    app = "."
    if not server.discovers(app):
        fail("the plugin does not discover examples/gitops (it holds kiln.yaml)")
    if server.discovers("deploy/prod"):
        fail("the plugin discovers deploy/prod, which holds no kiln.yaml")
    before = tree_digest(server.repo)

    cases = [
        ("parameter env", application_env("shop-staging", parameters=[("env", "staging")]), "staging"),
        ("plugin env KILN_ENV", application_env("shop-prod", env_entries=[("KILN_ENV", "prod")]), "prod"),
        ("both, agreeing", application_env("shop-prod", [("KILN_ENV", "prod")], [("env", "prod")]), "prod"),
    ]
    for label, env, environment in cases:
        run = server.generate(app, env)
        if run.returncode != 0:
            fail(f"generate with the {label} exited {run.returncode}: {run.stderr}")
        if run.stdout != rendered[environment]:
            fail(f"generate with the {label}: stdout is not `kiln render --env {environment} -o -`")
        objects = objects_of(run.stdout)
        if objects != committed_objects(environment):
            fail(f"generate with the {label}: the objects are not those of deploy/{environment}")
        for obj in objects:
            if not (obj.get("apiVersion") and obj.get("kind") and obj.get("metadata", {}).get("name")):
                fail(f"a document of stdout is not a Kubernetes object: {obj}")
        if "apiVersion:" in run.stderr:
            fail(f"manifests on stderr: {run.stderr[:300]}")
        print(f"argocd: generate ({label}): {len(objects)} objects of {environment} on stdout, nothing else")

    refusals = [
        ("an unknown environment", application_env("x", parameters=[("env", "prd")]), "did you mean prod?"),
        ("no environment", application_env("x"), "plugin parameter env or plugin env entry KILN_ENV"),
        ("two environments", application_env("x", [("KILN_ENV", "staging")], [("env", "prod")]),
         'parameter env is "prod"'),
    ]
    for label, env, expected in refusals:
        run = server.generate(app, env)
        if run.returncode == 0 or run.stdout or expected not in run.stderr:
            fail(f"generate with {label}: exit {run.returncode}, stdout {run.stdout[:200]!r}, "
                 f"stderr {run.stderr!r}; expected a failure naming {expected!r} and no manifests")
        print(f"argocd: generate with {label} fails: {run.stderr.strip()}")
    if tree_digest(server.repo) != before:
        fail("generate changed the repository copy")


def check_annotations(server):
    """A patch's Argo CD and Flux annotations, and the charts' own, reach the manifests."""
    patch = os.path.join(server.repo, "patches", "gitops-annotations.yaml")
    with open(patch, "w") as f:
        f.write(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payments-v1s0\n"
            "  namespace: shop\n  annotations:\n"
            "    argocd.argoproj.io/sync-wave: \"2\"\n"
            "    argocd.argoproj.io/compare-options: IgnoreExtraneous\n"
            "    kustomize.toolkit.fluxcd.io/prune: disabled\n"
            "    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent\n"
        )
    project = os.path.join(server.repo, "kiln.yaml")
    with open(project) as f:
        text = f.read()
    with open(project, "w") as f:
        f.write(text.replace("    output: deploy/prod",
                             "      - path: patches/gitops-annotations.yaml\n    output: deploy/prod"))
    if server.image_root:
        for path in (patch, project):
            os.chown(path, SIDECAR_UID, SIDECAR_UID)
    run = server.generate(".", application_env("shop-prod", [("KILN_ENV", "prod")]))
    if run.returncode != 0:
        fail(f"generate with an annotation patch: {run.stderr}")
    deployment = next(o for o in objects_of(run.stdout) if o["kind"] == "Deployment")
    annotations = deployment["metadata"]["annotations"]
    wanted = {
        "argocd.argoproj.io/sync-options": "PruneLast=true",  # set by the chart
        "argocd.argoproj.io/sync-wave": "2",
        "argocd.argoproj.io/compare-options": "IgnoreExtraneous",
        "kustomize.toolkit.fluxcd.io/prune": "disabled",
        "kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent",
    }
    missing = {k: v for k, v in wanted.items() if annotations.get(k) != v}
    if missing:
        fail(f"annotations lost or changed: {missing}; the Deployment has {annotations}")
    print(f"argocd: the chart's and a patch's Argo CD and Flux annotations reach the manifests ({len(wanted)})")


def check_install():
    """The component on an argocd-repo-server shaped like Argo CD's install.yaml."""
    with tempfile.TemporaryDirectory() as work:
        base = os.path.join(work, "argocd")
        os.makedirs(base)
        # The parts of Argo CD's argocd-repo-server the sidecar relies on: the var-files
        # volume its copyutil init container fills with argocd-cmp-server, and the plugins
        # volume where the sockets live.
        upstream = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "argocd-repo-server", "labels": {"app.kubernetes.io/name": "argocd-repo-server"}},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "argocd-repo-server"}},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "argocd-repo-server"}},
                    "spec": {
                        "initContainers": [{
                            "name": "copyutil", "image": "quay.io/argoproj/argocd:v2.13.0",
                            "command": ["/bin/cp", "-n", "/usr/local/bin/argocd", "/var/run/argocd/argocd-cmp-server"],
                            "volumeMounts": [{"name": "var-files", "mountPath": "/var/run/argocd"}],
                        }],
                        "containers": [{
                            "name": "argocd-repo-server", "image": "quay.io/argoproj/argocd:v2.13.0",
                            "command": ["/usr/local/bin/argocd-repo-server"],
                            "volumeMounts": [
                                {"name": "var-files", "mountPath": "/var/run/argocd"},
                                {"name": "plugins", "mountPath": "/home/argocd/cmp-server/plugins"},
                            ],
                        }],
                        "volumes": [{"name": "var-files", "emptyDir": {}}, {"name": "plugins", "emptyDir": {}}],
                    },
                },
            },
        }
        with open(os.path.join(base, "repo-server.yaml"), "w") as f:
            yaml.safe_dump(upstream, f)
        with open(os.path.join(base, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({
                "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                "namespace": "argocd", "resources": ["repo-server.yaml"],
                "components": [os.path.relpath(os.path.join(ROOT, "deploy", "argocd"), base)],
            }, f)
        built = subprocess.run(["kubectl", "kustomize", base], capture_output=True, text=True)
        if built.returncode != 0:
            fail(f"kubectl kustomize of the component failed: {built.stderr}")
        objects = objects_of(built.stdout)
        config_map = next((o for o in objects if o["kind"] == "ConfigMap"), None)
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        with open(PLUGIN) as f:
            if config_map is None or config_map["data"].get("plugin.yaml") != f.read():
                fail("no ConfigMap with deploy/argocd/plugin.yaml as plugin.yaml")
        spec = deployment["spec"]["template"]["spec"]
        names = [c["name"] for c in spec["containers"]]
        if sorted(names) != ["argocd-repo-server", "kiln"]:
            fail(f"containers after the patch: {names}")
        kiln = next(c for c in spec["containers"] if c["name"] == "kiln")
        security = kiln["securityContext"]
        expected = {"runAsNonRoot": True, "runAsUser": SIDECAR_UID, "readOnlyRootFilesystem": True,
                    "allowPrivilegeEscalation": False}
        if any(security.get(k) != v for k, v in expected.items()) or security["capabilities"]["drop"] != ["ALL"]:
            fail(f"the sidecar's securityContext: {security}")
        if kiln["command"] != ["/var/run/argocd/argocd-cmp-server"]:
            fail(f"the sidecar does not run argocd-cmp-server: {kiln['command']}")
        version = subprocess.run(["sed", "-n", 's/^version = "\\(.*\\)"$/\\1/p', os.path.join(ROOT, "Cargo.toml")],
                                 capture_output=True, text=True).stdout.split()[0]
        if kiln["image"] != f"localhost/kiln/kiln-webhook:{version}":
            fail(f"the sidecar's image {kiln['image']} is not the one `make image` builds")
        mounts = {m["mountPath"]: m for m in kiln["volumeMounts"]}
        plugin_mount = mounts.get("/home/argocd/cmp-server/config/plugin.yaml")
        volumes = {v["name"]: v for v in spec["volumes"]}
        if not plugin_mount or plugin_mount.get("subPath") != "plugin.yaml" \
                or volumes[plugin_mount["name"]]["configMap"]["name"] != config_map["metadata"]["name"]:
            fail(f"plugin.yaml is not mounted from the generated ConfigMap: {kiln['volumeMounts']}")
        for path, volume in (("/var/run/argocd", "var-files"), ("/home/argocd/cmp-server/plugins", "plugins"),
                             ("/tmp", None)):
            if path not in mounts or (volume and mounts[path]["name"] != volume):
                fail(f"the sidecar does not mount {path} ({volume or 'a writable emptyDir'})")
        if "emptyDir" not in volumes[mounts["/tmp"]["name"]]:
            fail("/tmp is not an emptyDir: argocd-cmp-server unpacks repositories there")
        rendered = os.path.join(work, "install.yaml")
        with open(rendered, "w") as f:
            f.write(built.stdout)
        newest = subprocess.run([sys.executable, "-c", "from kubernetes_validate.utils import latest_version; print(latest_version())"],
                                capture_output=True, text=True, check=True).stdout.strip()
        for version in ("1.30.0", newest):
            check = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", version, rendered],
                                   capture_output=True, text=True)
            if check.returncode != 0:
                fail(f"the installed sidecar fails kubernetes-validate --strict {version}: {check.stdout}{check.stderr}")
        print(f"argocd: the component adds {config_map['metadata']['name']} and the kiln sidecar (uid 999, "
              f"read-only root); kubernetes-validate --strict 1.30.0 and {newest} pass")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-root", help="run generate chrooted into this image file system, as uid 999")
    args = parser.parse_args()
    with open(PLUGIN) as f:
        plugin = yaml.safe_load(f)
    check_plugin_file(plugin)
    rendered = {}
    for env in ("staging", "prod"):
        run = subprocess.run([KILN, "render", "--env", env, "-o", "-"], cwd=PROJECT, capture_output=True, text=True)
        if run.returncode != 0:
            fail(f"kiln render --env {env} -o - failed: {run.stderr}")
        rendered[env] = run.stdout
    image_root = os.path.abspath(args.image_root) if args.image_root else None
    server = Server(plugin, image_root)
    try:
        check_generate(server, rendered)
        check_annotations(server)
    finally:
        server.close()
    if not image_root:
        check_install()
    where = "in the image, as uid 999" if image_root else "with the host's kiln"
    print(f"argocd: ok ({where})")


if __name__ == "__main__":
    main()
