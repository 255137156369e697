//! Post-processing: what kiln adds to every rendered object, whatever the chart says.
//! It stamps the spec that is the source of truth, rolls pods when their config changes
//! (a content hash on the pod template), and checks each built-in kind as the API server
//! would (strictly against the k8s-openapi types, then `api_rules`), so a chart mistake is
//! caught before it reaches Git.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::api_rules::{self, Problem};
use crate::finding::{FieldPath, Finding};
use crate::render::Object;
use crate::strict::{Refusal, read};

/// Names the spec an object was rendered from; the webhook points hand edits back to it.
pub const SPEC_ANNOTATION: &str = "kiln.dev/spec";
/// On pod templates: the hash of the ConfigMap data and Certificate specs rendered beside them.
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
    let config_hash = config_hash(
        &objects
            .iter()
            .map(|o| Hashed {
                api_version: &o.api_version,
                kind: &o.kind,
                name: &o.name,
                value: &o.value,
            })
            .collect::<Vec<_>>(),
    );
    for object in objects.iter_mut() {
        set_config_hash(
            &object.api_version,
            &object.kind,
            &mut object.value,
            &config_hash,
        );
    }
}

/// One object of an instance as the content hash sees it.
pub struct Hashed<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub value: &'a Value,
}

/// Whether the content hash of an instance reads objects of this kind.
pub fn is_hashed_content(api_version: &str, kind: &str) -> bool {
    HASHED_CONTENT
        .iter()
        .any(|(group, hashed, _)| *hashed == kind && api_group(api_version) == *group)
}

/// Whether the content hash goes on the pod template of objects of this kind.
pub fn is_rolled_workload(api_version: &str, kind: &str) -> bool {
    ROLLED_WORKLOADS.contains(&(api_version, kind))
}

/// Puts `config_hash` on the pod template of a workload whose pods roll when it changes;
/// other objects are left as they are. Whether the object changed.
pub fn set_config_hash(
    api_version: &str,
    kind: &str,
    value: &mut Value,
    config_hash: &str,
) -> bool {
    if !is_rolled_workload(api_version, kind) {
        return false;
    }
    let old = annotations(value, "/spec/template/metadata")
        .insert(CONFIG_HASH_ANNOTATION.into(), config_hash.into());
    old.as_ref().and_then(Value::as_str) != Some(config_hash)
}

/// Workloads whose pods roll when the content hash changes.
const ROLLED_WORKLOADS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
];

/// What pods read from objects rendered beside them, by (API group, kind): a ConfigMap's
/// data, and a cert-manager Certificate's spec (issuer, names, lifetime), so that a
/// reviewed change of either rolls the pods. A renewal changes the Secret, not the spec,
/// and rolls nothing.
const HASHED_CONTENT: &[(&str, &str, &[&str])] = &[
    ("", "ConfigMap", &["data", "binaryData"]),
    ("cert-manager.io", "Certificate", &["spec"]),
];

