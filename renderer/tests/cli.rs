// End-to-end tests of the `kiln` binary: the command contract of DESIGN.md, exit codes,
// file discovery, determinism and the GitOps output folder.

mod util;

use util::{fixture, kiln, read_fixture, snapshot_tree, spec, write};

#[test]
fn render_prints_the_valid_seed_as_one_stream() {
    let dir = tempfile::tempdir().unwrap();
    let seed = fixture("seed/ms-sample-v1s0-valid.yaml");
    let run = kiln(dir.path(), &["render", "-f", seed.to_str().unwrap()], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kinds: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        [
            // No Namespace, quota or LimitRange: `default` is shared (chart value
            // namespaces.shared).
            "NetworkPolicy",
            "PodDisruptionBudget",
            "ServiceAccount",
            "ConfigMap",
            // The major version's Service (ms-sample-v1), then the instance's.
            "Service",
            "Service",
            "Deployment",
            "HorizontalPodAutoscaler",
            // Its alerts (monitoring.enabled).
            "PrometheusRule"
        ]
    );
    // The seed's config holds a password: rendered, with a warning.
    assert!(
        run.stderr
            .contains("warning: spec.config: key \"password\" looks like a secret"),
        "{}",
        run.stderr
    );
}

#[test]
fn render_rejects_the_verbatim_seed_naming_spec_image() {
    let dir = tempfile::tempdir().unwrap();
    let seed = fixture("seed/ms-sample-v1s0.yaml");
    let run = kiln(dir.path(), &["render", "-f", seed.to_str().unwrap()], None);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout, "",
        "nothing is rendered when any input is invalid"
    );
    let expected = format!(
        "{}:11:3: MicroServiceDeploy/ms-sample-v1s0: spec.image: is not a valid OCI image reference",
        seed.display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(
        run.stderr
            .ends_with("kiln: 1 error, 1 warning; nothing was written\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_reports_every_problem_of_every_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &read_fixture("render/err-typos.yaml"));
    write(
        dir.path(),
        "b.yaml",
        &read_fixture("render/err-quantities.yaml"),
    );
    let run = kiln(dir.path(), &["validate", "-f", "a.yaml", "b.yaml"], None);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    let errors = run
        .stderr
        .lines()
        .filter(|l| !l.contains("warning:") && !l.starts_with("kiln:"))
        .count();
    assert_eq!(errors, 9, "{}", run.stderr);
    assert!(run.stderr.contains("a.yaml:10:3: MicroServiceDeploy/shop-v1s0: spec.replica: unknown field; hint: did you mean `replicas`?"));
    assert!(run.stderr.contains("b.yaml:13:7: MicroServiceDeploy/store-v1s0: spec.resourceRequirements.limits.memory: is not a Kubernetes quantity"));
}

#[test]
fn validate_accepts_valid_specs_silently() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &spec("a", "team"));
    let run = kiln(dir.path(), &["validate", "-f", "a.yaml"], None);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
}

#[test]
fn folders_are_searched_recursively_for_yaml_only() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    write(dir.path(), "specs/deeper/b.yml", &spec("b", "team"));
    write(dir.path(), "specs/notes.txt", "not yaml at all: [");
    write(dir.path(), "specs/.hidden/c.yaml", "not: [valid");
    let run = kiln(dir.path(), &["render", "-f", "specs"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("name: a-v1s0") && run.stdout.contains("name: b-v1s0"));
}

#[test]
fn multi_document_files_render_every_document() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "all.yaml",
        &format!("{}---\n{}", spec("a", "team"), spec("b", "team")),
    );
    let run = kiln(dir.path(), &["render", "-f", "all.yaml"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.matches("\nkind: Deployment\n").count(), 2);
}

#[test]
fn output_is_the_same_bytes_whatever_the_file_order_or_stdin() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    write(dir.path(), "specs/b.yaml", &spec("b", "other"));
    let forward = kiln(
        dir.path(),
        &["render", "-f", "specs/a.yaml", "specs/b.yaml"],
        None,
    );
    let backward = kiln(
        dir.path(),
        &["render", "-f", "specs/b.yaml", "-f", "specs/a.yaml"],
        None,
    );
    let folder = kiln(dir.path(), &["render", "-f", "specs"], None);
    let both = format!("{}---\n{}", spec("b", "other"), spec("a", "team"));
    let stdin = kiln(dir.path(), &["render", "-f", "-"], Some(&both));
    assert_eq!(forward.code, 0, "{}", forward.stderr);
    assert_eq!(forward.stdout, backward.stdout);
    assert_eq!(forward.stdout, folder.stdout);
    assert_eq!(forward.stdout, stdin.stdout);
}

