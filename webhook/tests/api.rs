// The webhook's HTTP contract, exercised in-process through the router (no sockets):
// verdicts on the seed fixtures, patches, operations, and hostile bodies.

mod util;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::http::StatusCode;
use kiln::Kiln;
use kiln::chart::Chart;
use kiln_webhook::{AppState, metrics::Metrics, router};
use serde_json::{Value, json};
use util::{apply_patch, patch_of, post_review, review, send, spec_fixture};

const LIMIT: usize = 1024 * 1024;

fn app() -> axum::Router {
    let state = Arc::new(AppState {
        kiln: Kiln::new(Chart::builtin().unwrap()).unwrap(),
        metrics: Arc::new(Metrics::default()),
        ready: AtomicBool::new(true),
        request_timeout: Duration::from_secs(5),
    });
    router(state, LIMIT)
}

#[tokio::test]
async fn validate_allows_the_valid_seed_with_a_secret_warning() {
    let app = app();
    let spec = spec_fixture("seed/ms-sample-v1s0-valid.yaml");
    let response = post_review(
        &app,
        "/validate?timeout=10s",
        &review("CREATE", Some(&spec), None, false),
    )
    .await;
    assert_eq!(response["allowed"], true);
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        [
            "spec.config: key \"password\" looks like a secret, and ConfigMaps are not encrypted; hint: use spec.secretEnv"
        ]
    );
    assert!(warnings.iter().all(|w| w.chars().count() <= 120));
}

#[tokio::test]
async fn validate_denies_the_verbatim_seed_with_the_cli_message() {
    let app = app();
    let spec = spec_fixture("seed/ms-sample-v1s0.yaml");
    let response = post_review(
        &app,
        "/validate",
        &review("CREATE", Some(&spec), None, false),
    )
    .await;
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 422);
    assert_eq!(response["status"]["reason"], "Invalid");
    assert_eq!(
        response["status"]["message"],
        "spec.image: is not a valid OCI image reference: must not contain spaces (got \"just a image url\"); hint: write [registry/]repository:tag or repository@sha256:<digest>, e.g. registry.example.com/team/app:1.2.3"
    );
}

#[tokio::test]
async fn validate_lists_every_violation_one_per_line() {
    let app = app();
    let mut spec = spec_fixture("seed/ms-sample-v1s0-valid.yaml");
    spec["spec"]["replicas"] = json!(-1);
    spec["spec"]["replica"] = json!(3);
    let response = post_review(
        &app,
        "/validate",
        &review(
            "UPDATE",
            Some(&spec),
            Some(&spec_fixture("seed/ms-sample-v1s0-valid.yaml")),
            false,
        ),
    )
    .await;
    assert_eq!(response["allowed"], false);
    let message = response["status"]["message"].as_str().unwrap();
    assert_eq!(
        message.lines().collect::<Vec<_>>(),
        [
            "spec.replica: unknown field; hint: did you mean `replicas`?",
            "spec.replicas: must be at least 0 (got -1)"
        ]
    );
}

#[tokio::test]
async fn mutate_patches_defaults_once_and_the_result_validates() {
    let app = app();
    let mut spec = json!({
        "apiVersion": "custom.ops/v1", "kind": "MicroServiceDeploy",
        "metadata": {"name": "web-v2s1", "namespace": "default"},
        "spec": {"msName": "web", "version": "2.1", "image": "registry.example.com/web:2.1.0",
                 "resourceRequirements": {"limits": {"memory": "256Mi"}}}
    });
    let response = post_review(&app, "/mutate", &review("CREATE", Some(&spec), None, false)).await;
    assert_eq!(response["allowed"], true);
    let patch = patch_of(&response).expect("defaults are patched in");
    apply_patch(&mut spec, &patch);
    assert_eq!(spec["spec"]["fullName"], "web-v2s1");
    assert_eq!(spec["spec"]["path"], "v2");
    assert_eq!(spec["spec"]["replicas"], 1);
    assert_eq!(
        spec["spec"]["resourceRequirements"]["requests"],
        json!({"cpu": "100m", "memory": "128Mi"})
    );
    let again = post_review(&app, "/mutate", &review("CREATE", Some(&spec), None, false)).await;
    assert_eq!(
        patch_of(&again),
        None,
        "a defaulted spec needs no second patch"
    );
    let validated = post_review(
        &app,
        "/validate",
        &review("CREATE", Some(&spec), None, false),
    )
    .await;
    assert_eq!(validated["allowed"], true, "{validated}");
}

