//! Direct evaluation of the CEL that charts mostly write, over the JSON itself. The `cel`
//! interpreter boxes every intermediate value, converts between its two value representations
//! at each function call and looks functions up by name, so a rule such as
//! `!has(self.x) || self.x.size() <= 63` costs about ten thousand instructions; a review runs
//! some twenty-five of them. Here an expression is translated once into a small tree of
//! operations on borrowed JSON, for the part of CEL whose meaning is plain: literals, field
//! selection and `has()`, the logical, comparison and arithmetic operators on ints, strings
//! and booleans, `size`, `string`, `bytes`, `dyn`, the string methods, `split`, map literals
//! and the Kubernetes quantity functions on plainly written quantities.
//!
//! Anything else is not guessed at. An expression using something outside that part has no
//! direct form, and an evaluation that meets anything unusual on the way (an error, a missing
//! key, a type the operator does not take, an overflow, a quantity not written plainly, a
//! comparison of whole lists or maps) gives up, and the caller runs the interpreter instead,
//! so errors and rare cases are CEL's own. A direct result is the interpreter's result: debug
//! builds (every test) evaluate both and compare.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use compact_str::CompactString;
use kube_cel::cel::IdedExpr;
use kube_cel::cel::common::ast::{EntryExpr, Expr, LiteralValue, operators};

use crate::fields::{at, get as field};
use crate::pattern::Pattern;
use crate::quantity::Quantity;

/// An expression in direct form.
#[derive(Debug)]
pub struct Direct {
    root: Node,
}

