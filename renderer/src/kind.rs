//! A kind, as a chart defines it: the schema of its objects (with CEL rules), derived
//! defaults and variables (CEL), and which field names an instance. This module compiles
//! those files once per chart and judges one object at a time: schema check, defaults,
//! variables, rules. It knows no kind by name; everything specific is in the chart.

use std::sync::LazyLock;

use serde_json::{Value, json};

use crate::cel::{self, Expression, Scope};
use crate::finding::{FieldPath, Finding, Segment};
use crate::schema::check::{WrittenScalar, apply_defaults, check, lacks_defaults, unknown_field};
use crate::schema::cost;
use crate::schema::rules::{self, RuleFailure};
use crate::schema::{Schema, SchemaError};

/// What Kubernetes itself says about every object, whatever its kind: `metadata` is an
/// ObjectMeta, with a DNS-1123 name and namespace.
static OBJECT_META: LazyLock<Schema> = LazyLock::new(|| {
    let text = |description: &str| json!({"type": "string", "description": description});
    let anything = |description: &str| json!({"x-kubernetes-preserve-unknown-fields": true, "description": description});
    let string_map = |description: &str| {
        json!({"type": "object", "description": description,
               "additionalProperties": {"type": "string", "description": "a value"}})
    };
    let meta = json!({
        "type": "object",
        "description": "standard object metadata",
        "properties": {
            "annotations": string_map("annotations"),
            "creationTimestamp": anything("set by the API server"),
            "deletionGracePeriodSeconds": anything("set by the API server"),
            "deletionTimestamp": anything("set by the API server"),
            "finalizers": {"type": "array", "description": "finalizers", "items": text("a finalizer")},
            "generateName": text("a name prefix"),
            "generation": anything("set by the API server"),
            "labels": string_map("labels"),
            "managedFields": anything("set by the API server"),
            "name": {"type": "string", "format": "dns1123-subdomain", "description": "the object's name"},
            "namespace": {"type": "string", "format": "dns1123-label", "description": "the object's namespace"},
            "ownerReferences": anything("set by controllers"),
            "resourceVersion": anything("set by the API server"),
            "selfLink": anything("set by the API server"),
            "uid": anything("set by the API server")
        }
    });
    Schema::parse(&meta, &FieldPath::root()).expect("ObjectMeta's schema is valid")
});

/// A default computed from other fields: set when the field is absent and the expression
/// gives something other than null.
#[derive(Debug)]
pub struct DerivedDefault {
    pub field: FieldPath,
    pub expression: Expression,
    /// Where it is written, for messages about it.
    pub written_at: FieldPath,
}

/// A named value computed once per object, for rules (`variables.NAME`) and templates.
#[derive(Debug)]
pub struct Variable {
    pub name: String,
    pub expression: Expression,
    pub written_at: FieldPath,
}

/// The compiled definition of a kind.
#[derive(Debug)]
pub struct KindDefinition {
    /// `None`: the chart has no schema, and any `spec` mapping is accepted.
    pub schema: Option<Schema>,
    pub defaults: Vec<DerivedDefault>,
    pub variables: Vec<Variable>,
    /// Per variable: whether a rule reads it, directly or through another variable. Only
    /// those are evaluated when an object is judged but not rendered (the webhook's
    /// /validate); the others feed templates only, and rendering evaluates them.
    rules_read: Vec<bool>,
    /// The field whose value names an instance (its folder in the output, its objects).
    pub instance_field: FieldPath,
    /// The chart's values bound as `values`, once: every evaluation opens a child of it.
    values: Scope<'static>,
}

/// Something in a chart's definition files that cannot work, with where it is.
#[derive(Debug, Clone)]
pub struct DefinitionError {
    pub file: &'static str,
    pub at: FieldPath,
    pub message: String,
}

/// A problem that is the chart's, found while judging an object: which file, where in it.
pub type ChartFailure = DefinitionError;

/// What judging one object found.
#[derive(Debug, Default)]
pub struct Judgement {
    pub findings: Vec<Finding>,
    /// The object with the defaults that applied; `None` when none applied (the object as
    /// written is the defaulted one, as it is after the webhook's /mutate) or it is not a
    /// mapping.
    pub defaulted: Option<Value>,
    /// `variables.NAME` for templates, as a JSON mapping.
    pub variables: Value,
    /// Rules, defaults or variables that could not be evaluated on a valid-looking object.
    pub failures: Vec<ChartFailure>,
}

