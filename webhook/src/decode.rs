//! Reading an AdmissionReview body into what `admit` judges: the request, and its objects as
//! the JSON kiln checks.
//!
//! Two ways, one result. The checked way is the reference: serde's typed decode of the whole
//! review (its errors are the 400 messages), then the repeated-key walk ([`unique_keys`]), then
//! each object written back to JSON through kube-core's `DynamicObject`. That reads the body
//! three times and builds the object twice, through serde's buffering of flattened fields.
//!
//! The fast way parses the body once into JSON, refusing a repeated key as it goes, decodes
//! only the small rest of the review typed, and takes each object as the JSON it already is,
//! in the shape `DynamicObject` gives it (apiVersion, kind, metadata as kube-core writes an
//! `ObjectMeta`, then the other fields in order). It gives up on anything else (malformed
//! JSON, a repeated key, an object without string apiVersion and kind or without metadata),
//! and the checked way then decides, so every message and every result is the checked way's.
//! The fuzz property `admission_review` holds the two to the same result.
//!
//! [`unique_keys`]: crate::unique_keys

use kube_core::admission::{AdmissionRequest, AdmissionReview};
use kube_core::{DynamicObject, ObjectMeta};
use serde::Deserialize as _;
use serde_json::{Map, Value};

/// A review's request as `admit` reads it.
#[derive(Debug)]
pub struct Admission {
    /// The request, its `object` and `oldObject` taken out (both `None`).
    pub request: AdmissionRequest<DynamicObject>,
    /// `request.object` as JSON; `Some(Err)` when it could not be written as JSON.
    pub object: Option<Result<Value, serde_json::Error>>,
    /// `request.oldObject` as JSON, when there is one that can be written as JSON.
    pub old_object: Option<Value>,
}

/// Why a body is not a review kiln can answer: the detail of a 400.
pub type Malformed = String;

/// Reads `body`: the fast way when it can, else the checked way.
pub fn review(body: &str) -> Result<Admission, Malformed> {
    match fast(body) {
        Some(admission) => Ok(admission),
        None => checked(body),
    }
}

/// The checked way: the whole review decoded typed, then the repeated-key walk.
pub fn checked(body: &str) -> Result<Admission, Malformed> {
    let review: AdmissionReview<DynamicObject> = match serde_json::from_str(body) {
        Ok(review) => review,
        Err(error) => {
            return Err(if body.is_empty() {
                "empty body: expected an admission.k8s.io/v1 AdmissionReview".to_owned()
            } else {
                format!("not an admission.k8s.io/v1 AdmissionReview: {error}")
            });
        }
    };
    // serde_json kept the last of two equal keys above; the API server never sends two.
    if let Err(error) = crate::unique_keys::check(body) {
        return Err(format!(
            "not an admission.k8s.io/v1 AdmissionReview: {error}"
        ));
    }
    let mut request = request_of(review)?;
    let object = request.object.take().map(|o| serde_json::to_value(&o));
    let old_object = request
        .old_object
        .take()
        .and_then(|o| serde_json::to_value(&o).ok());
    Ok(Admission {
        request,
        object,
        old_object,
    })
}

/// The fast way, or `None` where the checked way must decide.
pub fn fast(body: &str) -> Option<Admission> {
    let mut body = crate::unique_keys::parse(body).ok()?;
    let request = body.get_mut("request")?.as_object_mut()?;
    let object = take_object(request, "object")?;
    let old_object = take_object(request, "oldObject")?;
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(body).ok()?;
    let request = request_of(review).ok()?;
    Some(Admission {
        request,
        object: object.map(Ok),
        old_object,
    })
}

/// The version and kind check, then the request itself.
fn request_of(
    review: AdmissionReview<DynamicObject>,
) -> Result<AdmissionRequest<DynamicObject>, Malformed> {
    let (api_version, kind) = (
        review.types.api_version.as_str(),
        review.types.kind.as_str(),
    );
    if kind != "AdmissionReview"
        || !matches!(
            api_version,
            "admission.k8s.io/v1" | "admission.k8s.io/v1beta1"
        )
    {
        return Err(format!(
            "expected an admission.k8s.io/v1 (or v1beta1) AdmissionReview, got {:?} {:?}",
            shorten(api_version),
            shorten(kind)
        ));
    }
    review
        .try_into()
        .map_err(|error| format!("AdmissionReview without a usable request: {error}"))
}

/// At most 64 characters of a client-supplied string, for messages.
fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Takes the object at `key` out of `request`, leaving null: `Some(None)` when there is none,
/// `None` when it is not in `DynamicObject`'s shape.
fn take_object(request: &mut Map<String, Value>, key: &str) -> Option<Option<Value>> {
    match request.get_mut(key).map(Value::take) {
        None | Some(Value::Null) => Some(None),
        Some(object) => as_dynamic_object(object).map(Some),
    }
}

