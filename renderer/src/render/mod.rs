//! Rendering: chart templates + a judged spec -> Kubernetes objects.
//! It owns the minijinja environment (strict undefined, YAML-safe escaping, kiln's template
//! functions) and the parse of rendered text back into objects, so template whitespace can
//! never shape the output. It never validates specs; `kind` has done that before.

mod escape;
pub mod fast_yaml;
pub mod functions;
mod references;

use std::sync::{Arc, OnceLock};

use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior, context, syntax::SyntaxConfig};
use serde::{Deserialize, Serialize};

use crate::chart::{Chart, ChartError, LazyChart};
use crate::fields::text_at;
use crate::finding::{FieldPath, Finding};
use crate::kind::KindDefinition;

/// One spec that passed its kind's rules, as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    /// The value of the chart's instance field: the folder of its objects in the output.
    pub name: String,
    pub namespace: String,
    /// `KIND NAMESPACE/NAME`: the spec that is the source of truth of what it renders.
    #[serde(skip)]
    pub spec_ref: String,
    /// `spec` with every default applied.
    pub spec: serde_json::Value,
    /// `metadata`, with the namespace filled in.
    pub metadata: serde_json::Value,
    /// The chart's variables, evaluated for this spec.
    pub variables: serde_json::Value,
}

/// What namespace templates see: the namespace and every instance rendered into it.
#[derive(Debug, Clone, Serialize)]
pub struct NamespaceContext<'a> {
    pub name: &'a str,
    pub instances: &'a [&'a Instance],
}

/// A rendered Kubernetes object and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The chart template that produced it, for messages.
    pub template: String,
    /// The instance (spec fullName) it belongs to; `None` for namespace-wide objects.
    pub instance: Option<String>,
    pub value: serde_json::Value,
}

/// A chart compiled: its kind's definition and its templates, ready for many specs.
pub struct Engine {
    env: Environment<'static>,
    chart: Arc<Chart>,
    definition: KindDefinition,
    /// `values` converted once, not per render.
    values: Value,
}

/// What the kinds kiln knows export to the API server, for the chart that installs kiln.
/// Built the first time a template asks (`crds()`, `policies()`): only that chart needs them,
/// and building them parses every rule again.
#[derive(Debug, Default)]
pub struct Exports {
    charts: Vec<Arc<LazyChart>>,
    built: OnceLock<Result<Exported, String>>,
}

#[derive(Debug)]
struct Exported {
    /// A CustomResourceDefinition per kind with a schema.
    crds: Vec<serde_json::Value>,
    /// ValidatingAdmissionPolicies and their bindings, per kind with rules.
    policies: Vec<serde_json::Value>,
}

impl Exports {
    /// The exports of these charts, built when first asked for.
    pub fn of(charts: Vec<Arc<LazyChart>>) -> Exports {
        Exports {
            charts,
            built: OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&Exported, minijinja::Error> {
        let built = self.built.get_or_init(|| {
            let mut policies = Vec::new();
            for chart in &self.charts {
                policies.extend(
                    crate::export::policy::admission_policies(chart.get())
                        .map_err(|e| e.to_string())?,
                );
            }
            let crds = self
                .charts
                .iter()
                .filter_map(|chart| crate::export::crd::custom_resource_definition(chart.get()))
                .collect();
            Ok(Exported { crds, policies })
        });
        built.as_ref().map_err(|message| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message.clone())
        })
    }
}

