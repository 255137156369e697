//! Rendering: chart templates + a resolved instance -> Kubernetes objects.
//! It owns the minijinja environment (strict undefined, YAML-safe escaping) and the parse of
//! rendered text back into objects, so template whitespace can never shape the output.
//! It never validates specs; `rules` has done that before anything reaches here.

pub mod context;
mod escape;

use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior, context, syntax::SyntaxConfig};
use serde::Deserialize;

use crate::chart::{Chart, ChartError};
use crate::finding::{FieldPath, Finding};
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
        let mut objects = self.render_all(&self.chart.instance_templates, &ctx)?;
        for object in &mut objects {
            object.instance = Some(instance.name.clone());
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
            let template = self
                .env
                .get_template(name)
                .map_err(|e| self.template_finding(name, &e))?;
            let text = template
                .render(ctx)
                .map_err(|e| self.template_finding(name, &e))?;
            self.parse_rendered(name, &text, &mut objects)?;
        }
        Ok(objects)
    }

    /// Parses rendered text back into objects; empty documents (a template switched off by
    /// an `if`) produce nothing.
    fn parse_rendered(
        &self,
        template: &str,
        text: &str,
        objects: &mut Vec<Object>,
    ) -> Result<(), Finding> {
        for document in serde_yaml_ng::Deserializer::from_str(text) {
            let value = serde_json::Value::deserialize(document)
                .map_err(|e| self.chart_finding(template, format!("rendered invalid YAML: {e}")))?;
            if value.is_null() {
                continue;
            }
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
