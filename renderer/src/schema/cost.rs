//! Cost bounds of a chart's CEL. The API server estimates the worst-case cost of every
//! `x-kubernetes-validations` rule from the schema and refuses a CRD whose rules could iterate
//! over a list or map with no size limit, or run a string function over strings of any length
//! once per item; the same holds for ValidatingAdmissionPolicies typed by that CRD. kiln holds
//! every expression of a chart (rules, derived defaults, variables) to that bound when the
//! chart loads, so an exported rule cannot be refused by the cluster for its cost, and kiln's
//! own evaluation is bounded by the schema's limits rather than by the input's size.
//!
//! The bound, as the chart authoring guide states it: what an expression iterates (`all`,
//! `exists`, `exists_one`, `map`, `filter`) must have `maxItems` (a list) or `maxProperties`
//! (a map), and a string function called inside an iteration needs `maxLength` (or an `enum`)
//! on its string. Iterating `values`, `variables` or a literal is the chart's own business and
//! always bounded.

use std::collections::HashMap;

use kube_cel::cel::common::ast::{Expr, IdedExpr};

use super::{Schema, Type};
use crate::finding::FieldPath;

/// String functions whose cost grows with the string's length (of the groups kiln's CEL has).
const STRING_FUNCTIONS: &[&str] = &[
    "matches",
    "find",
    "findAll",
    "contains",
    "startsWith",
    "endsWith",
    "split",
    "replace",
    "indexOf",
    "lastIndexOf",
    "lowerAscii",
    "upperAscii",
    "trim",
    "substring",
    "quantity",
    "isQuantity",
    "semver",
    "isSemver",
];

/// A part of the schema an expression reaches, with its path for messages (`spec.ports[*]`).
#[derive(Clone)]
struct Reached<'s> {
    schema: &'s Schema,
    path: String,
}

type Scope<'s> = HashMap<String, Reached<'s>>;

/// Why an expression's cost has no bound, when it has none: one sentence naming the field and
/// the keyword it needs. `node` is what `self` is, found at `node_path`.
pub fn unbounded(expression: &IdedExpr, node: &Schema, node_path: &str) -> Option<String> {
    let scope = Scope::from([(
        "self".to_owned(),
        Reached {
            schema: node,
            path: node_path.to_owned(),
        },
    )]);
    find(expression, &scope, false)
}

/// The first rule of `schema` whose cost has no bound: where it is written (its `rule` or
/// `messageExpression` key) and why.
pub fn unbounded_rule(schema: &Schema) -> Option<(FieldPath, String)> {
    node(schema, "")
}

fn node(schema: &Schema, path: &str) -> Option<(FieldPath, String)> {
    for rule in &schema.rules {
        let expressions = std::iter::once(("rule", &rule.rule)).chain(
            rule.message_expression
                .iter()
                .map(|e| ("messageExpression", e)),
        );
        for (key, expression) in expressions {
            if let Some(problem) = unbounded(expression.ast(), schema, path) {
                return Some((rule.written_at.key(key), problem));
            }
        }
    }
    let properties = schema
        .properties
        .iter()
        .map(|(name, child)| (child, join(path, name)));
    let elements = schema
        .items
        .iter()
        .chain(&schema.additional_properties)
        .map(|child| (child.as_ref(), format!("{path}[*]")));
    let branches = schema
        .one_of_types
        .iter()
        .map(|branch| (branch, path.to_owned()));
    properties
        .chain(elements)
        .chain(branches)
        .find_map(|(child, child_path)| node(child, &child_path))
}

