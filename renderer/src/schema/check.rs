//! Checking a value against a schema: unknown fields (with the closest known name), types,
//! required fields, ranges, lengths, enums, patterns and kiln's formats, every problem at
//! once. Also the static `default`s, applied as the API server applies them: only where the
//! parent object exists and the field does not.

use serde_json::Value;

use super::{Schema, Type};
use crate::finding::{FieldPath, Finding, PathRef};
use crate::formats;
use crate::suggest::closest;

/// Reads a scalar as it was written in its file (`1.10`, where YAML made the number 1.1).
pub type WrittenScalar<'a> = &'a dyn Fn(&FieldPath) -> Option<String>;

/// Every finding about `value` at `path` against `schema`.
pub fn check(
    schema: &Schema,
    value: &Value,
    path: &FieldPath,
    written: WrittenScalar<'_>,
) -> Vec<Finding> {
    let mut checker = Checker {
        findings: Vec::new(),
        written,
    };
    checker.node(schema, value, &PathRef::At(path));
    checker.findings
}

struct Checker<'w> {
    findings: Vec<Finding>,
    written: WrittenScalar<'w>,
}

impl Checker<'_> {
    fn node(&mut self, schema: &Schema, value: &Value, path: &PathRef<'_>) {
        if value.is_null() && schema.nullable {
            return;
        }
        if !schema.one_of_types.is_empty() {
            match schema.branch_for(value) {
                Some(branch) => self.node(branch, value, path),
                None => self.push(
                    Finding::error(
                        "field-type",
                        path.to_path(),
                        format!("must be {}", describe_branches(&schema.one_of_types)),
                    )
                    .got(value),
                ),
            }
            return;
        }
        if !self.type_ok(schema, value, path) {
            return;
        }
        if let Some(format) = schema.format
            && let Some(finding) = formats::check(format, value, path)
        {
            self.push(finding);
            return;
        }
        match value {
            Value::Object(fields) => self.object(schema, fields, path),
            Value::Array(items) => {
                self.count(
                    schema.min_items,
                    schema.max_items,
                    items.len(),
                    "items",
                    path,
                );
                if let Some(item_schema) = &schema.items {
                    for (index, item) in items.iter().enumerate() {
                        self.node(item_schema, item, &path.index(index));
                    }
                }
            }
            Value::String(text) => {
                let length = text.chars().count() as u64;
                if let Some(max) = schema.max_length
                    && length > max
                {
                    self.push(
                        Finding::error(
                            "length",
                            path.to_path(),
                            format!("must be at most {max} characters (it has {length})"),
                        )
                        .got(value),
                    );
                } else if let Some(min) = schema.min_length
                    && length < min
                {
                    let message = if min == 1 {
                        "must not be empty".to_owned()
                    } else {
                        format!("must be at least {min} characters")
                    };
                    self.push(Finding::error("length", path.to_path(), message).got(value));
                } else if let Some(pattern) = &schema.pattern
                    && !pattern.is_match(text)
                {
                    self.push(
                        Finding::error(
                            "pattern",
                            path.to_path(),
                            format!("must match the pattern {}", pattern.as_str()),
                        )
                        .got(value),
                    );
                }
            }
            Value::Number(number) => {
                self.range(schema, number.as_f64().unwrap_or(0.0), path, value)
            }
            _ => {}
        }
        if !schema.enumeration.is_empty() && !schema.enumeration.contains(value) {
            let allowed: Vec<String> = schema.enumeration.iter().map(Value::to_string).collect();
            self.push(
                Finding::error(
                    "enum",
                    path.to_path(),
                    format!("must be one of {}", allowed.join(", ")),
                )
                .got(value),
            );
        }
    }

    /// Reports a value of the wrong type; true when the type is right.
    fn type_ok(&mut self, schema: &Schema, value: &Value, path: &PathRef<'_>) -> bool {
        if schema.int_or_string {
            let numbers_ok = schema.format.is_some_and(formats::accepts_numbers);
            let ok = value.is_string()
                || value.is_i64()
                || value.is_u64()
                || (numbers_ok && value.is_number());
            if !ok {
                let message = if numbers_ok {
                    "must be a quantity such as 500m, 2 or 4Gi"
                } else {
                    "must be an integer or a string"
                };
                self.push(Finding::error("field-type", path.to_path(), message).got(value));
            }
            return ok;
        }
        let Some(kind) = schema.kind else {
            return true; // x-kubernetes-preserve-unknown-fields: anything goes
        };
        if kind.matches(value) {
            return true;
        }
        let finding = match (kind, value) {
            // YAML made a number of what the author meant as text: `1.10` is 1.1.
            (Type::String, Value::Number(number)) => {
                let field = path.to_path();
                let as_written = (self.written)(&field).unwrap_or_else(|| number.to_string());
                Finding::error("field-type", field, "must be a quoted string")
                    .got(number)
                    .hint(format!(
                        "write \"{as_written}\"; unquoted, YAML reads 1.10 as the number 1.1"
                    ))
            }
            // Quotes made text of what the author meant as a flag or a number: `'true'`.
            (Type::Boolean | Type::Integer | Type::Number, Value::String(text))
                if quoted_scalar_fits(kind, text) =>
            {
                Finding::error(
                    "field-type",
                    path.to_path(),
                    format!("must be {}, not a string", type_name(kind)),
                )
                .got(value)
                .hint(format!("write {} without quotes", text.trim()))
            }
            (Type::Object, _) => {
                let what = if path.is_root() {
                    "the document"
                } else {
                    "this field"
                };
                Finding::error(
                    "field-type",
                    path.to_path(),
                    format!("{what} must be a mapping"),
                )
                .got(value)
            }
            _ => Finding::error(
                "field-type",
                path.to_path(),
                format!("must be {}", type_name(kind)),
            )
            .got(value),
        };
        self.push(finding);
        false
    }

    fn object(
        &mut self,
        schema: &Schema,
        fields: &serde_json::Map<String, Value>,
        path: &PathRef<'_>,
    ) {
        if schema.additional_properties.is_some() {
            self.count(
                schema.min_properties,
                schema.max_properties,
                fields.len(),
                "entries",
                path,
            );
        }
        for (name, child) in fields {
            match schema.property(name) {
                Some(child_schema) => self.node(child_schema, child, &path.key(name)),
                None if schema.preserve_unknown_fields => {}
                None => {
                    let known: Vec<&str> = schema.properties.names().collect();
                    self.push(unknown_field(path.key(name).to_path(), name, &known));
                }
            }
        }
        for name in &schema.required {
            if crate::fields::get(fields, name).is_none() {
                self.push(Finding::error(
                    "required",
                    path.key(name).to_path(),
                    "is required",
                ));
            }
        }
    }

    fn range(&mut self, schema: &Schema, number: f64, path: &PathRef<'_>, value: &Value) {
        let message = match (schema.minimum, schema.maximum) {
            (Some(min), _) if number < min || (schema.exclusive_minimum && number == min) => {
                let bound = show_number(min);
                if schema.exclusive_minimum {
                    format!("must be more than {bound}")
                } else {
                    format!("must be at least {bound}")
                }
            }
            (_, Some(max)) if number > max || (schema.exclusive_maximum && number == max) => {
                let bound = show_number(max);
                if schema.exclusive_maximum {
                    format!("must be less than {bound}")
                } else {
                    format!("must be at most {bound}")
                }
            }
            _ => return,
        };
        self.push(Finding::error("range", path.to_path(), message).got(value));
    }

    fn count(
        &mut self,
        min: Option<u64>,
        max: Option<u64>,
        count: usize,
        what: &str,
        path: &PathRef<'_>,
    ) {
        let count = count as u64;
        let message = match (min, max) {
            (_, Some(max)) if count > max => {
                format!("must have at most {max} {what} (it has {count})")
            }
            (Some(min), _) if count < min => {
                format!("must have at least {min} {what} (it has {count})")
            }
            _ => return,
        };
        self.push(Finding::error("length", path.to_path(), message));
    }

    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// Fills static defaults into `value` where its schema has them: a field is defaulted when
