//! CustomResourceDefinitions from chart schemas. kiln's schema dialect is a CRD's
//! `openAPIV3Schema` plus a few keys the API server does not know; this module leaves those
//! out, turns kiln's formats into the patterns the API server checks, and drops the rules
//! that read chart values or variables (only kiln can evaluate those).

use serde_json::{Map, Value, json};

use crate::chart::Chart;
use crate::schema::API_RULE_KEYS;

/// Patterns for kiln's formats, with the length the API server should enforce with them.
pub(crate) fn format_pattern(format: &str) -> Option<(&'static str, Option<u64>)> {
    Some(match format {
        "dns1123-label" => ("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", Some(63)),
        "dns1123-subdomain" => (
            "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            Some(253),
        ),
        "label-value" => ("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", Some(63)),
        "quantity" => (
            "^(\\+)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
            None,
        ),
        _ => return None,
    })
}

/// Writes a kiln format as the `pattern` (and `maxLength`) that checks it, unless the node
/// has its own; false when the format has no pattern.
pub(crate) fn insert_format_pattern(out: &mut Map<String, Value>, format: &str) -> bool {
    let Some((pattern, max_length)) = format_pattern(format) else {
        return false;
    };
    out.entry("pattern").or_insert_with(|| json!(pattern));
    if let Some(max) = max_length {
        out.entry("maxLength").or_insert_with(|| json!(max));
    }
    true
}

/// The CRD of a chart's kind, or `None` when the chart has no schema.
pub fn custom_resource_definition(chart: &Chart) -> Option<Value> {
    let schema = &chart.definition_files.get("schema.yaml")?.value;
    let (group, version) = chart
        .renders
        .api_version
        .split_once('/')
        .unwrap_or(("", chart.renders.api_version.as_str()));
    let kind = &chart.renders.kind;
    let singular = kind.to_ascii_lowercase();
    let plural = chart.plural();
    let mut names = json!({
        "kind": kind,
        "listKind": format!("{kind}List"),
        "plural": plural,
        "singular": singular,
    });
    if !chart.crd_names.short_names.is_empty() {
        names["shortNames"] = json!(chart.crd_names.short_names);
    }
    if !chart.crd_names.categories.is_empty() {
        names["categories"] = json!(chart.crd_names.categories);
    }
    let mut root = for_api_server(schema);
    if let Some(properties) = root.get_mut("properties").and_then(Value::as_object_mut) {
        for (field, description) in [
            ("apiVersion", "the API version of this object"),
            ("kind", "the kind of this object"),
        ] {
            properties
                .entry(field)
                .or_insert_with(|| json!({"type": "string", "description": description}));
        }
        properties.insert(
            "metadata".into(),
            json!({"type": "object", "description": "standard object metadata"}),
        );
    }
    Some(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.{group}"),
            "labels": {"app.kubernetes.io/managed-by": "kiln"},
            "annotations": {"kiln.dev/chart": chart.name},
        },
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced",
            "versions": [{
                "name": version,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": root},
            }],
        },
    }))
}

/// A node's `properties`, `items` or `additionalProperties` with `convert` applied to every
/// schema in it; `None` for any other key.
pub(crate) fn map_subschemas(
    key: &str,
    value: &Value,
    convert: fn(&Value) -> Value,
) -> Option<Value> {
    match key {
        "properties" => Some(Value::Object(
            value
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, child)| (name.clone(), convert(child)))
                .collect(),
        )),
        "items" | "additionalProperties" => Some(convert(value)),
        _ => None,
    }
}

/// A schema node as the API server takes it.
fn for_api_server(node: &Value) -> Value {
    let Some(fields) = node.as_object() else {
        return node.clone();
    };
    let mut out = Map::new();
    for (key, value) in fields {
        if let Some(converted) = map_subschemas(key, value, for_api_server) {
            out.insert(key.clone(), converted);
            continue;
        }
        match key.as_str() {
            // Typed branches are kiln's; the node holds anything for the API server.
            "anyOf" if fields.contains_key("x-kubernetes-preserve-unknown-fields") => {}
            "format" => {
                let format = value.as_str().unwrap_or_default();
                if !insert_format_pattern(&mut out, format)
                    && !crate::formats::is_kiln_format(format)
                {
                    out.insert(key.clone(), value.clone());
                }
            }
            "x-kubernetes-validations" => {
                let rules: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|rule| reads_only_the_object(rule))
                    .map(|rule| {
                        let kept: Map<String, Value> = rule
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(k, _)| API_RULE_KEYS.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        Value::Object(kept)
                    })
                    .collect();
                if !rules.is_empty() {
                    out.insert(key.clone(), Value::Array(rules));
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// True when a rule reads only `self`: the API server has no chart values or variables.
/// Warnings stay with kiln too: a CRD rule can only deny.
pub fn reads_only_the_object(rule: &Value) -> bool {
    let warning = rule.get("severity").and_then(Value::as_str) == Some("Warning");
    let reads_more = ["rule", "messageExpression"].iter().any(|key| {
        rule.get(*key)
            .and_then(Value::as_str)
            .and_then(|source| crate::cel::parse(source).ok())
            .is_some_and(|tree| {
                let references = tree.references();
                references.has_variable(crate::cel::VALUES)
                    || references.has_variable(crate::cel::VARIABLES)
            })
    });
    !warning && !reads_more
}
