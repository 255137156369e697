//! Guard: the invariants kiln guarantees for the objects it renders, checked again when such
//! an object is applied by hand (`kubectl edit`, a patched manifest). It covers objects that
//! carry `app.kubernetes.io/managed-by: kiln`; every message ends by naming the spec that is
//! the source of truth. Security settings are compared with the chart's values, so a chart
//! that deliberately relaxes one is not contradicted by its own webhook.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, SecurityContext};
use serde::Deserialize;
use serde_json::Value;

use crate::fields::text_at;
use crate::finding::{FieldPath, Finding};
use crate::postprocess::SPEC_ANNOTATION;

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The kinds kiln renders and therefore guards.
pub const GUARDED_KINDS: &[&str] = &[
    "Deployment",
    "Service",
    "ConfigMap",
    "ServiceAccount",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ResourceQuota",
];

/// True for objects this module judges: a guarded kind labelled as managed by kiln.
pub fn is_guarded(object: &Value) -> bool {
    let kind = text_at(object, &["kind"]).unwrap_or_default();
    let managed = text_at(object, &["metadata", "labels", MANAGED_BY]);
    GUARDED_KINDS.contains(&kind) && managed == Some("kiln")
}

/// Every broken invariant of `object` (and, on UPDATE, of its change from `old`).
/// `values` are the chart's values, which say what the security defaults are.
pub fn check(object: &Value, old: Option<&Value>, values: &Value) -> Vec<Finding> {
    let Some(source) = text_at(object, &["metadata", "annotations", SPEC_ANNOTATION]) else {
        return vec![Finding::error(
            "rendered-source",
            FieldPath::of(&["metadata", "annotations"]),
            format!("carries {MANAGED_BY}: kiln but no {SPEC_ANNOTATION} annotation naming its spec"),
        )
        .hint("apply what kiln renders, or remove the managed-by label if kiln does not own this object")];
    };
    let mut findings = Vec::new();
    match object.get("kind").and_then(Value::as_str) {
        Some("Deployment") => deployment(object, values, &mut findings),
        Some("ServiceAccount")
            if object.get("automountServiceAccountToken") == Some(&Value::Bool(true)) =>
        {
            findings.push(
                Finding::error(
                    "rendered-token",
                    FieldPath::of(&["automountServiceAccountToken"]),
                    "must not be true",
                )
                .got(true),
            );
        }
        _ => {}
    }
    if let Some(old) = old {
        unchanged_selector(object, old, &mut findings);
    }
    let where_to_edit = format!(
        "rendered by kiln from {source}: change that spec (or the chart) in Git and render again"
    );
    for finding in &mut findings {
        finding.hint = Some(where_to_edit.clone());
    }
    findings
}

fn deployment(object: &Value, values: &Value, findings: &mut Vec<Finding>) {
    let deployment = match Deployment::deserialize(object) {
        Ok(deployment) => deployment,
        Err(error) => {
            findings.push(Finding::error(
                "rendered-schema",
                FieldPath::root(),
                format!("is not a valid Deployment: {error}"),
            ));
            return;
        }
    };
    let Some(pod) = deployment.spec.and_then(|spec| spec.template.spec) else {
        return;
    };
    let pod_path = FieldPath::of(&["spec", "template", "spec"]);
    pod_checks(&pod, &pod_path, values, findings);
    for (index, container) in pod.containers.iter().enumerate() {
        container_checks(
            container,
            &pod_path.key("containers").index(index),
            values,
            findings,
        );
    }
    // Init and ephemeral containers run on the same node with the same powers: every
    // security rule holds for them too.
    let init = pod
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, c)| {
            let at = pod_path.key("initContainers").index(index);
            (at, c.security_context.as_ref(), c.ports.as_deref())
        });
    let ephemeral = pod
        .ephemeral_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, c)| {
            let at = pod_path.key("ephemeralContainers").index(index);
            (at, c.security_context.as_ref(), c.ports.as_deref())
        });
    for (path, context, ports) in init.chain(ephemeral) {
        security_checks(context, ports, &path, values, findings);
    }
    for (index, volume) in pod.volumes.iter().flatten().enumerate() {
        if volume.host_path.is_some() {
            findings.push(
                Finding::error(
                    "rendered-host",
                    pod_path.key("volumes").index(index).key("hostPath"),
                    "must not mount a path of the node",
                )
                .got_str(volume.host_path.as_ref().map_or("", |h| h.path.as_str())),
            );
        }
    }
}

fn pod_checks(pod: &PodSpec, path: &FieldPath, values: &Value, findings: &mut Vec<Finding>) {
    if pod.automount_service_account_token == Some(true) {
        findings.push(
            Finding::error(
                "rendered-token",
                path.key("automountServiceAccountToken"),
                "must not be true",
            )
            .got(true),
        );
    }
    if pod.host_network == Some(true)
        || pod.host_pid == Some(true)
        || pod.host_ipc == Some(true)
        || pod.host_users == Some(true)
    {
        findings.push(Finding::error(
            "rendered-host",
            path.clone(),
            "must not share the node's network, PID, IPC or user namespaces",
        ));
    }
    let expected = values.get("podSecurityContext");
    let context = pod.security_context.as_ref();
    if wants(expected, "runAsNonRoot", &Value::Bool(true))
        && context.and_then(|c| c.run_as_non_root) != Some(true)
    {
        findings.push(Finding::error(
            "rendered-security",
            path.key("securityContext").key("runAsNonRoot"),
            "must be true",
        ));
    }
    let seccomp = context
        .and_then(|c| c.seccomp_profile.as_ref())
        .map(|p| p.type_.as_str());
    if expected
        .and_then(|e| e.pointer("/seccompProfile/type"))
        .and_then(Value::as_str)
        == Some("RuntimeDefault")
        && !matches!(seccomp, Some("RuntimeDefault" | "Localhost"))
    {
        findings.push(
            Finding::error(
                "rendered-security",
                path.key("securityContext")
                    .key("seccompProfile")
                    .key("type"),
                "must be RuntimeDefault or Localhost",
            )
            .got(serde_json::json!(seccomp)),
        );
    }
}

