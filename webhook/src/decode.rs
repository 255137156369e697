//! Reading an AdmissionReview body into what `admit` judges: the request, and its objects as
//! the JSON kiln checks.
//!
//! Two ways, one result. The checked way is the reference: serde's typed decode of the whole
//! review (its errors are the 400 messages), then the repeated-key walk ([`unique_keys`]), then
//! each object written back to JSON through kube-core's `DynamicObject`. That reads the body
//! three times and builds the object twice, through serde's buffering of flattened fields.
//!
//! The fast way reads the body once. The review around the objects is decoded typed, straight
//! from the text, into a mirror of kube-core's types that knows every field they know and
//! refuses any other (`FastReview`): serde refuses a known field written twice, so every key
//! of the envelope is unique without building it as JSON first. The objects, `options` and
//! `userInfo.extra` are read as JSON, refusing a repeated key as they are built
//! ([`unique_keys`]), and each object is taken as the JSON it already is, in the shape
//! `DynamicObject` gives it (apiVersion, kind, metadata as kube-core writes an `ObjectMeta`,
//! then the other fields in order). It gives up on anything else (malformed JSON, a repeated
//! key, a field kube-core ignores, an object without string apiVersion and kind or without
//! metadata), and the checked way then decides, so every message and every result is the
//! checked way's. The fuzz property `admission_review` holds the two to the same result.
//!
//! [`unique_keys`]: crate::unique_keys

use std::collections::BTreeMap;

use k8s_openapi::api::authentication::v1::UserInfo;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube_core::admission::{AdmissionRequest, AdmissionReview, Operation};
use kube_core::{DynamicObject, GroupVersionKind, GroupVersionResource, ObjectMeta, TypeMeta};
use serde::de::value::MapDeserializer;
use serde::{Deserialize, Deserializer};
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
    let review: FastReview = serde_json::from_str(body).ok()?;
    check_types(&review.api_version, &review.kind).ok()?;
    let request = review.request;
    let object = converted(request.object, as_dynamic_object)?;
    let old_object = converted(request.old_object, as_dynamic_object)?;
    let user = request.user_info;
    let request = AdmissionRequest {
        types: TypeMeta {
            api_version: review.api_version,
            kind: review.kind,
        },
        uid: request.uid,
        kind: request.kind.into(),
        resource: request.resource.into_kube()?,
        sub_resource: request.sub_resource,
        request_kind: request.request_kind.map(Into::into),
        request_resource: converted(request.request_resource, FastResource::into_kube)?,
        request_sub_resource: request.request_sub_resource,
        name: request.name,
        namespace: request.namespace,
        operation: request.operation,
        user_info: UserInfo {
            username: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: converted(user.extra, |extra| BTreeMap::deserialize(extra).ok())?,
        },
        object: None,
        old_object: None,
        dry_run: request.dry_run,
        options: request.options.map(RawExtension),
    };
    Some(Admission {
        request,
        object: object.map(Ok),
        old_object,
    })
}

/// An optional field converted by `convert`: `Some(None)` when it is absent, `None` (the
/// fast way gives up) when `convert` does.
fn converted<T, U>(field: Option<T>, convert: impl FnOnce(T) -> Option<U>) -> Option<Option<U>> {
    match field {
        None => Some(None),
        Some(value) => convert(value).map(Some),
    }
}

/// An AdmissionReview as the fast way reads it: the fields `AdmissionReview` and its request
/// have, typed as kube-core and k8s-openapi type them, and no other. Where those types would
/// skip a field they do not know, unread (and so unchecked for repeated keys), this one
/// refuses the body, and the checked way reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FastReview {
    api_version: String,
    kind: String,
    request: FastRequest,
}

/// `AdmissionRequest`, field for field (its `types` come from the review).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FastRequest {
    uid: String,
    kind: FastKind,
    resource: FastResource,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    request_kind: Option<FastKind>,
    #[serde(default)]
    request_resource: Option<FastResource>,
    #[serde(default)]
    request_sub_resource: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    operation: Operation,
    user_info: FastUser,
    #[serde(default, deserialize_with = "unique_json")]
    object: Option<Value>,
    #[serde(default, deserialize_with = "unique_json")]
    old_object: Option<Value>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default, deserialize_with = "unique_json")]
    options: Option<Value>,
}