const DERIVED_VARIABLES: &[&str] = &[cel::SELF, cel::VALUES];
const VARIABLE_VARIABLES: &[&str] = &[cel::SELF, cel::VALUES, cel::VARIABLES];

impl KindDefinition {
    /// Compiles a kind from its chart's files: `schema` (the openAPIV3Schema, optional),
    /// `defaults` and `variables` (lists, optional) and chart values.
    pub fn compile(
        schema: Option<&Value>,
        defaults: Option<&Value>,
        variables: Option<&Value>,
        instance_field: Option<&str>,
        values: &Value,
    ) -> Result<KindDefinition, DefinitionError> {
        let schema = match schema {
            None => None,
            Some(value) => Some(Schema::parse(value, &FieldPath::root()).map_err(
                |SchemaError { at, message }| DefinitionError {
                    file: "schema.yaml",
                    at,
                    message,
                },
            )?),
        };
        if let Some(schema) = &schema
            && schema.kind != Some(crate::schema::Type::Object)
        {
            return Err(DefinitionError {
                file: "schema.yaml",
                at: FieldPath::root(),
                message: "the schema of an object must have type: object".into(),
            });
        }
        if let Some((at, message)) = schema.as_ref().and_then(cost::unbounded_rule) {
            return Err(DefinitionError {
                file: "schema.yaml",
                at,
                message,
            });
        }
        let defaults = list(
            defaults,
            "defaults.yaml",
            &["field", "expression", "description"],
        )?
        .into_iter()
        .map(|(at, entry)| {
            let field_text = entry_text(&entry, "field", "defaults.yaml", &at)?;
            let field = FieldPath::parse(&field_text)
                .filter(|f| !f.is_root())
                .ok_or_else(|| DefinitionError {
                    file: "defaults.yaml",
                    at: at.key("field"),
                    message: "must be a field path such as spec.fullName".into(),
                })?;
            if let Some(schema) = &schema
                && schema.at(&field).is_none()
                && field.segments().first() != Some(&Segment::Key("metadata".into()))
            {
                return Err(DefinitionError {
                    file: "defaults.yaml",
                    at: at.key("field"),
                    message: format!("{field} is not a field of the schema"),
                });
            }
            let expression = compile(
                &entry,
                "defaults.yaml",
                &at,
                DERIVED_VARIABLES,
                schema.as_ref(),
            )?;
            Ok(DerivedDefault {
                field,
                expression,
                written_at: at,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
        let mut names: Vec<String> = Vec::new();
        let variables = list(
            variables,
            "variables.yaml",
            &["name", "expression", "description"],
        )?
        .into_iter()
        .map(|(at, entry)| {
            let name = entry_text(&entry, "name", "variables.yaml", &at)?;
            let identifier = !name.is_empty()
                && name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !identifier || names.contains(&name) {
                return Err(DefinitionError {
                    file: "variables.yaml",
                    at: at.key("name"),
                    message: "must be a CEL identifier used by no other variable".into(),
                });
            }
            names.push(name.clone());
            let expression = compile(
                &entry,
                "variables.yaml",
                &at,
                VARIABLE_VARIABLES,
                schema.as_ref(),
            )?;
            Ok(Variable {
                name,
                expression,
                written_at: at,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
        let instance_field = match instance_field {
            None => FieldPath::of(&["metadata", "name"]),
            Some(text) => FieldPath::parse(text)
                .filter(|f| !f.is_root())
                .ok_or_else(|| DefinitionError {
                    file: "chart.yaml",
                    at: FieldPath::of(&["instanceName"]),
                    message: "must be a field path such as spec.fullName".into(),
                })?,
        };
        Ok(KindDefinition {
            rules_read: variables_rules_read(schema.as_ref(), &variables),
            schema,
            defaults,
            variables,
            instance_field,
            values: Scope::root().with(cel::VALUES, values),
        })
    }

    /// Checks an object, applies its defaults and runs its rules. `for_rendering` evaluates
    /// every variable; without it, only those the rules read (`Judgement::variables` then
    /// holds only those).
    pub fn judge(
        &self,
        written: &Value,
        scalar: WrittenScalar<'_>,
        for_rendering: bool,
    ) -> Judgement {
        let mut judgement = Judgement {
            variables: Value::Object(Default::default()),
            ..Judgement::default()
        };
        let Some(fields) = written.as_object() else {
            judgement.findings.push(
                Finding::error(
                    "field-type",
                    FieldPath::root(),
                    "the document must be a mapping",
                )
                .got(written),
            );
            return judgement;
        };
        let mut findings = self.check_envelope(fields, scalar);
        // On an object that already broke the schema, a failing expression is a consequence.
        let schema_broken = findings.iter().any(Finding::is_error);
        let mut failures = Vec::new();
        let defaulted = self.with_defaults(written, &mut failures);
        let object = defaulted.as_ref().unwrap_or(written);
        let variables = self.evaluate_variables(object, for_rendering, &mut failures);
        if let Some(schema) = &self.schema {
            let (rule_findings, rule_failures) =
                rules::run(schema, object, written, &self.values, &variables);
            // A field that broke the schema reads wrongly to the rules; its schema finding is
            // the one worth showing for it.
            let broken: Vec<FieldPath> = findings.iter().map(|f| f.field.clone()).collect();
            findings.extend(
                rule_findings
                    .into_iter()
                    .filter(|finding| !broken.contains(&finding.field)),
            );
            failures.extend(rule_failures.into_iter().map(
                |RuleFailure {
                     written_at,
                     node,
                     message,
                 }| DefinitionError {
                    file: "schema.yaml",
                    at: written_at,
                    message: format!("cannot be evaluated at {}: {message}", show(&node)),
                },
            ));
        }
        if !schema_broken {
            judgement.failures = failures;
        }
        judgement.findings = findings;
        judgement.defaulted = defaulted;
        judgement.variables = variables;
        judgement
    }

    /// Top-level fields, metadata and the chart's schema; every finding at once.
    fn check_envelope(
        &self,
        fields: &serde_json::Map<String, Value>,
        scalar: WrittenScalar<'_>,
    ) -> Vec<Finding> {
        let root = FieldPath::root();
        let mut findings = Vec::new();
        let declared: Vec<&str> = self
            .schema
            .as_ref()
            .map(|s| s.properties.names().collect())
            .unwrap_or_default();
        let mut known = vec!["apiVersion", "kind", "metadata", "spec", "status"];
        for name in declared {
            if !known.contains(&name) {
                known.push(name);
            }
        }
        for (name, value) in fields {
            let path = root.key(name);
            match name.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => findings.extend(check(&OBJECT_META, value, &path, scalar)),
                _ => match self.schema.as_ref().and_then(|s| s.property(name)) {
                    Some(schema) => findings.extend(check(schema, value, &path, scalar)),
                    None if name == "spec" => {
                        if !value.is_object() {
                            findings.push(
                                Finding::error("field-type", path, "must be a mapping").got(value),
                            );
                        }
                    }
                    None => findings.push(unknown_field(path, name, &known)),
                },
            }
        }
        if fields.get("metadata").and_then(|m| m.get("name")).is_none() {
            findings.push(Finding::error(
                "required",
                root.key("metadata").key("name"),
                "is required",
            ));
        }
        let required: Vec<&str> = match &self.schema {
            Some(schema) => schema.required.iter().map(String::as_str).collect(),
            None => vec!["spec"],
        };
        for name in required {
            if !fields.contains_key(name) {
                findings.push(Finding::error("required", root.key(name), "is required"));
            }
        }
        findings
    }

    /// The object with static and derived defaults applied, and nothing else changed.
    /// Fields that are present, even with a wrong type, are left alone.
    pub fn defaults_of(&self, written: &Value) -> Value {
        self.with_defaults(written, &mut Vec::new())
            .unwrap_or_else(|| written.clone())
    }

    /// `written` with the defaults that apply, or `None` when none does: the copy is made at
    /// the first default that applies, so an object that has them all is never copied.
    fn with_defaults(&self, written: &Value, failures: &mut Vec<ChartFailure>) -> Option<Value> {
        let mut copy: Option<Value> = None;
        if let Some(schema) = &self.schema
            && let Some(fields) = written.as_object()
        {
            let with_defaults = schema.properties.iter().filter(|(_, c)| c.defaults_below);
            for (name, child) in with_defaults {
                let Some(value) = crate::fields::get(fields, name) else {
                    continue;
                };
                if !lacks_defaults(child, value) {
                    debug_assert!(
                        !apply_defaults(child, &mut value.clone()),
                        "lacks_defaults missed a default below {name}"
                    );
                    continue;
                }
                let copy = copy.get_or_insert_with(|| written.clone());
                if let Some(value) = copy
                    .as_object_mut()
                    .and_then(|fields| crate::fields::get_mut(fields, name))
                {
                    apply_defaults(child, value);
                }
            }
        }
        for default in &self.defaults {
            let object = copy.as_ref().unwrap_or(written);
            if default.field.lookup(object).is_some() {
                continue;
            }
            match default
                .expression
                .eval_json(&self.values, &[(cel::SELF, object)])
            {
                Ok(value) => match value {
                    Some(Value::Null) => {}
                    Some(json) => set_path(
                        copy.get_or_insert_with(|| written.clone()),
                        &default.field,
                        json,
                    ),
                    None => failures.push(DefinitionError {
                        file: "defaults.yaml",
                        at: default.written_at.clone(),
                        message: "gave a value that is not JSON".into(),
                    }),
                },
                Err(message) => failures.push(DefinitionError {
                    file: "defaults.yaml",
                    at: default.written_at.clone(),
                    message: format!("cannot be evaluated: {message}"),
                }),
            }
        }
        copy
    }

    fn evaluate_variables(
        &self,
        object: &Value,
        all: bool,
        failures: &mut Vec<ChartFailure>,
    ) -> Value {
        let mut results = Value::Object(serde_json::Map::new());
        for (variable, read) in self.variables.iter().zip(&self.rules_read) {
            if !all && !read {
                continue;
            }
            let inputs = [(cel::SELF, object), (cel::VARIABLES, &results)];
            let value = match variable.expression.eval_json(&self.values, &inputs) {
                Ok(value) => value.unwrap_or(Value::Null),
                Err(message) => {
                    failures.push(DefinitionError {
                        file: "variables.yaml",
                        at: variable.written_at.clone(),
                        message: format!("cannot be evaluated: {message}"),
                    });
                    Value::Null
                }
            };
            if let Value::Object(fields) = &mut results {
                fields.insert(variable.name.clone(), value);
            }
        }
        results
    }
}

/// Which variables the rules and their messages read, directly or through variables that
/// read them. An expression that reads `variables` whole reads them all.
fn variables_rules_read(schema: Option<&Schema>, variables: &[Variable]) -> Vec<bool> {
    fn mark(expression: &Expression, variables: &[Variable], read: &mut [bool]) {
        match expression.fields_read(cel::VARIABLES) {
            None => read.fill(true),
            Some(names) => {
                for name in names {
                    if let Some(index) = variables.iter().position(|v| v.name == name) {
                        read[index] = true;
                    }
                }
            }
        }
    }
    let mut read = vec![false; variables.len()];
    for rule in schema.map(Schema::all_rules).unwrap_or_default() {
        for expression in std::iter::once(&rule.rule).chain(&rule.message_expression) {
            mark(expression, variables, &mut read);
        }
    }
    // A variable reads those before it: going back, each one read marks what it reads.
    for index in (0..variables.len()).rev() {
        if read[index] {
            mark(&variables[index].expression, variables, &mut read);
        }
    }
    read
}

/// Sets `path` in `object`, creating the mappings on the way; a non-mapping in the way wins.
fn set_path(object: &mut Value, path: &FieldPath, value: Value) {
    let Some((last, parents)) = path.segments().split_last() else {
        return;
    };
    let mut node = object;
    for segment in parents {
        let Segment::Key(key) = segment else { return };
        let Some(fields) = node.as_object_mut() else {
            return;
        };
        // Most steps exist (spec); looking them up costs no hashing and no key copy.
        if crate::fields::get(fields, key).is_none() {
            fields.insert(key.clone(), json!({}));
        }
        let Some(next) = crate::fields::get_mut(fields, key) else {
            return;
        };
        node = next;
    }
    if let (Segment::Key(key), Some(fields)) = (last, node.as_object_mut()) {
        fields.entry(key.clone()).or_insert(value);
    }
}

fn show(path: &FieldPath) -> String {
    if path.is_root() {
        "the object".into()
    } else {
        path.to_string()
    }
}

/// The entries of a list file, each with where it is.
type Entries = Vec<(FieldPath, serde_json::Map<String, Value>)>;

fn list(
    value: Option<&Value>,
    file: &'static str,
    keys: &[&str],
) -> Result<Entries, DefinitionError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(items) = value.as_array() else {
        return Err(DefinitionError {
            file,
            at: FieldPath::root(),
            message: "must be a list".into(),
        });
    };
    let mut entries = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let at = FieldPath::root().index(index);
        let Some(fields) = item.as_object() else {
            return Err(DefinitionError {
                file,
                at,
                message: "must be a mapping".into(),
            });
        };
        for key in fields.keys() {
            if !keys.contains(&key.as_str()) {
                let hint = crate::suggest::did_you_mean(key, keys);
                return Err(DefinitionError {
                    file,
                    at: at.key(key),
                    message: format!("unknown key{hint}"),
                });
            }
        }
        entries.push((at, fields.clone()));
    }
    Ok(entries)
}

fn entry_text(
    entry: &serde_json::Map<String, Value>,
    key: &str,
    file: &'static str,
    at: &FieldPath,
) -> Result<String, DefinitionError> {
    entry
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| DefinitionError {
            file,
            at: at.key(key),
            message: "is required, as a string".into(),
        })
}

/// Compiles an entry's `expression`, with `self` the whole object of `schema`, and holds it
/// to the schema's cost bound.
fn compile(
    entry: &serde_json::Map<String, Value>,
    file: &'static str,
    at: &FieldPath,
    allowed: &[&'static str],
    schema: Option<&Schema>,
) -> Result<Expression, DefinitionError> {
    let source = entry_text(entry, "expression", file, at)?;
    let expression = Expression::compile(&source, allowed).map_err(|error| DefinitionError {
        file,
        at: at.key("expression"),
        message: format!("does not compile: {}", error.0),
    })?;
    if let Some(message) = schema.and_then(|schema| cost::unbounded(expression.ast(), schema, "")) {
        return Err(DefinitionError {
            file,
            at: at.key("expression"),
            message,
        });
    }
    Ok(expression)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::KindDefinition;
    use crate::FieldPath;

    fn definition(rules: serde_json::Value) -> KindDefinition {
        let schema = json!({"type": "object", "description": "d", "properties": {"spec": {
            "type": "object",
            "description": "d",
            "properties": {"n": {"type": "integer", "description": "d"}},
            "x-kubernetes-validations": rules,
        }}});
        let variables = json!([
            {"name": "a", "expression": "self.spec.n"},
            {"name": "b", "expression": "variables.a + 1"},
            {"name": "c", "expression": "variables.b * 2"},
            {"name": "d", "expression": "'only for templates'"},
        ]);
        KindDefinition::compile(Some(&schema), None, Some(&variables), None, &json!({}))
            .expect("the definition compiles")
    }

    fn judged(definition: &KindDefinition, for_rendering: bool) -> serde_json::Value {
        let object = json!({"apiVersion": "x/v1", "kind": "X", "spec": {"n": 1}});
        let judgement = definition.judge(&object, &|_: &FieldPath| None, for_rendering);
        assert!(judgement.failures.is_empty(), "{:?}", judgement.failures);
        judgement.variables
    }

    #[test]
    fn an_object_judged_but_not_rendered_gets_only_the_variables_its_rules_read() {
        let definition = definition(json!([{"rule": "variables.b > 0", "message": "m"}]));
        assert_eq!(definition.rules_read, [true, true, false, false]);
        assert_eq!(judged(&definition, false), json!({"a": 1, "b": 2}));
        assert_eq!(
            judged(&definition, true),
            json!({"a": 1, "b": 2, "c": 4, "d": "only for templates"})
        );
    }

    #[test]
    fn messages_and_whole_reads_count_as_reads() {
        let message = json!([{"rule": "self.n > 0", "messageExpression": "string(variables.c)"}]);
        assert_eq!(definition(message).rules_read, [true, true, true, false]);
        let whole = json!([{"rule": "size(variables) > 0", "message": "m"}]);
        assert_eq!(definition(whole).rules_read, [true; 4]);
        let none = json!([{"rule": "self.n > 0", "message": "m"}]);
        assert_eq!(definition(none).rules_read, [false; 4]);
    }
}