fn container_checks(
    container: &Container,
    path: &FieldPath,
    values: &Value,
    findings: &mut Vec<Finding>,
) {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let missing: Vec<&str> = ["cpu", "memory"]
        .into_iter()
        .filter(|resource| requests.is_none_or(|r| !r.contains_key(*resource)))
        .collect();
    if !missing.is_empty() {
        findings.push(Finding::error(
            "rendered-resources",
            path.key("resources").key("requests"),
            format!("must set {}", missing.join(" and ")),
        ));
    }
    security_checks(
        container.security_context.as_ref(),
        container.ports.as_deref(),
        path,
        values,
        findings,
    );
}

/// The rules every container of the pod must keep, whatever its kind: not privileged, no
/// capability beyond the chart's, the chart's strict flags, no port on the node.
fn security_checks(
    context: Option<&SecurityContext>,
    ports: Option<&[ContainerPort]>,
    path: &FieldPath,
    values: &Value,
    findings: &mut Vec<Finding>,
) {
    let expected = values.get("containerSecurityContext");
    let security = path.key("securityContext");
    if context.and_then(|c| c.privileged) == Some(true) {
        findings.push(
            Finding::error(
                "rendered-security",
                security.key("privileged"),
                "must not be true",
            )
            .got(true),
        );
    }
    let flags = [
        (
            "allowPrivilegeEscalation",
            false,
            context.and_then(|c| c.allow_privilege_escalation),
        ),
        (
            "readOnlyRootFilesystem",
            true,
            context.and_then(|c| c.read_only_root_filesystem),
        ),
        (
            "runAsNonRoot",
            true,
            context.and_then(|c| c.run_as_non_root),
        ),
    ];
    for (field, strict, actual) in flags {
        // runAsNonRoot may come from the pod instead of the container.
        if wants(expected, field, &Value::Bool(strict))
            && actual != Some(strict)
            && !(field == "runAsNonRoot" && actual.is_none())
        {
            let finding = Finding::error(
                "rendered-security",
                security.key(field),
                format!("must be {strict}"),
            );
            findings.push(match actual {
                Some(actual) => finding.got(actual),
                None => finding,
            });
        }
    }
    let capabilities = context.and_then(|c| c.capabilities.as_ref());
    let drops_all = capabilities
        .and_then(|c| c.drop.as_ref())
        .is_some_and(|drop| drop.iter().any(|d| d == "ALL"));
    let wants_drop_all = expected
        .and_then(|e| e.pointer("/capabilities/drop"))
        .and_then(Value::as_array)
        .is_some_and(|drop| drop.iter().any(|d| d == "ALL"));
    if wants_drop_all && !drops_all {
        findings.push(Finding::error(
            "rendered-security",
            security.key("capabilities").key("drop"),
            "must include ALL",
        ));
    }
    let allowed: Vec<&str> = expected
        .and_then(|e| e.pointer("/capabilities/add"))
        .and_then(Value::as_array)
        .map(|add| add.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let extra: Vec<&String> = capabilities
        .and_then(|c| c.add.as_ref())
        .into_iter()
        .flatten()
        .filter(|capability| !allowed.contains(&capability.as_str()))
        .collect();
    if !extra.is_empty() {
        findings.push(
            Finding::error(
                "rendered-capabilities",
                security.key("capabilities").key("add"),
                format!(
                    "must not add capabilities beyond the chart's ({})",
                    if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                ),
            )
            .got(serde_json::json!(extra)),
        );
    }
    for (index, port) in ports.into_iter().flatten().enumerate() {
        if let Some(host_port) = port.host_port {
            findings.push(
                Finding::error(
                    "rendered-host",
                    path.key("ports").index(index).key("hostPort"),
                    "must not open a port on the node",
                )
                .got(host_port),
            );
        }
    }
}

/// True when the chart's values set `field` to the strict value.
fn wants(expected: Option<&Value>, field: &str, strict: &Value) -> bool {
    expected.and_then(|e| e.get(field)) == Some(strict)
}

/// Selectors pick the pods of one instance for its whole life; changing one orphans pods or
/// captures others.
fn unchanged_selector(object: &Value, old: &Value, findings: &mut Vec<Finding>) {
    let pointer = match object.get("kind").and_then(Value::as_str) {
        Some("Deployment" | "PodDisruptionBudget" | "Service") => "/spec/selector",
        _ => return,
    };
    if object.pointer(pointer) != old.pointer(pointer) {
        findings.push(
            Finding::error(
                "rendered-selector",
                FieldPath::of(&["spec", "selector"]),
                "must not change",
            )
            .got(object.pointer(pointer).cloned().unwrap_or(Value::Null)),
        );
    }
}
