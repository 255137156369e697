//! Rendering: chart templates + a resolved instance -> Kubernetes objects.
//! It owns the minijinja environment (strict undefined, YAML-safe escaping) and the parse of
//! rendered text back into objects, so template whitespace can never shape the output.
//! It never validates specs; `rules` has done that before anything reaches here.

pub mod context;
mod escape;
mod fast_yaml;

use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior, context, syntax::SyntaxConfig};
use serde::Deserialize;

use crate::chart::{Chart, ChartError};
use crate::finding::{FieldPath, Finding};
use crate::spec::decode::PlainSpec;
pub use context::{Instance, NamespaceSummary};

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

/// A chart compiled into a template environment, ready to render many instances.
pub struct Engine {
    env: Environment<'static>,
    chart: Chart,
    /// `values` converted once, not per render.
    values: Value,
}

impl Engine {
    pub fn new(chart: Chart) -> Result<Engine, ChartError> {
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
        // kiln's own CRD, generated from its field list, for the chart that deploys kiln.
        env.add_function("kiln_crd", || {
            Value::from(Serde(crate::spec::crd::custom_resource_definition()))
        });
        for (name, source) in &chart.sources {
            env.add_template_owned(name.clone(), source.clone())
                .map_err(|error| ChartError::Invalid {
                    origin: chart.origin.clone(),
                    file: name.clone(),
                    message: template_error_text(&error),
                })?;
        }
        let values = Value::from(Serde(&chart.values));
        Ok(Engine { env, chart, values })
    }

    pub fn chart(&self) -> &Chart {
        &self.chart
    }

    /// Renders every instance template for one instance.
    pub fn render_instance(&self, instance: &Instance) -> Result<Vec<Object>, Finding> {
        let ctx = context! {
            instance => Value::from(Serde(instance)),
            values => self.values.clone(),
            chart => context! { name => self.chart.name.clone() },
        };
        self.render_instance_templates(&ctx, &instance.name)
    }

    /// Renders a `manifests`-model chart for one spec: templates see `spec`, `metadata`
    /// (`name`, `namespace`), `values` and `chart`.
    pub fn render_plain(&self, plain: &PlainSpec) -> Result<Vec<Object>, Finding> {
        let ctx = context! {
            spec => Value::from(Serde(&plain.spec)),
            metadata => context! { name => plain.name.clone(), namespace => plain.namespace.clone() },
            values => self.values.clone(),
            chart => context! { name => self.chart.name.clone() },
        };
        self.render_instance_templates(&ctx, &plain.name)
    }

    /// The per-spec templates, each object marked as belonging to instance `name`.
    fn render_instance_templates(&self, ctx: &Value, name: &str) -> Result<Vec<Object>, Finding> {
        let mut objects = self.render_all(&self.chart.instance_templates, ctx)?;
        for object in &mut objects {
            object.instance = Some(name.to_owned());
        }
        Ok(objects)
    }

    /// Renders every namespace template for one namespace.
    pub fn render_namespace(&self, summary: &NamespaceSummary) -> Result<Vec<Object>, Finding> {
        let ctx = context! {
            namespace => Value::from(Serde(summary)),
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
            let text_at = |pointer: &str| {
                value
                    .pointer(pointer)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let (Some(api_version), Some(kind), Some(name)) = (
                text_at("/apiVersion"),
                text_at("/kind"),
                text_at("/metadata/name"),
            ) else {
                return Err(self.chart_finding(
                    template,
                    "rendered an object without apiVersion, kind and metadata.name".into(),
                ));
            };
            objects.push(Object {
                api_version,
                kind,
                namespace: text_at("/metadata/namespace"),
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
    use crate::spec::{decode::decode, defaults};

    /// The fast reader only pays off if the built-in chart's output stays inside its subset.
    #[test]
    fn the_builtin_chart_renders_within_the_fast_yaml_subset() {
        let chart = Chart::builtin().unwrap();
        let spec = serde_json::json!({
            "apiVersion": "custom.ops/v1", "kind": "MicroServiceDeploy",
            "metadata": {"name": "a-v1s0"},
            "spec": {"msName": "a", "version": "1.0", "image": "a:1", "replicas": 3,
                     "autoscaling": true, "needAuth": true, "config": "x=1\ny=2",
                     "resourceRequirements": {"limits": {"cpu": "1", "memory": "1Gi"}}}
        });
        let (mut object, _) = decode(&spec);
        defaults::apply(&mut object, &chart.defaults);
        let instance = Instance::resolve(&object, &chart.defaults, "config");
        let engine = Engine::new(chart).unwrap();
        let ctx = context! {
            instance => Value::from(Serde(&instance)),
            values => engine.values.clone(),
            chart => context! { name => "microservice" },
        };
        for name in &engine.chart.instance_templates {
            let text = engine.render_text(name, &ctx).unwrap();
            assert!(
                fast_yaml::parse_documents(&text).is_some(),
                "{name} left the subset:\n{text}"
            );
        }
        let summary = NamespaceSummary::compute("default", &[&instance], 1).unwrap();
        let ctx =
            context! { namespace => Value::from(Serde(&summary)), values => engine.values.clone() };
        for name in &engine.chart.namespace_templates {
            let text = engine.render_text(name, &ctx).unwrap();
            assert!(
                fast_yaml::parse_documents(&text).is_some(),
                "{name} left the subset:\n{text}"
            );
        }
    }
}
