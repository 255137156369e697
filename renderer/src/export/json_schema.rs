//! A kind as a JSON Schema (draft-07), for editors: `kiln schema KIND` prints it, and
//! yaml-language-server (VS Code's YAML extension, Neovim, Helix) completes fields, shows
//! their descriptions and marks typos and wrong types as the spec is typed. It is the
//! chart's schema read as JSON Schema: closed objects (`additionalProperties: false` where
//! the schema lists fields and keeps no unknown ones), formats as the patterns `kiln crd`
//! gives the API server, `nullable` and int-or-string as type unions. CEL rules are kiln's
//! and the cluster's to check; editors get their messages in the description of the node.

use serde_json::{Map, Value, json};

use super::crd::{format_pattern, insert_format_pattern, map_subschemas};
use crate::chart::Chart;

/// The JSON Schema of a chart's kind, or `None` when the chart has no schema.
pub fn json_schema(chart: &Chart) -> Option<Value> {
    let schema = &chart.definition_files.get("schema.yaml")?.value;
    let mut root = convert(schema);
    let properties = root
        .as_object_mut()?
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()?;
    let name_pattern = format_pattern("dns1123-subdomain").map(|(pattern, _)| pattern);
    let namespace_pattern = format_pattern("dns1123-label").map(|(pattern, _)| pattern);
    properties.insert(
        "apiVersion".into(),
        json!({"const": chart.renders.api_version}),
    );
    properties.insert("kind".into(), json!({"const": chart.renders.kind}));
    properties.insert(
        "metadata".into(),
        json!({
            "type": "object",
            "description": "Standard object metadata.",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "maxLength": 253, "pattern": name_pattern,
                         "description": "The object's name: a lowercase DNS name."},
                "namespace": {"type": "string", "maxLength": 63, "pattern": namespace_pattern,
                              "description": "The object's namespace; the chart's values.namespace when absent."},
                "labels": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Labels."},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"},
                                "description": "Annotations."}
            }
        }),
    );
    let object = root.as_object_mut()?;
    let mut required: Vec<Value> = vec![json!("apiVersion"), json!("kind"), json!("metadata")];
    if let Some(Value::Array(listed)) = object.get("required") {
        for field in listed {
            if !required.contains(field) {
                required.push(field.clone());
            }
        }
    }
    object.insert("required".into(), Value::Array(required));
    let mut out = Map::new();
    out.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    out.insert(
        "title".into(),
        json!(format!("{} (kiln chart {})", chart.renders, chart.name)),
    );
    out.extend(std::mem::take(object));
    Some(Value::Object(out))
}

/// One schema node, in JSON Schema's words.
fn convert(node: &Value) -> Value {
    let Some(fields) = node.as_object() else {
        return node.clone();
    };
    let mut out = Map::new();
    let preserve = fields
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true);
    let mut rule_messages = Vec::new();
    for (key, value) in fields {
        if let Some(converted) = map_subschemas(key, value, convert) {
            out.insert(key.clone(), converted);
            continue;
        }
        match key.as_str() {
            "anyOf" => {
                let branches: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(convert)
                    .collect();
                out.insert(key.clone(), Value::Array(branches));
            }
            "format" => {
                insert_format_pattern(&mut out, value.as_str().unwrap_or_default());
            }
            // Draft-07 writes an exclusive bound as the bound itself.
            "exclusiveMinimum" | "exclusiveMaximum" => {
                let bound = if key == "exclusiveMinimum" {
                    "minimum"
                } else {
                    "maximum"
                };
                if value.as_bool() == Some(true)
                    && let Some(limit) = fields.get(bound)
                {
                    out.insert(key.clone(), limit.clone());
                }
            }
            "x-kubernetes-validations" => {
                rule_messages.extend(
                    value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|rule| rule.get("message").and_then(Value::as_str))
                        .map(str::to_owned),
                );
            }
            "nullable" | "example" => {}
            _ if key.starts_with("x-kubernetes-") => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if fields.contains_key("exclusiveMinimum") && out.contains_key("exclusiveMinimum") {
        out.remove("minimum");
    }
    if fields.contains_key("exclusiveMaximum") && out.contains_key("exclusiveMaximum") {
        out.remove("maximum");
    }
    if fields
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
    {
        out.remove("type");
        out.insert("type".into(), json!(["integer", "string"]));
    }
    if fields.get("nullable").and_then(Value::as_bool) == Some(true)
        && let Some(Value::String(kind)) = out.get("type").cloned()
    {
        out.insert("type".into(), json!([kind, "null"]));
    }
    // A field that is a flag or an object: the branches say which, not the node.
    if preserve && out.contains_key("anyOf") {
        out.remove("type");
    }
    if out.contains_key("properties") && !preserve && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), json!(false));
    }
    if !rule_messages.is_empty() {
        let description = out
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let rules = rule_messages
            .iter()
            .map(|message| format!("- {message}"))
            .collect::<Vec<_>>()
            .join("\n");
        out.insert(
            "description".into(),
            json!(
                format!("{description}\n\nRules:\n{rules}")
                    .trim_start()
                    .to_owned()
            ),
        );
    }
    Value::Object(out)
}
