//! Decoding: a document's JSON value -> the typed `MicroServiceDeploy`, with every type error
//! and unknown field reported at once (serde's derive stops at the first). Values are taken
//! as written; nothing is defaulted or range-checked here, that is `defaults` and `rules`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::model::{
    AUTOSCALING_FIELDS, Autoscaling, AutoscalingPolicy, METADATA_FIELDS, MicroServiceDeploy,
    RESOURCE_NAMES, RESOURCE_REQUIREMENTS_FIELDS, ResourceRequirements, SPEC_FIELDS, Spec,
    TOP_LEVEL_FIELDS,
};
use crate::finding::{FieldPath, Finding};

/// Decodes a MicroServiceDeploy; the result is usable even when findings were reported,
/// so that later rules can still run on the fields that were fine.
pub fn decode(document: &Value) -> (MicroServiceDeploy, Vec<Finding>) {
    decode_written(document, &|_| None)
}

/// As `decode`, with a way to read a scalar as it was written in the file, so a hint can
/// quote `1.10` rather than the number 1.1 that YAML made of it.
pub fn decode_written(
    document: &Value,
    written: &dyn Fn(&FieldPath) -> Option<String>,
) -> (MicroServiceDeploy, Vec<Finding>) {
    let mut decoder = Decoder {
        findings: Vec::new(),
        written,
    };
    let object = decoder.object(document);
    (object, decoder.findings)
}

/// A spec of a `manifests`-model chart: only its name and that `spec` is a mapping are
/// checked; the chart's templates read the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainSpec {
    pub name: String,
    pub namespace: Option<String>,
    pub spec: Value,
}

pub fn decode_plain(document: &Value) -> (Option<PlainSpec>, Vec<Finding>) {
    let mut decoder = Decoder {
        findings: Vec::new(),
        written: &|_| None,
    };
    let root = FieldPath::root();
    let mut result = None;
    if let Some(fields) = decoder.mapping(document, &root, TOP_LEVEL_FIELDS) {
        let metadata = fields
            .get("metadata")
            .and_then(|m| decoder.mapping(m, &root.key("metadata"), METADATA_FIELDS));
        let text = |decoder: &mut Decoder, key: &str| {
            let value = metadata?.get(key)?;
            decoder.string(value, &root.key("metadata").key(key))
        };
        let name = text(&mut decoder, "name");
        let namespace = text(&mut decoder, "namespace");
        // The chart's templates own the spec's fields; kiln only needs a mapping.
        let spec = fields.get("spec").and_then(|spec| {
            if spec.is_object() {
                Some(spec.clone())
            } else {
                decoder.type_error(&root.key("spec"), "must be a mapping", spec);
                None
            }
        });
        match (name, spec) {
            (Some(name), Some(spec)) => {
                result = Some(PlainSpec {
                    name,
                    namespace,
                    spec,
                })
            }
            (None, _) => decoder.findings.push(Finding::error(
                "required",
                root.key("metadata").key("name"),
                "is required",
            )),
            (_, None) if !fields.contains_key("spec") => {
                decoder
                    .findings
                    .push(Finding::error("required", root.key("spec"), "is required"));
            }
            _ => {}
        }
    }
    (result, decoder.findings)
}

struct Decoder<'w> {
    findings: Vec<Finding>,
    written: &'w dyn Fn(&FieldPath) -> Option<String>,
}

