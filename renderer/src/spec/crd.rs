//! The MicroServiceDeploy CustomResourceDefinition, generated from the decoder's own field
//! lists and limits, so the cluster's schema, the CLI and the webhook cannot drift apart
//! (a test fails when a field is decoded but has no schema, or the other way round).
//! The schema is structural and deliberately loose where the rules are precise: the API
//! server gives types and ranges, kiln's rules give the full messages.

use serde_json::{Map, Value, json};

use super::model::{API_VERSION, KIND, RESOURCE_NAMES, RESOURCE_REQUIREMENTS_FIELDS, SPEC_FIELDS};
use crate::rules::MAX_REPLICAS;
use crate::rules::names::MAX_LABEL;

const DNS_LABEL: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// The schema of one `spec` field.
fn spec_field(name: &str) -> Value {
    match name {
        "msName" => {
            json!({"type": "string", "maxLength": MAX_LABEL, "pattern": DNS_LABEL, "description": "The service; names its container and app.kubernetes.io/name."})
        }
        "fullName" => {
            json!({"type": "string", "maxLength": MAX_LABEL, "pattern": DNS_LABEL, "description": "The instance: the name of every rendered object. Default <msName>-v<MAJOR>s<MINOR>."})
        }
        "version" => json!({"type": "string", "description": "MAJOR.MINOR[.PATCH]; quote it."}),
        "path" => {
            json!({"type": "string", "maxLength": MAX_LABEL, "pattern": DNS_LABEL, "description": "Major version in the instance's domain name. Default v<MAJOR>."})
        }
        "image" => {
            json!({"type": "string", "description": "OCI image reference: [registry/]repository[:tag][@digest]."})
        }
        "replicas" => {
            json!({"type": "integer", "minimum": 0, "maximum": MAX_REPLICAS, "description": "Pods; the autoscaler's minimum when autoscaling. Default 1."})
        }
        "autoscaling" => json!({
            "description": "true, false, or {minReplicas, maxReplicas, targetCPUUtilizationPercentage}; checked by kiln's rules.",
            "x-kubernetes-preserve-unknown-fields": true
        }),
        "needAuth" => {
            json!({"type": "boolean", "description": "Require authentication at the gateway. Default false."})
        }
        "config" => {
            json!({"type": "string", "description": "Runtime configuration: key=value lines, or any text kept whole."})
        }
        "creationTimestamp" => {
            json!({"x-kubernetes-int-or-string": true, "description": "Milliseconds since the epoch; not rendered."})
        }
        "resourceRequirements" => {
            let quantities = json!({
                "type": "object",
                "properties": RESOURCE_NAMES.iter().map(|r| ((*r).to_owned(), json!({"x-kubernetes-int-or-string": true}))).collect::<Map<String, Value>>()
            });
            let properties: Map<String, Value> = RESOURCE_REQUIREMENTS_FIELDS
                .iter()
                .map(|f| ((*f).to_owned(), quantities.clone()))
                .collect();
            json!({"type": "object", "properties": properties})
        }
        "idle" => json!({"type": "boolean", "description": "Scaled to zero. Default false."}),
        other => json!({"description": format!("no schema for {other}")}),
    }
}

/// The CRD as a JSON value, ready to be written as YAML.
pub fn custom_resource_definition() -> Value {
    let (group, version) = API_VERSION.split_once('/').expect("a grouped apiVersion");
    let plural = format!("{}s", KIND.to_ascii_lowercase());
    let spec_properties: Map<String, Value> = SPEC_FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), spec_field(f)))
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}"), "labels": {"app.kubernetes.io/managed-by": "kiln"}},
        "spec": {
            "group": group,
            "names": {"kind": KIND, "listKind": format!("{KIND}List"), "plural": plural, "singular": KIND.to_ascii_lowercase(), "shortNames": ["msd"]},
            "scope": "Namespaced",
            "versions": [{
                "name": version,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": {"type": "object", "required": ["msName", "image"], "properties": spec_properties}
                    }
                }},
                "additionalPrinterColumns": [
                    {"name": "Service", "type": "string", "jsonPath": ".spec.msName"},
                    {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Idle", "type": "boolean", "jsonPath": ".spec.idle"}
                ]
            }]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decoded_field_has_a_schema() {
        for field in SPEC_FIELDS {
            let schema = spec_field(field);
            assert!(
                !schema["description"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("no schema"),
                "{field} has no schema"
            );
        }
        let crd = custom_resource_definition();
        let properties = crd
            .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties")
            .unwrap();
        assert_eq!(properties.as_object().unwrap().len(), SPEC_FIELDS.len());
    }
}