#[test]
fn a_file_named_twice_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    let run = kiln(dir.path(), &["render", "-f", "specs", "specs/a.yaml"], None);
    assert_eq!(
        run.code, 0,
        "a file reached twice is not a conflict with itself: {}",
        run.stderr
    );
}

#[test]
fn output_folder_holds_one_file_per_object_and_a_kustomization() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files: Vec<String> = snapshot_tree(&dir.path().join("out"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        files,
        [
            "kustomization.yaml",
            "team/a-v1s0/configmap.yaml",
            "team/a-v1s0/deployment.yaml",
            "team/a-v1s0/networkpolicy.yaml",
            "team/a-v1s0/poddisruptionbudget.yaml",
            "team/a-v1s0/prometheusrule.yaml",
            "team/a-v1s0/service.yaml",
            "team/a-v1s0/serviceaccount.yaml",
            "team/limitrange.yaml",
            "team/namespace.yaml",
            "team/prometheusrule.yaml",
            "team/resourcequota.yaml",
            "team/service.yaml",
        ]
    );
    let deployment =
        std::fs::read_to_string(dir.path().join("out/team/a-v1s0/deployment.yaml")).unwrap();
    assert!(
        deployment
            .starts_with("# Generated by kiln from MicroServiceDeploy team/a-v1s0. Do not edit")
    );
}

#[test]
fn kubectl_kustomize_of_the_folder_yields_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    write(
        dir.path(),
        "specs/b.yaml",
        &read_fixture("render/namespace-quota.yaml"),
    );
    write(
        dir.path(),
        "specs/c.yaml",
        &read_fixture("seed/ms-sample-v1s0-valid.yaml"),
    );
    let stream = kiln(dir.path(), &["render", "-f", "specs"], None);
    let folder = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!((stream.code, folder.code), (0, 0), "{}", folder.stderr);
    let kustomize = std::process::Command::new("kubectl")
        .args(["kustomize", "out"])
        .current_dir(dir.path())
        .output()
        .expect("kubectl is installed (see .ci/run)");
    assert!(
        kustomize.status.success(),
        "{}",
        String::from_utf8_lossy(&kustomize.stderr)
    );
    let from_kustomize = util::parse_stream(&String::from_utf8(kustomize.stdout).unwrap());
    let from_stream = util::parse_stream(&stream.stdout);
    assert_eq!(from_stream.len(), 49);
    assert_eq!(from_kustomize, from_stream, "same objects, same order");
}

#[test]
fn rendering_again_changes_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    let before = snapshot_tree(&dir.path().join("out"));
    let again = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(again.code, 0);
    assert!(
        again
            .stderr
            .contains("0 files written, 13 unchanged, 0 removed"),
        "{}",
        again.stderr
    );
    assert_eq!(before, snapshot_tree(&dir.path().join("out")));
}

#[test]
fn an_output_folder_inside_the_input_folder_is_not_read_back() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &spec("a", "team"));
    let first = kiln(dir.path(), &["render", "-f", ".", "-o", "rendered"], None);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = snapshot_tree(&dir.path().join("rendered"));
    // The second run walks rendered/ too: its files carry kiln's header and are skipped, so
    // they are neither unknown kinds nor duplicates of what a.yaml renders.
    let again = kiln(dir.path(), &["render", "-f", ".", "-o", "rendered"], None);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("0 files written, 13 unchanged, 0 removed"),
        "{}",
        again.stderr
    );
    assert_eq!(before, snapshot_tree(&dir.path().join("rendered")));
    // A folder of nothing but kiln's output is a usage error that says so.
    let output_only = kiln(dir.path(), &["validate", "-f", "rendered"], None);
    assert_eq!(output_only.code, 2, "{}", output_only.stderr);
    assert!(
        output_only
            .stderr
            .contains("rendered: holds only files kiln generated"),
        "{}",
        output_only.stderr
    );
}

