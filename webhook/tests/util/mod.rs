// Shared by the webhook tests: AdmissionReviews built from the renderer's spec fixtures, and a
// JSON patch applier written here, independent of the json-patch crate the webhook uses.

#![allow(dead_code)] // each test binary uses a different subset

pub mod client;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde::Deserialize as _;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const UID: &str = "705ab4f5-6393-11e8-b7cc-42010a800002";

/// A spec fixture of the renderer (`seed/ms-sample-v1s0.yaml`, ...) as JSON.
pub fn spec_fixture(relative: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../renderer/tests/fixtures")
        .join(relative);
    let text = std::fs::read_to_string(path).unwrap();
    Value::deserialize(serde_yaml_ng::Deserializer::from_str(&text)).unwrap()
}

/// An `admission.k8s.io/v1` AdmissionReview as the API server sends it.
pub fn review(
    operation: &str,
    object: Option<&Value>,
    old_object: Option<&Value>,
    dry_run: bool,
) -> Value {
    let source = object.or(old_object).cloned().unwrap_or(Value::Null);
    let (group, version) = match source["apiVersion"]
        .as_str()
        .unwrap_or("v1")
        .split_once('/')
    {
        Some((group, version)) => (group.to_owned(), version.to_owned()),
        None => (
            String::new(),
            source["apiVersion"].as_str().unwrap_or("v1").to_owned(),
        ),
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": UID,
            "kind": {"group": group, "version": version, "kind": source["kind"]},
            "resource": {"group": group, "version": version, "resource": "microservicedeploys"},
            "name": source["metadata"]["name"],
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters"]},
            "object": object,
            "oldObject": old_object,
            "dryRun": dry_run
        }
    })
}

/// One request through the router, in-process; the status and the whole body.
pub async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (
        status,
        to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
}

/// An AdmissionReview through the router: answered 200 with the review's envelope and uid;
/// its `response`.
pub async fn post_review(app: &axum::Router, path: &str, review: &Value) -> Value {
    let (status, body) = send(app, "POST", path, serde_json::to_vec(review).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["uid"], UID, "the uid is echoed");
    answer["response"].clone()
}

/// The JSON patch of a response (base64, `patchType: JSONPatch`), if any.
pub fn patch_of(response: &Value) -> Option<Value> {
    let encoded = response
        .get("patch")?
        .as_str()
        .expect("the patch is a base64 string");
    assert_eq!(response["patchType"], "JSONPatch");
    Some(
        serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap(),
    )
}

/// Applies RFC 6902 `add` and `replace` operations (all kiln emits) to `document`.
pub fn apply_patch(document: &mut Value, patch: &Value) {
    for operation in patch.as_array().expect("a patch is an array") {
        let op = operation["op"].as_str().unwrap();
        assert!(
            op == "add" || op == "replace",
            "unexpected operation {operation}"
        );
        let path = operation["path"].as_str().unwrap();
        let mut segments: Vec<String> = path
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let last = segments.pop().expect("a path below the root");
        let mut target = &mut *document;
        for segment in segments {
            target = target
                .get_mut(&segment)
                .unwrap_or_else(|| panic!("{path}: missing {segment}"));
        }
        target
            .as_object_mut()
            .expect("patches add to mappings")
            .insert(last, operation["value"].clone());
    }
}

/// The object of `kind` that kiln renders for the valid seed, as applied to a cluster.
pub fn rendered(kind: &str) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../renderer/tests/fixtures/seed/ms-sample-v1s0-valid.yaml"
    ))
    .unwrap();
    let (documents, _) = kiln::spec::load::parse_documents(&kiln::spec::load::InputFile {
        name: "seed.yaml".into(),
        text: text.into(),
    });
    let kiln = kiln::Kiln::new(kiln::chart::Chart::builtin().unwrap()).unwrap();
    let manifest = kiln
        .run(documents)
        .objects
        .into_iter()
        .find(|m| m.kind == kind)
        .unwrap();
    Value::deserialize(serde_yaml_ng::Deserializer::from_str(&manifest.yaml)).unwrap()
}
