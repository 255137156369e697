// Every object kiln renders from the fixtures passes the official Kubernetes OpenAPI schemas
// in strict mode (unknown fields rejected), for Kubernetes 1.30 and for the newest version
// kubernetes-validate knows. Needs `pip install kubernetes-validate` (done by .ci/run).

mod util;

use std::path::Path;
use std::process::Command;

use util::{fixture, kiln};

/// The render fixtures that are valid (not `err-*`), sorted.
fn valid_fixtures() -> Vec<String> {
    let mut inputs: Vec<String> = std::fs::read_dir(fixture("render"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with("err"))
        .map(|p| p.display().to_string())
        .collect();
    inputs.sort();
    inputs
}

/// Renders every valid fixture into one stream file in `dir`.
fn render_all_fixtures(dir: &Path) -> std::path::PathBuf {
    let inputs = valid_fixtures();
    let mut args = vec!["render", "-f"];
    args.extend(inputs.iter().map(String::as_str));
    let run = kiln(dir, &args, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.matches("\nkind: ").count() >= 20,
        "expected every fixture's objects"
    );
    let path = dir.join("rendered.yaml");
    std::fs::write(&path, run.stdout).unwrap();
    path
}

fn kubernetes_validate(version: &str, file: &Path) -> std::process::Output {
    Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", version])
        .arg(file)
        .output()
        .expect("kubernetes-validate is installed: pip install kubernetes-validate")
}

fn newest_known_version() -> String {
    let output = Command::new("python3")
        .args([
            "-c",
            "from kubernetes_validate.utils import latest_version; print(latest_version())",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn strict_validation_catches_unknown_fields() {
    // The control: if this passed, the checks below would prove nothing.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nbogus: 1\n",
    )
    .unwrap();
    assert!(!kubernetes_validate("1.30.0", &file).status.success());
}

#[test]
fn rendered_fixtures_pass_strict_schemas_of_kubernetes_1_30() {
    let dir = tempfile::tempdir().unwrap();
    let file = render_all_fixtures(dir.path());
    let output = kubernetes_validate("1.30.0", &file);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn rendered_fixtures_pass_strict_schemas_of_the_newest_kubernetes() {
    let dir = tempfile::tempdir().unwrap();
    let file = render_all_fixtures(dir.path());
    let version = newest_known_version();
    let output = kubernetes_validate(&version, &file);
    assert!(
        output.status.success(),
        "{version}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// kiln's own deployment rendered by kiln, without the cert-manager objects (kinds the
/// schema checker does not know), with and without cert-manager.
fn rendered_webhook_chart(dir: &Path) -> Vec<std::path::PathBuf> {
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/webhook");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/kiln-webhook.yaml"
    ))
    .unwrap();
    let without_cert_manager =
        example.replace("certManager: true", "certManager: false\n  caBundle: Y2E=");
    let mut files = Vec::new();
    for (name, spec) in [("with", example), ("without", without_cert_manager)] {
        std::fs::write(dir.join(format!("{name}.yaml")), spec).unwrap();
        let run = kiln(
            dir,
            &["render", "-f", &format!("{name}.yaml"), "--chart", chart],
            None,
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let core: Vec<serde_json::Value> = util::parse_stream(&run.stdout)
            .into_iter()
            .filter(|v| {
                !v["apiVersion"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("cert-manager.io/")
            })
            .collect();
        assert!(
            core.iter()
                .any(|o| o["kind"] == "ValidatingWebhookConfiguration")
        );
        // The policies that make `failurePolicy: Ignore` on the spec webhooks safe.
        let webhooks = core
            .iter()
            .find(|o| o["kind"] == "ValidatingWebhookConfiguration")
            .unwrap();
        let specs = webhooks["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "specs.kiln.custom.ops")
            .unwrap();
        assert_eq!(specs["failurePolicy"], "Ignore");
        let policies = |kind: &str| core.iter().filter(|o| o["kind"] == kind).count();
        assert!(policies("ValidatingAdmissionPolicy") >= 2);
        assert_eq!(
            policies("ValidatingAdmissionPolicy"),
            policies("ValidatingAdmissionPolicyBinding")
        );
        let text: String = core
            .iter()
            .map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).unwrap()))
            .collect();
        let path = dir.join(format!("{name}-rendered.yaml"));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    files
}

#[test]
fn the_webhook_deployment_passes_strict_schemas_of_1_30_and_the_newest_kubernetes() {
    let dir = tempfile::tempdir().unwrap();
    let files = rendered_webhook_chart(dir.path());
    for version in ["1.30.0".to_owned(), newest_known_version()] {
        for file in &files {
            let output = kubernetes_validate(&version, file);
            assert!(
                output.status.success(),
                "{} for {version}: {}{}",
                file.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn crds_and_admission_policies_pass_strict_schemas_of_1_30_and_the_newest_kubernetes() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["crd", "policy"] {
        let run = kiln(dir.path(), &[command], None);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let expected_kinds: &[&str] = match command {
            "crd" => &["CustomResourceDefinition"],
            _ => &[
                "ValidatingAdmissionPolicy",
                "ValidatingAdmissionPolicyBinding",
            ],
        };
        for kind in expected_kinds {
            assert!(
                run.stdout.contains(&format!("\nkind: {kind}\n")),
                "`kiln {command}` prints a {kind}"
            );
        }
        let file = dir.path().join(format!("{command}.yaml"));
        std::fs::write(&file, &run.stdout).unwrap();
        for version in ["1.30.0".to_owned(), newest_known_version()] {
            let output = kubernetes_validate(&version, &file);
            assert!(
                output.status.success(),
                "kiln {command} for {version}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// `kiln schema KIND` is a valid draft-07 JSON Schema under an independent implementation
/// (Python's `jsonschema`): every valid fixture passes it, and invalid ones get the typos,
/// types and ranges an editor should mark.
#[test]
fn editor_schemas_accept_the_valid_fixtures_and_mark_typos_types_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    for kind in [
        "MicroServiceDeploy",
        "appservice",
        "EtcdCluster",
        "RedisEnterpriseCluster",
    ] {
        let run = kiln(dir.path(), &["schema", kind], None);
        assert_eq!(run.code, 0, "{}", run.stderr);
        std::fs::write(dir.path().join(format!("{kind}.json")), run.stdout).unwrap();
    }
    let mut valid = valid_fixtures();
    valid.push(
        fixture("seed/ms-sample-v1s0-valid.yaml")
            .display()
            .to_string(),
    );
    valid.push(fixture("seed/appservice-nginx.yaml").display().to_string());
    let invalid = [
        fixture("render/err-typos.yaml"),
        fixture("render/err-appservice.yaml"),
        fixture("render/err-redis-seed.yaml"),
    ];
    let output = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/editor_schema.py"
        ))
        .arg(dir.path())
        .args(&valid)
        .arg("--")
        .args(&invalid)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "editor_schema.py failed (pip install jsonschema pyyaml?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for (file, errors) in verdicts["valid"].as_object().unwrap() {
        assert_eq!(errors, &serde_json::json!([]), "{file}");
    }
    let invalid_errors = verdicts["invalid"].to_string();
    for expected in [
        "'replica' was unexpected",
        "spec.needAuth: 'yes' is not of type 'boolean'",
        "spec.size: 101 is greater than the maximum of 100",
        "spec.ports.0.nodePort: 8080 is less than the minimum of 30000",
        "'nodport' was unexpected",
        "spec.persistentSpec.enabled: 'true' is not of type 'boolean'",
    ] {
        assert!(
            invalid_errors.contains(expected),
            "{expected}: {invalid_errors}"
        );
    }
}
