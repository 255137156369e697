//! Which rendered objects a patch applies to: group, version, kind, namespace and name
//! (a regular expression when it looks like one, anchored), and a label selector in the
//! syntax `kubectl -l` takes (`a=b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`).

use serde_json::Value;

use crate::output::Manifest;
use crate::project::Target;

#[derive(Debug, Clone)]
pub struct Matcher {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<regex::Regex>,
    selector: Vec<Requirement>,
}

#[derive(Debug, Clone)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Matcher {
    pub fn new(target: &Target) -> Result<Matcher, String> {
        let name = match &target.name {
            None => None,
            Some(name) => {
                let looks_like_regex = name.contains(['^', '$', '*', '+', '?', '(', '[', '|']);
                let pattern = if looks_like_regex {
                    format!("^(?:{name})$")
                } else {
                    format!("^{}$", regex::escape(name))
                };
                Some(regex::Regex::new(&pattern).map_err(|e| {
                    format!("target.name {name:?} is not a valid regular expression: {e}")
                })?)
            }
        };
        let selector = match &target.label_selector {
            None => Vec::new(),
            Some(text) => {
                parse_selector(text).map_err(|e| format!("target.labelSelector {text:?}: {e}"))?
            }
        };
        Ok(Matcher {
            group: target.group.clone(),
            version: target.version.clone(),
            kind: target.kind.clone(),
            namespace: target.namespace.clone(),
            name,
            selector,
        })
    }

    /// Everything but the labels, from what every manifest carries.
    pub fn matches_identity(&self, manifest: &Manifest) -> bool {
        let (group, version) = match manifest.api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", manifest.api_version.as_str()),
        };
        self.group.as_deref().is_none_or(|g| g == group)
            && self.version.as_deref().is_none_or(|v| v == version)
            && self.kind.as_deref().is_none_or(|k| k == manifest.kind)
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| manifest.namespace.as_deref() == Some(n))
            && self
                .name
                .as_ref()
                .is_none_or(|n| n.is_match(&manifest.name))
    }

    pub fn matches_labels(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.selector.iter().all(|requirement| match requirement {
            Requirement::Equals(key, value) => label(key) == Some(value),
            Requirement::NotEquals(key, value) => label(key) != Some(value),
            Requirement::Exists(key) => label(key).is_some(),
            Requirement::Absent(key) => label(key).is_none(),
            Requirement::In(key, values) => {
                label(key).is_some_and(|l| values.iter().any(|v| v == l))
            }
            Requirement::NotIn(key, values) => {
                !label(key).is_some_and(|l| values.iter().any(|v| v == l))
            }
        })
    }
}

/// `kind: Deployment, name: web` for messages.
pub fn describe(target: &Target) -> String {
    let fields = [
        ("group", &target.group),
        ("version", &target.version),
        ("kind", &target.kind),
        ("namespace", &target.namespace),
        ("name", &target.name),
        ("labelSelector", &target.label_selector),
    ];
    let parts: Vec<String> = fields
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}: {v}")))
        .collect();
    if parts.is_empty() {
        "every object".into()
    } else {
        parts.join(", ")
    }
}

/// Splits at commas outside parentheses and reads each requirement.
fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(requirement)
        .collect()
}

fn requirement(part: &str) -> Result<Requirement, String> {
    let set = |rest: &str| -> Result<Vec<String>, String> {
        let inner = rest
            .trim()
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| format!("{part:?}: a set is written (a,b)"))?;
        Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
    };
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(
            key.trim().into(),
            value.trim().into(),
        ));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key.trim().into(), value.trim().into()));
    }
    let words: Vec<&str> = part.splitn(3, ' ').collect();
    match words.as_slice() {
        [key, "in", rest] => Ok(Requirement::In((*key).into(), set(rest)?)),
        [key, "notin", rest] => Ok(Requirement::NotIn((*key).into(), set(rest)?)),
        [key] if key.starts_with('!') => Ok(Requirement::Absent(key[1..].into())),
        [key] => Ok(Requirement::Exists((*key).into())),
        _ => Err(format!(
            "{part:?} is not a label requirement (a=b, a!=b, a, !a, a in (x,y))"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_read_as_kubectl_reads_them() {
        let object = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        let matches = |selector: &str| {
            let target = Target {
                label_selector: Some(selector.into()),
                ..Target::default()
            };
            Matcher::new(&target).unwrap().matches_labels(&object)
        };
        assert!(matches("app=web"));
        assert!(matches("app==web,tier"));
        assert!(matches("tier in (front, back),!db"));
        assert!(!matches("app!=web"));
        assert!(!matches("tier notin (front)"));
        assert!(
            Matcher::new(&Target {
                label_selector: Some("a in x".into()),
                ..Target::default()
            })
            .is_err()
        );
    }
}