/// sha256 over the hashed content, in kind, name and key order; independent of template
/// layout. Only ConfigMaps give the hash of an instance that renders no Certificate, so the
/// hashes of such instances stay as they were before Certificates counted.
pub fn config_hash(objects: &[Hashed<'_>]) -> String {
    let mut hasher = Sha256::new();
    for (group, kind, fields) in HASHED_CONTENT {
        let mut sources: Vec<&Hashed<'_>> = objects
            .iter()
            .filter(|o| o.kind == *kind && api_group(o.api_version) == *group)
            .collect();
        sources.sort_by(|a, b| a.name.cmp(b.name));
        for source in sources {
            if *kind != "ConfigMap" {
                hasher.update(kind.as_bytes());
                hasher.update([0]);
            }
            hasher.update(source.name.as_bytes());
            hasher.update([0]);
            for field in *fields {
                if let Some(content) = source.value.get(field) {
                    hash_content(&mut hasher, content);
                }
            }
        }
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{}", &hex[..16])
}

/// A mapping as its entries in key order (`key NUL value NUL`, as ConfigMap data always
/// was), anything else as its canonical JSON.
fn hash_content(hasher: &mut Sha256, content: &Value) {
    match content {
        Value::Object(entries) => {
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            for key in keys {
                hasher.update(key.as_bytes());
                hasher.update([0]);
                hasher.update(canonical(&entries[key]).as_bytes());
                hasher.update([0]);
            }
        }
        other => {
            hasher.update(canonical(other).as_bytes());
            hasher.update([0]);
        }
    }
}

/// `apps` of `apps/v1`; empty for the core group (`v1`).
fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// JSON text with keys in order at every depth, so the hash never depends on map order.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(entries) => {
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|key| format!("{}:{}", Value::from(key.as_str()), canonical(&entries[key])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
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

/// One thing the API server would refuse in an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Where, as `spec.template.spec.containers[0].ports[1].name`; empty for the whole object.
    pub path: String,
    pub problem: String,
    pub hint: Option<String>,
}

/// Checks an object of a built-in kind as the API server would: its Kubernetes type read
/// strictly (wrong types and unknown fields), then what the server's validation refuses in
/// well-typed objects (`api_rules`). Other kinds pass. One entry per problem.
pub fn refusals(object: &Object) -> Vec<Refused> {
    use k8s_openapi::api::{
        apps, autoscaling, batch, core, networking, policy, rbac, scheduling, storage,
    };
    let value = &object.value;
    let checked = match (object.api_version.as_str(), object.kind.as_str()) {
        ("apps/v1", "Deployment") => read(value).map(|d: apps::v1::Deployment| {
            d.spec.map_or_else(Vec::new, |s| {
                api_rules::workload(Some(&s.selector), &s.template, "spec")
            })
        }),
        ("apps/v1", "StatefulSet") => read(value).map(|d: apps::v1::StatefulSet| {
            d.spec.map_or_else(Vec::new, |s| {
                api_rules::workload(Some(&s.selector), &s.template, "spec")
            })
        }),
        ("apps/v1", "DaemonSet") => read(value).map(|d: apps::v1::DaemonSet| {
            d.spec.map_or_else(Vec::new, |s| {
                api_rules::workload(Some(&s.selector), &s.template, "spec")
            })
        }),
        ("batch/v1", "Job") => read(value).map(|j: batch::v1::Job| {
            j.spec.map_or_else(Vec::new, |s| {
                api_rules::workload(s.selector.as_ref(), &s.template, "spec")
            })
        }),
        ("batch/v1", "CronJob") => read(value).map(|c: batch::v1::CronJob| {
            c.spec
                .and_then(|s| s.job_template.spec)
                .map_or_else(Vec::new, |s| {
                    api_rules::workload(s.selector.as_ref(), &s.template, "spec.jobTemplate.spec")
                })
        }),
        ("v1", "Service") => read(value)
            .map(|s: core::v1::Service| s.spec.as_ref().map_or_else(Vec::new, api_rules::service)),
        ("v1", "Secret") => read::<core::v1::Secret>(value).map(|_| secret_values(value)),
        ("v1", "ConfigMap") => typed::<core::v1::ConfigMap>(value),
        ("v1", "ServiceAccount") => typed::<core::v1::ServiceAccount>(value),
        ("v1", "Namespace") => typed::<core::v1::Namespace>(value),
        ("v1", "ResourceQuota") => typed::<core::v1::ResourceQuota>(value),
        ("v1", "LimitRange") => typed::<core::v1::LimitRange>(value),
        ("v1", "PersistentVolumeClaim") => typed::<core::v1::PersistentVolumeClaim>(value),
        ("v1", "PersistentVolume") => typed::<core::v1::PersistentVolume>(value),
        ("v1", "Pod") => read(value).map(|p: core::v1::Pod| {
            p.spec
                .as_ref()
                .map_or_else(Vec::new, |spec| api_rules::pod(spec, "spec"))
        }),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            typed::<autoscaling::v2::HorizontalPodAutoscaler>(value)
        }
        ("policy/v1", "PodDisruptionBudget") => typed::<policy::v1::PodDisruptionBudget>(value),
        ("networking.k8s.io/v1", "NetworkPolicy") => typed::<networking::v1::NetworkPolicy>(value),
        ("networking.k8s.io/v1", "Ingress") => typed::<networking::v1::Ingress>(value),
        ("networking.k8s.io/v1", "IngressClass") => typed::<networking::v1::IngressClass>(value),
        ("storage.k8s.io/v1", "StorageClass") => typed::<storage::v1::StorageClass>(value),
        ("scheduling.k8s.io/v1", "PriorityClass") => typed::<scheduling::v1::PriorityClass>(value),
        ("rbac.authorization.k8s.io/v1", "Role") => typed::<rbac::v1::Role>(value),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => typed::<rbac::v1::RoleBinding>(value),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => typed::<rbac::v1::ClusterRole>(value),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            typed::<rbac::v1::ClusterRoleBinding>(value)
        }
        _ => Ok(Vec::new()),
    };
    match checked {
        Ok(problems) => problems
            .into_iter()
            .map(|(path, problem)| Refused {
                path,
                problem,
                hint: None,
            })
            .collect(),
        Err(Refusal::Invalid(detail)) => vec![Refused {
            path: String::new(),
            problem: detail,
            hint: None,
        }],
        Err(Refusal::Unknown(fields)) => fields
            .into_iter()
            .map(|field| Refused {
                path: field.path,
                problem: "unknown field".into(),
                hint: field
                    .closest
                    .map(|closest| format!("did you mean `{closest}`?")),
            })
            .collect(),
    }
}