/// The first unbounded part of `expr`; `in_loop` when it runs once per item of something.
fn find(expr: &IdedExpr, scope: &Scope<'_>, in_loop: bool) -> Option<String> {
    match &expr.expr {
        Expr::Comprehension(comprehension) => {
            let range = &comprehension.iter_range;
            if let Some(problem) = find(range, scope, in_loop) {
                return Some(problem);
            }
            let mut inner = scope.clone();
            inner.remove(&comprehension.accu_var);
            inner.remove(&comprehension.iter_var);
            if let Some(reached) = resolve(range, scope) {
                let schema = reached.schema;
                let (bounded, keyword, element) = match schema.kind {
                    Some(Type::Array) => (
                        schema.max_items.is_some(),
                        "maxItems",
                        schema.items.as_deref(),
                    ),
                    // Iterating a map binds its keys, which the schema does not describe.
                    Some(Type::Object) => (schema.max_properties.is_some(), "maxProperties", None),
                    _ => (true, "", None),
                };
                if !bounded {
                    return Some(format!(
                        "its cost has no bound: it iterates over {path}, which has no {keyword}; \
                         give {path} a {keyword} (the API server refuses a rule whose estimated \
                         cost exceeds its budget)",
                        path = show(&reached.path)
                    ));
                }
                if let Some(element) = element {
                    inner.insert(
                        comprehension.iter_var.clone(),
                        Reached {
                            schema: element,
                            path: format!("{}[*]", reached.path),
                        },
                    );
                }
            }
            [
                &comprehension.loop_cond,
                &comprehension.loop_step,
                &comprehension.result,
            ]
            .into_iter()
            .find_map(|part| find(part, &inner, true))
        }
        Expr::Call(call) => {
            if in_loop
                && STRING_FUNCTIONS.contains(&call.func_name.as_str())
                && let Some(reached) = call.target.as_deref().and_then(|t| resolve(t, scope))
                && reached.schema.kind == Some(Type::String)
                && reached.schema.max_length.is_none()
                && reached.schema.enumeration.is_empty()
            {
                return Some(format!(
                    "its cost has no bound: it calls {function}() on {path} once per item, and \
                     {path} has no maxLength; give it a maxLength (the API server refuses a rule \
                     whose estimated cost exceeds its budget)",
                    function = call.func_name,
                    path = show(&reached.path)
                ));
            }
            parts(expr, scope, in_loop)
        }
        Expr::Select(_) | Expr::List(_) | Expr::Map(_) => parts(expr, scope, in_loop),
        _ => None,
    }
}

/// The first unbounded part of the expressions directly inside `expr`.
fn parts(expr: &IdedExpr, scope: &Scope<'_>, in_loop: bool) -> Option<String> {
    crate::cel::subexpressions(expr)
        .into_iter()
        .find_map(|part| find(part, scope, in_loop))
}

