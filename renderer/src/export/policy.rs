//! ValidatingAdmissionPolicies from chart rules, so the API server itself refuses a spec
//! that breaks them, webhook or not. Each rule at a schema node becomes one validation over
//! `object`: guarded by the node's presence (a rule runs only where its node is), with `self`
//! renamed to the node, and a message expression that builds the line the CLI prints
//! (`FIELD: message (got VALUE); hint: ...`). Chart values and the chart's variables become
//! the policy's `variables`, so rules that read them are exported too. Errors go to a policy
//! bound with `Deny`, warnings to one bound with `Warn`.

use serde_json::{Value, json};

use crate::cel::{self, rename_variables};
use crate::chart::{Chart, ChartError};
use crate::finding::{FieldPath, Segment, Severity};
use crate::kind::KindDefinition;
use crate::schema::{Rule, Schema, Type};

/// The name under which a policy holds the chart's values.
const VALUES_VARIABLE: &str = "values";

/// A step from a node to its child, as the API server walks the object.
#[derive(Debug, Clone)]
enum Step {
    Field(String),
    /// Every item of a list.
    Item,
    /// Every value of a map.
    Value,
}

/// Policies and their bindings for one chart's kind; empty when it has no rules.
pub fn admission_policies(chart: &Chart) -> Result<Vec<Value>, ChartError> {
    let definition = chart.definition()?;
    let Some(schema) = &definition.schema else {
        return Ok(Vec::new());
    };
    let mut rules = Vec::new();
    collect(schema, &mut Vec::new(), &mut rules);
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let variables = policy_variables(chart, &definition);
    let (group, version) = chart
        .renders
        .api_version
        .split_once('/')
        .unwrap_or(("", chart.renders.api_version.as_str()));
    let plural = chart.plural();
    let mut out = Vec::new();
    for (severity, suffix, action, failure_policy) in [
        (Severity::Error, "", "Deny", "Fail"),
        // A warning that cannot be evaluated must not block anything.
        (Severity::Warning, "-warnings", "Warn", "Ignore"),
    ] {
        let validations: Vec<Value> = rules
            .iter()
            .filter(|found| found.rule.severity == severity)
            .map(validation)
            .collect();
        if validations.is_empty() {
            continue;
        }
        let name = format!("kiln{suffix}.{plural}.{group}");
        let mut spec = json!({
            "failurePolicy": failure_policy,
            "matchConstraints": {
                "resourceRules": [{
                    "apiGroups": [group],
                    "apiVersions": [version],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": [plural],
                }],
            },
            "validations": validations,
        });
        if !variables.is_empty() {
            spec["variables"] = Value::Array(variables.clone());
        }
        let metadata = json!({
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "kiln"},
            "annotations": {"kiln.dev/chart": chart.name},
        });
        out.push(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": metadata,
            "spec": spec,
        }));
        out.push(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": metadata,
            "spec": {"policyName": name, "validationActions": [action]},
        }));
    }
    Ok(out)
}

/// A rule, its node's schema and the steps to the node.
struct Found<'a> {
    steps: Vec<Step>,
    node: &'a Schema,
    rule: &'a Rule,
}

/// Every rule with the steps to its node. Rules inside typed `anyOf` branches stay with
/// kiln: the API server sees such a node as untyped.
fn collect<'a>(schema: &'a Schema, steps: &mut Vec<Step>, out: &mut Vec<Found<'a>>) {
    for rule in &schema.rules {
        out.push(Found {
            steps: steps.clone(),
            node: schema,
            rule,
        });
    }
    for (name, child) in &schema.properties {
        steps.push(Step::Field(name.to_owned()));
        collect(child, steps, out);
        steps.pop();
    }
    for (step, child) in [
        (Step::Item, &schema.items),
        (Step::Value, &schema.additional_properties),
    ] {
        if let Some(child) = child {
            steps.push(step);
            collect(child, steps, out);
            steps.pop();
        }
    }
}

/// The chart's values (as a CEL literal) and its variables, in the policy's terms.
fn policy_variables(chart: &Chart, definition: &KindDefinition) -> Vec<Value> {
    let mut variables = vec![json!({
        "name": VALUES_VARIABLE,
        "expression": cel_literal(&chart.values),
    })];
    for variable in &definition.variables {
        variables.push(json!({
            "name": variable.name,
            "expression": in_policy_terms(&variable.expression.source, "object"),
        }));
    }
    variables
}

