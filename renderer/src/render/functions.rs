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

/// What a LimitRange gives a container that sets no request or limit of its own.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerDefaults {
    #[serde(default)]
    default_request: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    default: BTreeMap<String, serde_json::Value>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// A quantity as written in a spec or values: a string, or a bare number (`cpu: 2`).
fn quantity_text(written: &serde_json::Value) -> String {
    match written {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn quantity_of(written: &serde_json::Value) -> Result<Quantity, Error> {
    let text = quantity_text(written);
    text.parse()
        .map_err(|_| invalid(format!("quota_totals: {text:?} is not a quantity")))
}

/// `quota_totals(items, hard, limit_range, headroom_pods)`: the `hard` map of a ResourceQuota
/// with exactly the keys listed in `hard` (`pods`, `requests.R`, `limits.R`), so its shape
/// never depends on which workloads exist. For items `{pods, requests, limits}` (items with no
/// pods count for nothing), plus `headroom_pods` pods the renderer does not know of:
/// `pods` is the sum of pods, and `requests.R` / `limits.R` the sum of `pods x quantity`,
/// where a workload that sets none gets what the API server would give it: a request
/// falls back to the workload's own limit, then to the namespace's LimitRange
/// (`{defaultRequest, default}`), a limit to the LimitRange's default. A key no workload and no default can fill is an error, since the
/// API server would reject such pods. CPU prints in cores or millicores, the rest in bytes.
pub fn quota_totals(
    items: Value,
    hard: Value,
    limit_range: Value,
    headroom_pods: i64,
) -> Result<Value, Error> {
    let items: Vec<QuotaItem> = Vec::deserialize(items).map_err(|e| {
        invalid(format!(
            "quota_totals wants a list of {{pods, requests, limits}}: {e}"
        ))
    })?;
    let hard: Vec<String> = Vec::deserialize(hard)
        .map_err(|e| invalid(format!("quota_totals wants a list of quota keys: {e}")))?;
    let defaults = ContainerDefaults::deserialize(limit_range).map_err(|e| {
        invalid(format!(
            "quota_totals wants the LimitRange's {{defaultRequest, default}}: {e}"
        ))
    })?;
    if headroom_pods < 0 {
        return Err(invalid("quota_totals: headroom pods must not be negative"));
    }
    let headroom = QuotaItem {
        pods: headroom_pods,
        requests: BTreeMap::new(),
        limits: BTreeMap::new(),
    };
    let counted: Vec<&QuotaItem> = items
        .iter()
        .chain(std::iter::once(&headroom))
        .filter(|item| item.pods > 0)
        .collect();
    let overflow = || {
        invalid(
            "the workloads of this namespace add up to more resources than a quota can hold; lower replicas or resources, or spread them over namespaces",
        )
    };
    let mut totals = BTreeMap::new();
    for key in &hard {
        let total = if key == "pods" {
            let pods = counted
                .iter()
                .try_fold(0i64, |sum, item| sum.checked_add(item.pods))
                .ok_or_else(overflow)?;
            serde_json::Value::from(pods)
        } else {
            let (is_limit, resource) = match key.split_once('.') {
                Some(("requests", resource)) => (false, resource),
                Some(("limits", resource)) => (true, resource),
                _ => {
                    return Err(invalid(format!(
                        "quota_totals: {key:?} is not pods, requests.RESOURCE or limits.RESOURCE"
                    )));
                }
            };
            let mut total = Quantity::ZERO;
            for item in &counted {
                let limit = item.limits.get(resource).or(defaults.default.get(resource));
                let written = if is_limit {
                    limit
                } else {
                    // The API server's order: a container's request, else its own limit
                    // (API defaulting), else the LimitRange's defaultRequest, else its
                    // default limit (a LimitRange's defaultRequest defaults to it).
                    item.requests
                        .get(resource)
                        .or(item.limits.get(resource))
                        .or(defaults.default_request.get(resource))
                        .or(defaults.default.get(resource))
                };
                let Some(written) = written else {
                    let (field, what) = if is_limit {
                        ("default", "limit")
                    } else {
                        ("defaultRequest", "request")
                    };
                    return Err(invalid(format!(
                        "the quota constrains {key} but a workload sets no {resource} {what} and the LimitRange's {field} has none; add {resource} to it, or remove {key} from the quota"
                    )));
                };
                let quantity = quantity_of(written)?;
                if is_limit
                    && !item.limits.contains_key(resource)
                    && let Some(request) = item.requests.get(resource)
                    && quantity_of(request)? > quantity
                {
                    return Err(invalid(format!(
                        "a workload requests {resource} {} but sets no {resource} limit, and the LimitRange's default limit {} is below that request, so the API server would reject its pods; set the workload's {resource} limit",
                        quantity_text(request),
                        quantity_text(written),
                    )));
                }
                total = quantity
                    .times(item.pods)
                    .and_then(|q| total.checked_add(q))
                    .ok_or_else(overflow)?;
            }
            serde_json::Value::from(if resource == "cpu" {
                total.format_cpu()
            } else {
                total.format_bytes()
            })
        };
        totals.insert(key.clone(), total);
    }
    Ok(Value::from(Serde(totals)))
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

    fn totals(items: serde_json::Value, hard: &[&str], headroom: i64) -> Result<String, Error> {
        let limit_range = serde_json::json!({
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            "default": {"memory": "512Mi"}
        });
        quota_totals(
            Value::from(Serde(items)),
            Value::from(Serde(hard)),
            Value::from(Serde(limit_range)),
            headroom,
        )
        .map(|value| value.to_string())
    }

    #[test]
    fn quotas_sum_pods_times_resources_with_limit_range_defaults_and_headroom() {
        let items = serde_json::json!([
            {"pods": 3, "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
            {"pods": 2, "requests": {"cpu": 1}, "limits": {"memory": "2Gi", "cpu": "2"}},
            {"pods": 0, "requests": {"cpu": "50"}}
        ]);
        // cpu: 3 x 100m + 2 x 1 + 4 headroom x 100m; memory requests: 3 x 128Mi + 2 x 2Gi
        // (no request: its own limit) + 4 x 128Mi (LimitRange); memory limits: 3 x 1Gi +
        // 2 x 2Gi + 4 x 512Mi (LimitRange).
        assert_eq!(
            totals(
                items,
                &["pods", "requests.cpu", "requests.memory", "limits.memory"],
                4
            )
            .unwrap(),
            r#"{'limits.memory': '9Gi', 'pods': 9, 'requests.cpu': '2700m', 'requests.memory': '4992Mi'}"#
        );
    }

    #[test]
    fn the_quota_has_the_listed_keys_whatever_the_workloads() {
        let hard = ["pods", "requests.cpu", "requests.memory"];
        let one = serde_json::json!([{"pods": 1, "limits": {"cpu": "1"}}]);
        let none = serde_json::json!([]);
        assert_eq!(
            totals(one, &hard, 0).unwrap(),
            r#"{'pods': 1, 'requests.cpu': '1', 'requests.memory': '128Mi'}"#
        );
        assert_eq!(
            totals(none, &hard, 2).unwrap(),
            r#"{'pods': 2, 'requests.cpu': '200m', 'requests.memory': '256Mi'}"#
        );
    }

    #[test]
    fn a_default_limit_below_a_request_is_an_error() {
        let items = serde_json::json!([{"pods": 1, "requests": {"memory": "4Gi"}}]);
        let error = totals(items, &["limits.memory"], 0)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("requests memory 4Gi but sets no memory limit"),
            "{error}"
        );
        let items = serde_json::json!([{"pods": 1}]);
        let error = totals(items, &["limits.cpu"], 0).unwrap_err().to_string();
        assert!(
            error.contains("the LimitRange's default has none"),
            "{error}"
        );
    }
}
