//! Post-processing: what kiln adds to every rendered object, whatever the chart says.
//! It stamps the spec that is the source of truth, rolls pods when their config changes
//! (a content hash on the pod template), and checks each built-in kind against the
//! Kubernetes types from k8s-openapi, so a chart mistake is caught before it reaches Git.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, ResourceQuota, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::finding::{FieldPath, Finding};
use crate::render::Object;

/// Names the spec an object was rendered from; the webhook points hand edits back to it.
pub const SPEC_ANNOTATION: &str = "kiln.dev/spec";
/// On pod templates: the hash of the instance's ConfigMap data.
pub const CONFIG_HASH_ANNOTATION: &str = "kiln.dev/config-hash";

/// Names the spec (or, for namespace-wide objects, the specs) each object comes from.
pub fn stamp_source(objects: &mut [Object], spec_ref: &str) {
    for object in objects.iter_mut() {
        annotations(&mut object.value, "/metadata").insert(SPEC_ANNOTATION.into(), spec_ref.into());
    }
}

/// Stamps and hashes the objects of one instance.
pub fn finish_instance(objects: &mut [Object], spec_ref: &str) {
    stamp_source(objects, spec_ref);
    let config_hash = config_hash(objects);
    for object in objects.iter_mut() {
        if object.kind == "Deployment" && object.api_version == "apps/v1" {
            annotations(&mut object.value, "/spec/template/metadata")
                .insert(CONFIG_HASH_ANNOTATION.into(), config_hash.clone().into());
        }
    }
}

/// sha256 over the ConfigMaps' data, in name and key order; independent of template layout.
fn config_hash(objects: &[Object]) -> String {
    let mut config_maps: Vec<&Object> = objects.iter().filter(|o| o.kind == "ConfigMap").collect();
    config_maps.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = Sha256::new();
    for config_map in config_maps {
        hasher.update(config_map.name.as_bytes());
        hasher.update([0]);
        for field in ["data", "binaryData"] {
            let Some(Value::Object(entries)) = config_map.value.get(field) else {
                continue;
            };
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            for key in keys {
                hasher.update(key.as_bytes());
                hasher.update([0]);
                hasher.update(entries[key].to_string().as_bytes());
                hasher.update([0]);
            }
        }
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{}", &hex[..16])
}

/// The annotations map under `pointer`, created if missing.
fn annotations<'v>(value: &'v mut Value, pointer: &str) -> &'v mut Map<String, Value> {
    let mut node = value;
    for key in pointer.split('/').skip(1) {
        node = ensure_object(node)
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let annotations = ensure_object(node)
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    ensure_object(annotations)
}

fn ensure_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("made an object above")
}

/// Checks an object of a built-in kind against its Kubernetes type; other kinds pass.
pub fn check_schema(object: &Object) -> Option<Finding> {
    let result = match (object.api_version.as_str(), object.kind.as_str()) {
        ("apps/v1", "Deployment") => parse::<Deployment>(&object.value),
        ("v1", "Service") => parse::<Service>(&object.value),
        ("v1", "ConfigMap") => parse::<ConfigMap>(&object.value),
        ("v1", "ServiceAccount") => parse::<ServiceAccount>(&object.value),
        ("v1", "ResourceQuota") => parse::<ResourceQuota>(&object.value),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            parse::<HorizontalPodAutoscaler>(&object.value)
        }
        ("policy/v1", "PodDisruptionBudget") => parse::<PodDisruptionBudget>(&object.value),
        ("v1", "Secret") => secret_without_values(&object.value),
        _ => Ok(()),
    };
    let error = result.err()?;
    Some(Finding::error(
        "chart-output",
        FieldPath::root(),
        format!(
            "{} rendered a {} that Kubernetes would reject: {error}",
            object.template, object.kind
        ),
    ))
}

/// Output goes to Git, so a Secret kiln renders may carry type, labels and annotations (for a
/// controller that fills it, say) but never a value.
fn secret_without_values(value: &Value) -> Result<(), String> {
    parse::<k8s_openapi::api::core::v1::Secret>(value)?;
    for field in ["data", "stringData"] {
        if value
            .get(field)
            .and_then(Value::as_object)
            .is_some_and(|entries| !entries.is_empty())
        {
            return Err(format!(
                "{field}: holds secret values, and rendered output is committed to Git; reference a Secret kept elsewhere (External Secrets, Sealed Secrets, SOPS) instead"
            ));
        }
    }
    Ok(())
}

fn parse<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    serde_path_to_error::deserialize::<_, T>(value)
        .map(drop)
        .map_err(|error| format!("{}: {}", error.path(), error.inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: &str, api_version: &str, value: Value) -> Object {
        Object {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: Some("default".into()),
            name: "x".into(),
            template: "templates/x.yaml".into(),
            instance: Some("x".into()),
            value,
        }
    }

    #[test]
    fn a_rendered_secret_never_holds_values() {
        let empty = object(
            "Secret",
            "v1",
            serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque"}),
        );
        assert!(check_schema(&empty).is_none());
        for field in ["data", "stringData"] {
            let full = object(
                "Secret",
                "v1",
                serde_json::json!({"apiVersion": "v1", "kind": "Secret", field: {"password": "c2VjcmV0"}}),
            );
            let finding = check_schema(&full).expect("a Secret with values is refused");
            assert!(
                finding
                    .message
                    .contains(&format!("{field}: holds secret values")),
                "{}",
                finding.message
            );
        }
    }

    #[test]
    fn a_config_change_changes_the_pod_template() {
        let render = |data: &str| {
            let mut objects = vec![
                object(
                    "ConfigMap",
                    "v1",
                    serde_json::json!({"metadata": {"name": "x"}, "data": {"k": data}}),
                ),
                object(
                    "Deployment",
                    "apps/v1",
                    serde_json::json!({"metadata": {"name": "x"}, "spec": {"template": {}}}),
                ),
            ];
            finish_instance(&mut objects, "MicroServiceDeploy default/x");
            objects[1].value["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
                .clone()
        };
        assert_eq!(render("a"), render("a"));
        assert_ne!(render("a"), render("b"));
    }

    #[test]
    fn wrong_types_in_built_in_kinds_are_caught() {
        let bad = object(
            "Deployment",
            "apps/v1",
            serde_json::json!({"metadata": {"name": "x"}, "spec": {"replicas": "three", "selector": {}, "template": {}}}),
        );
        let finding = check_schema(&bad).expect("a string replicas count is rejected");
        assert!(
            finding.message.contains("spec.replicas"),
            "{}",
            finding.message
        );
    }
}
