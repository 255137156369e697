// The chart owner's commands end to end: `kiln chart new` writes a chart that lints, tests
// and renders as written; `kiln chart test` catches a changed template or rule with a diff;
// `kiln chart lint` reports a broken chart with its position; the built-in charts pass their
// own cases.

mod util;

use std::path::Path;

use util::{kiln, write};

/// `kiln chart new nightly --kind Nightly --api-version batch.example.com/v1` in `dir`.
fn run_chart_new(dir: &Path) -> util::Run {
    let args = [
        "chart",
        "new",
        "nightly",
        "--kind",
        "Nightly",
        "--api-version",
        "batch.example.com/v1",
    ];
    kiln(dir, &args, None)
}

fn new_chart(dir: &Path) {
    let run = run_chart_new(dir);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_new_chart_lints_passes_its_cases_and_renders_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    new_chart(dir.path());
    let lint = kiln(dir.path(), &["chart", "lint", "nightly"], None);
    assert_eq!(lint.code, 0, "{}", lint.stderr);
    assert!(
        lint.stdout.contains("renders batch.example.com/v1 Nightly"),
        "{}",
        lint.stdout
    );
    assert!(lint.stdout.contains("1 rule"), "{}", lint.stdout);
    let test = kiln(dir.path(), &["chart", "test", "nightly"], None);
    assert_eq!(test.code, 0, "{}{}", test.stdout, test.stderr);
    assert!(
        test.stdout.contains("2 cases, 2 passed, 0 failed"),
        "{}",
        test.stdout
    );
    // The recorded expectations say what the chart does: both objects, and the rule's line.
    let expected =
        std::fs::read_to_string(dir.path().join("nightly/tests/example/expected.yaml")).unwrap();
    assert!(
        expected.contains("kind: Deployment") && expected.contains("kind: PodDisruptionBudget")
    );
    assert!(expected.contains("runAsNonRoot: true") && expected.contains("replicas: 3"));
    let findings = std::fs::read_to_string(
        dir.path()
            .join("nightly/tests/min-available-too-high/findings.txt"),
    )
    .unwrap();
    assert_eq!(
        findings,
        "tests/min-available-too-high/input.yaml:10:3: Nightly/stuck: spec.minAvailable: must be \
         less than replicas, or no pod can ever be evicted and node drains hang (got 2); hint: \
         lower minAvailable or raise replicas\n"
    );
    // The same spec through `kiln render`: the chart is an ordinary --chart folder.
    let render = kiln(
        dir.path(),
        &[
            "render",
            "-f",
            "nightly/tests/example/input.yaml",
            "--chart",
            "nightly",
        ],
        None,
    );
    assert_eq!(render.code, 0, "{}", render.stderr);
    assert_eq!(render.stdout, expected);
    let crd = kiln(dir.path(), &["crd", "--chart", "nightly"], None);
    assert!(
        crd.stdout.contains("name: nightlies.batch.example.com"),
        "{}",
        crd.stdout
    );
}

#[test]
fn chart_test_shows_a_diff_when_a_template_or_rule_changes_and_update_records_it() {
    let dir = tempfile::tempdir().unwrap();
    new_chart(dir.path());
    let template = dir.path().join("nightly/templates/deployment.yaml");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(
        &template,
        text.replace(
            "automountServiceAccountToken: false",
            "automountServiceAccountToken: true",
        ),
    )
    .unwrap();
    let schema = dir.path().join("nightly/schema.yaml");
    let text = std::fs::read_to_string(&schema).unwrap();
    std::fs::write(
        &schema,
        text.replace("self.minAvailable < self.replicas", "true"),
    )
    .unwrap();
    let test = kiln(dir.path(), &["chart", "test", "nightly"], None);
    assert_eq!(test.code, 1, "{}{}", test.stdout, test.stderr);
    for expected in [
        "FAIL  example: --- expected.yaml\n+++ rendered\n",
        "-      automountServiceAccountToken: false\n+      automountServiceAccountToken: true\n",
        "FAIL  min-available-too-high: --- findings.txt\n+++ findings\n",
        "-tests/min-available-too-high/input.yaml:10:3: Nightly/stuck: spec.minAvailable",
        "the input renders, but the case has no expected.yaml",
        "2 cases, 0 passed, 2 failed",
    ] {
        assert!(
            test.stdout.contains(expected),
            "{expected:?} in:\n{}",
            test.stdout
        );
    }
    let update = kiln(dir.path(), &["chart", "test", "nightly", "--update"], None);
    assert_eq!(update.code, 0, "{}", update.stderr);
    assert!(
        !dir.path()
            .join("nightly/tests/min-available-too-high/findings.txt")
            .exists()
    );
    let again = kiln(dir.path(), &["chart", "test", "nightly"], None);
    assert_eq!(again.code, 0, "{}", again.stdout);
}