/// An expression written for a node, for a policy where the node is `node`.
fn in_policy_terms(source: &str, node: &str) -> String {
    let values = format!("variables.{VALUES_VARIABLE}");
    rename_variables(source, &[(cel::SELF, node), (cel::VALUES, &values)])
}

/// One rule as a policy validation.
fn validation(found: &Found<'_>) -> Value {
    let (steps, rule) = (found.steps.as_slice(), found.rule);
    let mut names = Vec::new();
    let expression = over_nodes(steps, "object", &mut names, &|node| {
        format!("({})", in_policy_terms(&rule.rule.source, node))
    });
    let mut validation = json!({"expression": expression, "reason": "Invalid"});
    if steps.iter().all(|s| matches!(s, Step::Field(_))) {
        let node = accessor("object", steps);
        validation["messageExpression"] = json!(message_expression(found, &node));
        if rule.message_expression.is_some() && rule.message.is_some() {
            // What the API server says when the message expression cannot be evaluated.
            validation["message"] = json!(static_message(steps, rule));
        }
    } else {
        // Which item failed is not known to one message: name the list, not the index.
        validation["message"] = json!(static_message(steps, rule));
    }
    validation
}

/// `inner(node)` wherever the node is present, true elsewhere: present fields are
/// `has()`-guarded, lists and maps quantified with `all()`.
fn over_nodes(
    steps: &[Step],
    base: &str,
    names: &mut Vec<String>,
    inner: &dyn Fn(&str) -> String,
) -> String {
    let Some((step, rest)) = steps.split_first() else {
        return inner(base);
    };
    match step {
        Step::Field(name) => {
            let child = select(base, name);
            format!(
                "!{} || {}",
                presence(base, name),
                over_nodes(rest, &child, names, inner)
            )
        }
        Step::Item | Step::Value => {
            let variable = format!("x{}", names.len());
            names.push(variable.clone());
            let child = match step {
                Step::Item => variable.clone(),
                _ => format!("{base}[{variable}]"),
            };
            format!(
                "{base}.all({variable}, {})",
                over_nodes(rest, &child, names, inner)
            )
        }
    }
}

fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn select(base: &str, name: &str) -> String {
    if is_identifier(name) {
        format!("{base}.{name}")
    } else {
        format!("{base}[{}]", string_literal(name))
    }
}

fn presence(base: &str, name: &str) -> String {
    if is_identifier(name) {
        format!("has({base}.{name})")
    } else {
        format!("({} in {base})", string_literal(name))
    }
}

fn accessor(base: &str, steps: &[Step]) -> String {
    steps.iter().fold(base.to_owned(), |node, step| match step {
        Step::Field(name) => select(&node, name),
        _ => node,
    })
}

/// The CLI's message line as a CEL string expression.
fn message_expression(found: &Found<'_>, node: &str) -> String {
    let (steps, rule) = (found.steps.as_slice(), found.rule);
    let field = field_of(steps).join(&rule.field_path);
    let mut parts = Vec::new();
    if !field.is_root() {
        parts.push(string_literal(&format!("{field}: ")));
    }
    parts.push(match (&rule.message_expression, &rule.message) {
        (Some(expression), _) => format!("({})", in_policy_terms(&expression.source, node)),
        (None, Some(message)) => string_literal(message),
        (None, None) => string_literal(&format!("failed rule: {}", rule.rule.source)),
    });
    if rule.show_value
        && let Some((guard, value)) = value_at(node, &rule.field_path)
    {
        let shown = got(&value, field_schema(found.node, &rule.field_path));
        parts.push(match guard {
            None => shown,
            Some(guard) => format!("({guard} ? {shown} : '')"),
        });
    }
    if let Some(hint) = &rule.hint {
        parts.push(string_literal(&format!("; hint: {hint}")));
    }
    parts.join(" + ")
}

fn static_message(steps: &[Step], rule: &Rule) -> String {
    let mut field = String::new();
    for step in steps {
        match step {
            Step::Field(name) if field.is_empty() => field.push_str(name),
            Step::Field(name) => field.push_str(&format!(".{name}")),
            Step::Item | Step::Value => field.push_str("[*]"),
        }
    }
    let relative = rule.field_path.to_string();
    if !relative.is_empty() {
        field.push_str(&format!(".{relative}"));
    }
    let message = rule
        .message
        .clone()
        .unwrap_or_else(|| format!("failed rule: {}", rule.rule.source));
    let hint = rule
        .hint
        .as_ref()
        .map(|h| format!("; hint: {h}"))
        .unwrap_or_default();
    if field.is_empty() {
        format!("{message}{hint}")
    } else {
        format!("{field}: {message}{hint}")
    }
}

