//! Object order: kinds in Helm's install order (namespaces and quotas first, workloads
//! after what they use, webhooks last), then namespace, then name. Unknown kinds go last.

use std::cmp::Ordering;

use super::Manifest;

/// Helm's `InstallOrder` (pkg/releaseutil/kind_sorter.go).
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// True for the built-in kinds kiln places in its install order.
pub fn is_ordered_kind(kind: &str) -> bool {
    INSTALL_ORDER.contains(&kind)
}

fn kind_rank(kind: &str) -> usize {
    INSTALL_ORDER
        .iter()
        .position(|known| *known == kind)
        .unwrap_or(INSTALL_ORDER.len())
}

pub fn compare(a: &Manifest, b: &Manifest) -> Ordering {
    (
        kind_rank(&a.kind),
        &a.kind,
        &a.namespace,
        &a.name,
        &a.api_version,
    )
        .cmp(&(
            kind_rank(&b.kind),
            &b.kind,
            &b.namespace,
            &b.name,
            &b.api_version,
        ))
}

pub fn sort(objects: &mut [Manifest]) {
    objects.sort_by(compare);
}