#[test]
fn chart_lint_names_the_file_and_position_of_a_broken_chart() {
    let dir = tempfile::tempdir().unwrap();
    new_chart(dir.path());
    let schema = dir.path().join("nightly/schema.yaml");
    let text = std::fs::read_to_string(&schema).unwrap();
    std::fs::write(
        &schema,
        text.replace("self.minAvailable < self.replicas", "self.minAvailable <"),
    )
    .unwrap();
    let lint = kiln(dir.path(), &["chart", "lint", "nightly"], None);
    assert_eq!(lint.code, 1, "{}", lint.stderr);
    assert!(
        lint.stderr.contains("nightly/schema.yaml:")
            && lint
                .stderr
                .contains("x-kubernetes-validations[0].rule: does not compile"),
        "{}",
        lint.stderr
    );
    let missing = kiln(dir.path(), &["chart", "lint", "no-such-chart"], None);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
}

#[test]
fn chart_new_and_chart_test_refuse_bad_arguments_and_incomplete_cases() {
    let dir = tempfile::tempdir().unwrap();
    for (args, message) in [
        (
            ["--kind", "nightly", "--api-version", "batch.example.com/v1"],
            "UpperCamelCase",
        ),
        (
            ["--kind", "Nightly", "--api-version", "batch/v1"],
            "with a dot",
        ),
        (
            ["--kind", "Nightly", "--api-version", "batch.example.com/1"],
            "v1, v1beta1",
        ),
    ] {
        let mut all = vec!["chart", "new", "x"];
        all.extend(args);
        let run = kiln(dir.path(), &all, None);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(message), "{message}: {}", run.stderr);
        assert!(!dir.path().join("x").exists());
    }
    new_chart(dir.path());
    let twice = run_chart_new(dir.path());
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("already exists"), "{}", twice.stderr);
    write(
        dir.path(),
        "nightly/tests/new-case/input.yaml",
        "apiVersion: batch.example.com/v1\n",
    );
    let test = kiln(dir.path(), &["chart", "test", "nightly"], None);
    assert_eq!(test.code, 2, "{}", test.stdout);
    assert!(
        test.stderr
            .contains("has neither expected.yaml nor findings.txt"),
        "{}",
        test.stderr
    );
}

#[test]
fn the_built_in_charts_pass_their_own_cases() {
    let dir = tempfile::tempdir().unwrap();
    for chart in ["microservice", "appservice", "etcd", "redisenterprise"] {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/").to_owned() + chart;
        let test = kiln(dir.path(), &["chart", "test", &path], None);
        assert_eq!(test.code, 0, "{chart}: {}{}", test.stdout, test.stderr);
        assert!(test.stdout.contains(" 0 failed"), "{}", test.stdout);
    }
}

/// Input files are parsed while the charts load, standard input only after them: a broken
/// chart is reported at once, not when whatever writes to kiln's standard input is done.
#[test]
fn a_broken_chart_does_not_wait_for_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    new_chart(dir.path());
    std::fs::remove_file(dir.path().join("nightly/chart.yaml")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["render", "-f", "-", "--chart", "nightly"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _open_stdin = child.stdin.take();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("kiln waited for standard input before reporting the broken chart");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing chart.yaml"), "{stderr}");
}
