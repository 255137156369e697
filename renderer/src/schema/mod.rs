//! Schemas: a chart's description of its kind, in the OpenAPI v3 dialect of CustomResource
//! Definitions (structural: every node has a type), with the node's CEL rules as
//! `x-kubernetes-validations`. This module owns reading a schema file into `Schema` nodes and
//! refusing what kiln cannot honour; `check` judges values against it, `rules` runs the CEL.
//!
//! kiln adds a few keys to a validation rule (`severity`, `hint`, `id`, `showValue`) and one
//! shape to nodes: `anyOf` branches with their own `type` on an
//! `x-kubernetes-preserve-unknown-fields` node, for a field that is either a flag or an object.
//! `kiln crd` leaves both out of what it gives the API server.

pub mod check;
pub mod cost;
pub mod properties;
pub mod rules;

use serde_json::{Map, Value};

use crate::cel::{self, CompileError, Expression};
use crate::finding::{FieldPath, Severity};
use crate::formats;
pub use properties::Properties;

/// One node of a schema.
///
/// The fields are laid out in the order a review reads them (`repr(C)` keeps that order):
/// every node visited reads its first 64 bytes (type, flags, format, the links to the nodes
/// below), an object node then its properties and rules, a leaf its bounds; what only
/// messages and exports read comes last. In a server, every line of a node a review reads is
/// a cache miss, so a review reads two or three of a node's eight lines. Nodes start on a
/// line (`align(64)`), so the first 64 bytes are one line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct Schema {
    pub kind: Option<Type>,
    pub nullable: bool,
    pub int_or_string: bool,
    pub preserve_unknown_fields: bool,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    /// Whether this node or a node under it has a rule: `rules::run` skips the rest.
    pub rules_below: bool,
    /// Whether this node or a node under it has a static `default`: applying defaults skips
    /// the rest.
    pub defaults_below: bool,
    /// One of the names in [`formats::KILN_FORMATS`] or [`formats::PASSED_THROUGH`].
    pub format: Option<&'static str>,
    pub items: Option<Box<Schema>>,
    pub additional_properties: Option<Box<Schema>>,
    pub one_of_types: Vec<Schema>,
    /// In the order written, so lists of known fields read as the chart author wrote them.
    pub properties: Properties,
    pub rules: Vec<Rule>,
    pub required: Vec<String>,
    pub enumeration: Vec<Value>,
    pub max_length: Option<u64>,
    pub min_length: Option<u64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub pattern: Option<crate::pattern::Pattern>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub default: Option<Value>,
    pub description: Option<String>,
}

/// The JSON types a structural schema names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Type {
    fn parse(text: &str) -> Option<Type> {
        Some(match text {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            _ => return None,
        })
    }

    pub fn matches(self, value: &Value) -> bool {
        match self {
            Type::Object => value.is_object(),
            Type::Array => value.is_array(),
            Type::String => value.is_string(),
            Type::Integer => value.is_i64() || value.is_u64(),
            Type::Number => value.is_number(),
            Type::Boolean => value.is_boolean(),
        }
    }
}

/// One CEL validation rule of a node: `self` is the node's value; it runs only when the
/// node is present, as in the API server. `rule` comes first (`repr(C)`): a rule that holds
/// reads nothing else.
#[derive(Debug)]
#[repr(C)]
pub struct Rule {
    pub rule: Expression,
    pub id: String,
    pub message: Option<String>,
    pub message_expression: Option<Expression>,
    /// Relative to the node; where the finding points.
    pub field_path: FieldPath,
    pub reason: Option<String>,
    pub severity: Severity,
    pub hint: Option<String>,
    /// Whether the finding quotes the value at `field_path` (off for secrets and big text).
    pub show_value: bool,
    /// Where the rule is written in the schema file, for messages about the rule itself.
    pub written_at: FieldPath,
}

/// A schema the chart cannot use: where in the schema file, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub at: FieldPath,
    pub message: String,
}

/// The variables a node's rule may read.
pub const RULE_VARIABLES: &[&str] = &[cel::SELF, cel::VALUES, cel::VARIABLES];