/// `object` as `DynamicObject` writes it back, or `None` when its shape is not the plain one:
/// apiVersion and kind strings, metadata an `ObjectMeta` (written back, as kube-core writes
/// it: absent fields left out, labels sorted).
fn as_dynamic_object(object: Value) -> Option<Value> {
    let Value::Object(mut fields) = object else {
        return None;
    };
    let api_version = fields.shift_remove("apiVersion").filter(Value::is_string)?;
    let kind = fields.shift_remove("kind").filter(Value::is_string)?;
    let metadata = fields.shift_remove("metadata")?;
    let metadata = serde_json::to_value(ObjectMeta::deserialize(&metadata).ok()?).ok()?;
    let mut written = Map::with_capacity(fields.len() + 3);
    written.insert("apiVersion".to_owned(), api_version);
    written.insert("kind".to_owned(), kind);
    written.insert("metadata".to_owned(), metadata);
    written.extend(fields);
    Some(Value::Object(written))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A review as the API server sends it: Go writes map keys sorted, so apiVersion, kind and
    /// metadata come first in the object.
    fn api_server_review(object: &str) -> String {
        format!(
            r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{
            "uid":"705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind":{{"group":"custom.ops","version":"v1","kind":"MicroServiceDeploy"}},
            "resource":{{"group":"custom.ops","version":"v1","resource":"microservicedeploys"}},
            "name":"catalog","namespace":"shop","operation":"UPDATE",
            "userInfo":{{"username":"admin"}},"object":{object},"oldObject":{object}}}}}"#
        )
    }

    fn same(body: &str) -> (Value, Option<Value>, Option<Value>) {
        let checked = checked(body).expect("the checked way reads it");
        let fast = fast(body).expect("the fast way reads it");
        for admission in [&checked, &fast] {
            assert!(admission.request.object.is_none() && admission.request.old_object.is_none());
        }
        let parts = |admission: &Admission| {
            (
                serde_json::to_value(&admission.request).unwrap(),
                admission
                    .object
                    .as_ref()
                    .map(|o| o.as_ref().unwrap().clone()),
                admission.old_object.clone(),
            )
        };
        assert_eq!(parts(&fast), parts(&checked));
        parts(&fast)
    }

    #[test]
    fn a_review_as_the_api_server_sends_it_is_read_the_fast_way_with_the_checked_result() {
        let object = r#"{"apiVersion":"custom.ops/v1","kind":"MicroServiceDeploy",
            "metadata":{"creationTimestamp":"2026-01-02T03:04:05Z","labels":{"a":"1","b":"2"},
            "name":"catalog","namespace":"shop","uid":"u"},"spec":{"msName":"catalog"}}"#;
        let (_, object, old) = same(&api_server_review(object));
        assert_eq!(object, old);
        assert_eq!(object.unwrap()["spec"]["msName"], "catalog");
    }

    #[test]
    fn metadata_is_read_as_kube_core_writes_it_back() {
        // Fields in another order, labels unsorted, a null and an unknown metadata field: the
        // objects kiln judges are the same either way.
        let object = r#"{"spec":{"x":1},"metadata":{"labels":{"b":"2","a":"1"},
            "annotations":null,"nme":"typo","name":"catalog"},
            "kind":"MicroServiceDeploy","apiVersion":"custom.ops/v1"}"#;
        let (_, object, _) = same(&api_server_review(object));
        let object = object.unwrap();
        let keys: Vec<&str> = object
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
        assert_eq!(
            object["metadata"],
            serde_json::json!({"labels": {"a": "1", "b": "2"}, "name": "catalog"})
        );
    }

    #[test]
    fn what_the_fast_way_does_not_take_goes_the_checked_way() {
        for object in [
            // No kind: kube-core's flattened TypeMeta has its own rules for that.
            r#"{"apiVersion":"v1","metadata":{}}"#,
            // No metadata: kube-core fills in an empty one.
            r#"{"apiVersion":"v1","kind":"ConfigMap"}"#,
            // Metadata that is not an ObjectMeta: the checked way's 400.
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":5}}"#,
            r#"[1]"#,
        ] {
            let body = api_server_review(object);
            assert!(fast(&body).is_none(), "{object}");
            assert_eq!(
                format!("{:?}", review(&body).map(|a| a.object.map(|o| o.unwrap()))),
                format!("{:?}", checked(&body).map(|a| a.object.map(|o| o.unwrap()))),
            );
        }
    }

    #[test]
    fn a_repeated_key_gets_the_checked_way_and_its_located_message() {
        let body = api_server_review(
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{},"data":{"a":"1","a":"2"}}"#,
        );
        assert!(fast(&body).is_none());
        let error = review(&body).unwrap_err();
        assert!(
            error.starts_with(
                "not an admission.k8s.io/v1 AdmissionReview: request.object.data.a: duplicate key"
            ),
            "{error}"
        );
    }
}
