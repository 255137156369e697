// A kind added from files only: a chart the test writes (schema with a CEL rule, a derived
// default, a template) is rendered and validated by the library and admitted by the webhook,
// with the same messages and no Rust written for it.

mod util;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use kiln::Kiln;
use kiln::spec::load::{InputFile, parse_documents};
use kiln_webhook::{AppState, metrics::Metrics, router};
use serde_json::{Value, json};
use util::{apply_patch, patch_of, post_review, review};

const SCHEMA: &str = r#"type: object
required: [spec]
properties:
  spec:
    type: object
    description: A scheduled job.
    required: [schedule, image]
    properties:
      schedule:
        type: string
        description: Cron schedule.
      image:
        type: string
        format: image-reference
        description: What runs.
      jobName:
        type: string
        format: dns1123-label
        description: The CronJob's name; default <metadata.name>-job.
      keep:
        type: integer
        minimum: 1
        maximum: 10
        default: 3
        description: Finished jobs kept.
    x-kubernetes-validations:
      - id: schedule-fields
        rule: "self.schedule.split(' ').size() == 5"
        fieldPath: .schedule
        message: must have five fields (minute hour day month weekday)
      - id: keep-in-prod
        rule: "self.keep >= values.minKeep"
        fieldPath: .keep
        messageExpression: "'must be at least ' + string(values.minKeep)"
"#;

const DEFAULTS: &str = r#"- field: spec.jobName
  expression: "self.metadata.name + '-job'"
"#;

const TEMPLATE: &str = r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ spec.jobName }}
  namespace: {{ instance.namespace }}
spec:
  schedule: {{ spec.schedule }}
  successfulJobsHistoryLimit: {{ spec.keep }}
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: job
              image: {{ spec.image }}
"#;

fn write_chart(dir: &std::path::Path) {
    let files = [
        (
            "chart.yaml",
            "name: nightly\nrenders: {apiVersion: batch.example.com/v1, kind: Nightly}\n",
        ),
        ("values.yaml", "namespace: jobs\nminKeep: 2\n"),
        ("schema.yaml", SCHEMA),
        ("defaults.yaml", DEFAULTS),
        ("templates/cronjob.yaml", TEMPLATE),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn kiln_with_the_chart() -> (tempfile::TempDir, Kiln) {
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    let kiln = Kiln::load(&[dir.path().to_path_buf()], &[]).unwrap();
    (dir, kiln)
}

fn nightly(spec: Value) -> Value {
    json!({"apiVersion": "batch.example.com/v1", "kind": "Nightly",
           "metadata": {"name": "backup"}, "spec": spec})
}

#[test]
fn a_kind_from_files_renders_with_its_defaults() {
    let (_dir, kiln) = kiln_with_the_chart();
    let file = InputFile {
        name: "nightly.yaml".into(),
        text: "apiVersion: batch.example.com/v1\nkind: Nightly\nmetadata: {name: backup}\nspec: {schedule: '0 3 * * *', image: 'registry.example.com/backup:1.2'}\n".into(),
    };
    let (documents, findings) = parse_documents(&file);
    assert!(findings.is_empty());
    let report = kiln.run(documents);
    assert!(!report.has_errors(), "{:?}", report.findings);
    let cronjob = report
        .objects
        .iter()
        .find(|o| o.kind == "CronJob")
        .expect("the chart's template rendered");
    assert_eq!(cronjob.name, "backup-job");
    assert_eq!(cronjob.namespace.as_deref(), Some("jobs"));
    assert!(
        cronjob.yaml.contains("successfulJobsHistoryLimit: 3"),
        "{}",
        cronjob.yaml
    );
}

#[test]
fn a_kind_from_files_is_validated_with_positions_and_hints() {
    let (_dir, kiln) = kiln_with_the_chart();
    let file = InputFile {
        name: "bad.yaml".into(),
        text: "apiVersion: batch.example.com/v1\nkind: Nightly\nmetadata: {name: backup}\nspec:\n  schedule: '0 3 * *'\n  image: 'a b'\n  keep: 1\n  imag: x\n".into(),
    };
    let (documents, _) = parse_documents(&file);
    let report = kiln.run(documents);
    let lines: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "bad.yaml:5:3: Nightly/backup: spec.schedule: must have five fields (minute hour day month weekday) (got \"0 3 * *\")",
            "bad.yaml:6:3: Nightly/backup: spec.image: is not a valid OCI image reference: must not contain spaces (got \"a b\"); hint: write [registry/]repository:tag or repository@sha256:<digest>, e.g. registry.example.com/team/app:1.2.3",
            "bad.yaml:7:3: Nightly/backup: spec.keep: must be at least 2 (got 1)",
            "bad.yaml:8:3: Nightly/backup: spec.imag: unknown field; hint: did you mean `image`?",
        ]
    );
}

#[tokio::test]
async fn a_kind_from_files_is_admitted_with_the_cli_messages() {
    let (_dir, kiln) = kiln_with_the_chart();
    let app = router(
        Arc::new(AppState {
            kiln,
            metrics: Arc::new(Metrics::default()),
            ready: AtomicBool::new(true),
            request_timeout: Duration::from_secs(5),
        }),
        1 << 20,
    );
    let bad = nightly(json!({"schedule": "0 3 * *", "image": "registry.example.com/backup:1.2"}));
    let denied = post_review(
        &app,
        "/validate",
        &review("CREATE", Some(&bad), None, false),
    )
    .await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(
        denied["status"]["message"],
        "spec.schedule: must have five fields (minute hour day month weekday) (got \"0 3 * *\")"
    );

    let mut good =
        nightly(json!({"schedule": "0 3 * * *", "image": "registry.example.com/backup:1.2"}));
    let mutated = post_review(&app, "/mutate", &review("CREATE", Some(&good), None, false)).await;
    assert_eq!(mutated["allowed"], true);
    let patch = patch_of(&mutated).expect("a patch");
    apply_patch(&mut good, &patch);
    assert_eq!(good["spec"]["jobName"], "backup-job");
    assert_eq!(good["spec"]["keep"], 3);
    let again = post_review(&app, "/mutate", &review("CREATE", Some(&good), None, false)).await;
    assert!(again.get("patch").is_none_or(Value::is_null), "{again}");
    let allowed = post_review(
        &app,
        "/validate",
        &review("CREATE", Some(&good), None, false),
    )
    .await;
    assert_eq!(allowed["allowed"], true, "{allowed}");
}