#[test]
fn stale_generated_files_are_pruned_and_foreign_files_kept() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    write(dir.path(), "specs/b.yaml", &spec("b", "team"));
    kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    write(
        dir.path(),
        "out/team/b-v1s0/notes.yaml",
        "# a person's file\n",
    );
    write(dir.path(), "out/README.md", "hand written\n");
    std::fs::remove_file(dir.path().join("specs/b.yaml")).unwrap();
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // b's seven files, its major-version Service, and a's major-version Service, which is
    // `service.yaml` again now that it is the only Service of the namespace.
    assert!(run.stderr.contains("9 removed"), "{}", run.stderr);
    let files: Vec<String> = snapshot_tree(&dir.path().join("out"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert!(
        files.contains(&"team/b-v1s0/notes.yaml".to_owned()),
        "{files:?}"
    );
    assert!(files.contains(&"README.md".to_owned()));
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("team/b-v1s0/") && f != "team/b-v1s0/notes.yaml"),
        "{files:?}"
    );
    let kustomization = std::fs::read_to_string(dir.path().join("out/kustomization.yaml")).unwrap();
    assert!(!kustomization.contains("b-v1s0"));
}

#[test]
fn invalid_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    let before = snapshot_tree(&dir.path().join("out"));
    write(
        dir.path(),
        "specs/bad.yaml",
        &read_fixture("seed/ms-sample-v1s0.yaml"),
    );
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 1);
    assert_eq!(before, snapshot_tree(&dir.path().join("out")));
    let fresh = kiln(dir.path(), &["render", "-f", "specs", "-o", "fresh"], None);
    assert_eq!(fresh.code, 1);
    assert!(
        !dir.path().join("fresh").exists(),
        "no partial output folder"
    );
}

#[test]
fn a_file_kiln_did_not_write_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    write(
        dir.path(),
        "out/kustomization.yaml",
        "resources: [mine.yaml]\n",
    );
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("kustomization.yaml: exists and was not generated by kiln"),
        "{}",
        run.stderr
    );
    let files: Vec<String> = snapshot_tree(&dir.path().join("out"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(files, ["kustomization.yaml"], "nothing else was written");
}

#[test]
fn usage_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(kiln(dir.path(), &["render"], None).code, 2);
    assert_eq!(
        kiln(dir.path(), &["render", "-f", "missing.yaml"], None).code,
        2
    );
    assert_eq!(kiln(dir.path(), &["render", "--bogus"], None).code, 2);
    assert_eq!(
        kiln(
            dir.path(),
            &["render", "-f", "x.yaml", "--chart", "no-such-chart"],
            None
        )
        .code,
        2
    );
    let missing = kiln(dir.path(), &["validate", "-f", "missing.yaml"], None);
    assert_eq!(
        missing.stderr,
        "kiln: missing.yaml: no such file or directory\n"
    );
}

#[test]
fn help_documents_every_command_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    let top = kiln(dir.path(), &["--help"], None).stdout;
    for needle in ["render", "validate", "chart", "Exit status"] {
        assert!(top.contains(needle), "kiln --help lacks {needle}:\n{top}");
    }
    let render = kiln(dir.path(), &["render", "--help"], None).stdout;
    for needle in [
        "--file <PATH>",
        "--output <DIR>",
        "--chart <DIR>",
        "--values <FILE>",
        "stdin",
        "kustomization.yaml",
    ] {
        assert!(
            render.contains(needle),
            "kiln render --help lacks {needle}:\n{render}"
        );
    }
    let validate = kiln(dir.path(), &["validate", "--help"], None).stdout;
    assert!(validate.contains("--file <PATH>"));
}

#[test]
fn an_exported_chart_can_be_edited_and_used() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &spec("a", "team"));
    assert_eq!(
        kiln(dir.path(), &["chart", "export", "my-chart"], None).code,
        0
    );
    let values = dir.path().join("my-chart/values.yaml");
    let edited = std::fs::read_to_string(&values)
        .unwrap()
        .replace("containerPort: 8080", "containerPort: 9090");
    std::fs::write(&values, edited).unwrap();
    let run = kiln(
        dir.path(),
        &["render", "-f", "a.yaml", "--chart", "my-chart"],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("containerPort: 9090"));
}