const NODE_KEYS: &[&str] = &[
    "type",
    "description",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "anyOf",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "format",
    "default",
    "nullable",
    "example",
    "title",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-embedded-resource",
];

/// The keys of a rule the API server knows.
pub const API_RULE_KEYS: &[&str] = &[
    "rule",
    "message",
    "messageExpression",
    "fieldPath",
    "reason",
    "optionalOldSelf",
];

/// The keys kiln adds to a rule; `kiln crd` leaves them out.
pub const KILN_RULE_KEYS: &[&str] = &["severity", "hint", "id", "showValue"];

const REASONS: &[&str] = &[
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

impl Schema {
    /// Reads a schema; `at` is where `value` sits in its file.
    pub fn parse(value: &Value, at: &FieldPath) -> Result<Schema, SchemaError> {
        let error = |path: FieldPath, message: String| SchemaError { at: path, message };
        let Some(node) = value.as_object() else {
            return Err(error(at.clone(), "a schema node must be a mapping".into()));
        };
        for key in node.keys() {
            if !NODE_KEYS.contains(&key.as_str()) {
                let hint = crate::suggest::did_you_mean(key, NODE_KEYS);
                return Err(error(
                    at.key(key),
                    format!("is not a schema keyword kiln knows{hint}"),
                ));
            }
        }
        let mut schema = Schema {
            description: text(node, "description", at)?,
            nullable: flag(node, "nullable", at)?,
            int_or_string: flag(node, "x-kubernetes-int-or-string", at)?,
            preserve_unknown_fields: flag(node, "x-kubernetes-preserve-unknown-fields", at)?,
            minimum: number(node, "minimum", at)?,
            maximum: number(node, "maximum", at)?,
            exclusive_minimum: flag(node, "exclusiveMinimum", at)?,
            exclusive_maximum: flag(node, "exclusiveMaximum", at)?,
            min_length: count(node, "minLength", at)?,
            max_length: count(node, "maxLength", at)?,
            min_items: count(node, "minItems", at)?,
            max_items: count(node, "maxItems", at)?,
            min_properties: count(node, "minProperties", at)?,
            max_properties: count(node, "maxProperties", at)?,
            default: node.get("default").cloned(),
            ..Schema::default()
        };
        if let Some(kind) = node.get("type") {
            let name = kind.as_str().unwrap_or_default();
            schema.kind = Some(Type::parse(name).ok_or_else(|| {
                error(
                    at.key("type"),
                    "must be one of object, array, string, integer, number, boolean".into(),
                )
            })?);
        }
        if let Some(format) = text(node, "format", at)? {
            schema.format = Some(formats::known(&format).ok_or_else(|| {
                let names: Vec<&str> = formats::KILN_FORMATS.iter().map(|(n, _)| *n).collect();
                error(
                    at.key("format"),
                    format!(
                        "kiln does not know format {format:?}; kiln checks {}",
                        names.join(", ")
                    ),
                )
            })?);
        }
        if let Some(pattern) = text(node, "pattern", at)? {
            schema.pattern = Some(crate::pattern::Pattern::new(&pattern).map_err(|e| {
                error(
                    at.key("pattern"),
                    format!("is not a valid regular expression: {e}"),
                )
            })?);
        }
        if let Some(values) = node.get("enum") {
            schema.enumeration = values
                .as_array()
                .ok_or_else(|| error(at.key("enum"), "must be a list".into()))?
                .clone();
        }
        if let Some(required) = node.get("required") {
            let names = required.as_array().and_then(|items| {
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            });
            schema.required = names
                .ok_or_else(|| error(at.key("required"), "must be a list of field names".into()))?;
        }
        if let Some(properties) = node.get("properties") {
            let fields = properties
                .as_object()
                .ok_or_else(|| error(at.key("properties"), "must be a mapping".into()))?;
            let base = at.key("properties");
            let text = fields.keys().map(String::len).sum();
            schema.properties = Properties::with_capacity(fields.len(), text);
            for (name, child) in fields {
                schema
                    .properties
                    .push(name, Schema::parse(child, &base.key(name))?);
            }
            for name in &schema.required {
                if !fields.contains_key(name) {
                    return Err(error(
                        at.key("required"),
                        format!("names {name}, which is not under properties"),
                    ));
                }
            }
        }
        if let Some(items) = node.get("items") {
            schema.items = Some(Box::new(Schema::parse(items, &at.key("items"))?));
        }
        match node.get("additionalProperties") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => {
                return Err(error(
                    at.key("additionalProperties"),
                    "true is not structural; use x-kubernetes-preserve-unknown-fields: true".into(),
                ));
            }
            Some(child) => {
                schema.additional_properties = Some(Box::new(Schema::parse(
                    child,
                    &at.key("additionalProperties"),
                )?))
            }
        }
        if let Some(branches) = node.get("anyOf") {
            let list = branches
                .as_array()
                .ok_or_else(|| error(at.key("anyOf"), "must be a list".into()))?;
            for (index, branch) in list.iter().enumerate() {
                schema
                    .one_of_types
                    .push(Schema::parse(branch, &at.key("anyOf").index(index))?);
            }
        }
        schema.check_structural(at)?;
        if let Some(rules) = node.get("x-kubernetes-validations") {
            let base = at.key("x-kubernetes-validations");
            let list = rules
                .as_array()
                .ok_or_else(|| error(base.clone(), "must be a list of rules".into()))?;
            for (index, rule) in list.iter().enumerate() {
                schema.rules.push(Rule::parse(rule, &base.index(index))?);
            }
        }
        schema.rules_below =
            !schema.rules.is_empty() || schema.children().any(|child| child.rules_below);
        schema.defaults_below =
            schema.default.is_some() || schema.children().any(|child| child.defaults_below);
        Ok(schema)
    }

    /// The structural rules of the API server that kiln relies on too: a type everywhere,
    /// except where a node says it holds anything or an int-or-string.
    fn check_structural(&self, at: &FieldPath) -> Result<(), SchemaError> {
        let error = |message: &str| SchemaError {
            at: at.clone(),
            message: message.into(),
        };
        let typed_branches = !self.one_of_types.is_empty();
        if typed_branches && !self.preserve_unknown_fields {
            return Err(error(
                "anyOf with typed branches needs x-kubernetes-preserve-unknown-fields: true on the node",
            ));
        }
        if self.kind.is_none() && !self.int_or_string && !self.preserve_unknown_fields {
            return Err(error(
                "needs a type (or x-kubernetes-int-or-string / x-kubernetes-preserve-unknown-fields)",
            ));
        }
        if self.description.is_none() && !at.is_root() {
            return Err(error(
                "needs a description: the schema is the kind's documentation",
            ));
        }
        Ok(())
    }

    /// Every rule of this node and of the nodes below it.
    pub fn all_rules(&self) -> Vec<&Rule> {
        let mut rules = Vec::new();
        self.collect_rules(&mut rules);
        rules
    }

    fn collect_rules<'s>(&'s self, into: &mut Vec<&'s Rule>) {
        into.extend(&self.rules);
        for child in self.children() {
            child.collect_rules(into);
        }
    }

    /// The nodes one step below: properties, items, additional properties and typed `anyOf`
    /// branches.
    pub fn children(&self) -> impl Iterator<Item = &Schema> {
        self.properties
            .schemas()
            .chain(self.items.as_deref())
            .chain(self.additional_properties.as_deref())
            .chain(&self.one_of_types)
    }

    /// The child schema for `key` of an object node.
    pub fn property(&self, key: &str) -> Option<&Schema> {
        self.properties
            .get(key)
            .or(self.additional_properties.as_deref())
    }

    /// The child schema for `key`, here or in one of the typed `anyOf` branches: what a
    /// field chain can reach whichever branch the value takes.
    pub fn field(&self, key: &str) -> Option<&Schema> {
        self.property(key).or_else(|| {
            self.one_of_types
                .iter()
                .find_map(|branch| branch.property(key))
        })
    }

    /// The branch of a typed `anyOf` that `value` matches.
    pub fn branch_for(&self, value: &Value) -> Option<&Schema> {
        self.one_of_types
            .iter()
            .find(|branch| branch.kind.is_some_and(|kind| kind.matches(value)))
    }

    /// The schema node at `path`, following properties, items and branches.
    pub fn at(&self, path: &FieldPath) -> Option<&Schema> {
        use crate::finding::Segment;
        path.segments()
            .iter()
            .try_fold(self, |node, segment| match segment {
                Segment::Key(key) => node.field(key),
                Segment::Index(_) => node.items.as_deref(),
            })
    }
}