impl Engine {
    /// Compiles a chart; `exports` are what every kind kiln knows exports to the cluster,
    /// for templates that install them (`crds()`, `policies()`).
    pub fn new(chart: Arc<Chart>, exports: Arc<Exports>) -> Result<Engine, ChartError> {
        let definition = chart.definition()?;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| escape::YAML);
        env.set_formatter(escape::yaml_formatter);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid");
        env.set_syntax(syntax);
        env.add_function("key_value_lines", |text: &str| {
            functions::key_value_lines(text)
        });
        env.add_function("quota_totals", functions::quota_totals);
        let crds = exports.clone();
        env.add_function("crds", move || Ok(Value::from(Serde(&crds.get()?.crds))));
        env.add_function("policies", move || {
            Ok(Value::from(Serde(&exports.get()?.policies)))
        });
        for (name, source) in &chart.sources {
            env.add_template_owned(name.clone(), source.clone())
                .map_err(|error| ChartError::Invalid {
                    origin: chart.origin.clone(),
                    file: name.clone(),
                    message: template_error_text(&error),
                })?;
        }
        // As for its values (`LazyChart::get`): a built-in chart as shipped had its templates'
        // references checked by CI, and by every test build here.
        if cfg!(debug_assertions) || !chart.is_builtin_as_shipped() {
            references::check(&env, &chart, &definition)?;
        }
        let values = Value::from(Serde(&chart.values));
        Ok(Engine {
            env,
            chart,
            definition,
            values,
        })
    }

    pub fn chart(&self) -> &Chart {
        &self.chart
    }

    pub fn definition(&self) -> &KindDefinition {
        &self.definition
    }

    /// Renders every instance template for one spec: templates see `spec`, `metadata`,
    /// `variables`, `instance` (`name`, `namespace`), `values` and `chart`.
    /// A chart that only guards its kind outputs the checked object, defaults applied.
    pub fn render_instance(&self, instance: &Instance) -> Result<Vec<Object>, Finding> {
        if self.chart.guards_only() {
            return Ok(vec![self.checked_object(instance)]);
        }
        let ctx = self.instance_context(instance);
        let mut objects = self.render_all(&self.chart.instance_templates, &ctx)?;
        for object in &mut objects {
            object.instance = Some(instance.name.clone());
        }
        Ok(objects)
    }

    /// The object of a guard chart's kind as the API server should receive it: apiVersion,
    /// kind, metadata (namespace filled in) and the defaulted spec.
    fn checked_object(&self, instance: &Instance) -> Object {
        let renders = &self.chart.renders;
        let value = serde_json::json!({
            "apiVersion": renders.api_version,
            "kind": renders.kind,
            "metadata": instance.metadata,
            "spec": instance.spec,
        });
        Object {
            api_version: renders.api_version.clone(),
            kind: renders.kind.clone(),
            namespace: Some(instance.namespace.clone()),
            name: instance
                .metadata
                .get("name")
                .and_then(|name| name.as_str())
                .unwrap_or_default()
                .to_owned(),
            template: "the checked object".to_owned(),
            instance: Some(instance.name.clone()),
            value,
        }
    }

    fn instance_context(&self, instance: &Instance) -> Value {
        context! {
            spec => Value::from(Serde(&instance.spec)),
            metadata => Value::from(Serde(&instance.metadata)),
            variables => Value::from(Serde(&instance.variables)),
            instance => context! { name => instance.name.clone(), namespace => instance.namespace.clone() },
            values => self.values.clone(),
            chart => context! { name => self.chart.name.clone() },
        }
    }

    /// The text each instance template renders, before it is read back (for tests).
    #[cfg(test)]
    pub(crate) fn instance_texts(&self, instance: &Instance) -> Vec<(String, String)> {
        let ctx = self.instance_context(instance);
        self.chart
            .instance_templates
            .iter()
            .map(|name| (name.clone(), self.render_text(name, &ctx).unwrap()))
            .collect()
    }

    /// Renders every namespace template for one namespace: templates see `namespace`
    /// (`name`, `instances`), `values` and `chart`.
    pub fn render_namespace(
        &self,
        namespace: &NamespaceContext<'_>,
    ) -> Result<Vec<Object>, Finding> {
        let ctx = context! {
            namespace => Value::from(Serde(namespace)),
            values => self.values.clone(),
            chart => context! { name => self.chart.name.clone() },
        };
        self.render_all(&self.chart.namespace_templates, &ctx)
    }

    fn render_all(&self, templates: &[String], ctx: &Value) -> Result<Vec<Object>, Finding> {
        let mut objects = Vec::new();
        for name in templates {
            let text = self.render_text(name, ctx)?;
            self.parse_rendered(name, &text, &mut objects)?;
        }
        Ok(objects)
    }

    fn render_text(&self, name: &str, ctx: &Value) -> Result<String, Finding> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| self.template_finding(name, &e))?;
        template
            .render(ctx)
            .map_err(|e| self.template_finding(name, &e))
    }

    /// Parses rendered text back into objects; empty documents (a template switched off by
    /// an `if`) produce nothing.
    fn parse_rendered(
        &self,
        template: &str,
        text: &str,
        objects: &mut Vec<Object>,
    ) -> Result<(), Finding> {
        let documents = read_documents(text)
            .map_err(|e| self.chart_finding(template, format!("rendered invalid YAML: {e}")))?;
        for value in documents {
            let text_at = |path: &[&str]| text_at(&value, path).map(str::to_owned);
            let (Some(api_version), Some(kind), Some(name)) = (
                text_at(&["apiVersion"]),
                text_at(&["kind"]),
                text_at(&["metadata", "name"]),
            ) else {
                return Err(self.chart_finding(
                    template,
                    "rendered an object without apiVersion, kind and metadata.name".into(),
                ));
            };
            objects.push(Object {
                api_version,
                kind,
                namespace: text_at(&["metadata", "namespace"]),
                name,
                template: template.to_owned(),
                instance: None,
                value,
            });
        }
        Ok(())
    }

    /// Names the file where the error is, which may be a helper the template imported.
    fn template_finding(&self, template: &str, error: &minijinja::Error) -> Finding {
        self.chart_finding(error.name().unwrap_or(template), template_error_text(error))
    }

    fn chart_finding(&self, template: &str, message: String) -> Finding {
        Finding::error(
            "chart-template",
            FieldPath::root(),
            format!("{} {template}: {message}", self.chart.origin),
        )
    }
}

