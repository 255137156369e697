//! `kiln chart lint`: loads a chart exactly as `kiln render --chart DIR` would (schema
//! structure, rule compilation and cost bounds, derived defaults, variables, values against
//! their schema, template compilation, the fields templates read) and builds its exports
//! (`kiln crd`, `kiln policy`), then says what it found. The first problem stops it, with the
//! file and position the loader gives.

use std::path::{Path, PathBuf};

use super::counted;
use crate::Kiln;
use crate::chart::{Chart, ChartError};
use crate::schema::Schema;

/// What a chart that passed holds, a line each.
pub fn lint(dir: &Path, values: &[PathBuf]) -> Result<Vec<String>, ChartError> {
    let charts = Chart::load_all(&[dir.to_path_buf()], values)?;
    let chart = charts[0].clone();
    let definition = chart.definition()?;
    let policies = crate::export::policy::admission_policies(&chart)?;
    let crd = crate::export::crd::custom_resource_definition(&chart);
    Kiln::with_charts(charts)?; // compiles the templates and checks what they read
    let mut lines = vec![format!(
        "{}: chart {} renders {}",
        dir.display(),
        chart.name,
        chart.renders
    )];
    match &definition.schema {
        None => lines
            .push("no schema.yaml: any spec mapping is accepted, and no CRD is exported".into()),
        Some(schema) => {
            let (fields, rules) = count(schema);
            let in_crd = crd.as_ref().map(exported_rules).unwrap_or(0);
            lines.push(format!(
                "schema: {} and {} ({in_crd} exported to the CRD, every one to the policies); \
                 every expression compiles and its cost is bounded",
                counted(fields, "field"),
                counted(rules, "rule")
            ));
        }
    }
    lines.push(format!(
        "{}, {}; values: {}",
        counted(definition.defaults.len(), "derived default"),
        counted(definition.variables.len(), "variable"),
        if chart.values_schema.is_some() {
            format!(
                "{} checked against values.schema.yaml",
                counted(1 + values.len(), "file")
            )
        } else {
            "no values.schema.yaml, not checked".into()
        }
    ));
    lines.push(if chart.guards_only() {
        "templates: none; the chart guards its kind, and the checked object, defaults applied, \
         is the output"
            .to_owned()
    } else {
        format!(
            "templates: {} and {} compile and read only fields the schema, variables and values \
             have",
            counted(chart.instance_templates.len(), "instance template"),
            counted(chart.namespace_templates.len(), "namespace template")
        )
    });
    lines.push(format!(
        "exports: {}, {}",
        counted(usize::from(crd.is_some()), "CRD"),
        counted(policies.len(), "admission policy object")
    ));
    Ok(lines)
}

/// Fields and rules in a schema, every branch included.
fn count(schema: &Schema) -> (usize, usize) {
    let mut fields = schema.properties.len();
    let mut rules = schema.rules.len();
    for child in schema.children() {
        let (f, r) = count(child);
        fields += f;
        rules += r;
    }
    (fields, rules)
}

/// The `x-kubernetes-validations` rules in an exported object.
fn exported_rules(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(key, child)| match (key.as_str(), child) {
                ("x-kubernetes-validations", serde_json::Value::Array(rules)) => rules.len(),
                _ => exported_rules(child),
            })
            .sum(),
        serde_json::Value::Array(items) => items.iter().map(exported_rules).sum(),
        _ => 0,
    }
}
