//! Charts: the templates and values that hold the operations knowledge, editable by people.
//! A chart is a folder (`chart.yaml`, `values.yaml`, `templates/`, `namespace/`) read either
//! from the binary (the built-in copy of `charts/microservice`) or from disk with `--chart`.
//! This module only loads and checks files; `render` turns them into objects.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Deserialize;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/charts.rs"));
}

/// The built-in chart's files as (path inside the chart, contents), for `kiln chart export`.
pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
    embedded::MICROSERVICE_CHART
}

/// A chart that could not be used; this is a usage error, not a finding about a spec.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("{origin}: cannot read chart: {source}")]
    Io {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: missing {file}")]
    Missing { origin: String, file: &'static str },
    #[error("{origin}/{file}: {message}")]
    Invalid {
        origin: String,
        file: String,
        message: String,
    },
}

/// Which object kind a chart renders: `chart.yaml`'s `renders`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindId {
    pub api_version: String,
    pub kind: String,
}

impl std::fmt::Display for KindId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.api_version, self.kind)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChartManifest {
    name: String,
    #[serde(default)]
    #[allow(dead_code)] // documentation for people; kiln only checks that it is a string
    description: String,
    renders: KindId,
    #[serde(default)]
    model: Model,
}

/// How kiln reads the specs a chart renders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Model {
    /// MicroServiceDeploy: decoded, defaulted and checked by kiln's rules; templates see `instance`.
    #[default]
    Microservice,
    /// Any spec mapping, passed to the templates as `spec` with `metadata`; no rules beyond a
    /// name and a mapping. For kiln's own manifests (`charts/webhook`).
    Manifests,
}

/// The values the Rust side needs (defaults and quota arithmetic); templates see all values.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartDefaults {
    pub namespace: String,
    pub resources: DefaultResources,
    pub autoscaling: DefaultAutoscaling,
    pub rollout: Rollout,
}