/// The schema node an expression denotes, when it is a chain of fields and indexes from
/// `self` or a loop variable over the schema.
fn resolve<'s>(expr: &IdedExpr, scope: &Scope<'s>) -> Option<Reached<'s>> {
    match &expr.expr {
        Expr::Ident(name) => scope.get(name).cloned(),
        Expr::Select(select) if !select.test => {
            let parent = resolve(&select.operand, scope)?;
            let schema = parent.schema.field(&select.field)?;
            Some(Reached {
                schema,
                path: join(&parent.path, &select.field),
            })
        }
        Expr::Call(call) if call.func_name == "_[_]" && call.args.len() == 2 => {
            let parent = resolve(&call.args[0], scope)?;
            let schema = parent
                .schema
                .items
                .as_deref()
                .or(parent.schema.additional_properties.as_deref())?;
            Some(Reached {
                schema,
                path: format!("{}[*]", parent.path),
            })
        }
        _ => None,
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn show(path: &str) -> &str {
    if path.is_empty() { "the object" } else { path }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The cost check of `source`, parsed as the chart loader parses it.
    fn unbounded(source: &str, node: &Schema, node_path: &str) -> Option<String> {
        let program = kube_cel::cel::Program::compile(source).unwrap();
        super::unbounded(program.expression(), node, node_path)
    }

    fn schema(value: serde_json::Value) -> Schema {
        Schema::parse(&value, &FieldPath::root()).unwrap()
    }

    fn ports(max_items: Option<u64>, name_max: Option<u64>) -> Schema {
        let mut name = json!({"type": "string", "description": "a name"});
        if let Some(max) = name_max {
            name["maxLength"] = json!(max);
        }
        let mut list = json!({"type": "array", "description": "ports", "items": {
            "type": "object", "description": "a port",
            "properties": {"name": name, "port": {"type": "integer", "description": "a port"}}}});
        if let Some(max) = max_items {
            list["maxItems"] = json!(max);
        }
        schema(
            json!({"type": "object", "properties": {"spec": {"type": "object",
            "description": "the spec", "properties": {"ports": list,
            "labels": {"type": "object", "description": "labels",
                       "additionalProperties": {"type": "string", "description": "a value"}}}}}}),
        )
    }

    #[test]
    fn iterating_a_list_without_max_items_is_unbounded_and_names_the_list() {
        let root = ports(None, Some(15));
        let problem =
            unbounded("self.spec.ports.all(p, p.port > 0)", &root, "").expect("unbounded");
        assert!(
            problem.contains("iterates over spec.ports, which has no maxItems"),
            "{problem}"
        );
        assert_eq!(
            unbounded(
                "self.spec.ports.all(p, p.port > 0)",
                &ports(Some(16), None),
                ""
            ),
            None
        );
    }

    #[test]
    fn a_nested_iteration_and_a_map_iteration_are_checked_too() {
        let root = ports(Some(16), Some(15));
        let spec = root.property("spec").unwrap();
        assert_eq!(
            unbounded(
                "self.ports.all(p, self.ports.filter(q, q.port == p.port).size() == 1)",
                spec,
                "spec"
            ),
            None
        );
        let problem = unbounded("self.labels.exists(k, k == 'a')", spec, "spec").unwrap();
        assert!(
            problem.contains("spec.labels, which has no maxProperties"),
            "{problem}"
        );
    }

    #[test]
    fn a_string_function_once_per_item_needs_max_length_on_its_string() {
        let rule = "self.spec.ports.all(p, p.name.matches('^[a-z]+$'))";
        let problem = unbounded(rule, &ports(Some(16), None), "").unwrap();
        assert!(
            problem.contains("calls matches() on spec.ports[*].name once per item"),
            "{problem}"
        );
        assert_eq!(unbounded(rule, &ports(Some(16), Some(15)), ""), None);
        // Outside a loop a string function costs at most the string once: bounded.
        assert_eq!(
            unbounded(
                "self.spec.ports[0].name.matches('a')",
                &ports(None, None),
                ""
            ),
            None
        );
    }

    #[test]
    fn iterating_a_list_that_a_macro_built_from_the_object_checks_its_source() {
        let rule = "self.spec.ports.map(p, p.port).all(x, x > 0)";
        assert!(unbounded(rule, &ports(None, None), "").is_some());
        assert_eq!(unbounded(rule, &ports(Some(4), None), ""), None);
        // Literals, values and variables are the chart's own, and bounded.
        assert_eq!(
            unbounded(
                "[1, 2].all(x, x > 0) && values.list.all(v, v != '')",
                &ports(None, None),
                ""
            ),
            None
        );
    }

    #[test]
    fn every_rule_of_a_schema_is_held_to_the_bound_with_where_it_is_written() {
        let root = schema(json!({"type": "object", "properties": {"items": {
            "type": "array", "description": "things",
            "items": {"type": "string", "description": "a thing"},
            "x-kubernetes-validations": [{"rule": "self.all(x, x != '')"}]}}}));
        let (at, problem) = unbounded_rule(&root).unwrap();
        assert_eq!(
            at.to_string(),
            "properties.items.x-kubernetes-validations[0].rule"
        );
        assert!(problem.contains("iterates over items"), "{problem}");
    }
}
