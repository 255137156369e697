//! Output: the rendered objects in a stable order, as one YAML stream or as a GitOps folder.
//! Nothing here renders or validates; it only orders, serialises and writes.

pub mod folder;
pub mod order;

use crate::render::Object;

/// One multi-document YAML stream; the same objects always give the same bytes.
pub fn to_yaml_stream(objects: &[Object]) -> String {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&to_yaml(&object.value));
    }
    out
}

/// One object as canonical YAML (block style, keys in the order the chart wrote them).
pub fn to_yaml(value: &serde_json::Value) -> String {
    serde_yaml_ng::to_string(value).expect("JSON values always serialise to YAML")
}