impl ChartDefaults {
    /// Placeholder for charts whose model has no spec defaults.
    fn unused() -> ChartDefaults {
        ChartDefaults {
            namespace: "default".into(),
            resources: DefaultResources {
                requests: BTreeMap::new(),
            },
            autoscaling: DefaultAutoscaling {
                max_replicas: 1,
                target_cpu_utilization_percentage: 80,
            },
            rollout: Rollout { max_surge: 0 },
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DefaultResources {
    pub requests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultAutoscaling {
    pub max_replicas: i64,
    #[serde(rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// Extra pods a rolling update may start; the quota leaves room for them.
    pub max_surge: i64,
}

/// A loaded chart: its templates by path and its merged values.
#[derive(Debug, Clone)]
pub struct Chart {
    pub name: String,
    /// `built-in` or the folder it was read from, for messages.
    pub origin: String,
    pub renders: KindId,
    pub model: Model,
    /// `templates/*.yaml`, rendered once per spec; `_*` files are helpers for `import`.
    pub instance_templates: Vec<String>,
    /// `namespace/*.yaml`, rendered once per namespace with every instance in it.
    pub namespace_templates: Vec<String>,
    /// Every template and helper, by path inside the chart.
    pub sources: BTreeMap<String, String>,
    pub values: serde_json::Value,
    pub defaults: ChartDefaults,
}

impl Chart {
    /// The chart compiled into the binary from `charts/microservice`.
    pub fn builtin() -> Result<Chart, ChartError> {
        let files = embedded::MICROSERVICE_CHART
            .iter()
            .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
            .collect();
        Chart::from_files("built-in chart", files)
    }

    /// The charts a command line asks for: each `--chart DIR`, plus the built-in chart unless
    /// one of them renders MicroServiceDeploy too; each `--values FILE` is merged, in order, over
    /// the MicroServiceDeploy chart. Shared by `kiln` and `kiln-webhook`.
    pub fn load_all(
        dirs: &[std::path::PathBuf],
        values: &[std::path::PathBuf],
    ) -> Result<Vec<Chart>, ChartError> {
        let mut charts = dirs
            .iter()
            .map(|dir| Chart::from_dir(dir))
            .collect::<Result<Vec<_>, _>>()?;
        if !charts.iter().any(|c| c.model == Model::Microservice) {
            charts.insert(0, Chart::builtin()?);
        }
        let main = charts
            .iter_mut()
            .rfind(|c| c.model == Model::Microservice)
            .expect("a MicroServiceDeploy chart was added above");
        for file in values {
            main.overlay_values(file)?;
        }
        Ok(charts)
    }

    /// A chart folder on disk, for `--chart DIR`.
    pub fn from_dir(dir: &Path) -> Result<Chart, ChartError> {
        let origin = dir.display().to_string();
        let mut files = BTreeMap::new();
        read_tree(dir, dir, &mut files).map_err(|source| ChartError::Io {
            origin: origin.clone(),
            source,
        })?;
        Chart::from_files(&origin, files)
    }

    fn from_files(origin: &str, files: BTreeMap<String, String>) -> Result<Chart, ChartError> {
        let invalid = |file: &str, message: String| ChartError::Invalid {
            origin: origin.to_owned(),
            file: file.to_owned(),
            message,
        };
        let read_yaml = |file: &'static str| -> Result<serde_json::Value, ChartError> {
            let text = files.get(file).ok_or(ChartError::Missing {
                origin: origin.to_owned(),
                file,
            })?;
            serde_yaml_ng::from_str(text).map_err(|e| invalid(file, e.to_string()))
        };
        let manifest: ChartManifest = serde_json::from_value(read_yaml("chart.yaml")?)
            .map_err(|e| invalid("chart.yaml", e.to_string()))?;
        let values = read_yaml("values.yaml")?;
        let defaults = match manifest.model {
            Model::Microservice => ChartDefaults::deserialize(&values)
                .map_err(|e| invalid("values.yaml", e.to_string()))?,
            Model::Manifests => ChartDefaults::unused(),
        };
        let is_rendered = |path: &str, folder: &str| {
            path.strip_prefix(folder)
                .is_some_and(|name| !name.starts_with('_') && !name.contains('/'))
                && (path.ends_with(".yaml") || path.ends_with(".yml"))
        };
        let instance_templates: Vec<String> = files
            .keys()
            .filter(|path| is_rendered(path, "templates/"))
            .cloned()
            .collect();
        if instance_templates.is_empty() {
            return Err(invalid("templates/", "holds no *.yaml template".into()));
        }
        let namespace_templates = files
            .keys()
            .filter(|path| is_rendered(path, "namespace/"))
            .cloned()
            .collect();
        let sources = files
            .into_iter()
            .filter(|(path, _)| path.starts_with("templates/") || path.starts_with("namespace/"))
            .collect();
        Ok(Chart {
            name: manifest.name,
            origin: origin.to_owned(),
            renders: manifest.renders,
            model: manifest.model,
            instance_templates,
            namespace_templates,
            sources,
            values,
            defaults,
        })
    }

    /// Merges a values file over the chart's values (per environment, say): mappings merge
    /// key by key, anything else replaces.
    pub fn overlay_values(&mut self, file: &Path) -> Result<(), ChartError> {
        let origin = file.display().to_string();
        let text = fs::read_to_string(file).map_err(|source| ChartError::Io {
            origin: origin.clone(),
            source,
        })?;
        let overlay: serde_json::Value =
            serde_yaml_ng::from_str(&text).map_err(|e| ChartError::Invalid {
                origin: origin.clone(),
                file: String::new(),
                message: e.to_string(),
            })?;
        merge(&mut self.values, overlay);
        self.defaults =
            ChartDefaults::deserialize(&self.values).map_err(|e| ChartError::Invalid {
                origin,
                file: String::new(),
                message: format!("after merging, values are invalid: {e}"),
            })?;
        Ok(())
    }
}

fn merge(base: &mut serde_json::Value, overlay: serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(relative, fs::read_to_string(&path)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_chart_loads() {
        let chart = Chart::builtin().unwrap();
        assert_eq!(chart.renders.kind, "MicroServiceDeploy");
        assert!(
            chart
                .instance_templates
                .contains(&"templates/deployment.yaml".to_owned())
        );
        assert_eq!(chart.defaults.namespace, "default");
    }

    #[test]
    fn overlays_merge_mappings_and_replace_the_rest() {
        let mut base = serde_json::json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        merge(&mut base, serde_json::json!({"a": {"c": [3]}, "e": 2}));
        assert_eq!(
            base,
            serde_json::json!({"a": {"b": 1, "c": [3]}, "d": 1, "e": 2})
        );
    }
}