/// its parent object is present and it is not. Returns true when anything changed.
pub fn apply_defaults(schema: &Schema, value: &mut Value) -> bool {
    let schema = schema.branch_for(value).unwrap_or(schema);
    let mut changed = false;
    match value {
        Value::Object(fields) => {
            let with_defaults = schema.properties.iter().filter(|(_, c)| c.defaults_below);
            for (name, child) in with_defaults {
                if let Some(present) = crate::fields::get_mut(fields, name) {
                    changed |= apply_defaults(child, present);
                } else if let Some(default) = &child.default {
                    let mut default = default.clone();
                    apply_defaults(child, &mut default);
                    fields.insert(name.to_owned(), default);
                    changed = true;
                }
            }
            if let Some(each) = schema
                .additional_properties
                .as_deref()
                .filter(|e| e.defaults_below)
            {
                for child in fields.values_mut() {
                    changed |= apply_defaults(each, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(each) = schema.items.as_deref().filter(|e| e.defaults_below) {
                for item in items {
                    changed |= apply_defaults(each, item);
                }
            }
        }
        _ => {}
    }
    changed
}

/// True when [`apply_defaults`] would change `value`: some field it lacks has a default.
pub fn lacks_defaults(schema: &Schema, value: &Value) -> bool {
    let schema = schema.branch_for(value).unwrap_or(schema);
    match value {
        Value::Object(fields) => {
            schema
                .properties
                .iter()
                .filter(|(_, child)| child.defaults_below)
                .any(|(name, child)| match crate::fields::get(fields, name) {
                    Some(present) => lacks_defaults(child, present),
                    None => child.default.is_some(),
                })
                || schema
                    .additional_properties
                    .as_deref()
                    .filter(|each| each.defaults_below)
                    .is_some_and(|each| fields.values().any(|child| lacks_defaults(each, child)))
        }
        Value::Array(items) => schema
            .items
            .as_deref()
            .filter(|each| each.defaults_below)
            .is_some_and(|each| items.iter().any(|item| lacks_defaults(each, item))),
        _ => false,
    }
}

/// `unknown field`, with the closest known name or, failing that, the list of known ones.
pub fn unknown_field(field: FieldPath, name: &str, known: &[&str]) -> Finding {
    let finding = Finding::error("unknown-field", field, "unknown field");
    match closest(name, known) {
        Some(candidate) => finding.hint(format!("did you mean `{candidate}`?")),
        None if known.is_empty() => finding,
        None => finding.hint(format!("known fields: {}", known.join(", "))),
    }
}

/// True when a quoted value would have been of `kind` without its quotes.
fn quoted_scalar_fits(kind: Type, text: &str) -> bool {
    let text = text.trim();
    match kind {
        Type::Boolean => text == "true" || text == "false",
        Type::Integer => text.parse::<i64>().is_ok(),
        Type::Number => text.parse::<f64>().is_ok_and(f64::is_finite),
        _ => false,
    }
}

fn type_name(kind: Type) -> &'static str {
    match kind {
        Type::Object => "a mapping",
        Type::Array => "a list",
        Type::String => "a string",
        Type::Integer => "an integer",
        Type::Number => "a number",
        Type::Boolean => "true or false",
    }
}

/// `true, false or an object {minReplicas, maxReplicas}` for a field of several shapes.
fn describe_branches(branches: &[Schema]) -> String {
    let mut shapes: Vec<String> = Vec::new();
    for branch in branches {
        match branch.kind {
            Some(Type::Boolean) => shapes.extend(["true".to_owned(), "false".to_owned()]),
            Some(Type::Object) if !branch.properties.is_empty() => {
                let names: Vec<&str> = branch.properties.names().collect();
                shapes.push(format!("an object {{{}}}", names.join(", ")));
            }
            Some(Type::Object) => shapes.push("an object".into()),
            Some(kind) => shapes.push(type_name(kind).into()),
            None => {}
        }
    }
    match shapes.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "something else".into(),
    }
}

fn show_number(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        number.to_string()
    }
}
