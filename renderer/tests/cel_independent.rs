// The CEL that `kiln policy` hands to the API server means what kiln's own evaluation means.
// Every fixture document (and variants that break each rule) is judged by kiln, and the
// exported ValidatingAdmissionPolicies are evaluated on the same defaulted object by Google's
// CEL runtime (cel-expr-python, through cel_independent.py): both must report the same
// findings, with the same severity and the same message line. Documents that break the
// schema itself are left out, since the API server refuses them before any policy runs.
// Needs `pip install cel-expr-python` (done by `make tools` and .ci/run).

use std::io::Write;
use std::process::{Command, Stdio};

use kiln::Kiln;
use kiln::chart::Chart;
use kiln::export::policy::admission_policies;
use kiln::finding::{FieldPath, Severity};
use kiln::schema::check::check;
use kiln::spec::load::{Document, InputFile, parse_documents};
use serde_json::{Value, json};

/// Every document of the repository's spec fixtures, examples and built-in chart cases.
fn fixture_documents() -> Vec<(String, Value)> {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut files = Vec::new();
    for dir in [
        "renderer/tests/fixtures/render",
        "renderer/tests/fixtures/seed",
        "examples/services",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    for chart in std::fs::read_dir(root.join("charts")).unwrap() {
        let Ok(cases) = std::fs::read_dir(chart.unwrap().path().join("tests")) else {
            continue;
        };
        files.extend(cases.map(|case| case.unwrap().path().join("input.yaml")));
    }
    files.sort();
    let mut documents = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root).unwrap().display().to_string();
        let file = InputFile {
            name: name.clone().into(),
            text: text.into(),
        };
        let (parsed, _) = parse_documents(&file);
        for (index, document) in parsed.into_iter().enumerate() {
            documents.push((format!("{name}#{index}"), document.value));
        }
    }
    documents
}

/// Variants of a valid MicroServiceDeploy and AppService, each breaking one rule or more.
fn rule_breaking_variants() -> Vec<(String, Value)> {
    let service = |spec: Value| {
        let mut base = json!({
            "apiVersion": "custom.ops/v1",
            "kind": "MicroServiceDeploy",
            "metadata": {"name": "shop-v1s0", "namespace": "team-a"},
            "spec": {"msName": "shop", "version": "1.0", "image": "registry.example.com/shop:1.0.0"}
        });
        for (key, value) in spec.as_object().unwrap() {
            base["spec"][key] = value.clone();
        }
        base
    };
    let app = |ports: Value, image: &str| {
        json!({
            "apiVersion": "app.example.com/v1",
            "kind": "AppService",
            "metadata": {"name": "web", "namespace": "team-a"},
            "spec": {"size": 2, "image": image, "ports": ports}
        })
    };
    vec![
        ("unpinned image", service(json!({"image": "nginx"}))),
        ("latest image", service(json!({"image": "nginx:latest"}))),
        (
            "zero replicas with autoscaling",
            service(json!({"replicas": 0, "autoscaling": true})),
        ),
        (
            "max below min",
            service(json!({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}})),
        ),
        (
            "requests over limits",
            service(json!({"resourceRequirements": {
                "requests": {"cpu": "2", "memory": "1Gi", "ephemeral-storage": "2Gi"},
                "limits": {"cpu": "1", "memory": "512Mi", "ephemeral-storage": "1Gi"}}})),
        ),
        (
            "no memory limit",
            service(json!({"resourceRequirements": {"limits": {"cpu": "1"}}})),
        ),
        (
            "secret in config",
            service(json!({"config": "log=1\npassword=hunter2"})),
        ),
        (
            "secret reference with a bad variable name",
            service(json!({"secretEnv": {"DB-PASSWORD": {"secret": "db", "key": "password"}}})),
        ),
        (
            "two secrets at one folder",
            service(json!({"secretFiles": [
                {"secret": "tls", "mountPath": "/etc/tls"},
                {"secret": "ca", "mountPath": "/etc/tls"}]})),
        ),
        (
            "secret at a relative folder",
            service(json!({"secretFiles": [{"secret": "tls", "mountPath": "etc/tls"}]})),
        ),
        (
            "authenticated service scraped on its own port",
            service(json!({"needAuth": true, "metrics": {"port": 8080}})),
        ),
        (
            "metrics path with a space",
            service(json!({"metrics": {"port": 9090, "path": "/my metrics"}})),
        ),
        (
            "health path with a query",
            service(json!({"healthPath": "/healthz?full=1"})),
        ),
        (
            "long derived name",
            service(json!({"msName": "a".repeat(60), "version": "10.20"})),
        ),
        (
            "version not derivable",
            service(json!({"version": "latest"})),
        ),
        ("path of another major", service(json!({"path": "v7"}))),
        ("name differs from fullName", {
            let mut document = service(json!({}));
            document["metadata"]["name"] = json!("other");
            document
        }),
        (
            "creation timestamp text",
            service(json!({"creationTimestamp": "yesterday"})),
        ),
        (
            "duplicate ports",
            app(
                json!([{"port": 80}, {"port": 80, "targetPort": 8080}]),
                "nginx:1.27",
            ),
        ),
        ("app unpinned", app(json!([{"port": 80}]), "nginx")),
    ]
    .into_iter()
    .map(|(label, document)| (label.to_owned(), document))
    .collect()
}