/// `refusals` of a rendered object, as findings against the chart template that made it.
pub fn check_output(object: &Object) -> Vec<Finding> {
    refusals(object)
        .into_iter()
        .map(|refused| {
            let detail = if refused.path.is_empty() {
                refused.problem
            } else {
                format!("{}: {}", refused.path, refused.problem)
            };
            let finding = Finding::error(
                "chart-output",
                FieldPath::root(),
                format!(
                    "{} rendered a {} that Kubernetes would reject: {detail}",
                    object.template, object.kind
                ),
            );
            match refused.hint {
                Some(hint) => finding.hint(hint),
                None => finding,
            }
        })
        .collect()
}

/// A kind with nothing to check beyond its type.
fn typed<T: for<'de> serde::Deserialize<'de>>(value: &Value) -> Result<Vec<Problem>, Refusal> {
    read::<T>(value).map(|_| Vec::new())
}

/// Output goes to Git, so a Secret kiln renders may carry type, labels and annotations (for a
/// controller that fills it, say) but never a value.
fn secret_values(value: &Value) -> Vec<Problem> {
    ["data", "stringData"]
        .into_iter()
        .filter(|field| {
            value
                .get(field)
                .and_then(Value::as_object)
                .is_some_and(|entries| !entries.is_empty())
        })
        .map(|field| {
            (
                field.to_owned(),
                "holds secret values, and rendered output is committed to Git; reference a Secret kept elsewhere (External Secrets, Sealed Secrets, SOPS) instead".to_owned(),
            )
        })
        .collect()
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
        assert!(check_output(&empty).is_empty());
        for field in ["data", "stringData"] {
            let full = object(
                "Secret",
                "v1",
                serde_json::json!({"apiVersion": "v1", "kind": "Secret", field: {"password": "c2VjcmV0"}}),
            );
            let findings = check_output(&full);
            let finding = findings.first().expect("a Secret with values is refused");
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
        let findings = check_output(&bad);
        let finding = findings
            .first()
            .expect("a string replicas count is rejected");
        assert!(
            finding.message.contains("spec.replicas"),
            "{}",
            finding.message
        );
    }
}
