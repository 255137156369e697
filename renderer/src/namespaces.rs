//! System namespaces: kiln refuses to render into the cluster's own namespaces (and the
//! webhook's), where a quota or a workload could starve the pods that keep the cluster
//! running. A chart opts in namespace by namespace with the value `allowedSystemNamespaces`.
//! The pipeline asks this module about each spec's namespace and each rendered object's.

use serde_json::Value;

use crate::finding::{FieldPath, Finding};

/// Refused unless a chart allows them: Kubernetes' own namespaces and kiln's webhook's.
pub const SYSTEM_NAMESPACES: &[&str] = &[
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "kiln-system",
];

/// The chart value that lists the system namespaces a chart may render into.
pub const ALLOW_VALUE: &str = "allowedSystemNamespaces";

/// True when `namespace` is a system namespace that the chart's `values` do not allow.
pub fn is_refused(namespace: &str, values: &Value) -> bool {
    SYSTEM_NAMESPACES.contains(&namespace)
        && !values
            .get(ALLOW_VALUE)
            .and_then(Value::as_array)
            .is_some_and(|allowed| allowed.iter().any(|a| a.as_str() == Some(namespace)))
}

/// The finding for a spec (or an object rendered from it) aimed at a refused namespace.
pub fn refused(field: FieldPath, namespace: &str, what: &str) -> Finding {
    Finding::error(
        "system-namespace",
        field,
        format!(
            "{what} {namespace:?}, a system namespace: a quota or workload there can starve the pods that run the cluster (or kiln's webhook)"
        ),
    )
    .hint(format!(
        "use a namespace of your own, or list {namespace} in the chart value {ALLOW_VALUE} if this is deliberate"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_namespaces_are_refused_unless_allowed() {
        let values = serde_json::json!({ALLOW_VALUE: ["kiln-system"]});
        assert!(is_refused("kube-system", &values));
        assert!(!is_refused("kiln-system", &values));
        assert!(!is_refused("shop", &values));
    }
}
