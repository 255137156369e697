//! What instance templates read of the kind, checked when the chart loads: every
//! `spec.a.b` a template names must be a field of the kind's schema, every `variables.NAME` a
//! variable of variables.yaml, and every `values.a.b` a key of the chart's values or of their
//! schema. Without this, a misspelt field in a template renders nothing (an optional field is
//! absent) or fails only for the specs that reach that line.
//!
//! The analysis is minijinja's own (`undeclared_variables`): plain attribute chains from the
//! context. Chains through a loop variable, a `set` or a macro argument are not followed.

use minijinja::Environment;

use crate::chart::{Chart, ChartError};
use crate::kind::KindDefinition;
use crate::schema::Schema;
use crate::suggest::did_you_mean;

/// Checks every instance template's references; the first unknown one is the error.
pub fn check(
    env: &Environment<'_>,
    chart: &Chart,
    definition: &KindDefinition,
) -> Result<(), ChartError> {
    for name in &chart.instance_templates {
        let Ok(template) = env.get_template(name) else {
            continue; // a template that does not compile is reported where it is added
        };
        let mut references: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        references.sort();
        for reference in references {
            let segments: Vec<&str> = reference.split('.').collect();
            let problem = match segments.as_slice() {
                ["spec", ..] => definition
                    .schema
                    .as_ref()
                    .and_then(|schema| missing_field(schema, &segments, "schema.yaml")),
                ["variables", variable, ..] => {
                    let known: Vec<&str> = definition
                        .variables
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect();
                    (!known.contains(variable)).then(|| {
                        format!(
                            "is not a variable of variables.yaml{}",
                            did_you_mean(variable, &known)
                        )
                    })
                }
                ["values", rest @ ..] if !rest.is_empty() => {
                    let in_values = rest
                        .iter()
                        .try_fold(&chart.values, |value, key| value.get(key))
                        .is_some();
                    let in_schema = chart.values_schema.as_deref().is_some_and(|schema| {
                        missing_field(schema, &segments[1..], "values.schema.yaml").is_none()
                    });
                    (!in_values && !in_schema).then(|| {
                        let known: Vec<&str> = chart
                            .values
                            .as_object()
                            .map(|fields| fields.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        format!(
                            "is not a key of values.yaml{}",
                            did_you_mean(rest[0], &known)
                        )
                    })
                }
                _ => None,
            };
            if let Some(problem) = problem {
                let source = chart.sources.get(name).map(String::as_str).unwrap_or("");
                let position = position_of(source, &reference)
                    .map(|(line, column)| format!(":{line}:{column}"))
                    .unwrap_or_default();
                return Err(ChartError::Invalid {
                    origin: chart.origin.clone(),
                    file: format!("{name}{position}"),
                    message: format!("{reference}: {problem}"),
                });
            }
        }
    }
    Ok(())
}

/// Why the field chain `segments` is not in `schema`, if it is not. A chain goes on freely
/// below a node that keeps unknown fields or is not an object (`.items()` of a map, say).
fn missing_field(schema: &Schema, segments: &[&str], file: &str) -> Option<String> {
    let mut node = schema;
    for (depth, key) in segments.iter().enumerate() {
        match node.field(key) {
            Some(child) => node = child,
            None if node.preserve_unknown_fields
                || node.kind != Some(crate::schema::Type::Object) =>
            {
                return None;
            }
            None => {
                let known: Vec<&str> = node
                    .properties
                    .names()
                    .chain(node.one_of_types.iter().flat_map(|b| b.properties.names()))
                    .collect();
                let parent = if depth == 0 {
                    "the object".to_owned()
                } else {
                    segments[..depth].join(".")
                };
                return Some(format!(
                    "{key} is not a field of {parent} in {file}{}",
                    did_you_mean(key, &known)
                ));
            }
        }
    }
    None
}

/// The 1-based line and column of the first place `reference` is written as a whole chain.
fn position_of(source: &str, reference: &str) -> Option<(usize, usize)> {
    let identifier = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = source[from..].find(reference) {
        let start = from + found;
        let end = start + reference.len();
        let before_ok = !source[..start].ends_with(|c: char| identifier(c) || c == '.');
        let after_ok = !source[end..].starts_with(identifier);
        if before_ok && after_ok {
            let line = source[..start].matches('\n').count() + 1;
            let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
            let column = source[line_start..start].chars().count() + 1;
            return Some((line, column));
        }
        from = end;
    }
    None
}