/// `GroupVersionKind`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastKind {
    group: String,
    version: String,
    kind: String,
}

impl From<FastKind> for GroupVersionKind {
    fn from(
        FastKind {
            group,
            version,
            kind,
        }: FastKind,
    ) -> GroupVersionKind {
        GroupVersionKind {
            group,
            version,
            kind,
        }
    }
}

/// `GroupVersionResource` as a review carries it, without the `api_version` kube-core adds.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastResource {
    group: String,
    version: String,
    resource: String,
}

impl FastResource {
    /// kube-core's type, as its own decode makes it: its `api_version` is private and decodes
    /// empty when the review has none, where its constructor would fill it in.
    fn into_kube(self) -> Option<GroupVersionResource> {
        let fields = [
            ("group", self.group),
            ("version", self.version),
            ("resource", self.resource),
        ];
        let fields = MapDeserializer::<_, serde::de::value::Error>::new(fields.into_iter());
        GroupVersionResource::deserialize(fields).ok()
    }
}

/// `UserInfo`; `extra`, a mapping, is read as JSON to refuse a repeated key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastUser {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default, deserialize_with = "unique_json")]
    extra: Option<Value>,
}

/// A JSON value read with no repeated key; null is `None`, as for an `Option` field.
fn unique_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    match crate::unique_keys::value(deserializer)? {
        Value::Null => Ok(None),
        value => Ok(Some(value)),
    }
}

/// The version and kind check, then the request itself.
fn request_of(
    review: AdmissionReview<DynamicObject>,
) -> Result<AdmissionRequest<DynamicObject>, Malformed> {
    check_types(&review.types.api_version, &review.types.kind)?;
    review
        .try_into()
        .map_err(|error| format!("AdmissionReview without a usable request: {error}"))
}

/// An AdmissionReview of a version kiln answers, or the 400's detail.
fn check_types(api_version: &str, kind: &str) -> Result<(), Malformed> {
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
    Ok(())
}

/// At most 64 characters of a client-supplied string, for messages.
fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

/// `object` as `DynamicObject` writes it back, or `None` when its shape is not the plain one:
/// apiVersion and kind strings, metadata an `ObjectMeta` (written back, as kube-core writes
/// it: absent fields left out, labels sorted).
fn as_dynamic_object(object: Value) -> Option<Value> {
    let Value::Object(mut fields) = object else {
        return None;
    };
    // The API server writes an object's keys sorted, so apiVersion, kind and metadata come
    // first, where `DynamicObject` writes them: only metadata changes, in place.
    let in_order = {
        let mut leading = fields.iter_mut();
        match (leading.next(), leading.next(), leading.next()) {
            (Some((a, api_version)), Some((k, kind)), Some((m, metadata)))
                if a == "apiVersion" && k == "kind" && m == "metadata" =>
            {
                if !api_version.is_string() || !kind.is_string() {
                    return None;
                }
                *metadata = object_meta(std::mem::take(metadata))?;
                true
            }
            _ => false,
        }
    };
    if in_order {
        return Some(Value::Object(fields));
    }
    let api_version = fields.shift_remove("apiVersion").filter(Value::is_string)?;
    let kind = fields.shift_remove("kind").filter(Value::is_string)?;
    let metadata = object_meta(fields.shift_remove("metadata")?)?;
    let mut written = Map::with_capacity(fields.len() + 3);
    written.insert("apiVersion".to_owned(), api_version);
    written.insert("kind".to_owned(), kind);
    written.insert("metadata".to_owned(), metadata);
    written.extend(fields);
    Some(Value::Object(written))
}

/// `metadata` as `ObjectMeta` writes it back, or `None` when it is not one.
fn object_meta(metadata: Value) -> Option<Value> {
    match metadata {
        Value::Object(fields) if is_plain_metadata(&fields) => Some(plain_metadata(fields)),
        metadata => serde_json::to_value(ObjectMeta::deserialize(&metadata).ok()?).ok(),
    }
}

