//! Template functions: the few computations templates cannot express, each about Kubernetes
//! or text in general, never about one kind. `key_value_lines` reads `key=value` text into
//! ConfigMap data; `quota_totals` adds up resources for a ResourceQuota. (`crds` and `policies`,
//! what every kind kiln knows exports to the cluster, are registered with the engine.)

use std::collections::BTreeMap;

use minijinja::value::{Serde, Value};
use minijinja::{Error, ErrorKind};
use serde::Deserialize;

use crate::quantity::Quantity;

/// `key_value_lines(text)`: a mapping when every non-blank, non-comment line is `key=value`
/// with a distinct ConfigMap key, else none, so a template can keep other text whole.
pub fn key_value_lines(text: &str) -> Value {
    match parse_entries(text) {
        Some(entries) => Value::from(Serde(entries)),
        None => Value::from(()),
    }
}

fn parse_entries(text: &str) -> Option<BTreeMap<String, String>> {
    let mut entries = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=')?;
        let key = key.trim();
        if !is_config_key(key)
            || entries
                .insert(key.to_owned(), value.trim().to_owned())
                .is_some()
        {
            return None;
        }
    }
    Some(entries)
}

/// A ConfigMap key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`.
fn is_config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// One workload's share of a namespace quota.
#[derive(Debug, Deserialize)]
struct QuotaItem {
    pods: i64,
    #[serde(default)]
    requests: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    limits: BTreeMap<String, serde_json::Value>,
}

/// `quota_totals(items)`: for items `{pods, requests, limits}`, the sum of `pods` and of
/// `pods x quantity` per resource. Items with no pods count for nothing. A limit is summed
/// only when every counted item sets it: a quota on `limits.cpu` makes the API server reject
/// every pod without a CPU limit. CPU prints in cores or millicores, the rest in bytes.
pub fn quota_totals(items: Value) -> Result<Value, Error> {
    let items: Vec<QuotaItem> = Vec::deserialize(items).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("quota_totals wants a list of {{pods, requests, limits}}: {e}"),
        )
    })?;
    let counted: Vec<&QuotaItem> = items.iter().filter(|item| item.pods > 0).collect();
    let overflow = || {
        Error::new(
            ErrorKind::InvalidOperation,
            "the workloads of this namespace add up to more resources than a quota can hold; lower replicas or resources, or spread them over namespaces",
        )
    };
    let pods = counted
        .iter()
        .try_fold(0i64, |sum, item| sum.checked_add(item.pods))
        .ok_or_else(overflow)?;
    let sum = |pick: fn(&QuotaItem) -> &BTreeMap<String, serde_json::Value>,
               resource: &str|
     -> Result<Option<String>, Error> {
        let mut total = Quantity::ZERO;
        for item in &counted {
            let Some(written) = pick(item).get(resource) else {
                return Ok(None);
            };
            let text = match written {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let quantity: Quantity = text.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("quota_totals: {text:?} is not a quantity"),
                )
            })?;
            total = quantity
                .times(item.pods)
                .and_then(|q| total.checked_add(q))
                .ok_or_else(overflow)?;
        }
        Ok(Some(if resource == "cpu" {
            total.format_cpu()
        } else {
            total.format_bytes()
        }))
    };
    let mut resources: Vec<&str> = counted
        .iter()
        .flat_map(|item| item.requests.keys().chain(item.limits.keys()))
        .map(String::as_str)
        .collect();
    resources.sort_unstable();
    resources.dedup();
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    for resource in resources {
        if let Some(total) = sum(|i| &i.requests, resource)? {
            requests.insert(resource.to_owned(), total);
        }
        if let Some(total) = sum(|i| &i.limits, resource)? {
            limits.insert(resource.to_owned(), total);
        }
    }
    Ok(Value::from(Serde(serde_json::json!({
        "pods": pods,
        "requests": requests,
        "limits": limits,
    }))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lines_become_keys() {
        let data = key_value_lines("# comment\nlog.level = debug\n\nurl=http://x?a=b\n");
        assert_eq!(
            data.to_string(),
            r#"{'log.level': 'debug', 'url': 'http://x?a=b'}"#
        );
    }

    #[test]
    fn anything_else_is_none() {
        for text in [
            "a: b\n---\nkind: ClusterRoleBinding",
            "{{ 7*7 }}",
            "a=1\na=2",
            "bad key=1",
        ] {
            assert!(key_value_lines(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn quotas_sum_pods_times_resources() {
        let items = Value::from(Serde(serde_json::json!([
            {"pods": 3, "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
            {"pods": 2, "requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"memory": "2Gi", "cpu": "2"}},
            {"pods": 0, "requests": {"cpu": "50"}}
        ])));
        let totals = quota_totals(items).unwrap();
        assert_eq!(
            totals.to_string(),
            r#"{'limits': {'memory': '7Gi'}, 'pods': 5, 'requests': {'cpu': '2300m', 'memory': '2432Mi'}}"#
        );
    }
}