#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Str(Box<str>),
    /// `self`, `values` or `variables`: the name as the caller's list of variables holds it,
    /// which is the constant evaluations bind, so looking it up compares pointers first.
    Variable(&'static str),
    /// `self.spec.image`: a variable and the fields selected from it, read in one walk
    /// (most of what rules read is such a chain). The names are stored in place, beside each
    /// other: a chain is read without a visit to memory elsewhere for each name.
    Path(&'static str, Vec<CompactString>),
    Select(Box<Node>, Box<str>),
    Has(Box<Node>, Box<str>),
    /// `has(self.spec.x)`, or with `negated` `!has(self.spec.x)`: the chain read in one walk
    /// and the last field looked for, one step instead of three (rules are mostly guards of
    /// this form).
    HasPath {
        variable: &'static str,
        fields: Vec<CompactString>,
        negated: bool,
    },
    Not(Box<Node>),
    Negate(Box<Node>),
    /// `a && b && c`, however nested: the operands in order, side by side.
    All(Vec<Node>),
    /// `a || b || c`, however nested.
    Any(Vec<Node>),
    Conditional(Box<[Node; 3]>),
    Equals(Box<Node>, Box<Node>, bool),
    Compare(Box<Node>, Box<Node>, fn(Ordering) -> bool),
    Add(Box<Node>, Box<Node>),
    /// `-`, `*`, `/` and `%` on ints: the checked operation, which fails where CEL's does
    /// (overflow, division by zero).
    Arithmetic(Box<Node>, Box<Node>, fn(i64, i64) -> Option<i64>),
    Index(Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Size(Box<Node>),
    String(Box<Node>),
    ToInt(Box<Node>),
    Bytes(Box<Node>),
    /// `matches` and `find`, with the pattern compiled now when it is a literal.
    Matches(Box<Node>, Box<PatternArg>),
    Find(Box<Node>, Box<PatternArg>),
    Trim(Box<Node>),
    StartsWith(Box<Node>, Box<Node>),
    EndsWith(Box<Node>, Box<Node>),
    Contains(Box<Node>, Box<Node>),
    Split(Box<Node>, Box<Node>),
    IsQuantity(Box<Node>),
    Quantity(Box<Node>),
    QuantityCompare(Box<Node>, Box<Node>, Ordering),
}

#[derive(Debug)]
enum PatternArg {
    /// A literal, compiled when first used (a chart's rules for fields a spec never has
    /// would otherwise cost every run a compilation); `None` when it does not compile.
    Literal(Box<str>, OnceLock<Option<Arc<Pattern>>>),
    Computed(Box<Node>),
}

/// A value during direct evaluation, borrowing from the inputs and the expression.
#[derive(Debug, Clone)]
pub enum Val<'v> {
    Null,
    Bool(bool),
    Int(i64),
    Str(Cow<'v, str>),
    /// `bytes(string)`: only its size is asked for.
    Bytes(Cow<'v, str>),
    /// A JSON list or mapping, as it is in the input.
    Json(&'v serde_json::Value),
    /// A map literal, in the order written.
    Map(Vec<(&'v str, Val<'v>)>),
    /// A list `split` made.
    List(Vec<Val<'v>>),
    Quantity(Quantity),
}

/// Where the variables' JSON comes from.
pub trait Variables<'v> {
    fn get(&self, name: &str) -> Option<&'v serde_json::Value>;
}

impl Direct {
    /// The direct form of `tree`, whose variables are `variables`; `None` when it uses
    /// anything outside the part of CEL evaluated here.
    pub fn compile(tree: &IdedExpr, variables: &[&'static str]) -> Option<Direct> {
        Some(Direct {
            root: node(tree, variables)?,
        })
    }

    /// The value, or `None` where the interpreter must decide.
    pub fn eval<'v>(&'v self, variables: &impl Variables<'v>) -> Option<Val<'v>> {
        eval(&self.root, variables)
    }
}

fn boxed(tree: &IdedExpr, variables: &[&'static str]) -> Option<Box<Node>> {
    node(tree, variables).map(Box::new)
}

fn node(tree: &IdedExpr, variables: &[&'static str]) -> Option<Node> {
    Some(match &tree.expr {
        Expr::Literal(literal) => match literal {
            LiteralValue::Null => Node::Null,
            LiteralValue::Boolean(flag) => Node::Bool(*flag.inner()),
            LiteralValue::Int(int) => Node::Int(*int.inner()),
            LiteralValue::String(text) => Node::Str(text.inner().into()),
            _ => return None,
        },
        Expr::Ident(name) => Node::Variable(variables.iter().find(|known| *known == name)?),
        Expr::Select(select) => {
            let operand = node(&select.operand, variables)?;
            let field = select.field.as_str();
            let chain = |variable, fields| match select.test {
                true => Node::HasPath {
                    variable,
                    fields,
                    negated: false,
                },
                false => Node::Path(variable, fields),
            };
            match operand {
                Node::Variable(variable) => chain(variable, vec![field.into()]),
                Node::Path(variable, mut fields) => {
                    fields.push(field.into());
                    chain(variable, fields)
                }
                operand if select.test => Node::Has(Box::new(operand), field.into()),
                operand => Node::Select(Box::new(operand), field.into()),
            }
        }
        Expr::Map(map) => {
            let mut entries: Vec<(String, Node)> = Vec::with_capacity(map.entries.len());
            for entry in &map.entries {
                let EntryExpr::MapEntry(entry) = &entry.expr else {
                    return None;
                };
                let Expr::Literal(LiteralValue::String(key)) = &entry.key.expr else {
                    return None;
                };
                let key = key.inner();
                if entry.optional || entries.iter().any(|(known, _)| known == key) {
                    return None;
                }
                entries.push((key.to_owned(), node(&entry.value, variables)?));
            }
            Node::Map(entries)
        }
        Expr::List(list) if list.optional_indices.is_empty() => Node::List(
            list.elements
                .iter()
                .map(|element| node(element, variables))
                .collect::<Option<_>>()?,
        ),
        Expr::Call(call) => {
            let args = &call.args;
            let arg = |index: usize| boxed(args.get(index)?, variables);
            match (call.target.as_deref(), call.func_name.as_str(), args.len()) {
                (None, operators::LOGICAL_NOT, 1) => match node(&args[0], variables)? {
                    Node::HasPath {
                        variable,
                        fields,
                        negated,
                    } => Node::HasPath {
                        variable,
                        fields,
                        negated: !negated,
                    },
                    operand => Node::Not(Box::new(operand)),
                },
                (None, operators::NEGATE, 1) => Node::Negate(arg(0)?),
                (None, operators::LOGICAL_AND, 2) => Node::All(operands(
                    &args[0],
                    &args[1],
                    variables,
                    |node| match node {
                        Node::All(nodes) => Ok(nodes),
                        other => Err(other),
                    },
                )?),
                (None, operators::LOGICAL_OR, 2) => Node::Any(operands(
                    &args[0],
                    &args[1],
                    variables,
                    |node| match node {
                        Node::Any(nodes) => Ok(nodes),
                        other => Err(other),
                    },
                )?),
                (None, operators::CONDITIONAL, 3) => Node::Conditional(Box::new([
                    node(&args[0], variables)?,
                    node(&args[1], variables)?,
                    node(&args[2], variables)?,
                ])),
                (None, operators::EQUALS, 2) => Node::Equals(arg(0)?, arg(1)?, true),
                (None, operators::NOT_EQUALS, 2) => Node::Equals(arg(0)?, arg(1)?, false),
                (None, operators::LESS, 2) => Node::Compare(arg(0)?, arg(1)?, Ordering::is_lt),
                (None, operators::LESS_EQUALS, 2) => {
                    Node::Compare(arg(0)?, arg(1)?, Ordering::is_le)
                }
                (None, operators::GREATER, 2) => Node::Compare(arg(0)?, arg(1)?, Ordering::is_gt),
                (None, operators::GREATER_EQUALS, 2) => {
                    Node::Compare(arg(0)?, arg(1)?, Ordering::is_ge)
                }
                (None, operators::ADD, 2) => Node::Add(arg(0)?, arg(1)?),
                (None, operators::SUBSTRACT, 2) => {
                    Node::Arithmetic(arg(0)?, arg(1)?, i64::checked_sub)
                }
                (None, operators::MULTIPLY, 2) => {
                    Node::Arithmetic(arg(0)?, arg(1)?, i64::checked_mul)
                }
                (None, operators::DIVIDE, 2) => {
                    Node::Arithmetic(arg(0)?, arg(1)?, i64::checked_div)
                }
                (None, operators::MODULO, 2) => {
                    Node::Arithmetic(arg(0)?, arg(1)?, i64::checked_rem)
                }
                (None, operators::INDEX, 2) => Node::Index(arg(0)?, arg(1)?),
                (None, operators::IN, 2) => Node::In(arg(0)?, arg(1)?),
                (None, "size", 1) => Node::Size(arg(0)?),
                (Some(target), "size", 0) => Node::Size(boxed(target, variables)?),
                (Some(target), "trim", 0) => Node::Trim(boxed(target, variables)?),
                (None, "string", 1) => Node::String(arg(0)?),
                (None, "bytes", 1) => Node::Bytes(arg(0)?),
                (None, "int", 1) => Node::ToInt(arg(0)?),
                (None, "dyn", 1) => node(&args[0], variables)?,
                (None, "isQuantity", 1) => Node::IsQuantity(arg(0)?),
                (None, "quantity", 1) => Node::Quantity(arg(0)?),
                (Some(target), method, 1) => {
                    let target = boxed(target, variables)?;
                    match method {
                        "matches" => Node::Matches(target, Box::new(pattern(&args[0], variables)?)),
                        "find" => Node::Find(target, Box::new(pattern(&args[0], variables)?)),
                        "startsWith" => Node::StartsWith(target, arg(0)?),
                        "endsWith" => Node::EndsWith(target, arg(0)?),
                        "contains" => Node::Contains(target, arg(0)?),
                        "split" => Node::Split(target, arg(0)?),
                        "isLessThan" => Node::QuantityCompare(target, arg(0)?, Ordering::Less),
                        "isGreaterThan" => {
                            Node::QuantityCompare(target, arg(0)?, Ordering::Greater)
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// The operands of `left OP right` for an associative `OP`, with those that are themselves
/// `OP` (which `same` takes apart) spliced in: the order of evaluation is the written one.
fn operands(
    left: &IdedExpr,
    right: &IdedExpr,
    variables: &[&'static str],
    same: impl Fn(Node) -> Result<Vec<Node>, Node>,
) -> Option<Vec<Node>> {
    let mut all = Vec::new();
    for side in [left, right] {
        match same(node(side, variables)?) {
            Ok(nodes) => all.extend(nodes),
            Err(node) => all.push(node),
        }
    }
    Some(all)
}

/// A literal pattern is compiled once per expression; one that does not compile is left to
/// the interpreter, for its message.
fn pattern(tree: &IdedExpr, variables: &[&'static str]) -> Option<PatternArg> {
    if let Expr::Literal(LiteralValue::String(source)) = &tree.expr {
        return Some(PatternArg::Literal(source.inner().into(), OnceLock::new()));
    }
    Some(PatternArg::Computed(boxed(tree, variables)?))
}

impl PatternArg {
    /// `using` applied to the pattern. A literal's compiled pattern is borrowed: cloning its
    /// `Arc` on every match would write to a cache line that every worker thread reads.
    fn with_regex<'v, T>(
        &'v self,
        variables: &impl Variables<'v>,
        using: impl FnOnce(&Pattern) -> T,
    ) -> Option<T> {
        match self {
            PatternArg::Literal(source, regex) => regex
                .get_or_init(|| super::pattern("matches", source).ok())
                .as_deref()
                .map(using),
            PatternArg::Computed(source) => {
                let regex = super::pattern("matches", &string(eval(source, variables)?)?).ok()?;
                Some(using(&regex))
            }
        }
    }
}

/// A JSON value as CEL reads it: integers are ints; numbers that are not (fractions, integers
/// beyond i64) are left to the interpreter.
fn read(value: &serde_json::Value) -> Option<Val<'_>> {
    Some(match value {
        serde_json::Value::Null => Val::Null,
        serde_json::Value::Bool(flag) => Val::Bool(*flag),
        serde_json::Value::Number(number) => Val::Int(number.as_i64()?),
        serde_json::Value::String(text) => Val::Str(Cow::Borrowed(text)),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => Val::Json(value),
    })
}

fn string<'v>(value: Val<'v>) -> Option<Cow<'v, str>> {
    match value {
        Val::Str(text) => Some(text),
        _ => None,
    }
}

fn boolean(value: Option<Val<'_>>) -> Option<bool> {
    match value? {
        Val::Bool(flag) => Some(flag),
        _ => None,
    }
}

/// A quantity both kiln and the Kubernetes library read the same way, exactly: digits, at most
/// three decimals, and a common suffix. Anything else is left to the library.
fn plain_quantity(text: &str) -> Option<Quantity> {
    match is_plain_quantity(text) {
        true => text.parse().ok(),
        false => None,
    }
}

/// Whether `text` is a quantity written plainly (see [`plain_quantity`]). Such a text always
/// parses: at most fifteen digits times at most 10^15 (or 2^50) in nano-units is within
/// Quantity's range, and larger values saturate rather than fail.
fn is_plain_quantity(text: &str) -> bool {
    const SUFFIXES: [&str; 12] = [
        "Ki", "Mi", "Gi", "Ti", "Pi", "m", "k", "M", "G", "T", "P", "",
    ];
    // The suffix is the letters at the end: the number before it has none.
    let number = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !SUFFIXES.contains(&&text[number.len()..]) {
        return false;
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |part: &str, most: usize| {
        !part.is_empty() && part.len() <= most && part.bytes().all(|b| b.is_ascii_digit())
    };
    digits(whole, 12) && digits(fraction, 3)
}

fn eval<'v>(node: &'v Node, variables: &impl Variables<'v>) -> Option<Val<'v>> {
    let value = |node: &'v Node| eval(node, variables);
    Some(match node {
        Node::Null => Val::Null,
        Node::Bool(flag) => Val::Bool(*flag),
        Node::Int(int) => Val::Int(*int),
        Node::Str(text) => Val::Str(Cow::Borrowed(text)),
        Node::Variable(name) => read(variables.get(name)?)?,
        Node::Path(name, fields) => read(at(variables.get(name)?, fields)?)?,
        Node::Select(operand, field) => match value(operand)? {
            Val::Json(serde_json::Value::Object(fields)) => read(self::field(fields, field)?)?,
            Val::Map(entries) => entries.into_iter().find(|(key, _)| *key == &**field)?.1,
            _ => return None,
        },
        Node::Has(operand, field) => match value(operand)? {
            Val::Json(serde_json::Value::Object(fields)) => {
                Val::Bool(self::field(fields, field).is_some())
            }
            Val::Map(entries) => Val::Bool(entries.iter().any(|(key, _)| *key == &**field)),
            _ => return None,
        },
        // As `has()` of the chain's last selection would: the steps before it must be
        // mappings that have their field, and the last one a mapping.
        Node::HasPath {
            variable,
            fields,
            negated,
        } => {
            let (last, steps) = fields.split_last()?;
            let serde_json::Value::Object(fields) = at(variables.get(variable)?, steps)? else {
                return None;
            };
            Val::Bool(field(fields, last).is_some() != *negated)
        }
        Node::Not(operand) => Val::Bool(!boolean(value(operand))?),
        Node::Negate(operand) => match value(operand)? {
            Val::Int(int) => Val::Int(int.checked_neg()?),
            _ => return None,
        },
        // CEL's `&&` and `||` absorb an error on one side when the other decides; giving up on
        // any error before an operand decides leaves those cases to the interpreter.
        Node::All(operands) => {
            for operand in operands {
                if !boolean(value(operand))? {
                    return Some(Val::Bool(false));
                }
            }
            Val::Bool(true)
        }
        Node::Any(operands) => {
            for operand in operands {
                if boolean(value(operand))? {
                    return Some(Val::Bool(true));
                }
            }
            Val::Bool(false)
        }
        Node::Conditional(parts) => {
            let [condition, then, otherwise] = &**parts;
            if boolean(value(condition))? {
                value(then)?
            } else {
                value(otherwise)?
            }
        }
        Node::Equals(left, right, equal) => {
            Val::Bool(equals(value(left)?, value(right)?)? == *equal)
        }
        Node::Compare(left, right, holds) => {
            let ordering = match (value(left)?, value(right)?) {
                (Val::Int(a), Val::Int(b)) => a.cmp(&b),
                (Val::Str(a), Val::Str(b)) => a.cmp(&b),
                _ => return None,
            };
            Val::Bool(holds(ordering))
        }
        Node::Add(left, right) => match (value(left)?, value(right)?) {
            (Val::Int(a), Val::Int(b)) => Val::Int(a.checked_add(b)?),
            (Val::Str(a), Val::Str(b)) => Val::Str(Cow::Owned(a.into_owned() + &b)),
            _ => return None,
        },
        Node::Arithmetic(left, right, operation) => match (value(left)?, value(right)?) {
            (Val::Int(a), Val::Int(b)) => Val::Int(operation(a, b)?),
            _ => return None,
        },
        Node::Index(operand, index) => match (value(operand)?, value(index)?) {
            (Val::Json(serde_json::Value::Object(fields)), Val::Str(key)) => {
                read(field(fields, &key)?)?
            }
            (Val::Json(serde_json::Value::Array(items)), Val::Int(at)) => {
                read(items.get(usize::try_from(at).ok()?)?)?
            }
            (Val::List(mut items), Val::Int(at)) => {
                let at = usize::try_from(at).ok()?;
                if at >= items.len() {
                    return None;
                }
                items.swap_remove(at)
            }
            _ => return None,
        },
        Node::In(element, container) => match (value(element)?, value(container)?) {
            (Val::Str(key), Val::Json(serde_json::Value::Object(fields))) => {
                Val::Bool(field(fields, &key).is_some())
            }
            (Val::Str(key), Val::Map(entries)) => {
                Val::Bool(entries.iter().any(|(known, _)| *known == key))
            }
            (element, Val::List(items)) => {
                Val::Bool(contains(&element, items.into_iter().map(Some))?)
            }
            (element, Val::Json(serde_json::Value::Array(items))) => {
                Val::Bool(contains(&element, items.iter().map(read))?)
            }
            _ => return None,
        },
        Node::List(elements) => Val::List(elements.iter().map(&value).collect::<Option<_>>()?),
        Node::Map(entries) => Val::Map(
            entries
                .iter()
                .map(|(key, node)| Some((key.as_str(), value(node)?)))
                .collect::<Option<_>>()?,
        ),
        // The `cel` crate's size of a string is its length in bytes.
        Node::Size(operand) => Val::Int(
            i64::try_from(match value(operand)? {
                Val::Str(text) | Val::Bytes(text) => text.len(),
                Val::Json(serde_json::Value::Array(items)) => items.len(),
                Val::Json(serde_json::Value::Object(fields)) => fields.len(),
                Val::Map(entries) => entries.len(),
                Val::List(items) => items.len(),
                _ => return None,
            })
            .ok()?,
        ),
        Node::String(operand) => match value(operand)? {
            Val::Str(text) => Val::Str(text),
            Val::Int(int) => Val::Str(Cow::Owned(int.to_string())),
            _ => return None,
        },
        // The `cel` crate reads a string as Rust's `i64::from_str` does.
        Node::ToInt(operand) => match value(operand)? {
            Val::Int(int) => Val::Int(int),
            Val::Str(text) => Val::Int(text.parse().ok()?),
            _ => return None,
        },
        Node::Bytes(operand) => Val::Bytes(string(value(operand)?)?),
        Node::Matches(operand, pattern) => {
            let text = string(value(operand)?)?;
            Val::Bool(pattern.with_regex(variables, |regex| regex.is_match(&text))?)
        }
        // The first match, or the empty string, as kiln's `find` gives it.
        Node::Find(operand, pattern) => {
            let text = string(value(operand)?)?;
            let found = pattern.with_regex(variables, |regex| regex.find(&text))?;
            let found = found.unwrap_or(0..0);
            Val::Str(match text {
                Cow::Borrowed(text) => Cow::Borrowed(&text[found]),
                Cow::Owned(text) => Cow::Owned(text[found].to_owned()),
            })
        }
        Node::Trim(operand) => Val::Str(match string(value(operand)?)? {
            Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
            Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
        }),
        Node::StartsWith(operand, prefix) => {
            Val::Bool(string(value(operand)?)?.starts_with(string(value(prefix)?)?.as_ref()))
        }
        Node::EndsWith(operand, suffix) => {
            Val::Bool(string(value(operand)?)?.ends_with(string(value(suffix)?)?.as_ref()))
        }
        Node::Contains(operand, part) => {
            Val::Bool(string(value(operand)?)?.contains(string(value(part)?)?.as_ref()))
        }
        Node::Split(operand, separator) => {
            let separator = string(value(separator)?)?;
            if separator.is_empty() {
                return None;
            }
            match string(value(operand)?)? {
                Cow::Borrowed(text) => Val::List(
                    text.split(separator.as_ref())
                        .map(|part| Val::Str(Cow::Borrowed(part)))
                        .collect(),
                ),
                Cow::Owned(text) => Val::List(
                    text.split(separator.as_ref())
                        .map(|part| Val::Str(Cow::Owned(part.to_owned())))
                        .collect(),
                ),
            }
        }
        // A plainly written quantity always parses, so its value is not computed here.
        Node::IsQuantity(operand) => match is_plain_quantity(&string(value(operand)?)?) {
            true => Val::Bool(true),
            false => return None,
        },
        Node::Quantity(operand) => Val::Quantity(plain_quantity(&string(value(operand)?)?)?),
        Node::QuantityCompare(left, right, wanted) => match (value(left)?, value(right)?) {
            (Val::Quantity(a), Val::Quantity(b)) => Val::Bool(a.cmp(&b) == *wanted),
            _ => return None,
        },
    })
}

/// Whether a list holds `element`; `None` where an item cannot be compared here.
fn contains<'v>(element: &Val<'_>, items: impl Iterator<Item = Option<Val<'v>>>) -> Option<bool> {
    for item in items {
        if equals(element.clone(), item?)? {
            return Some(true);
        }
    }
    Some(false)
}

/// CEL equality as the `cel` crate has it: values of different types are unequal; lists and
/// maps are left to it.
fn equals(left: Val<'_>, right: Val<'_>) -> Option<bool> {
    Some(match (left, right) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Int(a), Val::Int(b)) => a == b,
        (Val::Str(a), Val::Str(b)) => a == b,
        (a, b) => match (kind(&a)?, kind(&b)?) {
            (a, b) if a != b => false,
            _ => return None,
        },
    })
}

/// The CEL type of a value, where it is one `equals` can tell apart.
fn kind(value: &Val<'_>) -> Option<u8> {
    Some(match value {
        Val::Null => 0,
        Val::Bool(_) => 1,
        Val::Int(_) => 2,
        Val::Str(_) => 3,
        Val::Json(serde_json::Value::Array(_)) | Val::List(_) => 4,
        Val::Json(_) | Val::Map(_) => 5,
        Val::Bytes(_) | Val::Quantity(_) => return None,
    })
}

impl Val<'_> {
    /// As JSON, with mappings' keys sorted as `to_json` sorts a CEL map's; `None` for what
    /// JSON cannot hold.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Val::Null => serde_json::Value::Null,
            Val::Bool(flag) => serde_json::Value::Bool(*flag),
            Val::Int(int) => serde_json::Value::from(*int),
            Val::Str(text) => serde_json::Value::String(text.as_ref().to_owned()),
            Val::Json(json) => sorted(json),
            Val::Map(entries) => {
                let mut fields: Vec<(String, serde_json::Value)> = entries
                    .iter()
                    .map(|(key, value)| Some(((*key).to_owned(), value.to_json()?)))
                    .collect::<Option<_>>()?;
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(fields.into_iter().collect())
            }
            Val::List(items) => {
                serde_json::Value::Array(items.iter().map(Val::to_json).collect::<Option<_>>()?)
            }
            Val::Bytes(_) | Val::Quantity(_) => return None,
        })
    }

    /// As the interpreter's value; `None` for what has no plain counterpart here.
    pub fn to_cel(&self) -> Option<super::Value> {
        Some(match self {
            Val::Null => super::Value::Null,
            Val::Bool(flag) => super::Value::Bool(*flag),
            Val::Int(int) => super::Value::Int(*int),
            Val::Str(text) => super::Value::String(Arc::new(text.as_ref().to_owned())),
            Val::Json(json) => super::to_cel(json),
            Val::Map(_) | Val::List(_) => super::to_cel(&self.to_json()?),
            Val::Bytes(_) | Val::Quantity(_) => return None,
        })
    }
}

/// A JSON value with every mapping's keys sorted, as a round trip through CEL gives it.
fn sorted(value: &serde_json::Value) -> serde_json::Value {
    if is_sorted(value) {
        // A clone copies the map's hashes; rebuilding it would hash every key again.
        return value.clone();
    }
    match value {
        serde_json::Value::Object(fields) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = fields.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key.clone(), sorted(value)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted).collect())
        }
        other => other.clone(),
    }
}

/// True when every mapping in `value` has its keys in order already.
fn is_sorted(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(fields) => {
            fields.keys().is_sorted() && fields.values().all(is_sorted)
        }
        serde_json::Value::Array(items) => items.iter().all(is_sorted),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Expression, SELF, Scope, VALUES, VARIABLES, prebuilt};
    use super::{Direct, Node};

    /// Evaluates `source` over `value` both ways: whether the direct form answered, and the
    /// answer, which must be the interpreter's.
    fn both(source: &str, value: serde_json::Value) -> (bool, Result<super::super::Value, String>) {
        let expression = Expression::compile(source, &[SELF]).unwrap();
        let inputs = [(SELF, &value)];
        let scope = Scope::root();
        let direct = expression.direct(&scope, &inputs).and_then(|v| v.to_cel());
        let interpreted = expression.interpret(&scope, &inputs);
        if let Some(direct) = &direct {
            assert_eq!(Ok(direct), interpreted.as_ref(), "{source}");
        }
        (direct.is_some(), interpreted)
    }

    /// A guard chain is one step per operand: `||` and `&&` are flat lists and `!has(a.b)` a
    /// single walk, since each step of the tree costs a dispatch on every review.
    #[test]
    fn guard_chains_are_flat() {
        let tree = kube_cel::cel::parser::Parser::new()
            .parse("!has(self.a.b) || !has(self.c) || (has(self.d) && self.e && self.f) || self.g")
            .unwrap();
        let direct = Direct::compile(&tree, &[SELF]).unwrap();
        let Node::Any(operands) = &direct.root else {
            panic!("{direct:?}");
        };
        let shapes: Vec<String> = operands
            .iter()
            .map(|operand| match operand {
                Node::HasPath {
                    fields, negated, ..
                } => format!("has {} {negated}", fields.join(".")),
                Node::All(operands) => format!("all of {}", operands.len()),
                Node::Path(_, fields) => fields.join("."),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(shapes, ["has a.b true", "has c true", "all of 3", "g"]);
    }

    #[test]
    fn what_is_evaluated_directly_is_what_the_interpreter_gives() {
        let spec = serde_json::json!({
            "name": "orders", "version": "1.10.2", "replicas": 3, "big": i64::MAX,
            "ratio": 1.5, "flag": true, "none": null, "utf": "grüße", "list": [1, "a"],
            "limits": {"cpu": "1500m", "memory": "4Gi", "odd": "1e3", "n": 2},
            "config": "a=1\nDB_PASSWORD = x\n",
        });
        let direct = [
            "self.name + '-v' + self.version.split('.')[0] + 's' + self.version.split('.')[1]",
            "has(self.name) && !has(self.missing) && has(self.limits.cpu)",
            "self.replicas > 2 && self.replicas <= 3 && -self.replicas < 0 && 'a' < 'b'",
            "self.replicas - 5 + self.replicas * 2 + self.replicas / 2 + -7 % 3 + 7 / -2",
            "self.name == 'orders' && self.name != 'x' && self.none == null",
            "self.replicas == null || self.limits == null || self.name == 1 || self.flag == 'x'",
            "self.list == null || self.list == self.limits",
            "size(self.utf) + self.utf.size() + size(bytes(self.config)) + size(self.list)",
            "size(self.limits) + size({'a': 1, 'b': self.name})",
            "string(self.replicas) + string(self.name)",
            "self.version.matches('^[0-9.]+$') && self.name.startsWith('or')",
            "self.name.endsWith('s') && self.name.contains('rde') && dyn(self.flag)",
            "'cpu' in self.limits && !('gpu' in self.limits) && 'a' in {'a': 1}",
            "self.limits['cpu'] + self.list[1]",
            "self.config.find('(?mi)^[^=:\\n]*password[^=:\\n]*[=:]').split('=')[0].trim()",
            "self.config.find('zzz') == ''",
            "self.flag ? {'min': self.replicas, 'max': 10} : null",
            "quantity(self.limits.cpu).isLessThan(quantity('2')) && isQuantity(self.limits.memory)",
            "quantity(string(self.limits.n)).isGreaterThan(quantity(self.limits.cpu))",
            "quantity('0.5').isLessThan(quantity('500m')) || quantity('1Ki').isGreaterThan(quantity('1k'))",
            "self.name.matches(self.version.split('.')[0])",
            "int(self.version.split('.')[1]) + int(self.replicas) == 13 && self.flag ? 1 : self.missing.x",
            "false && self.missing || true || self.missing",
            "!has(self.limits.gpu) && !!has(self.limits.cpu) && !has(self.missing) && has(self.flag)",
            "(!has(self.a) || self.replicas > 5) || (self.flag && (has(self.name) || self.missing))",
            "self.flag && (self.replicas > 5 || self.name == 'x') && (true || self.missing)",
            "!(self.replicas > 2 && has(self.limits.n)) || !(false || !has(self.name))",
        ];
        // Left to the interpreter: errors, and what the direct form does not take.
        let interpreted = [
            "self.missing == 1",
            "self.limits.cpu.nothing",
            "self.big + 1 > 0",
            "self.replicas / 0 == 1",
            "self.replicas % 0 == 1",
            "self.ratio > 1",
            "self.replicas > 1.0",
            "self.list == [1, 'a']",
            "self.limits == {'cpu': '1500m'}",
            "isQuantity(self.limits.odd)",
            "quantity(self.limits.odd).isLessThan(quantity('2'))",
            "self.flag ? self.missing.x : 1",
            "self.name ? 1 : 2",
            "self.missing || true",
            "has(self.name.first) || true",
            "!has(self.missing.x) && false",
            "has(self.limits.cpu) && (self.missing || true) && true",
            "self.list[5] == 1",
            "self.version.split('')[0]",
            "self.name.matches('(')",
            "self.list.all(x, x != 'b')",
            "self.name.lowerAscii() == 'orders'",
            "int(self.name) == 1",
        ];
        for (sources, expected) in [(&direct[..], true), (&interpreted[..], false)] {
            for source in sources {
                let (directly, result) = both(source, spec.clone());
                assert_eq!(directly, expected, "{source} directly? {result:?}");
            }
        }
    }

    /// Of the built-in charts' expressions, only those with comprehensions lack a direct
    /// form: what a spec pays for on every evaluation is all direct.
    #[test]
    fn plain_quantities_are_digits_and_a_common_suffix() {
        for plain in ["4Gi", "500m", "2", "1.5", "0.125k", "12Pi", "7M"] {
            assert!(super::plain_quantity(plain).is_some(), "{plain}");
        }
        for other in [
            "4GiB", "5mi", "1e3", "Gi", ".5", "1.2345", "2 Gi", "-1", "4Ei", "1u",
        ] {
            assert!(super::plain_quantity(other).is_none(), "{other}");
        }
        // `isQuantity` takes the form for the value: the largest plain quantities parse too.
        for largest in [
            "999999999999.999Pi",
            "999999999999.999P",
            "000000000000.000",
        ] {
            assert!(super::is_plain_quantity(largest), "{largest}");
            assert!(super::plain_quantity(largest).is_some(), "{largest}");
        }
    }

    proptest::proptest! {
        /// What is plainly written is what parses, for `isQuantity` to answer without parsing.
        #[test]
        fn a_plain_quantity_parses(text in "[0-9]{0,13}([.][0-9]{0,4})?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|u|n|)") {
            if super::is_plain_quantity(&text) {
                proptest::prop_assert!(text.parse::<crate::quantity::Quantity>().is_ok(), "{}", text);
            }
        }
    }

    #[test]
    fn builtin_expressions_have_a_direct_form_unless_they_iterate() {
        let variables = [SELF, VALUES, VARIABLES];
        let mut direct = 0;
        let mut wrong = Vec::new();
        for (source, _) in prebuilt::PARSED {
            let Ok(expression) = Expression::compile(source, &variables) else {
                continue; // reads names of another place (a policy's `object`)
            };
            let iterates = ["all", "exists", "exists_one", "filter", "map"]
                .iter()
                .any(|macro_name| source.contains(&format!(".{macro_name}(")));
            if expression.direct.is_some() == iterates {
                wrong.push(*source);
            }
            direct += usize::from(!iterates);
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert!(direct > 50, "{direct}");
    }
}