#[test]
fn an_undefined_template_variable_names_the_template_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &spec("a", "team"));
    kiln(dir.path(), &["chart", "export", "my-chart"], None);
    let template = dir.path().join("my-chart/templates/service.yaml");
    let edited = std::fs::read_to_string(&template)
        .unwrap()
        .replace("type: ClusterIP", "type: {{ instance.serviceType }}");
    std::fs::write(&template, edited).unwrap();
    let run = kiln(
        dir.path(),
        &["render", "-f", "a.yaml", "--chart", "my-chart"],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("my-chart templates/service.yaml: line 12: undefined value"),
        "{}",
        run.stderr
    );
}

#[test]
fn values_files_override_chart_defaults_per_environment() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &spec("a", "team"));
    write(
        dir.path(),
        "prod.yaml",
        "domain: apps.prod.example.com\nautoscaling:\n  maxReplicas: 20\n",
    );
    let run = kiln(
        dir.path(),
        &["render", "-f", "a.yaml", "--values", "prod.yaml"],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("kiln.dev/host: v1.a.team.apps.prod.example.com"),
        "{}",
        run.stdout
    );
}

#[test]
fn values_files_are_checked_against_the_chart_s_values_schema_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &spec("a", "team"));
    write(
        dir.path(),
        "bad.yaml",
        "domain: apps.example.com\nautoscaling:\n  maxReplica: 3\nprobes:\n  readiness:\n    \
         tcpSocket: {port: http}\n    httpGet: {path: /, port: http}\n",
    );
    let run = kiln(
        dir.path(),
        &[
            "render", "-f", "a.yaml", "--values", "bad.yaml", "-o", "out",
        ],
        None,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    for line in [
        "bad.yaml:3:3: values of built-in chart microservice: autoscaling.maxReplica: unknown field; hint: did you mean `maxReplicas`?",
        "bad.yaml:5:3: values of built-in chart microservice: probes.readiness: must have at most one handler (tcpSocket, httpGet, exec or grpc)",
    ] {
        assert!(run.stderr.contains(line), "{line}\n{}", run.stderr);
    }
    assert!(!dir.path().join("out").exists(), "nothing is written");
}

