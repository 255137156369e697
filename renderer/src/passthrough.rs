//! Plain Kubernetes manifests next to specs: a document of no chart's kind goes to the output
//! as written (an ExternalSecret, a SealedSecret, a ConfigMap kiln does not render), read as
//! strictly as a rendered object. What looks like a misspelt kind is refused instead: a kind
//! or group close to a chart's, or a kind that a built-in API group does not have. A typo in
//! `kind:` must never turn a spec into a manifest that the cluster then refuses, or ignores.

use serde_json::Value;

use crate::chart::KindId;
use crate::finding::{FieldPath, Finding};
use crate::postprocess;
use crate::render::Object;
use crate::suggest;

/// The kinds of the API groups every cluster serves, at their stable versions (Kubernetes
/// 1.33). A document of one of these group versions with another kind is a typo.
const BUILT_IN: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
    (
        "apps/v1",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    ("batch/v1", &["CronJob", "Job"]),
    ("autoscaling/v1", &["HorizontalPodAutoscaler"]),
    ("autoscaling/v2", &["HorizontalPodAutoscaler"]),
    ("policy/v1", &["Eviction", "PodDisruptionBudget"]),
    (
        "networking.k8s.io/v1",
        &[
            "IPAddress",
            "Ingress",
            "IngressClass",
            "NetworkPolicy",
            "ServiceCIDR",
        ],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    (
        "storage.k8s.io/v1",
        &[
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
            "VolumeAttributesClass",
        ],
    ),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    (
        "admissionregistration.k8s.io/v1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        ],
    ),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    ("coordination.k8s.io/v1", &["Lease"]),
    ("discovery.k8s.io/v1", &["EndpointSlice"]),
    ("events.k8s.io/v1", &["Event"]),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    (
        "flowcontrol.apiserver.k8s.io/v1",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
];

/// The document as an object to write, or why it may not pass through. `charts` are the kinds
/// kiln renders (the document is none of them).
pub fn admit(value: &Value, charts: &[KindId]) -> Result<Object, Vec<Finding>> {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    let (Some(api_version), Some(kind)) = (text("/apiVersion"), text("/kind")) else {
        // The dispatcher reports a missing or mistyped apiVersion or kind first.
        return Err(Vec::new());
    };
    // A built-in kind is what it says, however close to a chart's (APIService, AppService).
    if !is_built_in(api_version, kind) {
        if let Some(finding) = near_chart_kind(api_version, kind, charts) {
            return Err(vec![finding]);
        }
        if let Some(finding) = unknown_built_in(api_version, kind) {
            return Err(vec![finding]);
        }
    }
    let name = match value.pointer("/metadata/name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(other) => {
            return Err(vec![
                Finding::error(
                    "field-type",
                    FieldPath::of(&["metadata", "name"]),
                    "must be a non-empty string",
                )
                .got(other),
            ]);
        }
        None => {
            return Err(vec![Finding::error(
                "required",
                FieldPath::of(&["metadata", "name"]),
                "is required: a manifest that passes through needs a name",
            )]);
        }
    };
    let namespace = match value.pointer("/metadata/namespace") {
        None => None,
        Some(Value::String(namespace)) => Some(namespace.clone()),
        Some(other) => {
            return Err(vec![
                Finding::error(
                    "field-type",
                    FieldPath::of(&["metadata", "namespace"]),
                    "must be a string",
                )
                .got(other),
            ]);
        }
    };
    let object = Object {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace,
        name,
        template: String::new(),
        instance: None,
        value: value.clone(),
    };
    let findings: Vec<Finding> = postprocess::refusals(&object)
        .into_iter()
        .map(|refused| {
            let field = FieldPath::parse(&refused.path).unwrap_or_else(FieldPath::root);
            let finding = Finding::error(
                "manifest",
                field,
                format!("{}; Kubernetes would reject this {kind}", refused.problem),
            );
            match refused.hint {
                Some(hint) => finding.hint(hint),
                None => finding,
            }
        })
        .collect();
    if findings.is_empty() {
        Ok(object)
    } else {
        Err(findings)
    }
}

/// A kind or group close to a chart's: `MicroServiceDeploi`, `custom.ops/v2`,
/// `custom.opps/v1`. Exactly a chart's group with another kind counts too: a chart owns its
/// group.
fn near_chart_kind(api_version: &str, kind: &str, charts: &[KindId]) -> Option<Finding> {
    let group = group_of(api_version);
    let close = charts.iter().find(|chart| {
        let chart_group = group_of(&chart.api_version);
        suggest::closest(kind, &[chart.kind.as_str()]).is_some()
            || (!chart_group.is_empty() && group == chart_group)
            || (!chart_group.is_empty()
                && suggest::closest(group, &[chart_group]).is_some()
                && kind.eq_ignore_ascii_case(&chart.kind))
    })?;
    let known: Vec<String> = charts.iter().map(ToString::to_string).collect();
    Some(
        Finding::error(
            "unknown-kind",
            FieldPath::of(&["kind"]),
            format!(
                "kiln has no chart for {api_version} {kind}, and it is too close to {close} to pass through as a plain manifest; it renders: {}",
                known.join(", ")
            ),
        )
        .hint(format!("did you mean apiVersion: {}, kind: {}?", close.api_version, close.kind)),
    )
}

fn is_built_in(api_version: &str, kind: &str) -> bool {
    BUILT_IN
        .iter()
        .any(|(version, kinds)| *version == api_version && kinds.contains(&kind))
}

/// A kind that its built-in group version does not have: `apps/v1 Deploymnet`.
fn unknown_built_in(api_version: &str, kind: &str) -> Option<Finding> {
    let (_, kinds) = BUILT_IN
        .iter()
        .find(|(version, _)| *version == api_version)?;
    if kinds.contains(&kind) {
        return None;
    }
    let finding = Finding::error(
        "unknown-kind",
        FieldPath::of(&["kind"]),
        format!("{api_version} has no kind {kind}"),
    );
    Some(match suggest::closest(kind, kinds) {
        Some(closest) => finding.hint(format!("did you mean {closest}?")),
        None => finding,
    })
}

/// `custom.ops` of `custom.ops/v1`; empty for the core group (`v1`).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn charts() -> Vec<KindId> {
        vec![
            KindId {
                api_version: "custom.ops/v1".into(),
                kind: "MicroServiceDeploy".into(),
            },
            KindId {
                api_version: "app.example.com/v1".into(),
                kind: "AppService".into(),
            },
        ]
    }

    fn refused(value: Value) -> String {
        let findings = admit(&value, &charts()).expect_err("refused");
        findings
            .iter()
            .map(Finding::message_line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn plain_manifests_of_other_kinds_pass() {
        for (api_version, kind) in [
            ("external-secrets.io/v1beta1", "ExternalSecret"),
            ("v1", "ConfigMap"),
            ("networking.k8s.io/v1beta1", "Ingress"),
            // One letter from the chart kind AppService, but a built-in kind.
            ("apiregistration.k8s.io/v1", "APIService"),
        ] {
            let value = json!({"apiVersion": api_version, "kind": kind,
                "metadata": {"name": "x", "namespace": "shop"}});
            let object = admit(&value, &charts())
                .unwrap_or_else(|findings| panic!("{api_version} {kind}: {findings:?}"));
            assert_eq!(
                (object.kind.as_str(), object.namespace.as_deref()),
                (kind, Some("shop"))
            );
        }
    }

    #[test]
    fn near_misses_of_a_chart_kind_are_refused() {
        for (api_version, kind) in [
            ("custom.ops/v1", "MicroServiceDeploi"),
            ("custom.ops/v2", "MicroServiceDeploy"),
            ("custom.ops/v1", "Something"),
            ("custom.opps/v1", "MicroServiceDeploy"),
            ("example.com/v1", "microservicedeploy"),
        ] {
            let message = refused(json!({"apiVersion": api_version, "kind": kind,
                "metadata": {"name": "x"}}));
            assert!(
                message.contains("too close to custom.ops/v1 MicroServiceDeploy")
                    && message.contains(
                        "did you mean apiVersion: custom.ops/v1, kind: MicroServiceDeploy?"
                    ),
                "{api_version} {kind}: {message}"
            );
        }
    }

    #[test]
    fn a_kind_its_built_in_group_lacks_is_refused_with_the_closest() {
        let message = refused(json!({"apiVersion": "apps/v1", "kind": "Deploymnet",
            "metadata": {"name": "x"}}));
        assert_eq!(
            message,
            "kind: apps/v1 has no kind Deploymnet; hint: did you mean Deployment?"
        );
    }

    #[test]
    fn built_in_kinds_are_read_strictly_with_the_field_path() {
        let value = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "x"},
            "spec": {"ports": [{"port": 80, "targetPrt": 8080}]}});
        let findings = admit(&value, &charts()).expect_err("refused");
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].field.to_string(), "spec.ports[0].targetPrt");
        assert_eq!(
            findings[0].message_line(),
            "spec.ports[0].targetPrt: unknown field; Kubernetes would reject this Service; hint: did you mean `targetPort`?"
        );
    }

    #[test]
    fn a_manifest_needs_a_name() {
        assert_eq!(
            refused(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})),
            "metadata.name: is required: a manifest that passes through needs a name"
        );
    }
}