#[test]
fn exported_policies_give_kiln_s_verdicts_and_messages_under_an_independent_cel_runtime() {
    let charts = Chart::builtins().unwrap();
    let kiln = Kiln::with_charts(Chart::builtins().unwrap()).unwrap();
    let mut policies = Vec::new();
    for chart in &charts {
        policies.extend(admission_policies(chart).unwrap());
    }
    let mut cases = Vec::new();
    let mut expected = serde_json::Map::new();
    let (mut compared, mut with_findings) = (0, 0);
    for (label, document) in fixture_documents()
        .into_iter()
        .chain(rule_breaking_variants())
    {
        let kind = document["kind"].as_str().unwrap_or_default();
        let Some(chart) = charts.iter().find(|c| c.renders.kind == kind) else {
            continue;
        };
        let definition = chart.definition().unwrap();
        let Some(spec_schema) = definition.schema.as_ref().and_then(|s| s.property("spec")) else {
            continue;
        };
        let spec = document.get("spec").cloned().unwrap_or(Value::Null);
        let schema_findings = check(spec_schema, &spec, &FieldPath::of(&["spec"]), &|_| None);
        let checked = kiln.check(&Document::from_value("case", document.clone()));
        if !schema_findings.is_empty()
            || checked
                .findings
                .iter()
                .any(|f| f.rule == "chart-definition")
        {
            eprintln!("left out (breaks the schema): {label}");
            continue; // the API server refuses it on the CRD's schema, before any policy
        }
        let defaulted = kiln.with_defaults(&document).unwrap();
        let mut lines: Vec<Value> = checked
            .findings
            .iter()
            .map(|finding| {
                let action = match finding.severity {
                    Severity::Error => "Deny",
                    Severity::Warning => "Warn",
                };
                json!({"action": action, "message": finding.message_line()})
            })
            .collect();
        lines.sort_by_key(|line| line.to_string());
        compared += 1;
        if !lines.is_empty() {
            with_findings += 1;
        }
        expected.insert(label.clone(), Value::Array(lines));
        cases.push(json!({"label": label, "resource": chart.plural(), "object": defaulted}));
    }
    let request = json!({"policies": policies, "cases": cases});
    let mut child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/cel_independent.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "cel_independent.py failed (pip install cel-expr-python?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let actual: serde_json::Map<String, Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut differences = Vec::new();
    for (label, want) in &expected {
        let mut got = actual[label].as_array().cloned().unwrap_or_default();
        got.sort_by_key(|line| line.to_string());
        if &Value::Array(got.clone()) != want {
            differences.push(format!(
                "{label}:\n  kiln: {want}\n  cel:  {}",
                Value::Array(got)
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // The comparison covers valid documents and documents that break rules.
    eprintln!("{compared} documents compared, {with_findings} with findings");
    assert!(compared >= 29, "only {compared} documents compared");
    assert!(
        with_findings >= 20,
        "only {with_findings} documents with findings"
    );
}
