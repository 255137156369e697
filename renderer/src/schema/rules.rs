//! Running a schema's CEL rules over a value, as the API server runs
//! `x-kubernetes-validations`: each rule at its node, with `self` bound to the node's value,
//! only when the node is present. Findings point at the rule's `fieldPath` and quote the
//! value written there unless the rule says not to.

use serde_json::Value;

use super::{Rule, Schema};
use crate::cel::{self, Scope};
use crate::finding::{FieldPath, Finding, PathRef, Severity};

/// A rule that could not be evaluated (a missing key it did not guard, a type it did not
/// expect): where it is written and why.
#[derive(Debug, Clone)]
pub struct RuleFailure {
    pub written_at: FieldPath,
    pub node: FieldPath,
    pub message: String,
}

/// Runs every rule of `schema` over `value`. `written` is the object as its author wrote it,
/// for the values findings quote; `scope` holds `values`; `variables` are the object's.
pub fn run(
    schema: &Schema,
    value: &Value,
    written: &Value,
    scope: &Scope<'_>,
    variables: &Value,
) -> (Vec<Finding>, Vec<RuleFailure>) {
    let mut run = Run {
        written,
        scope,
        variables,
        findings: Vec::new(),
        failures: Vec::new(),
    };
    run.node(schema, value, &PathRef::At(&FieldPath::root()));
    (run.findings, run.failures)
}

struct Run<'a> {
    written: &'a Value,
    scope: &'a Scope<'a>,
    variables: &'a Value,
    findings: Vec<Finding>,
    failures: Vec<RuleFailure>,
}

impl Run<'_> {
    fn node(&mut self, schema: &Schema, value: &Value, path: &PathRef<'_>) {
        let schema = match schema.branch_for(value) {
            Some(branch) => branch,
            None if !schema.one_of_types.is_empty() => return, // wrong shape: the type check says so
            None => schema,
        };
        for rule in &schema.rules {
            self.rule(rule, value, path);
        }
        match value {
            Value::Object(fields) => {
                for (name, child) in fields {
                    if let Some(child_schema) = schema.property(name)
                        && child_schema.rules_below
                    {
                        self.node(child_schema, child, &path.key(name));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.items.as_deref().filter(|s| s.rules_below) {
                    for (index, item) in items.iter().enumerate() {
                        self.node(item_schema, item, &path.index(index));
                    }
                }
            }
            _ => {}
        }
    }

    fn rule(&mut self, rule: &Rule, value: &Value, node: &PathRef<'_>) {
        let inputs = [(cel::SELF, value), (cel::VARIABLES, self.variables)];
        let fail = |message: String| RuleFailure {
            written_at: rule.written_at.clone(),
            node: node.to_path(),
            message,
        };
        match rule.rule.eval_bool(self.scope, &inputs) {
            Ok(true) => return,
            Ok(false) => {}
            Err(message) => {
                self.failures.push(fail(message));
                return;
            }
        }
        let message = match (&rule.message_expression, &rule.message) {
            (Some(expression), fallback) => match expression.eval_string(self.scope, &inputs) {
                Ok(text) => text,
                Err(message) => {
                    self.failures
                        .push(fail(format!("messageExpression {message}")));
                    fallback.clone().unwrap_or_else(|| failed_rule(rule))
                }
            },
            (None, Some(message)) => message.clone(),
            (None, None) => failed_rule(rule),
        };
        let field = node.to_path().join(&rule.field_path);
        let mut finding = match rule.severity {
            Severity::Error => Finding::error(rule.id.clone(), field.clone(), message),
            Severity::Warning => Finding::warning(rule.id.clone(), field.clone(), message),
        };
        if rule.show_value
            && let Some(shown) = field
                .lookup(self.written)
                .filter(|v| !v.is_object() && !v.is_array())
        {
            finding = finding.got(shown);
        }
        if let Some(hint) = &rule.hint {
            finding = finding.hint(hint.clone());
        }
        self.findings.push(finding);
    }
}

/// The API server's message for a rule without one.
fn failed_rule(rule: &Rule) -> String {
    format!("failed rule: {}", rule.rule.source)
}