impl Rule {
    fn parse(value: &Value, at: &FieldPath) -> Result<Rule, SchemaError> {
        let error = |path: FieldPath, message: String| SchemaError { at: path, message };
        let Some(fields) = value.as_object() else {
            return Err(error(at.clone(), "a rule must be a mapping".into()));
        };
        for key in fields.keys() {
            if !API_RULE_KEYS.contains(&key.as_str()) && !KILN_RULE_KEYS.contains(&key.as_str()) {
                let known: Vec<&str> = API_RULE_KEYS
                    .iter()
                    .chain(KILN_RULE_KEYS)
                    .copied()
                    .collect();
                let hint = crate::suggest::did_you_mean(key, &known);
                return Err(error(at.key(key), format!("is not a rule key{hint}")));
            }
        }
        let compile = |key: &str| -> Result<Option<Expression>, SchemaError> {
            let Some(source) = text(fields, key, at)? else {
                return Ok(None);
            };
            Expression::compile(&source, RULE_VARIABLES)
                .map(Some)
                .map_err(|CompileError(message)| {
                    error(at.key(key), format!("does not compile: {message}"))
                })
        };
        let rule = compile("rule")?.ok_or_else(|| error(at.key("rule"), "is required".into()))?;
        let message = text(fields, "message", at)?;
        let message_expression = compile("messageExpression")?;
        let field_path = match text(fields, "fieldPath", at)? {
            None => FieldPath::root(),
            Some(path) => FieldPath::parse(&path).ok_or_else(|| {
                error(
                    at.key("fieldPath"),
                    "must be a path such as .spec.replicas or .limits['cpu']".into(),
                )
            })?,
        };
        let reason = text(fields, "reason", at)?;
        if let Some(reason) = &reason
            && !REASONS.contains(&reason.as_str())
        {
            return Err(error(
                at.key("reason"),
                format!("must be one of {}", REASONS.join(", ")),
            ));
        }
        let severity = match text(fields, "severity", at)?.as_deref() {
            None | Some("Error") => Severity::Error,
            Some("Warning") => Severity::Warning,
            Some(_) => {
                return Err(error(at.key("severity"), "must be Error or Warning".into()));
            }
        };
        let show_value = match fields.get("showValue") {
            None => true,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => return Err(error(at.key("showValue"), "must be true or false".into())),
        };
        Ok(Rule {
            id: text(fields, "id", at)?.unwrap_or_else(|| "rule".to_owned()),
            rule,
            message,
            message_expression,
            field_path,
            reason,
            severity,
            hint: text(fields, "hint", at)?,
            show_value,
            written_at: at.clone(),
        })
    }
}

fn text(
    node: &Map<String, Value>,
    key: &str,
    at: &FieldPath,
) -> Result<Option<String>, SchemaError> {
    match node.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(SchemaError {
            at: at.key(key),
            message: "must be a string".into(),
        }),
    }
}

fn flag(node: &Map<String, Value>, key: &str, at: &FieldPath) -> Result<bool, SchemaError> {
    match node.get(key) {
        None => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(_) => Err(SchemaError {
            at: at.key(key),
            message: "must be true or false".into(),
        }),
    }
}

fn number(
    node: &Map<String, Value>,
    key: &str,
    at: &FieldPath,
) -> Result<Option<f64>, SchemaError> {
    match node.get(key) {
        None => Ok(None),
        Some(Value::Number(number)) => Ok(number.as_f64()),
        Some(_) => Err(SchemaError {
            at: at.key(key),
            message: "must be a number".into(),
        }),
    }
}

fn count(node: &Map<String, Value>, key: &str, at: &FieldPath) -> Result<Option<u64>, SchemaError> {
    match node.get(key) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| SchemaError {
            at: at.key(key),
            message: "must be a whole number, 0 or more".into(),
        }),
    }
}
