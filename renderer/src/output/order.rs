//! Object order: kinds in Helm's install order (namespaces and quotas first, workloads
//! after what they use, webhooks last), then namespace, then name. Unknown kinds go last.

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

/// Sorts objects into kind, namespace, name and apiVersion order. Each object's kind rank is
/// looked up once, not at every comparison: 80,000 objects take over a million comparisons.
pub fn sort(objects: &mut Vec<Manifest>) {
    let mut ranked: Vec<(usize, Manifest)> = objects
        .drain(..)
        .map(|manifest| (kind_rank(&manifest.kind), manifest))
        .collect();
    ranked.sort_by(|(rank_a, a), (rank_b, b)| {
        (rank_a, &a.kind, &a.namespace, &a.name, &a.api_version).cmp(&(
            rank_b,
            &b.kind,
            &b.namespace,
            &b.name,
            &b.api_version,
        ))
    });
    objects.extend(ranked.into_iter().map(|(_, manifest)| manifest));
}