/// The non-empty documents of rendered text: the fast reader when the text is within its
/// subset, serde_yaml_ng otherwise. Debug builds run both and insist they agree.
fn read_documents(text: &str) -> Result<Vec<serde_json::Value>, serde_yaml_ng::Error> {
    let full = || -> Result<Vec<serde_json::Value>, serde_yaml_ng::Error> {
        let mut documents = Vec::new();
        for document in serde_yaml_ng::Deserializer::from_str(text) {
            let value = serde_json::Value::deserialize(document)?;
            if !value.is_null() {
                documents.push(value);
            }
        }
        Ok(documents)
    };
    match fast_yaml::parse_documents(text) {
        Some(documents) => {
            #[cfg(debug_assertions)]
            assert_eq!(
                full().ok().as_ref(),
                Some(&documents),
                "the fast YAML reader disagrees with serde_yaml_ng on:\n{text}"
            );
            Ok(documents)
        }
        None => full(),
    }
}

/// `line 12: undefined value (in templates/deployment.yaml)`, from minijinja's error.
fn template_error_text(error: &minijinja::Error) -> String {
    let mut text = match error.line() {
        Some(line) => format!("line {line}: "),
        None => String::new(),
    };
    text.push_str(&error.kind().to_string());
    if let Some(detail) = error.detail() {
        text.push_str(": ");
        text.push_str(detail);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Kiln` compiles a built-in chart as shipped only when its kind first appears, and
    /// expects it to compile then: every one does, with its own values.
    #[test]
    fn every_builtin_chart_compiles() {
        let charts = Chart::builtins().unwrap();
        assert!(charts.iter().all(Chart::is_builtin_as_shipped));
        let charts: Vec<Arc<LazyChart>> = charts
            .into_iter()
            .map(|chart| Arc::new(LazyChart::ready(chart)))
            .collect();
        let exports = Arc::new(Exports::of(charts.clone()));
        for chart in charts {
            let origin = chart.get().origin.clone();
            if let Err(error) = Engine::new(chart.get().clone(), exports.clone()) {
                panic!("{origin}: {error}");
            }
        }
    }

    /// The fast reader only pays off if the built-in charts' output stays inside its subset.
    #[test]
    fn the_builtin_charts_render_within_the_fast_yaml_subset() {
        let kiln = crate::Kiln::with_charts(Chart::builtins().unwrap()).unwrap();
        // Fixtures that switch on every template of each built-in chart.
        let text = [
            include_str!("../../tests/fixtures/render/autoscaling-object.yaml"),
            include_str!("../../tests/fixtures/render/appservice-seed.yaml"),
        ]
        .join("---\n");
        let file = crate::spec::load::InputFile {
            name: "fast.yaml".into(),
            text: text.into(),
        };
        let (documents, _) = crate::spec::load::parse_documents(&file);
        for (engine, text) in kiln.rendered_texts(documents) {
            assert!(
                fast_yaml::parse_documents(&text).is_some(),
                "{} left the subset:\n{text}",
                engine
            );
        }
    }
}