impl Decoder<'_> {
    fn object(&mut self, document: &Value) -> MicroServiceDeploy {
        let root = FieldPath::root();
        let Some(fields) = self.mapping(document, &root, TOP_LEVEL_FIELDS) else {
            return MicroServiceDeploy::default();
        };
        let mut object = MicroServiceDeploy::default();
        if let Some(metadata) = fields.get("metadata") {
            let path = root.key("metadata");
            if let Some(meta) = self.mapping(metadata, &path, METADATA_FIELDS) {
                object.name = meta
                    .get("name")
                    .and_then(|v| self.string(v, &path.key("name")));
                object.namespace = meta
                    .get("namespace")
                    .and_then(|v| self.string(v, &path.key("namespace")));
            }
        }
        match fields.get("spec") {
            Some(spec) => object.spec = self.spec(spec, &root.key("spec")),
            None => self
                .findings
                .push(Finding::error("required", root.key("spec"), "is required")),
        }
        object
    }

    fn spec(&mut self, value: &Value, path: &FieldPath) -> Spec {
        let Some(fields) = self.mapping(value, path, SPEC_FIELDS) else {
            return Spec::default();
        };
        let at = |name: &str| path.key(name);
        let mut spec = Spec::default();
        for (name, value) in fields {
            let field = at(name);
            match name.as_str() {
                "msName" => spec.ms_name = self.string(value, &field),
                "fullName" => spec.full_name = self.string(value, &field),
                "version" => spec.version = self.version(value, &field),
                "path" => spec.path = self.string(value, &field),
                "image" => spec.image = self.string(value, &field),
                "replicas" => spec.replicas = self.integer(value, &field),
                "autoscaling" => spec.autoscaling = self.autoscaling(value, &field),
                "needAuth" => spec.need_auth = self.boolean(value, &field),
                "config" => spec.config = self.string(value, &field),
                "creationTimestamp" => spec.creation_timestamp = self.timestamp(value, &field),
                "resourceRequirements" => {
                    spec.resource_requirements = self.resource_requirements(value, &field)
                }
                "idle" => spec.idle = self.boolean(value, &field),
                _ => {} // reported by `mapping` as unknown
            }
        }
        spec
    }

    fn autoscaling(&mut self, value: &Value, path: &FieldPath) -> Option<Autoscaling> {
        if let Value::Bool(enabled) = value {
            return Some(Autoscaling::Enabled(*enabled));
        }
        if !value.is_object() {
            self.findings.push(
                Finding::error(
                    "field-type",
                    path.clone(),
                    "must be true, false or an object {minReplicas, maxReplicas, targetCPUUtilizationPercentage}",
                )
                .got(value),
            );
            return None;
        }
        let fields = self.mapping(value, path, AUTOSCALING_FIELDS)?;
        let mut policy = AutoscalingPolicy::default();
        let mut read = |name: &str| {
            fields
                .get(name)
                .and_then(|value| self.integer(value, &path.key(name)))
        };
        policy.min_replicas = read("minReplicas");
        policy.max_replicas = read("maxReplicas");
        policy.target_cpu_utilization_percentage = read("targetCPUUtilizationPercentage");
        Some(Autoscaling::Policy(policy))
    }

    fn resource_requirements(
        &mut self,
        value: &Value,
        path: &FieldPath,
    ) -> Option<ResourceRequirements> {
        let fields = self.mapping(value, path, RESOURCE_REQUIREMENTS_FIELDS)?;
        let mut quantities = |name: &str| -> Option<BTreeMap<String, String>> {
            let path = path.key(name);
            let entries = self.mapping(fields.get(name)?, &path, RESOURCE_NAMES)?;
            let mut map = BTreeMap::new();
            for (resource, quantity) in entries {
                if !RESOURCE_NAMES.contains(&resource.as_str()) {
                    continue;
                }
                let quantity = match quantity {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    other => {
                        self.findings.push(
                            Finding::error(
                                "field-type",
                                path.key(resource),
                                "must be a quantity such as 500m, 2 or 4Gi",
                            )
                            .got(other),
                        );
                        None
                    }
                };
                if let Some(quantity) = quantity {
                    map.insert(resource.clone(), quantity);
                }
            }
            Some(map)
        };
        Some(ResourceRequirements {
            limits: quantities("limits"),
            requests: quantities("requests"),
        })
    }

    /// A mapping whose keys must come from `known`; unknown keys are reported with the
    /// closest known name, so `replica: 3` says "did you mean replicas".
    fn mapping<'v>(
        &mut self,
        value: &'v Value,
        path: &FieldPath,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(fields) = value else {
            let what = if path.is_root() {
                "the document"
            } else {
                "this field"
            };
            self.findings.push(
                Finding::error(
                    "field-type",
                    path.clone(),
                    format!("{what} must be a mapping"),
                )
                .got(value),
            );
            return None;
        };
        for name in fields.keys() {
            if known.contains(&name.as_str()) {
                continue;
            }
            let mut finding = Finding::error("unknown-field", path.key(name), "unknown field");
            finding = match closest(name, known) {
                Some(candidate) => finding.hint(format!("did you mean `{candidate}`?")),
                None => finding.hint(format!("known fields: {}", known.join(", "))),
            };
            self.findings.push(finding);
        }
        Some(fields)
    }

    fn string(&mut self, value: &Value, path: &FieldPath) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            other => {
                self.type_error(path, "must be a string", other);
                None
            }
        }
    }

    /// Versions must be quoted: YAML reads `1.10` as the number 1.1.
    fn version(&mut self, value: &Value, path: &FieldPath) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => {
                let as_written = (self.written)(path).unwrap_or_else(|| number.to_string());
                self.findings.push(
                    Finding::error("field-type", path.clone(), "must be a quoted string")
                        .got(number)
                        .hint(format!(
                            "write \"{as_written}\"; unquoted, YAML reads 1.10 as the number 1.1"
                        )),
                );
                None
            }
            other => {
                self.type_error(path, "must be a string such as \"1.0\"", other);
                None
            }
        }
    }

    fn integer(&mut self, value: &Value, path: &FieldPath) -> Option<i64> {
        match value.as_i64() {
            Some(number) => Some(number),
            None => {
                self.type_error(path, "must be an integer", value);
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value, path: &FieldPath) -> Option<bool> {
        match value {
            Value::Bool(flag) => Some(*flag),
            other => {
                self.type_error(path, "must be true or false", other);
                None
            }
        }
    }

    /// Milliseconds since the epoch, as a string or a number; kept only for round trips.
    fn timestamp(&mut self, value: &Value, path: &FieldPath) -> Option<Value> {
        let valid = match value {
            Value::String(text) => !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
            Value::Number(number) => number.is_u64(),
            _ => false,
        };
        if valid {
            Some(value.clone())
        } else {
            self.type_error(path, "must be milliseconds since the epoch", value);
            None
        }
    }

    fn type_error(&mut self, path: &FieldPath, message: &str, got: &Value) {
        self.findings
            .push(Finding::error("field-type", path.clone(), message).got(got));
    }
}

/// The known name closest to a typo, if one is close enough to be what was meant.
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|candidate| {
            let distance = strsim::levenshtein(&name.to_lowercase(), &candidate.to_lowercase());
            (distance, *candidate)
        })
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min()
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_field() {
        assert_eq!(closest("replica", SPEC_FIELDS), Some("replicas"));
        assert_eq!(closest("msname", SPEC_FIELDS), Some("msName"));
        assert_eq!(closest("needauth", SPEC_FIELDS), Some("needAuth"));
        assert_eq!(closest("completelyDifferent", SPEC_FIELDS), None);
    }
}