/// Whether every field of `metadata` is one `ObjectMeta` reads as plain JSON: names and
/// other strings, integers, string maps (labels, annotations), string lists (finalizers), or
/// `null` for any of them. Times, owner references, managed fields and unknown fields are
/// read and written by `ObjectMeta` itself.
fn is_plain_metadata(metadata: &Map<String, Value>) -> bool {
    metadata.iter().all(|(key, value)| {
        value.is_null()
            || match key.as_str() {
                "generateName" | "name" | "namespace" | "resourceVersion" | "selfLink" | "uid" => {
                    value.is_string()
                }
                "deletionGracePeriodSeconds" | "generation" => value.is_i64(),
                "annotations" | "labels" => value
                    .as_object()
                    .is_some_and(|map| map.values().all(Value::is_string)),
                "finalizers" => value
                    .as_array()
                    .is_some_and(|list| list.iter().all(Value::is_string)),
                _ => false,
            }
    })
}

/// Plain `metadata` as `ObjectMeta` writes it back, without building one: `null` fields left
/// out, fields in name order (k8s-openapi writes them so), string maps sorted by key (they are
/// `BTreeMap`s).
fn plain_metadata(metadata: Map<String, Value>) -> Value {
    let mut fields: Vec<(String, Value)> = metadata
        .into_iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| match value {
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                (key, Value::Object(entries.into_iter().collect()))
            }
            value => (key, value),
        })
        .collect();
    fields.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Value::Object(fields.into_iter().collect())
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

    /// Plain metadata written back without `ObjectMeta` is what `ObjectMeta` writes back, in
    /// the same order; anything else is left to `ObjectMeta`.
    #[test]
    fn plain_metadata_is_written_as_object_meta_writes_it() {
        let through_object_meta = |metadata: &Value| {
            serde_json::to_value(ObjectMeta::deserialize(metadata).unwrap()).unwrap()
        };
        let plain = [
            r#"{}"#,
            r#"{"name": "web"}"#,
            r#"{"uid": "u", "name": "web", "namespace": "shop", "generateName": "w-",
                "resourceVersion": "12", "selfLink": "/x", "generation": 3,
                "deletionGracePeriodSeconds": -1}"#,
            r#"{"name": null, "labels": null, "generation": null, "finalizers": null}"#,
            r#"{"labels": {"z": "1", "a": "2", "app.kubernetes.io/name": "web", "": ""},
                "annotations": {"b": "x", "a": "y"}, "finalizers": ["b", "a"], "name": ""}"#,
            r#"{"labels": {}, "annotations": {}, "finalizers": []}"#,
        ];
        for text in plain {
            let metadata: Value = serde_json::from_str(text).unwrap();
            let fields = metadata.as_object().unwrap();
            assert!(is_plain_metadata(fields), "{text}");
            let written = plain_metadata(fields.clone());
            let expected = through_object_meta(&metadata);
            // Equal, and in the same order (a map compares equal in any order).
            assert_eq!(written, expected, "{text}");
            assert_eq!(written.to_string(), expected.to_string(), "{text}");
        }
        let not_plain = [
            r#"{"creationTimestamp": "2024-05-01T10:00:00Z"}"#,
            r#"{"managedFields": []}"#,
            r#"{"ownerReferences": []}"#,
            r#"{"unknown": "x"}"#,
            r#"{"name": 1}"#,
            r#"{"generation": 1.5}"#,
            r#"{"generation": 18446744073709551615}"#,
            r#"{"labels": {"a": 1}}"#,
            r#"{"labels": {"a": null}}"#,
            r#"{"labels": []}"#,
            r#"{"finalizers": ["a", 2]}"#,
        ];
        for text in not_plain {
            let metadata: Value = serde_json::from_str(text).unwrap();
            assert!(!is_plain_metadata(metadata.as_object().unwrap()), "{text}");
        }
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
        // Plain metadata (written back without `ObjectMeta`), in place and moved to the front.
        for object in [
            r#"{"apiVersion":"v1","kind":"K","metadata":{"name":"c","labels":{"b":"2","a":"1"},
                "finalizers":["f"],"generation":2,"uid":null},"spec":{}}"#,
            r#"{"spec":{},"kind":"K","metadata":{"namespace":"n","annotations":{"z":"","y":""}},
                "apiVersion":"v1"}"#,
        ] {
            let (_, object, _) = same(&api_server_review(object));
            let written = serde_json::to_string(&object.unwrap()["metadata"]).unwrap();
            assert!(
                written
                    == r#"{"finalizers":["f"],"generation":2,"labels":{"a":"1","b":"2"},"name":"c"}"#
                    || written == r#"{"annotations":{"y":"","z":""},"namespace":"n"}"#,
                "{written}"
            );
        }
    }

    #[test]
    fn every_field_of_a_request_reads_the_same_both_ways() {
        let object = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#;
        let body = format!(
            r#"{{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{{
            "uid":"u","kind":{{"group":"","version":"v1","kind":"ConfigMap"}},
            "resource":{{"group":"","version":"v1","resource":"configmaps"}},
            "subResource":"status","requestSubResource":null,
            "requestKind":{{"group":"","version":"v1","kind":"ConfigMap"}},
            "requestResource":{{"group":"","version":"v1","resource":"configmaps"}},
            "name":"c","namespace":null,"operation":"UPDATE",
            "userInfo":{{"username":"system:serviceaccount:ci:deployer","uid":"1",
              "groups":["system:serviceaccounts"],
              "extra":{{"authentication.kubernetes.io/credential-id":["JTI=x"]}}}},
            "object":{object},"oldObject":null,"dryRun":true,
            "options":{{"apiVersion":"meta.k8s.io/v1","kind":"UpdateOptions"}}}}}}"#
        );
        let (request, object, old) = same(&body);
        assert_eq!(
            request["userInfo"]["extra"]["authentication.kubernetes.io/credential-id"][0],
            "JTI=x"
        );
        assert_eq!(request["options"]["kind"], "UpdateOptions");
        assert_eq!(request["dryRun"], true);
        assert!(object.is_some() && old.is_none());
        // The least a request carries: every optional field left out.
        let least = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
            "uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},
            "resource":{"group":"","version":"v1","resource":"pods"},
            "operation":"DELETE","userInfo":{}}}"#;
        let (request, object, old) = same(least);
        assert_eq!(request["name"], "");
        assert!(object.is_none() && old.is_none());
    }

    #[test]
    fn a_field_kube_core_skips_or_a_repeated_key_around_the_object_goes_the_checked_way() {
        let review = |request: &str| {
            format!(
                r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{
                "kind":{{"group":"","version":"v1","kind":"Pod"}},
                "resource":{{"group":"","version":"v1","resource":"pods"}},
                "operation":"CREATE",{request}}}}}"#
            )
        };
        // Fields kube-core reads past unchecked: the checked way reads them, and its result.
        for request in [
            r#""uid":"u","userInfo":{},"note":{"a":1}"#,
            r#""uid":"u","userInfo":{"nickname":"x"}"#,
        ] {
            let body = review(request);
            assert!(fast(&body).is_none(), "{request}");
            assert!(checked(&body).is_ok(), "{request}");
        }
        // A key written twice, at any depth: the checked way's refusal (serde's own for a
        // field the typed decode knows, the located one of the repeated-key walk for others).
        for (request, refusal) in [
            (
                r#""uid":"u","uid":"v","userInfo":{}"#,
                "duplicate field `uid`",
            ),
            (
                r#""uid":"u","userInfo":{"username":"a","username":"b"}"#,
                "request.userInfo.username: duplicate key",
            ),
            (
                r#""uid":"u","userInfo":{"extra":{"k":["1"],"k":["2"]}}"#,
                "request.userInfo.extra.k: duplicate key",
            ),
            (
                r#""uid":"u","userInfo":{},"options":{"a":1,"a":2}"#,
                "request.options.a: duplicate key",
            ),
        ] {
            let body = review(request);
            assert!(fast(&body).is_none(), "{request}");
            let error = review_error(&body);
            assert!(error.contains(refusal), "{error}");
        }
    }

    fn review_error(body: &str) -> String {
        match review(body) {
            Ok(_) => panic!("read: {body}"),
            Err(error) => error,
        }
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
