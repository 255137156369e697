//! Defaults: the one place where a spec's missing fields get their values.
//! The CLI applies them before validating and rendering; the webhook turns the same changes
//! into a JSON patch, so a spec means the same thing in CI and at admission.

use std::collections::BTreeMap;

use super::model::{Autoscaling, MicroServiceDeploy, ResourceRequirements, Spec};
use crate::chart::ChartDefaults;
use crate::quantity::Quantity;

/// `MAJOR.MINOR[.PATCH]`, the only version form names and paths can be derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
}

pub fn parse_version(text: &str) -> Option<Version> {
    let parts: Vec<&str> = text.split('.').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut numbers = parts.iter().map(|part| {
        let plain = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        // A leading zero (`01`) is not a version number anyone means.
        let canonical = *part == "0" || !part.starts_with('0');
        if plain && canonical {
            part.parse::<u64>().ok()
        } else {
            None
        }
    });
    let major = numbers.next()??;
    let minor = numbers.next()??;
    if numbers.any(|n| n.is_none()) {
        return None;
    }
    Some(Version { major, minor })
}

/// Fills every defaultable field that is absent. Fields that cannot be derived (a fullName
/// without a usable version) stay empty; the rules report why.
pub fn apply(object: &mut MicroServiceDeploy, defaults: &ChartDefaults) {
    if object.namespace.is_none() {
        object.namespace = Some(defaults.namespace.clone());
    }
    let spec = &mut object.spec;
    let version = spec.version.as_deref().and_then(parse_version);
    if spec.full_name.is_none()
        && let (Some(ms_name), Some(version)) = (&spec.ms_name, version)
    {
        spec.full_name = Some(format!("{ms_name}-v{}s{}", version.major, version.minor));
    }
    if spec.path.is_none()
        && let Some(version) = version
    {
        spec.path = Some(format!("v{}", version.major));
    }
    spec.replicas.get_or_insert(1);
    spec.autoscaling.get_or_insert(Autoscaling::Enabled(false));
    spec.need_auth.get_or_insert(false);
    spec.idle.get_or_insert(false);
    default_requests(spec, &defaults.resources.requests);
}

/// A missing request takes the chart's default, lowered to the limit when the limit is
/// smaller, since a request above its limit is invalid and the limit is what the user chose.
fn default_requests(spec: &mut Spec, chart_requests: &BTreeMap<String, String>) {
    let resources = spec
        .resource_requirements
        .get_or_insert_with(ResourceRequirements::default);
    let limits = resources.limits.clone().unwrap_or_default();
    let requests = resources.requests.get_or_insert_with(BTreeMap::new);
    for (resource, default) in chart_requests {
        if requests.contains_key(resource) {
            continue;
        }
        let value = match limits.get(resource) {
            Some(limit) if lower(limit, default) => limit.clone(),
            _ => default.clone(),
        };
        requests.insert(resource.clone(), value);
    }
}

fn lower(a: &str, b: &str) -> bool {
    match (a.parse::<Quantity>(), b.parse::<Quantity>()) {
        (Ok(a), Ok(b)) => a < b,
        _ => false,
    }
}

/// The HorizontalPodAutoscaler settings a spec asks for, with the chart's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaPolicy {
    pub min_replicas: i64,
    pub max_replicas: i64,
    #[serde(rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: i64,
}

/// `None` when the service is not autoscaled, or is idle (an idle service has no HPA).
/// `minReplicas` defaults to `replicas`; `maxReplicas` to the chart's, raised to the minimum.
pub fn effective_autoscaling(spec: &Spec, defaults: &ChartDefaults) -> Option<HpaPolicy> {
    if spec.idle == Some(true) {
        return None;
    }
    let policy = match spec.autoscaling.as_ref()? {
        Autoscaling::Enabled(false) => return None,
        Autoscaling::Enabled(true) => Default::default(),
        Autoscaling::Policy(policy) => policy.clone(),
    };
    let min_replicas = policy.min_replicas.unwrap_or(spec.replicas.unwrap_or(1));
    let max_replicas = policy
        .max_replicas
        .unwrap_or(defaults.autoscaling.max_replicas.max(min_replicas));
    let target = policy
        .target_cpu_utilization_percentage
        .unwrap_or(defaults.autoscaling.target_cpu_utilization_percentage);
    Some(HpaPolicy {
        min_replicas,
        max_replicas,
        target_cpu_utilization_percentage: target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Chart;

    fn defaulted(spec: Spec) -> MicroServiceDeploy {
        let mut object = MicroServiceDeploy {
            spec,
            ..Default::default()
        };
        apply(&mut object, &Chart::builtin().unwrap().defaults);
        object
    }

    #[test]
    fn derives_full_name_and_path_from_the_version() {
        let object = defaulted(Spec {
            ms_name: Some("ms-sample".into()),
            version: Some("1.0".into()),
            ..Default::default()
        });
        assert_eq!(object.spec.full_name.as_deref(), Some("ms-sample-v1s0"));
        assert_eq!(object.spec.path.as_deref(), Some("v1"));
        assert_eq!(object.namespace.as_deref(), Some("default"));
        assert_eq!(object.spec.replicas, Some(1));
        assert_eq!(object.spec.autoscaling, Some(Autoscaling::Enabled(false)));
        assert_eq!(
            (object.spec.need_auth, object.spec.idle),
            (Some(false), Some(false))
        );
    }

    #[test]
    fn keeps_what_the_user_wrote() {
        let object = defaulted(Spec {
            ms_name: Some("a".into()),
            full_name: Some("custom".into()),
            path: Some("v9".into()),
            version: Some("1.2.3".into()),
            replicas: Some(0),
            ..Default::default()
        });
        assert_eq!(object.spec.full_name.as_deref(), Some("custom"));
        assert_eq!(object.spec.path.as_deref(), Some("v9"));
        assert_eq!(object.spec.replicas, Some(0));
    }

    #[test]
    fn requests_default_to_the_chart_but_never_above_the_limit() {
        let object = defaulted(Spec {
            resource_requirements: Some(ResourceRequirements {
                limits: Some([("cpu".to_owned(), "50m".to_owned())].into()),
                requests: None,
            }),
            ..Default::default()
        });
        let requests = object.spec.requests().unwrap();
        assert_eq!(requests["cpu"], "50m");
        assert_eq!(requests["memory"], "128Mi");
    }

    #[test]
    fn versions_need_major_and_minor() {
        assert_eq!(parse_version("1.0"), Some(Version { major: 1, minor: 0 }));
        assert_eq!(
            parse_version("2.13.4"),
            Some(Version {
                major: 2,
                minor: 13
            })
        );
        for bad in ["1", "v1.0", "1.0.0.0", "1.x", "01.2", "", "1.0-rc1"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}
