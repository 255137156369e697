// Golden files: each spec under fixtures/render/ renders to a snapshot of its manifests, or,
// when its name starts with `err`, to a snapshot of its findings. Review changes with
// `cargo insta review`; a changed snapshot is a changed product.

use kiln::chart::Chart;
use kiln::output::to_yaml_stream;
use kiln::spec::load::{InputFile, parse_documents};
use kiln::{Kiln, Report};

fn render_fixture(path: &std::path::Path) -> Report {
    let file = InputFile {
        name: path.file_name().unwrap().to_string_lossy().into(),
        text: std::fs::read_to_string(path).unwrap().into(),
    };
    let kiln = Kiln::with_charts(Chart::builtins().unwrap()).unwrap();
    let (documents, yaml_findings) = parse_documents(&file);
    let mut report = kiln.run(documents);
    report.findings.extend(yaml_findings);
    report
}

fn findings_text(report: &Report) -> String {
    report.findings.iter().map(|f| format!("{f}\n")).collect()
}

#[test]
fn rendered_fixtures_match_their_snapshots() {
    insta::glob!("fixtures/render/*.yaml", |path| {
        let report = render_fixture(path);
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("err") {
            assert!(report.has_errors(), "{name} should be rejected");
            insta::assert_snapshot!(findings_text(&report));
        } else {
            assert!(
                !report.has_errors(),
                "{name} should render:\n{}",
                findings_text(&report)
            );
            let text = format!(
                "# findings\n{}# manifests\n{}",
                findings_text(&report),
                to_yaml_stream(&report.objects)
            );
            insta::assert_snapshot!(text);
        }
    });
}

/// The callers each NetworkPolicy admits, as (namespace selector, pod selector) pairs.
fn network_policy_peers(spec: &str) -> Vec<serde_json::Value> {
    let file = InputFile {
        name: "policy.yaml".into(),
        text: spec.to_owned().into(),
    };
    let kiln = Kiln::with_charts(Chart::builtins().unwrap()).unwrap();
    let (documents, _) = parse_documents(&file);
    let report = kiln.run(documents);
    assert!(!report.has_errors(), "{}", findings_text(&report));
    let policy = report
        .objects
        .iter()
        .find(|o| o.kind == "NetworkPolicy")
        .expect("every service gets a NetworkPolicy");
    let value: serde_json::Value = serde_yaml_ng::from_str(&policy.yaml).unwrap();
    let rules = value["spec"]["ingress"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{}", policy.yaml);
    assert_eq!(
        rules[0]["ports"],
        serde_json::json!([{"port": "http", "protocol": "TCP"}]),
        "only the service's port"
    );
    rules[0]["from"].as_array().unwrap().clone()
}

#[test]
fn need_auth_admits_only_the_authenticating_gateway() {
    let spec = |need_auth: bool| {
        format!(
            "apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {{name: a-v1s0, namespace: team}}\n\
             spec: {{msName: a, version: \"1.0\", image: \"r.example/a:1\", needAuth: {need_auth}}}\n"
        )
    };
    let gateway = serde_json::json!({"kubernetes.io/metadata.name": "gateway"});
    assert_eq!(
        network_policy_peers(&spec(true)),
        [serde_json::json!({
            "namespaceSelector": {"matchLabels": gateway},
            "podSelector": {"matchLabels": {"kiln.dev/gateway": "authenticating"}},
        })],
        "one peer: both selectors in one entry means gateway pods with the label, nothing else"
    );
    assert_eq!(
        network_policy_peers(&spec(false)),
        [
            serde_json::json!({"podSelector": {}}),
            serde_json::json!({"namespaceSelector": {"matchLabels": gateway}}),
        ],
        "its own namespace and the gateway namespace"
    );
}
