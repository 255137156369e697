//! Template context: the resolved view of a spec that chart templates read as `instance`,
//! and the per-namespace summary they read as `namespace` (for the ResourceQuota).
//! Everything here is computed from a spec that passed the rules; nothing is validated.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::chart::ChartDefaults;
use crate::quantity::Quantity;
use crate::spec::config::ConfigData;
use crate::spec::defaults::{HpaPolicy, effective_autoscaling};
use crate::spec::model::{KIND, MicroServiceDeploy};

/// One service instance, with every default resolved. Field names follow the spec's.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// `spec.fullName`: the name of every object rendered for this instance.
    pub name: String,
    pub namespace: String,
    pub ms_name: String,
    pub version: Option<String>,
    pub path: Option<String>,
    pub image: String,
    /// Deployment replicas: 0 when idle; ignored by the chart when `autoscaling` is set.
    pub replicas: i64,
    pub idle: bool,
    pub need_auth: bool,
    /// The HPA settings, or `None` when not autoscaled or idle.
    pub autoscaling: Option<HpaPolicy>,
    /// The fewest pods that run in steady state (decides the PodDisruptionBudget).
    pub min_replicas: i64,
    /// The most pods that run in steady state (sizes the ResourceQuota).
    pub max_replicas: i64,
    /// ConfigMap data.
    pub config: BTreeMap<String, String>,
    pub resources: Resources,
    /// `MicroServiceDeploy <namespace>/<name>`: the spec that is the source of truth.
    pub spec_ref: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Resources {
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
}

impl Instance {
    /// Resolves a defaulted spec that passed every rule.
    pub fn resolve(
        object: &MicroServiceDeploy,
        defaults: &ChartDefaults,
        whole_config_key: &str,
    ) -> Instance {
        let spec = &object.spec;
        let idle = spec.idle.unwrap_or(false);
        let autoscaling = effective_autoscaling(spec, defaults);
        let replicas = if idle { 0 } else { spec.replicas.unwrap_or(1) };
        let (min_replicas, max_replicas) = match autoscaling {
            Some(policy) => (policy.min_replicas, policy.max_replicas),
            None => (replicas, replicas),
        };
        let name = spec.full_name.clone().unwrap_or_default();
        let namespace = object
            .namespace
            .clone()
            .unwrap_or_else(|| defaults.namespace.clone());
        Instance {
            spec_ref: format!(
                "{KIND} {namespace}/{}",
                object.name.as_deref().unwrap_or(&name)
            ),
            name,
            namespace,
            ms_name: spec.ms_name.clone().unwrap_or_default(),
            version: spec.version.clone(),
            path: spec.path.clone(),
            image: spec.image.clone().unwrap_or_default(),
            replicas,
            idle,
            need_auth: spec.need_auth.unwrap_or(false),
            autoscaling,
            min_replicas,
            max_replicas,
            config: ConfigData::parse(spec.config.as_deref().unwrap_or(""), whole_config_key)
                .into_map(),
            resources: Resources {
                requests: spec.requests().cloned().unwrap_or_default(),
                limits: spec.limits().cloned().unwrap_or_default(),
            },
        }
    }
}

/// What a namespace's ResourceQuota is sized from: the sum over its instances of
/// `pods(i) x resources(i)`, where `pods(i)` = max replicas + rollout surge (0 when idle).
#[derive(Debug, Clone, Serialize)]
pub struct NamespaceSummary {
    pub name: String,
    /// Instance names, sorted.
    pub instances: Vec<String>,
    pub pods: i64,
    pub requests: BTreeMap<String, String>,
    /// Only resources that every running instance limits: a quota on `limits.cpu` would
    /// reject any pod without a CPU limit.
    pub limits: BTreeMap<String, String>,
}

/// A sum that does not fit: reported as an error rather than wrapped.
#[derive(Debug)]
pub struct QuotaOverflow;

impl NamespaceSummary {
    pub fn compute(
        name: &str,
        instances: &[&Instance],
        max_surge: i64,
    ) -> Result<NamespaceSummary, QuotaOverflow> {
        let mut names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
        names.sort();
        let running: Vec<(&Instance, i64)> = instances
            .iter()
            .filter(|i| i.max_replicas > 0)
            .map(|i| (*i, i.max_replicas + max_surge))
            .collect();
        let pods = running.iter().map(|(_, pods)| pods).sum();
        let sum = |pick: fn(&Resources) -> &BTreeMap<String, String>,
                   resource: &str|
         -> Result<Option<String>, QuotaOverflow> {
            let mut total = Quantity::ZERO;
            for (instance, pods) in &running {
                let Some(text) = pick(&instance.resources).get(resource) else {
                    return Ok(None);
                };
                let quantity: Quantity = text.parse().map_err(|_| QuotaOverflow)?;
                total = quantity
                    .times(*pods)
                    .and_then(|q| total.checked_add(q))
                    .ok_or(QuotaOverflow)?;
            }
            Ok(Some(if resource == "cpu" {
                total.format_cpu()
            } else {
                total.format_bytes()
            }))
        };
        let mut resources: Vec<&str> = running
            .iter()
            .flat_map(|(i, _)| i.resources.requests.keys().chain(i.resources.limits.keys()))
            .map(String::as_str)
            .collect();
        resources.sort_unstable();
        resources.dedup();
        let mut requests = BTreeMap::new();
        let mut limits = BTreeMap::new();
        for resource in resources {
            if let Some(total) = sum(|r| &r.requests, resource)? {
                requests.insert(resource.to_owned(), total);
            }
            if let Some(total) = sum(|r| &r.limits, resource)? {
                limits.insert(resource.to_owned(), total);
            }
        }
        Ok(NamespaceSummary {
            name: name.to_owned(),
            instances: names,
            pods,
            requests,
            limits,
        })
    }
}