#[tokio::test]
async fn dry_run_gets_the_same_answer() {
    let app = app();
    let spec = spec_fixture("seed/ms-sample-v1s0.yaml");
    let real = post_review(
        &app,
        "/validate",
        &review("CREATE", Some(&spec), None, false),
    )
    .await;
    let dry = post_review(
        &app,
        "/validate",
        &review("CREATE", Some(&spec), None, true),
    )
    .await;
    assert_eq!(real, dry);
}

#[tokio::test]
async fn delete_is_allowed_without_a_patch() {
    let app = app();
    let old = spec_fixture("seed/ms-sample-v1s0.yaml");
    for path in ["/validate", "/mutate"] {
        let response = post_review(&app, path, &review("DELETE", None, Some(&old), false)).await;
        assert_eq!(response["allowed"], true);
        assert_eq!(response.get("patch"), None);
    }
}

#[tokio::test]
async fn kinds_kiln_does_not_render_are_allowed_untouched() {
    let app = app();
    let other = spec_fixture("seed/appservice-nginx.yaml");
    for path in ["/validate", "/mutate"] {
        let response = post_review(&app, path, &review("CREATE", Some(&other), None, false)).await;
        assert_eq!(response["allowed"], true);
        assert_eq!(response.get("patch"), None);
    }
}

