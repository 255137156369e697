// Strict rendered output: a chart whose template emits what the API server would refuse is
// caught at render time, with the template, the object's field and a hint, and nothing is
// written. Each case edits one line of an exported copy of the built-in microservice chart;
// the findings are golden files (snapshots/strict_output__*.snap).

mod util;

use util::{kiln, write};

const SPEC: &str = "apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {name: web-v1s0, namespace: team}\n\
spec: {msName: web, version: \"1.0\", image: \"registry.example.com/web:1.0.3\", replicas: 2, \
resourceRequirements: {limits: {memory: 256Mi}}}\n";

/// Renders SPEC with the built-in chart after replacing `from` with `to` in one template.
fn render_with_edit(template: &str, from: &str, to: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let export = kiln(
        dir.path(),
        &["chart", "export", "chart", "--name", "microservice"],
        None,
    );
    assert_eq!(export.code, 0, "{}", export.stderr);
    let path = dir.path().join("chart/templates").join(template);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{template} no longer holds {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    write(dir.path(), "web.yaml", SPEC);
    let run = kiln(
        dir.path(),
        &["render", "-f", "web.yaml", "--chart", "chart", "-o", "out"],
        None,
    );
    assert_eq!(run.code, 1, "the edit must be refused:\n{}", run.stderr);
    assert!(!dir.path().join("out").exists(), "nothing is written");
    run.stderr
}

#[test]
fn an_unknown_field_names_the_template_the_field_and_the_closest_field() {
    insta::assert_snapshot!(render_with_edit(
        "deployment.yaml",
        "maxUnavailable: 0",
        "maxUnavailabl: 0"
    ));
}

#[test]
fn a_probe_with_two_handlers_is_refused() {
    insta::assert_snapshot!(render_with_edit(
        "deployment.yaml",
        "startupProbe: {{ h.probe(values.probes.startup, spec, values) }}",
        "startupProbe: {\"exec\": {\"command\": [\"true\"]}, \"tcpSocket\": {\"port\": \"http\"}}"
    ));
}

#[test]
fn a_selector_that_does_not_match_the_pod_labels_is_refused() {
    insta::assert_snapshot!(render_with_edit(
        "deployment.yaml",
        "  selector:\n    matchLabels: { {{ selector }} }",
        "  selector:\n    matchLabels: {\"app\": \"web\"}"
    ));
}

#[test]
fn a_port_name_over_15_characters_is_refused() {
    insta::assert_snapshot!(render_with_edit(
        "deployment.yaml",
        "- name: {{ values.port.name }}",
        "- name: http-endpoint-main"
    ));
}

#[test]
fn an_unknown_field_in_a_network_policy_is_refused() {
    insta::assert_snapshot!(render_with_edit(
        "networkpolicy.yaml",
        "policyTypes:",
        "policyType:"
    ));
}
