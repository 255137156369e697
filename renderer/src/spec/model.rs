//! The MicroServiceDeploy model: the typed form of a spec after decoding.
//! Every spec field is optional here because defaults (`defaults.rs`) fill them in one place;
//! the field lists below are what the decoder accepts, so a typo is caught by name.

use std::collections::BTreeMap;

use serde::Serialize;

pub const API_VERSION: &str = "custom.ops/v1";
pub const KIND: &str = "MicroServiceDeploy";

/// Top-level keys of a MicroServiceDeploy; `status` is tolerated for objects read back from a cluster.
pub const TOP_LEVEL_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];

/// The fields of `ObjectMeta`; anything else under `metadata` is a typo.
pub const METADATA_FIELDS: &[&str] = &[
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

pub const SPEC_FIELDS: &[&str] = &[
    "msName",
    "fullName",
    "version",
    "path",
    "image",
    "replicas",
    "autoscaling",
    "needAuth",
    "config",
    "creationTimestamp",
    "resourceRequirements",
    "idle",
];

pub const AUTOSCALING_FIELDS: &[&str] = &[
    "minReplicas",
    "maxReplicas",
    "targetCPUUtilizationPercentage",
];

pub const RESOURCE_REQUIREMENTS_FIELDS: &[&str] = &["limits", "requests"];

/// Resource names a spec may size; extended resources are left to chart overrides.
pub const RESOURCE_NAMES: &[&str] = &["cpu", "memory", "ephemeral-storage"];

/// A decoded MicroServiceDeploy object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MicroServiceDeploy {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub spec: Spec,
}

/// `spec` as written, with the defaults filled in once `defaults::apply` has run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub need_auth: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Kept only so it round-trips; it never reaches rendered output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_requirements: Option<ResourceRequirements>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<bool>,
}

/// `autoscaling: true|false` or a policy object whose missing fields come from the chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Autoscaling {
    Enabled(bool),
    Policy(AutoscalingPolicy),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i64>,
    #[serde(
        rename = "targetCPUUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_cpu_utilization_percentage: Option<i64>,
}

/// Quantities as written (`"2"`, `4Gi`); rules parse them, so a bad one is reported by field.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceRequirements {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<BTreeMap<String, String>>,
}

impl Spec {
    pub fn limits(&self) -> Option<&BTreeMap<String, String>> {
        self.resource_requirements.as_ref()?.limits.as_ref()
    }

    pub fn requests(&self) -> Option<&BTreeMap<String, String>> {
        self.resource_requirements.as_ref()?.requests.as_ref()
    }
}