#[tokio::test]
async fn hostile_bodies_get_400_or_413_never_500() {
    let app = app();
    let valid = serde_json::to_vec(&review(
        "CREATE",
        Some(&spec_fixture("seed/ms-sample-v1s0-valid.yaml")),
        None,
        false,
    ))
    .unwrap();
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        ("empty", Vec::new(), StatusCode::BAD_REQUEST),
        (
            "garbage",
            b"\x00\xffnot json at all".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "truncated",
            valid[..valid.len() / 2].to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no request",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong shape",
            br#"{"request": 7}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "too large",
            vec![b' '; LIMIT + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (name, body, expected) in cases {
        let (status, text) = send(&app, "POST", "/validate", body).await;
        assert_eq!(
            status,
            expected,
            "{name}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    // And the server still answers.
    let (status, _) = send(&app, "POST", "/validate", valid).await;
    assert_eq!(status, StatusCode::OK);
}

/// serde_json keeps the last of two equal keys, other readers the first: a review holding a
/// key twice anywhere is refused with the path to it, and the same keys in different objects
/// are fine.
#[tokio::test]
async fn a_review_with_a_key_twice_is_refused_with_its_path() {
    let app = app();
    let valid = serde_json::to_string(&review(
        "CREATE",
        Some(&spec_fixture("seed/ms-sample-v1s0-valid.yaml")),
        None,
        false,
    ))
    .unwrap();
    assert!(valid.contains(r#""msName":"ms-sample""#), "{valid}");
    let cases = [
        (
            // The name the reviewer reads first is not the one serde_json keeps.
            valid.replace(
                r#""msName":"ms-sample""#,
                r#""msName":"ms-sample","msName":"other""#,
            ),
            "request.object.spec.msName: duplicate key; JSON readers disagree on which one wins at line 1 column ",
        ),
        (
            // Equal once the escape is decoded.
            valid.replace(
                r#""msName":"ms-sample""#,
                r#""msName":"ms-sample","\u006dsName":"x""#,
            ),
            "request.object.spec.msName: duplicate key",
        ),
        (
            // Fields of the AdmissionReview's own types: serde's derive already refused these.
            valid.replace(r#""uid":"#, r#""uid":"a","uid":"#),
            "duplicate field `uid`",
        ),
        (
            valid.replace(
                r#""object":{"#,
                r#""object":{"extra":{"k":[{"a":1},{"a":1,"a":2}]},"#,
            ),
            "request.object.extra.k[1].a: duplicate key",
        ),
    ];
    for (body, expected) in cases {
        assert_ne!(body, valid, "the case did not change the review");
        for path in ["/validate", "/mutate"] {
            let (status, text) = send(&app, "POST", path, body.clone().into_bytes()).await;
            let text = String::from_utf8(text).unwrap();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {expected}: {text}");
            assert!(
                text.starts_with("not an admission.k8s.io/v1 AdmissionReview: ")
                    && text.contains(expected)
                    && text.contains(" at line 1 column "),
                "{path}: {text}"
            );
        }
    }
    // Equal keys in different objects are fine (the unknown field is the spec's own finding).
    let repeated_in_siblings = valid.replace(
        r#""object":{"#,
        r#""object":{"extra":{"k":[{"a":1},{"a":2}],"j":{"a":3}},"#,
    );
    let response = post_review(
        &app,
        "/validate",
        &serde_json::from_str(&repeated_in_siblings).unwrap(),
    )
    .await;
    assert!(response["allowed"].is_boolean(), "{response}");
}

#[tokio::test]
async fn probes_and_metrics() {
    let app = app();
    assert_eq!(
        send(&app, "GET", "/healthz", Vec::new()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "GET", "/readyz", Vec::new()).await.0,
        StatusCode::OK
    );
    let spec = spec_fixture("seed/ms-sample-v1s0.yaml");
    post_review(
        &app,
        "/validate",
        &review("CREATE", Some(&spec), None, false),
    )
    .await;
    send(&app, "POST", "/validate", b"{".to_vec()).await;
    let (status, body) = send(&app, "GET", "/metrics", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    for needle in [
        "kiln_webhook_admission_requests_total{endpoint=\"validate\",kind=\"MicroServiceDeploy\",operation=\"CREATE\",verdict=\"denied\"} 1",
        "kiln_webhook_denials_total{rule=\"image-reference\"} 1",
        "kiln_webhook_rejected_requests_total{reason=\"malformed\"} 1",
        "kiln_webhook_admission_duration_seconds_count{endpoint=\"validate\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test]
async fn made_up_kinds_namespaces_and_operations_add_no_metric_series() {
    let app = app();
    let series = |text: &str| {
        text.lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .count()
    };
    let metrics = |app: &axum::Router| {
        let app = app.clone();
        async move { String::from_utf8(send(&app, "GET", "/metrics", Vec::new()).await.1).unwrap() }
    };
    let operations = ["CREATE", "UPDATE", "DELETE", "CONNECT"];
    let spec = spec_fixture("seed/ms-sample-v1s0.yaml");
    // One round of each operation first, so every series that can exist does.
    for round in 0..2 {
        for (i, operation) in operations.iter().enumerate() {
            let mut object = spec.clone();
            object["kind"] = json!(format!("MadeUpKind{round}x{i}"));
            let mut body = review(operation, Some(&object), None, false);
            body["request"]["namespace"] = json!(format!("ns-{round}-{i}"));
            post_review(&app, "/validate", &body).await;
        }
    }
    let before = metrics(&app).await;
    for i in 0..1000 {
        let mut object = spec.clone();
        object["kind"] = json!(format!("Kind{i}"));
        let mut body = review(operations[i % 4], Some(&object), None, false);
        body["request"]["namespace"] = json!(format!("namespace-{i}"));
        body["request"]["kind"]["kind"] = json!(format!("Kind{i}"));
        post_review(&app, "/validate", &body).await;
    }
    let after = metrics(&app).await;
    assert_eq!(
        series(&before),
        series(&after),
        "before:\n{before}\nafter:\n{after}"
    );
    assert!(
        after.contains("kiln_webhook_admission_requests_total{endpoint=\"validate\",kind=\"other\",operation=\"CREATE\",verdict=\"ignored\"} 252"),
        "{after}"
    );
    assert!(!after.contains("Kind1"), "{after}");
}

#[tokio::test]
async fn hand_edited_rendered_objects_are_denied_with_the_source_of_truth() {
    let app = app();
    let old = util::rendered("Deployment");
    let mut edited = old.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] =
        json!(true);
    let response = post_review(
        &app,
        "/validate",
        &review("UPDATE", Some(&edited), Some(&old), false),
    )
    .await;
    assert_eq!(response["allowed"], false);
    assert_eq!(
        response["status"]["message"],
        "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation: must be false (got true); hint: rendered by kiln from MicroServiceDeploy default/ms-sample-v1s0: change that spec (or the chart) in Git and render again"
    );
    let unchanged = post_review(
        &app,
        "/validate",
        &review("UPDATE", Some(&old), Some(&old), false),
    )
    .await;
    assert_eq!(unchanged["allowed"], true);
    let mutated = post_review(
        &app,
        "/mutate",
        &review("UPDATE", Some(&edited), Some(&old), false),
    )
    .await;
    assert_eq!(
        (mutated["allowed"].clone(), mutated.get("patch")),
        (json!(true), None),
        "guarded objects are never patched"
    );
}

// The integrity issue's admission gaps.

/// The CLI's error lines for one document, judged alone.
fn cli_errors(document: &Value) -> Vec<String> {
    let kiln = Kiln::new(Chart::builtin().unwrap()).unwrap();
    kiln.run(vec![kiln::spec::load::Document::from_value(
        "cli",
        document.clone(),
    )])
    .findings
    .iter()
    .filter(|f| f.is_error())
    .map(kiln::Finding::message_line)
    .collect()
}

/// What the API server does: /mutate, apply the patch, then /validate the result.
async fn admitted_errors(app: &axum::Router, document: &Value) -> Vec<String> {
    let mutated = post_review(
        app,
        "/mutate",
        &review("CREATE", Some(document), None, false),
    )
    .await;
    let mut object = document.clone();
    if let Some(patch) = patch_of(&mutated) {
        apply_patch(&mut object, &patch);
    }
    let validated = post_review(
        app,
        "/validate",
        &review("CREATE", Some(&object), None, false),
    )
    .await;
    if validated["allowed"] == true {
        return Vec::new();
    }
    let message = validated["status"]["message"].as_str().unwrap();
    let mut lines: Vec<String> = message.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn every_invalid_fixture_gets_the_cli_message_through_mutate_and_validate() {
    let app = app();
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../renderer/tests/fixtures");
    let mut compared = 0;
    for path in [fixtures.join("seed/ms-sample-v1s0.yaml")]
        .into_iter()
        .chain(
            std::fs::read_dir(fixtures.join("render"))
                .unwrap()
                .map(|e| e.unwrap().path()),
        )
    {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(documents) = serde_yaml_ng::Deserializer::from_str(&text)
            .map(serde::Deserialize::deserialize)
            .collect::<Result<Vec<Value>, _>>()
        else {
            continue; // a YAML syntax error: nothing reaches a webhook
        };
        for document in documents
            .iter()
            .filter(|d| d["kind"] == "MicroServiceDeploy")
        {
            let mut expected = cli_errors(document);
            if expected.is_empty() {
                continue;
            }
            expected.sort();
            assert_eq!(
                admitted_errors(&app, document).await,
                expected,
                "{}",
                path.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 4, "only {compared} invalid documents compared");
}

#[tokio::test]
async fn mutate_never_patches_in_a_derived_name_that_breaks_a_rule() {
    let app = app();
    let mut document = spec_fixture("seed/ms-sample-v1s0-valid.yaml");
    let spec = document["spec"].as_object_mut().unwrap();
    spec.remove("fullName");
    spec.insert("msName".into(), json!("a".repeat(60)));
    let mutated = post_review(
        &app,
        "/mutate",
        &review("CREATE", Some(&document), None, false),
    )
    .await;
    let patch = patch_of(&mutated).unwrap_or(json!([]));
    assert!(
        !patch
            .as_array()
            .unwrap()
            .iter()
            .any(|op| op["path"] == "/spec/fullName"),
        "{patch}"
    );
    let errors = admitted_errors(&app, &document).await;
    assert_eq!(errors, cli_errors(&document));
    assert!(
        errors[0].contains("derived from spec.msName and spec.version"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_an_admission_review_is_a_400() {
    let app = app();
    let document = spec_fixture("seed/ms-sample-v1s0-valid.yaml");
    for (api_version, kind) in [
        ("admission.k8s.io/v1", "Bogus"),
        ("admission.k8s.io/v2", "AdmissionReview"),
        ("v1", "ConfigMap"),
    ] {
        let mut body = review("CREATE", Some(&document), None, false);
        body["apiVersion"] = json!(api_version);
        body["kind"] = json!(kind);
        let (status, text) = send(
            &app,
            "POST",
            "/validate",
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind}");
        assert!(
            String::from_utf8_lossy(&text)
                .contains("expected an admission.k8s.io/v1 (or v1beta1) AdmissionReview"),
            "{}",
            String::from_utf8_lossy(&text)
        );
    }
}

#[tokio::test]
async fn a_huge_review_gets_a_bounded_denial() {
    let state = Arc::new(AppState {
        kiln: Kiln::new(Chart::builtin().unwrap()).unwrap(),
        metrics: Arc::new(Metrics::default()),
        ready: AtomicBool::new(true),
        request_timeout: Duration::from_secs(30),
    });
    let app = router(state, 8 * LIMIT);
    let mut document = spec_fixture("seed/ms-sample-v1s0-valid.yaml");
    let spec = document["spec"].as_object_mut().unwrap();
    for i in 0..110_000 {
        spec.insert(format!("unknownField{i:06}"), json!(1));
    }
    let body = serde_json::to_vec(&review("CREATE", Some(&document), None, false)).unwrap();
    assert!(body.len() > 2_400_000, "{}", body.len());
    let (status, answer) = send(&app, "POST", "/validate", body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer.len() < 32 * 1024,
        "the denial is {} bytes",
        answer.len()
    );
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert_eq!(message.lines().count(), 21, "{message}");
    assert!(
        message
            .ends_with("and 109980 more errors (run `kiln validate` on the spec for all of them)"),
        "{}",
        message.lines().last().unwrap()
    );
}