fn field_of(steps: &[Step]) -> FieldPath {
    steps
        .iter()
        .fold(FieldPath::root(), |path, step| match step {
            Step::Field(name) => path.key(name),
            _ => path,
        })
}

/// The schema of the field at `path` under a node, when the schema says.
fn field_schema<'a>(node: &'a Schema, path: &FieldPath) -> Option<&'a Schema> {
    path.segments()
        .iter()
        .try_fold(node, |schema, segment| match segment {
            Segment::Key(key) => schema.property(key),
            Segment::Index(_) => schema.items.as_deref(),
        })
}

/// The value at `path` under `node`, with the guard that says it is there (none for the
/// node itself, which is there whenever its rule runs).
fn value_at(node: &str, path: &FieldPath) -> Option<(Option<String>, String)> {
    let mut guards = Vec::new();
    let mut value = node.to_owned();
    for segment in path.segments() {
        let Segment::Key(key) = segment else {
            return None;
        };
        guards.push(presence(&value, key));
        value = select(&value, key);
    }
    let guard = (!guards.is_empty()).then(|| guards.join(" && "));
    Some((guard, value))
}

/// ` (got VALUE)` as the CLI prints it: the JSON text of a scalar, cut at 80 characters.
/// The field's schema type picks the one branch needed; an untyped field gets them all.
fn got(value: &str, schema: Option<&Schema>) -> String {
    let short =
        |text: &str| format!("(size({text}) > 80 ? {text}.substring(0, 80) + '...' : {text})");
    // JSON quoting of the characters specs contain; other control characters are rare.
    let quoted = format!(
        r#"('"' + {value}.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n').replace('\t', '\\t') + '"')"#
    );
    let string = format!("' (got ' + {} + ')'", short(&quoted));
    let scalar = format!("' (got ' + string({value}) + ')'");
    let typed = schema.filter(|s| !s.int_or_string && !s.preserve_unknown_fields);
    match typed.and_then(|s| s.kind) {
        Some(Type::String) => string,
        Some(Type::Integer | Type::Number | Type::Boolean) => scalar,
        Some(Type::Object | Type::Array) => "''".into(),
        None => format!(
            "(type({value}) == string ? {string} : type({value}) == list || type({value}) == map ? '' : type({value}) == null_type ? ' (got null)' : {scalar})"
        ),
    }
}

/// A CEL string literal: single-quoted, with the escapes CEL reads.
fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A JSON value as a CEL literal (integers stay `int`, as the API server reads JSON).
fn cel_literal(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or_default();
            if float.fract() == 0.0 && float.is_finite() {
                format!("{float:.1}")
            } else {
                float.to_string()
            }
        }
        Value::Number(number) => number.to_string(),
        Value::String(text) => string_literal(text),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(cel_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{}: {}", string_literal(k), cel_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_read_back_as_the_same_values() {
        let value = json!({"a": [1, 2.5, 3.0, true, null], "b'c": "x\\y\n"});
        let literal = cel_literal(&value);
        assert_eq!(
            literal,
            r#"{'a': [1, 2.5, 3.0, true, null], 'b\'c': 'x\\y\n'}"#
        );
        let expression = cel::Expression::compile(&literal, &[]).unwrap();
        let back = expression.eval(&cel::Scope::root(), &[]).unwrap();
        assert_eq!(cel::to_json(&back).unwrap(), value);
    }

    #[test]
    fn nodes_are_guarded_and_lists_quantified() {
        let steps = [
            Step::Field("spec".into()),
            Step::Field("ports".into()),
            Step::Item,
            Step::Field("ephemeral-storage".into()),
        ];
        let text = over_nodes(&steps, "object", &mut Vec::new(), &|node| {
            format!("f({node})")
        });
        assert_eq!(
            text,
            "!has(object.spec) || !has(object.spec.ports) || object.spec.ports.all(x0, \
             !('ephemeral-storage' in x0) || f(x0['ephemeral-storage']))"
        );
    }
}
