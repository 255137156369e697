// The GitOps workflow end to end with the real binary: `kiln init`, environments from
// kiln.yaml, `kiln diff` and `render --check` against the output folders, patches, and the
// machine formats of findings.

mod util;

use std::fs;
use std::path::Path;

use util::{Run, kiln, write};

/// `kiln init` in a fresh folder, with a second spec so the environments have two services.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let run = kiln(dir.path(), &["init"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dir.path().join("kiln.yaml").is_file());
    write(
        dir.path(),
        "values/prod.yaml",
        "domain: apps.prod.example.com\n",
    );
    let project = fs::read_to_string(dir.path().join("kiln.yaml")).unwrap();
    let project = project.replacen(
        "  prod:\n    values: []",
        "  prod:\n    values: [values/prod.yaml]",
        1,
    );
    fs::write(dir.path().join("kiln.yaml"), project).unwrap();
    dir
}

fn ok(run: &Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

#[test]
fn init_renders_every_environment_and_a_second_render_changes_nothing() {
    let dir = project();
    ok(&kiln(dir.path(), &["render", "--all-envs"], None));
    let staging = dir
        .path()
        .join("deploy/staging/hello/hello-v1s0/deployment.yaml");
    let prod = dir
        .path()
        .join("deploy/prod/hello/hello-v1s0/deployment.yaml");
    assert!(staging.is_file() && prod.is_file());
    // The environment's values reach its output only.
    let mentions = |env: &str| {
        let run = kiln(dir.path(), &["render", "--env", env, "-o", "-"], None);
        ok(&run);
        run.stdout.contains("apps.prod.example.com")
    };
    assert!(mentions("prod") && !mentions("staging"));
    // From a subfolder: the nearest parent's kiln.yaml, paths still right.
    fs::create_dir_all(dir.path().join("specs/nested")).unwrap();
    let run = kiln(
        &dir.path().join("specs/nested"),
        &["render", "--env", "prod"],
        None,
    );
    ok(&run);
    assert!(
        run.stderr
            .contains("0 files written, 13 unchanged, 0 removed"),
        "{}",
        run.stderr
    );
    // Without --env, with two environments: which one?
    let run = kiln(dir.path(), &["render"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("2 environments (staging, prod); choose one with --env NAME"),
        "{}",
        run.stderr
    );
}

#[test]
fn diff_and_check_agree_with_what_render_writes() {
    let dir = project();
    ok(&kiln(dir.path(), &["render", "--all-envs"], None));
    let run = kiln(dir.path(), &["diff", "--env", "prod"], None);
    ok(&run);
    assert_eq!(run.stdout, "");
    ok(&kiln(
        dir.path(),
        &["render", "--check", "--all-envs"],
        None,
    ));

    // A spec change: prod differs, object by object, as a unified diff.
    let spec = dir.path().join("specs/hello.yaml");
    let text = fs::read_to_string(&spec).unwrap();
    fs::write(&spec, text.replace("replicas: 2", "replicas: 3")).unwrap();
    let run = kiln(dir.path(), &["diff", "--env", "prod"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "changed: Deployment hello/hello-v1s0 (deploy/prod/hello/hello-v1s0/deployment.yaml)\n\
             --- deploy/prod/hello/hello-v1s0/deployment.yaml\n\
             +++ deploy/prod/hello/hello-v1s0/deployment.yaml\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\n-  replicas: 2\n+  replicas: 3\n"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("\x1b["),
        "no color when stdout is not a terminal"
    );
    assert!(
        run.stderr
            .contains("kiln diff: prod deploy/prod: 2 changed, 0 added, 0 removed, 11 unchanged"),
        "{}",
        run.stderr
    );
    let colored = kiln(
        dir.path(),
        &["diff", "--env", "prod", "--color", "always"],
        None,
    );
    assert!(colored.stdout.contains("\x1b[32m+  replicas: 3\x1b[0m"));

    // --check lists the stale files of both environments, writes nothing, exits 1.
    let before = fs::read_to_string(
        dir.path()
            .join("deploy/prod/hello/hello-v1s0/deployment.yaml"),
    )
    .unwrap();
    let run = kiln(dir.path(), &["render", "--check", "--all-envs"], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "deploy/prod/hello/hello-v1s0/deployment.yaml:1:1: Deployment/hello/hello-v1s0: is stale: \
             the specs render other contents; hint: run `kiln render --env prod` and commit the result"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("deploy/staging/hello/hello-v1s0/deployment.yaml:1:1")
    );
    assert_eq!(
        before,
        fs::read_to_string(
            dir.path()
                .join("deploy/prod/hello/hello-v1s0/deployment.yaml")
        )
        .unwrap()
    );

    // A new service is missing, a removed one obsolete.
    write(
        dir.path(),
        "specs/other.yaml",
        &fs::read_to_string(&spec)
            .unwrap()
            .replace("hello-v1s0", "other-v1s0")
            .replace("msName: hello", "msName: other"),
    );
    let run = kiln(dir.path(), &["diff", "--env", "staging"], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("added: Deployment hello/other-v1s0"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("--- /dev/null\n+++ deploy/staging/hello/other-v1s0/deployment.yaml")
    );

    // Render, and both agree again: byte for byte what was written.
    ok(&kiln(dir.path(), &["render", "--all-envs"], None));
    ok(&kiln(
        dir.path(),
        &["render", "--check", "--all-envs"],
        None,
    ));
    fs::remove_file(dir.path().join("specs/other.yaml")).unwrap();
    let run = kiln(dir.path(), &["diff", "--env", "staging"], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("removed: Deployment hello/other-v1s0"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("+++ /dev/null"));

    // A hand edit to a generated file is stale too.
    ok(&kiln(dir.path(), &["render", "--all-envs"], None));
    let edited = dir.path().join("deploy/prod/hello/hello-v1s0/service.yaml");
    let text = fs::read_to_string(&edited).unwrap();
    fs::write(&edited, text.replace("port: 80", "port: 81")).unwrap();
    let run = kiln(dir.path(), &["diff", "--env", "prod"], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("-    port: 81\n+    port: 80\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn diff_exits_2_on_invalid_specs_and_without_an_output_folder() {
    let dir = project();
    let spec = dir.path().join("specs/hello.yaml");
    let text = fs::read_to_string(&spec).unwrap();
    fs::write(&spec, text.replace("replicas: 2", "replica: 2")).unwrap();
    let run = kiln(dir.path(), &["diff", "--env", "prod"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("specs/hello.yaml:12:3: MicroServiceDeploy/hello-v1s0: spec.replica: unknown field; hint: did you mean `replicas`?"),
        "{}",
        run.stderr
    );
    let run = kiln(dir.path(), &["diff", "-f", "specs"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("compares with an output folder"),
        "{}",
        run.stderr
    );
}

#[test]
fn project_file_mistakes_name_the_line_and_suggest() {
    let dir = project();
    let path = dir.path().join("kiln.yaml");
    let good = fs::read_to_string(&path).unwrap();
    let cases = [
        (
            good.replace("\nspecs:\n", "\nspec:\n"),
            "kiln.yaml:8:1: spec: unknown field; hint: did you mean `specs`?",
        ),
        (
            good.replace("values: [values/prod.yaml]", "values: [values/prd.yaml]"),
            "environments.prod.values[0]: no such file or folder (got \"values/prd.yaml\"); hint: did you mean values/prod.yaml?",
        ),
        (
            good.replace("output: deploy/prod", "output: ../../elsewhere"),
            "environments.prod.output: must be a relative path inside the project's folder (got \"../../elsewhere\")",
        ),
        (
            good.replace("output: deploy/prod", "outptu: deploy/prod"),
            "environments.prod.outptu: unknown field; hint: did you mean `output`?",
        ),
        (
            good.replace("  prod:", "  Prod:"),
            "environments.Prod: an environment name must be a DNS-1123 label",
        ),
    ];
    for (text, expected) in cases {
        fs::write(&path, &text).unwrap();
        let run = kiln(dir.path(), &["render", "--all-envs"], None);
        assert_eq!(run.code, 2, "{expected}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
        assert!(!dir.path().join("deploy").exists(), "nothing written");
    }
    fs::write(&path, &good).unwrap();
    let run = kiln(dir.path(), &["render", "--env", "prd"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("kiln.yaml: no environment \"prd\"; did you mean prod? the environments are staging, prod"),
        "{}",
        run.stderr
    );
    let empty = tempfile::tempdir().unwrap();
    let run = kiln(empty.path(), &["render"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no spec files given (-f PATH) and no kiln.yaml")
    );
    let run = kiln(dir.path(), &["init"], None);
    assert_eq!(run.code, 2, "init never overwrites");
    assert!(run.stderr.contains("kiln.yaml: already exists"));
}

/// A project whose prod environment applies the patches written by `patches`.
fn patched(patches: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = project();
    let path = dir.path().join("kiln.yaml");
    let mut entries = String::from("    patches:\n");
    for (file, text, target) in patches {
        write(dir.path(), file, text);
        entries.push_str(&format!("      - path: {file}\n"));
        if !target.is_empty() {
            entries.push_str(&format!("        target: {target}\n"));
        }
    }
    let text = fs::read_to_string(&path).unwrap().replace(
        "    output: deploy/prod\n",
        &format!("{entries}    output: deploy/prod\n"),
    );
    fs::write(&path, text).unwrap();
    dir
}

fn deployment(dir: &Path, env: &str) -> serde_json::Value {
    let text =
        fs::read_to_string(dir.join(format!("deploy/{env}/hello/hello-v1s0/deployment.yaml")))
            .unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

const PIN_TO_TWO_NODES: &str = "\
# The seed's first case: two machines that share no label.
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello-v1s0, namespace: hello}
spec:
  template:
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - {key: kubernetes.io/hostname, operator: In, values: [node-a, node-b]}
      containers:
        - name: hello
          env:
            - {name: PINNED, value: \"yes\"}
";

#[test]
fn patches_change_one_environment_and_merge_lists_by_key() {
    let dir = patched(&[
        ("patches/pin.yaml", PIN_TO_TWO_NODES, ""),
        (
            "patches/replicas.yaml",
            "- op: replace\n  path: /spec/replicas\n  value: 5\n",
            "{kind: Deployment, labelSelector: \"app.kubernetes.io/name=hello\"}",
        ),
        (
            "patches/quota.yaml",
            "spec: {hard: {pods: \"40\"}}\n",
            "{kind: ResourceQuota, namespace: hello}",
        ),
    ]);
    ok(&kiln(dir.path(), &["render", "--all-envs"], None));
    let prod = deployment(dir.path(), "prod");
    let staging = deployment(dir.path(), "staging");
    assert_eq!(prod["spec"]["replicas"], 5);
    assert_eq!(staging["spec"]["replicas"], 2, "only prod is patched");
    assert_eq!(
        prod.pointer("/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0/values"),
        Some(&serde_json::json!(["node-a", "node-b"]))
    );
    // Containers merge by name: the rendered container keeps its image and gains the env.
    let container = &prod["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/team/hello:1.0");
    assert!(
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "PINNED")
    );
    let quota =
        fs::read_to_string(dir.path().join("deploy/prod/hello/resourcequota.yaml")).unwrap();
    assert!(quota.contains("pods: '40'"), "{quota}");
    // diff and check see the patched output as current.
    ok(&kiln(dir.path(), &["diff", "--env", "prod"], None));
}

#[test]
fn a_patched_config_map_rolls_its_pods_and_other_patches_do_not() {
    let config_hash = |dir: &Path| {
        ok(&kiln(dir, &["render", "--env", "prod"], None));
        deployment(dir, "prod")
            .pointer("/spec/template/metadata/annotations/kiln.dev~1config-hash")
            .and_then(|hash| hash.as_str())
            .expect("a rendered Deployment carries the config hash")
            .to_owned()
    };
    let unpatched = config_hash(project().path());
    let data = patched(&[(
        "patches/greeting.yaml",
        "data: {GREETING: hello from prod}\n",
        "{kind: ConfigMap, name: hello-v1s0}",
    )]);
    let replicas = patched(&[(
        "patches/replicas.yaml",
        "spec: {replicas: 3}\n",
        "{kind: Deployment, name: hello-v1s0}",
    )]);
    assert_ne!(
        config_hash(data.path()),
        unpatched,
        "new data rolls the pods"
    );
    assert_eq!(
        config_hash(replicas.path()),
        unpatched,
        "the data is unchanged"
    );
    // The patched folder is what a render writes: check finds nothing to do.
    ok(&kiln(
        data.path(),
        &["render", "--check", "--env", "prod"],
        None,
    ));
}

#[test]
fn patch_mistakes_name_the_patch_file_line_and_target() {
    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "- op: replace\n  path: /spec/replicas\n  value: 5\n",
            "{kind: Deployment, name: nothing-here}",
            "patches/p.yaml:1:1: the patch matches no rendered object (target: kind: Deployment, name: nothing-here)",
            "no match",
        ),
        (
            "- op: replace\n  path: /spec/replicas\n  value: 5\n- op: remove\n  path: /spec/nope\n",
            "{kind: Deployment}",
            "patches/p.yaml:4:3: Deployment/hello/hello-v1s0: operation 2 of patches/p.yaml fails: path is invalid at /spec/nope",
            "failing operation",
        ),
        (
            "- op: replace\n  path: /spec/template/spec/securityContext/runAsNonRoot\n  value: false\n",
            "{kind: Deployment}",
            "patches/p.yaml:1:3: Deployment/hello/hello-v1s0: spec.template.spec.securityContext.runAsNonRoot: must be true; hint: the patch patches/p.yaml breaks a guarantee of the chart",
            "guard",
        ),
        (
            "spec:\n  template:\n    spec:\n      containers:\n        - name: hello\n          resorces: {}\n",
            "{kind: Deployment}",
            "patches/p.yaml:6:11: Deployment/hello/hello-v1s0: spec.template.spec.containers[0].resorces: unknown field (Kubernetes would reject the object as the patch patches/p.yaml leaves it); hint: did you mean `resources`?",
            "strict type",
        ),
        (
            "metadata: {name: renamed}\n",
            "{kind: Deployment}",
            "metadata.name: a patch cannot change an object's identity (patches/p.yaml) (got \"renamed\")",
            "identity",
        ),
    ];
    for (text, target, expected, what) in cases {
        let dir = patched(&[("patches/p.yaml", text, target)]);
        let run = kiln(dir.path(), &["render", "--all-envs"], None);
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{what}: {expected}\n{}",
            run.stderr
        );
        assert!(
            !dir.path().join("deploy").exists(),
            "{what}: nothing written"
        );
    }
    // --patch without kiln.yaml: a mapping patch names its own target.
    let dir = project();
    write(dir.path(), "pin.yaml", PIN_TO_TWO_NODES);
    let run = kiln(
        dir.path(),
        &["render", "-f", "specs", "--patch", "pin.yaml"],
        None,
    );
    ok(&run);
    assert!(run.stdout.contains("- node-a\n"), "{}", run.stdout);
    let run = kiln(
        dir.path(),
        &["render", "-f", "specs", "--patch", "kiln.yaml"],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("kiln.yaml:5:1: the patch has no target"),
        "{}",
        run.stderr
    );
}

#[test]
fn findings_come_as_json_sarif_and_github_commands() {
    let dir = project();
    let spec = dir.path().join("specs/hello.yaml");
    let text = fs::read_to_string(&spec).unwrap();
    fs::write(&spec, text.replace("replicas: 2", "replica: 2")).unwrap();

    let run = kiln(
        dir.path(),
        &["validate", "--env", "prod", "--output-format", "json"],
        None,
    );
    assert_eq!(run.code, 1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["errors"], 1);
    let finding = &report["findings"][0];
    for (key, value) in [
        ("file", "specs/hello.yaml"),
        ("field", "spec.replica"),
        ("rule", "unknown-field"),
        ("severity", "error"),
        ("message", "unknown field"),
        ("hint", "did you mean `replicas`?"),
    ] {
        assert_eq!(finding[key], value, "{key}: {finding}");
    }
    assert_eq!(finding["line"], 12);
    assert_eq!(finding["column"], 3);
    assert_eq!(finding["object"]["kind"], "MicroServiceDeploy");

    let run = kiln(
        dir.path(),
        &["validate", "--env", "prod", "--output-format", "github"],
        None,
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "::error file=specs/hello.yaml,line=12,col=3,title=kiln unknown-field::MicroServiceDeploy/hello-v1s0: spec.replica: unknown field; hint: did you mean `replicas`?\n"
    );

    let run = kiln(
        dir.path(),
        &["validate", "--env", "prod", "--output-format", "sarif"],
        None,
    );
    assert_eq!(run.code, 1);
    let log: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["level"], "error");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        12
    );

    // render keeps stdout for manifests: the report goes to stderr there.
    fs::write(&spec, &text).unwrap();
    let run = kiln(
        dir.path(),
        &[
            "render",
            "--env",
            "prod",
            "-o",
            "-",
            "--output-format",
            "json",
        ],
        None,
    );
    ok(&run);
    assert!(run.stdout.starts_with("---\n"));
    let report: serde_json::Value = serde_json::from_str(&run.stderr).unwrap();
    assert_eq!(report["errors"], 0);

    // A chart error from lint, at its file and line.
    let chart = dir.path().join("chart");
    ok(&kiln(
        dir.path(),
        &[
            "chart",
            "new",
            "chart",
            "--kind",
            "Nightly",
            "--api-version",
            "batch.example.com/v1",
        ],
        None,
    ));
    let schema = chart.join("schema.yaml");
    let text = fs::read_to_string(&schema).unwrap();
    fs::write(&schema, text.replacen("type: object", "type: objekt", 1)).unwrap();
    let run = kiln(
        dir.path(),
        &["chart", "lint", "chart", "--output-format", "json"],
        None,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["findings"][0]["rule"], "chart");
    assert!(
        report["findings"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("schema.yaml"),
        "{report}"
    );
    assert!(report["findings"][0]["line"].as_u64().unwrap() > 0);
}

#[test]
fn the_example_project_is_rendered_and_current() {
    // examples/gitops is a GitOps repository with its output committed: a chart change that
    // alters what it renders fails here until `kiln render --all-envs` is run in it.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops");
    let run = kiln(&example, &["render", "--check", "--all-envs"], None);
    assert_eq!(
        run.code, 0,
        "examples/gitops/deploy is stale: run `kiln render --all-envs` in examples/gitops\n{}",
        run.stderr
    );
    let prod =
        fs::read_to_string(example.join("deploy/prod/shop/payments-v1s0/deployment.yaml")).unwrap();
    for patched in [
        "colo-b-app17",
        "secretName: payments-tls-2026",
        "mountPath: /etc/payments/tls",
    ] {
        assert!(prod.contains(patched), "{patched}");
    }
    let staging =
        fs::read_to_string(example.join("deploy/staging/shop/payments-v1s0/deployment.yaml"))
            .unwrap();
    assert!(!staging.contains("colo-b-app17"));
    let backup = fs::read_to_string(
        example.join("deploy/prod/platform/config-store/cronjob-config-store-backup.yaml"),
    )
    .unwrap();
    assert!(backup.contains("value: https://objects.site-b.example.net"));
    assert!(backup.contains("name: etcd-backup-ceph"));
}