#[test]
fn a_chart_values_file_that_breaks_its_values_schema_is_a_chart_error() {
    let dir = tempfile::tempdir().unwrap();
    export_builtin(dir.path(), "appservice", "my-chart");
    let values = dir.path().join("my-chart/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(
        &values,
        text.replace("revisionHistoryLimit: 5", "revisionHistoryLimit: -1"),
    )
    .unwrap();
    let run = kiln(dir.path(), &["crd", "--chart", "my-chart"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("my-chart/values.yaml:")
            && run
                .stderr
                .contains("revisionHistoryLimit: must be at least 0 (got -1)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_rule_whose_cost_has_no_bound_is_a_chart_error_at_its_position() {
    let stderr = render_with_edited_builtin(
        "appservice",
        "schema.yaml",
        ("        maxItems: 16\n", ""),
        "seed/appservice-nginx.yaml",
    );
    assert!(
        stderr.contains("my-chart/schema.yaml:")
            && stderr.contains(
                "properties.spec.properties.ports.x-kubernetes-validations[0].rule: its cost has \
                 no bound: it iterates over spec.ports, which has no maxItems"
            ),
        "{stderr}"
    );
}

#[test]
fn a_template_that_reads_a_field_the_schema_lacks_is_a_chart_error_at_its_position() {
    let template = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/microservice/templates/deployment.yaml"
    );
    let text = std::fs::read_to_string(template).unwrap();
    let line = text.lines().position(|l| l.contains("spec.image")).unwrap() + 1;
    let stderr = render_with_edited_builtin(
        "microservice",
        "templates/deployment.yaml",
        ("spec.image", "spec.imag"),
        "seed/ms-sample-v1s0-valid.yaml",
    );
    let expected = format!(
        "my-chart/templates/deployment.yaml:{line}:21: spec.imag: imag is not a field of spec \
         in schema.yaml; did you mean `image`?"
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// Exports a built-in chart to `my-chart`, replaces text in one of its files, renders a
/// fixture with it into a folder, and returns stderr after checking that the chart error
/// stopped everything (exit 2, no folder).
fn render_with_edited_builtin(
    chart: &str,
    file: &str,
    (from, to): (&str, &str),
    fixture_name: &str,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    export_builtin(dir.path(), chart, "my-chart");
    let path = dir.path().join("my-chart").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    let seed = fixture(fixture_name);
    let args = [
        "render",
        "-f",
        seed.to_str().unwrap(),
        "--chart",
        "my-chart",
        "-o",
        "out",
    ];
    let run = kiln(dir.path(), &args, None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!dir.path().join("out").exists());
    run.stderr
}

/// Copies a built-in chart into `dir/folder` with `kiln chart export`.
fn export_builtin(dir: &std::path::Path, name: &str, folder: &str) {
    let export = kiln(dir, &["chart", "export", folder, "--name", name], None);
    assert_eq!(export.code, 0, "{}", export.stderr);
}

/// Renders kiln's own deployment (examples/kiln-webhook.yaml with charts/webhook).
pub fn render_webhook_chart(dir: &std::path::Path, spec: &str) -> util::Run {
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/webhook");
    write(dir, "webhook.yaml", spec);
    kiln(
        dir,
        &["render", "-f", "webhook.yaml", "--chart", chart],
        None,
    )
}

#[test]
fn the_webhook_chart_deploys_the_crd_that_kiln_crd_prints() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/kiln-webhook.yaml"
    ))
    .unwrap();
    let rendered = render_webhook_chart(dir.path(), &spec);
    assert_eq!(rendered.code, 0, "{}", rendered.stderr);
    let crd = kiln(dir.path(), &["crd"], None);
    assert_eq!(crd.code, 0);
    let from_chart: Vec<serde_json::Value> = util::parse_stream(&rendered.stdout)
        .into_iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .map(|mut crd| {
            let annotations = crd["metadata"]["annotations"].as_object_mut().unwrap();
            annotations.remove("kiln.dev/spec");
            crd
        })
        .collect();
    let printed = util::parse_stream(&crd.stdout);
    assert_eq!(printed.len(), 4, "one CRD per built-in chart with a schema");
    let names = |crds: &[serde_json::Value]| {
        let mut names: Vec<String> = crds
            .iter()
            .map(|c| c["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&from_chart), names(&printed));
    for crd in &printed {
        assert!(from_chart.contains(crd), "{crd}");
    }
}

#[test]
fn a_second_chart_adds_a_kind_and_a_duplicate_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &spec("a", "team"));
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/webhook");
    let both = kiln(
        dir.path(),
        &["render", "-f", "a.yaml", "--chart", chart],
        None,
    );
    assert_eq!(
        both.code, 0,
        "MicroServiceDeploy still renders with the built-in chart: {}",
        both.stderr
    );
    let twice = kiln(
        dir.path(),
        &["render", "-f", "a.yaml", "--chart", chart, "--chart", chart],
        None,
    );
    assert_eq!(twice.code, 2);
    assert!(
        twice
            .stderr
            .contains("renders custom.ops/v1 KilnWebhook, which another chart renders too"),
        "{}",
        twice.stderr
    );
}

#[test]
fn a_minor_release_keeps_the_major_service_and_warns_that_the_old_instance_goes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    let first = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(!first.stderr.contains("replaced"), "{}", first.stderr);
    let major = std::fs::read_to_string(dir.path().join("out/team/service.yaml")).unwrap();
    assert!(major.contains("name: a-v1\n"), "{major}");
    let next = spec("a", "team")
        .replace("a-v1s0", "a-v1s1")
        .replace("\"1.0\"", "\"1.1\"");
    write(dir.path(), "specs/a.yaml", &next);
    let second = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains(
            "kiln: warning: team/a-v1s0 is replaced by team/a-v1s1 (app.kubernetes.io/name: a)"
        ),
        "{}",
        second.stderr
    );
    // The Service consumers call keeps its name and selector; only the instance list changes.
    let after = std::fs::read_to_string(dir.path().join("out/team/service.yaml")).unwrap();
    let without_instances = |text: &str| {
        text.lines()
            .filter(|l| !l.contains("kiln.dev/instances"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_instances(&major), without_instances(&after));
    assert!(after.contains("kiln.dev/instances: a-v1s1"), "{after}");
    assert!(!dir.path().join("out/team/a-v1s0").exists());
    // Every instance object tells Argo CD to delete it last.
    let deployment =
        std::fs::read_to_string(dir.path().join("out/team/a-v1s1/deployment.yaml")).unwrap();
    assert!(
        deployment.contains("argocd.argoproj.io/sync-options: PruneLast=true"),
        "{deployment}"
    );
}

const EXTERNAL_SECRET: &str = "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata:\n  name: a-db\n  namespace: team\nspec:\n  secretStoreRef: {name: vault, kind: ClusterSecretStore}\n  target: {name: a-db}\n  data:\n    - secretKey: password\n      remoteRef: {key: team/a, property: password}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: team}\ndata: {checkout: \"on\"}\n";

#[test]
fn plain_manifests_next_to_specs_pass_through_ordered_and_written_like_rendered_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    write(dir.path(), "specs/extras.yaml", EXTERNAL_SECRET);
    let stream = kiln(dir.path(), &["render", "-f", "specs"], None);
    assert_eq!(stream.code, 0, "{}", stream.stderr);
    let objects = util::parse_stream(&stream.stdout);
    let secret = objects
        .iter()
        .find(|o| o["kind"] == "ExternalSecret")
        .expect("the ExternalSecret passes through");
    // As written: no kiln annotation or label added.
    assert_eq!(
        secret["spec"]["data"][0]["remoteRef"]["property"],
        "password"
    );
    assert!(secret["metadata"].get("annotations").is_none());
    assert!(
        objects
            .iter()
            .any(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "flags")
    );

    let folder = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(folder.code, 0, "{}", folder.stderr);
    let text = std::fs::read_to_string(dir.path().join("out/team/externalsecret.yaml")).unwrap();
    assert!(
        text.starts_with("# Generated by kiln from a plain manifest among the inputs. Do not edit: change that manifest and render again.\n"),
        "{text}"
    );
    let kustomize = std::process::Command::new("kubectl")
        .args(["kustomize", "out"])
        .current_dir(dir.path())
        .output()
        .expect("kubectl is installed (see .ci/run)");
    assert!(kustomize.status.success());
    assert_eq!(
        util::parse_stream(&String::from_utf8(kustomize.stdout).unwrap()),
        objects,
        "the folder holds the stream's objects, in its order"
    );

    // Turned off, the same documents are unknown kinds.
    let strict = kiln(
        dir.path(),
        &["validate", "--no-passthrough", "-f", "specs"],
        None,
    );
    assert_eq!(strict.code, 1);
    assert!(
        strict.stderr.contains(
            "specs/extras.yaml:2:1: ExternalSecret/a-db: kind: kiln has no chart for external-secrets.io/v1beta1 ExternalSecret"
        ),
        "{}",
        strict.stderr
    );
}

#[test]
fn a_misspelt_kind_or_a_bad_manifest_is_refused_not_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    write(
        dir.path(),
        "specs/bad.yaml",
        "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x, namespace: team}\n---\n\
         apiVersion: custom.ops/v1\nkind: MicroserviceDeploy\nmetadata: {name: y}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: z, namespace: team}\nspec:\n  ports:\n    - port: 80\n      targetPrt: 8080\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a-v1s0, namespace: team}\n",
    );
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "specs/bad.yaml:2:1: Deploymnet/x: kind: apps/v1 has no kind Deploymnet; hint: did you mean Deployment?",
            "specs/bad.yaml:6:1: MicroserviceDeploy/y: kind: kiln has no chart for custom.ops/v1 MicroserviceDeploy, and it is too close to custom.ops/v1 MicroServiceDeploy to pass through as a plain manifest; it renders: custom.ops/v1 MicroServiceDeploy, app.example.com/v1 AppService, etcd.database.coreos.com/v1beta2 EtcdCluster, app.redislabs.com/v1alpha1 RedisEnterpriseCluster; hint: did you mean apiVersion: custom.ops/v1, kind: MicroServiceDeploy?",
            "specs/bad.yaml:15:7: Service/z: spec.ports[0].targetPrt: unknown field; Kubernetes would reject this Service; hint: did you mean `targetPort`?",
            "specs/bad.yaml:19:12: ConfigMap/a-v1s0: metadata.name: ConfigMap team/a-v1s0 is given by the spec MicroServiceDeploy team/a-v1s0 too; hint: keep one: a plain manifest cannot replace or repeat an object",
            "kiln: 4 errors; nothing was written",
        ]
    );
    assert!(!dir.path().join("out").exists());
}
