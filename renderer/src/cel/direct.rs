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
use std::cell::Cell;
use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use kube_cel::cel::IdedExpr;
use kube_cel::cel::common::ast::{EntryExpr, Expr, LiteralValue, operators};

use crate::fields::get as field;
use crate::pattern::Pattern;
use crate::quantity::Quantity;

/// An expression in direct form: its nodes side by side in one slice, children before their
/// parent, and every name and string it holds in one text. A review evaluates some thirty
/// expressions with its caches cold (the server's TLS and HTTP work ran in between), so what
/// an expression reads is a few adjacent cache lines, not a box per node and a buffer per
/// field chain.
#[derive(Debug)]
pub struct Direct {
    nodes: Box<[Node]>,
    root: Id,
    /// Field chains (each field's length in one byte, then its name: CEL identifiers are
    /// ASCII), string literals, map keys and literal patterns.
    text: Box<str>,
    /// The operands of `&&`, `||` and list literals, three entries per map-literal entry
    /// (key start, key length, value).
    operands: Box<[u32]>,
    patterns: Box<[PatternArg]>,
    /// The variables the expression names, as the caller's list holds them: the constants
    /// evaluations bind, so looking one up compares pointers first.
    roots: Box<[&'static str]>,
}

/// The most variables one expression in direct form names (there are three: `self`, `values`
/// and `variables`); [`Eval`] holds their values side by side.
const MOST_ROOTS: usize = 4;

/// A node's place in [`Direct::nodes`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Id(u32);

/// A part of [`Direct::text`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    start: u32,
    len: u32,
}

/// A part of [`Direct::operands`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Operands {
    first: u32,
    count: u32,
}

/// Sixteen bytes each: four to a cache line.
#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Str(Span),
    /// `self`, `values` or `variables`: its place in [`Direct::roots`].
    Variable(u8),
    /// `self.spec.image`: a variable and the fields selected from it, read in one walk
    /// (most of what rules read is such a chain), and the chain's place in an evaluation's
    /// [`Eval::chains`] when the expression reads it more than once ([`UNSHARED`] if not).
    Path(u8, u8, Span),
    Select(Id, Span),
    Has(Id, Span),
    /// `has(self.spec.x)`, or with `negated` `!has(self.spec.x)`: the chain read in one walk
    /// and the last field looked for, one step instead of three (rules are mostly guards of
    /// this form).
    HasPath {
        variable: u8,
        negated: bool,
        fields: Span,
    },
    Not(Id),
    Negate(Id),
    /// `a && b && c`, however nested: the operands in order.
    All(Operands),
    /// `a || b || c`, however nested.
    Any(Operands),
    Conditional(Id, Id, Id),
    Equals(Id, Id, bool),
    Compare(Id, Id, Comparison),
    Add(Id, Id),
    /// `-`, `*`, `/` and `%` on ints: the checked operation, which fails where CEL's does
    /// (overflow, division by zero).
    Arithmetic(Id, Id, Arithmetic),
    Index(Id, Id),
    In(Id, Id),
    Map(Operands),
    List(Operands),
    Size(Id),
    String(Id),
    ToInt(Id),
    Bytes(Id),
    /// `matches` and `find`: the operand and the pattern's place in [`Direct::patterns`].
    Matches(Id, u32),
    Find(Id, u32),
    Trim(Id),
    StartsWith(Id, Id),
    EndsWith(Id, Id),
    Contains(Id, Id),
    Split(Id, Id),
    IsQuantity(Id),
    Quantity(Id),
    QuantityCompare(Id, Id, Ordering),
}

const _: () = assert!(std::mem::size_of::<Node>() == 16);

#[derive(Debug, Clone, Copy)]
enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Less => ordering.is_lt(),
            Comparison::LessOrEqual => ordering.is_le(),
            Comparison::Greater => ordering.is_gt(),
            Comparison::GreaterOrEqual => ordering.is_ge(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Arithmetic {
    Subtract,
    Multiply,
    Divide,
    Remainder,
}

impl Arithmetic {
    fn apply(self, a: i64, b: i64) -> Option<i64> {
        match self {
            Arithmetic::Subtract => a.checked_sub(b),
            Arithmetic::Multiply => a.checked_mul(b),
            Arithmetic::Divide => a.checked_div(b),
            Arithmetic::Remainder => a.checked_rem(b),
        }
    }
}

#[derive(Debug)]
enum PatternArg {
    /// A literal, compiled when first used (a chart's rules for fields a spec never has
    /// would otherwise cost every run a compilation); `None` when it does not compile.
    Literal(Span, OnceLock<Option<Arc<Pattern>>>),
    Computed(Id),
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

/// `a + b` for strings. Messages join several parts left to right (`'key "' + name + '"
/// looks like a secret'`): the first join makes room for those that follow.
fn concatenated(a: Cow<'_, str>, b: &str) -> String {
    match a {
        Cow::Owned(mut joined) => {
            joined.push_str(b);
            joined
        }
        Cow::Borrowed(a) => {
            let mut joined = String::with_capacity(a.len() + b.len() + 64);
            joined.push_str(a);
            joined.push_str(b);
            joined
        }
    }
}

/// How many distinct field chains read more than once an evaluation keeps the end of.
/// `self.spec.autoscaling` is read eight times by the microservice chart's autoscaling
/// variable, `self.requests.cpu` three times by a requests-within-limits rule.
const SHARED_CHAINS: usize = 8;

/// A chain's slot when it is read once, or when the slots are taken.
const UNSHARED: u8 = u8::MAX;

/// Gives each field chain that `nodes` read more than once (the same variable and fields) a
/// slot of [`Eval::chains`], in the order they first appear.
fn share_chains(nodes: &mut [Node], text: &str) {
    let chain =
        |variable: u8, span: Span| (variable, &text[span.start as usize..][..span.len as usize]);
    let mut seen: Vec<((u8, &str), usize)> = Vec::new();
    for node in nodes.iter() {
        if let Node::Path(variable, _, fields) = node {
            let key = chain(*variable, *fields);
            match seen.iter_mut().find(|(known, _)| *known == key) {
                Some((_, count)) => *count += 1,
                None => seen.push((key, 1)),
            }
        }
    }
    let shared: Vec<(u8, &str)> = seen
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(key, _)| key)
        .take(SHARED_CHAINS)
        .collect();
    for node in nodes.iter_mut() {
        if let Node::Path(variable, slot, fields) = node
            && let Some(at) = shared
                .iter()
                .position(|key| *key == chain(*variable, *fields))
        {
            *slot = at as u8;
        }
    }
}

/// Where the variables' JSON comes from.
pub trait Variables<'v> {
    fn get(&self, name: &str) -> Option<&'v serde_json::Value>;
}

impl Direct {
    /// The direct form of `tree`, whose variables are `variables`; `None` when it uses
    /// anything outside the part of CEL evaluated here.
    pub fn compile(tree: &IdedExpr, variables: &[&'static str]) -> Option<Direct> {
        let mut builder = Builder {
            variables,
            nodes: Vec::new(),
            text: String::new(),
            operands: Vec::new(),
            patterns: Vec::new(),
            roots: Vec::new(),
        };
        let root = builder.id(tree)?;
        share_chains(&mut builder.nodes, &builder.text);
        Some(Direct {
            nodes: builder.nodes.into(),
            root,
            text: builder.text.into(),
            operands: builder.operands.into(),
            patterns: builder.patterns.into(),
            roots: builder.roots.into(),
        })
    }

    /// The value, or `None` where the interpreter must decide.
    pub fn eval<'v>(&'v self, variables: &impl Variables<'v>) -> Option<Val<'v>> {
        let mut roots = [None; MOST_ROOTS];
        for (root, name) in roots.iter_mut().zip(&self.roots) {
            *root = variables.get(name);
        }
        Eval {
            direct: self,
            roots,
            chains: Default::default(),
        }
        .value(self.root)
    }

    #[inline]
    fn text(&self, span: Span) -> &str {
        &self.text[span.start as usize..][..span.len as usize]
    }

    #[inline]
    fn operands(&self, operands: Operands) -> &[u32] {
        &self.operands[operands.first as usize..][..operands.count as usize]
    }
}

/// Translates a syntax tree into a [`Direct`]'s parts.
struct Builder<'a> {
    variables: &'a [&'static str],
    nodes: Vec<Node>,
    text: String,
    operands: Vec<u32>,
    patterns: Vec<PatternArg>,
    roots: Vec<&'static str>,
}

impl Builder<'_> {
    /// The node of `tree`, placed after its children.
    fn id(&mut self, tree: &IdedExpr) -> Option<Id> {
        let node = self.node(tree)?;
        self.push(node)
    }

    fn push(&mut self, node: Node) -> Option<Id> {
        let id = Id(u32::try_from(self.nodes.len()).ok()?);
        self.nodes.push(node);
        Some(id)
    }

    fn span(&mut self, text: &str) -> Option<Span> {
        let start = u32::try_from(self.text.len()).ok()?;
        self.text.push_str(text);
        Some(Span {
            start,
            len: u32::try_from(text.len()).ok()?,
        })
    }

    /// The field chain `chain` with `field` after it (`None` for an empty chain), extended in
    /// place: a chain being built is always the last thing written to the text (`None` if
    /// not, leaving the expression to the interpreter).
    fn chain(&mut self, chain: Option<Span>, field: &str) -> Option<Span> {
        let length = u8::try_from(field.len())
            .ok()
            .filter(|length| *length < 128)?;
        let start = match chain {
            Some(span) if (span.start + span.len) as usize == self.text.len() => span.start,
            Some(_) => return None,
            None => u32::try_from(self.text.len()).ok()?,
        };
        self.text.push(char::from(length));
        self.text.push_str(field);
        Some(Span {
            start,
            len: u32::try_from(self.text.len()).ok()? - start,
        })
    }

    fn root(&mut self, name: &str) -> Option<u8> {
        let known = *self.variables.iter().find(|known| **known == name)?;
        let at = match self.roots.iter().position(|root| *root == known) {
            Some(at) => at,
            None if self.roots.len() < MOST_ROOTS => {
                self.roots.push(known);
                self.roots.len() - 1
            }
            None => return None,
        };
        u8::try_from(at).ok()
    }

    fn operands(&mut self, ids: &[u32]) -> Option<Operands> {
        let first = u32::try_from(self.operands.len()).ok()?;
        self.operands.extend_from_slice(ids);
        Some(Operands {
            first,
            count: u32::try_from(ids.len()).ok()?,
        })
    }

    fn node(&mut self, tree: &IdedExpr) -> Option<Node> {
        Some(match &tree.expr {
            Expr::Literal(literal) => match literal {
                LiteralValue::Null => Node::Null,
                LiteralValue::Boolean(flag) => Node::Bool(*flag.inner()),
                LiteralValue::Int(int) => Node::Int(*int.inner()),
                LiteralValue::String(text) => Node::Str(self.span(text.inner())?),
                _ => return None,
            },
            Expr::Ident(name) => Node::Variable(self.root(name)?),
            Expr::Select(select) => {
                let field = select.field.as_str();
                let chain = match self.node(&select.operand)? {
                    Node::Variable(variable) => Some((variable, self.chain(None, field)?)),
                    Node::Path(variable, _, fields) => {
                        Some((variable, self.chain(Some(fields), field)?))
                    }
                    operand => {
                        let operand = self.push(operand)?;
                        let field = self.span(field)?;
                        return Some(match select.test {
                            true => Node::Has(operand, field),
                            false => Node::Select(operand, field),
                        });
                    }
                };
                let (variable, fields) = chain?;
                match select.test {
                    true => Node::HasPath {
                        variable,
                        negated: false,
                        fields,
                    },
                    false => Node::Path(variable, UNSHARED, fields),
                }
            }
            Expr::Map(map) => {
                let mut keys: Vec<&str> = Vec::with_capacity(map.entries.len());
                let mut entries: Vec<u32> = Vec::with_capacity(3 * map.entries.len());
                for entry in &map.entries {
                    let EntryExpr::MapEntry(entry) = &entry.expr else {
                        return None;
                    };
                    let Expr::Literal(LiteralValue::String(key)) = &entry.key.expr else {
                        return None;
                    };
                    let key = key.inner();
                    if entry.optional || keys.contains(&key) {
                        return None;
                    }
                    keys.push(key);
                    let value = self.id(&entry.value)?;
                    let key = self.span(key)?;
                    entries.extend([key.start, key.len, value.0]);
                }
                Node::Map(self.operands(&entries)?)
            }
            Expr::List(list) if list.optional_indices.is_empty() => {
                let elements = list
                    .elements
                    .iter()
                    .map(|element| Some(self.id(element)?.0))
                    .collect::<Option<Vec<u32>>>()?;
                Node::List(self.operands(&elements)?)
            }
            Expr::Call(call) => self.call(call)?,
            _ => return None,
        })
    }

    fn call(&mut self, call: &kube_cel::cel::common::ast::CallExpr) -> Option<Node> {
        let args = &call.args;
        if let (None, [left, right]) = (&call.target, args.as_slice())
            && let Some(make) = binary(&call.func_name)
        {
            return Some(make(self.id(left)?, self.id(right)?));
        }
        Some(
            match (call.target.as_deref(), call.func_name.as_str(), args.len()) {
                (None, operators::LOGICAL_NOT, 1) => match self.node(&args[0])? {
                    Node::HasPath {
                        variable,
                        negated,
                        fields,
                    } => Node::HasPath {
                        variable,
                        negated: !negated,
                        fields,
                    },
                    operand => Node::Not(self.push(operand)?),
                },
                (None, operators::NEGATE, 1) => Node::Negate(self.id(&args[0])?),
                (None, operators::LOGICAL_AND, 2) => {
                    Node::All(self.flattened(&args[0], &args[1], |node| match node {
                        Node::All(operands) => Ok(*operands),
                        _ => Err(()),
                    })?)
                }
                (None, operators::LOGICAL_OR, 2) => {
                    Node::Any(self.flattened(&args[0], &args[1], |node| match node {
                        Node::Any(operands) => Ok(*operands),
                        _ => Err(()),
                    })?)
                }
                (None, operators::CONDITIONAL, 3) => {
                    Node::Conditional(self.id(&args[0])?, self.id(&args[1])?, self.id(&args[2])?)
                }
                (None, "size", 1) => Node::Size(self.id(&args[0])?),
                (Some(target), "size", 0) => Node::Size(self.id(target)?),
                (Some(target), "trim", 0) => Node::Trim(self.id(target)?),
                (None, "string", 1) => Node::String(self.id(&args[0])?),
                (None, "bytes", 1) => Node::Bytes(self.id(&args[0])?),
                (None, "int", 1) => Node::ToInt(self.id(&args[0])?),
                (None, "dyn", 1) => self.node(&args[0])?,
                (None, "isQuantity", 1) => Node::IsQuantity(self.id(&args[0])?),
                (None, "quantity", 1) => Node::Quantity(self.id(&args[0])?),
                (Some(target), method, 1) => {
                    let target = self.id(target)?;
                    match method {
                        "matches" => Node::Matches(target, self.pattern(&args[0])?),
                        "find" => Node::Find(target, self.pattern(&args[0])?),
                        "startsWith" => Node::StartsWith(target, self.id(&args[0])?),
                        "endsWith" => Node::EndsWith(target, self.id(&args[0])?),
                        "contains" => Node::Contains(target, self.id(&args[0])?),
                        "split" => Node::Split(target, self.id(&args[0])?),
                        "isLessThan" => {
                            Node::QuantityCompare(target, self.id(&args[0])?, Ordering::Less)
                        }
                        "isGreaterThan" => {
                            Node::QuantityCompare(target, self.id(&args[0])?, Ordering::Greater)
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            },
        )
    }

    /// The operands of `left OP right` for an associative `OP`, with those that are
    /// themselves `OP` (which `same` recognises) spliced in: the order of evaluation is the
    /// written one.
    fn flattened(
        &mut self,
        left: &IdedExpr,
        right: &IdedExpr,
        same: impl Fn(&Node) -> Result<Operands, ()>,
    ) -> Option<Operands> {
        let mut all = Vec::new();
        for side in [left, right] {
            let node = self.node(side)?;
            match same(&node) {
                Ok(inner) => {
                    let first = inner.first as usize;
                    all.extend_from_slice(&self.operands[first..][..inner.count as usize]);
                    // The inner list was the last one written: its place is reused.
                    if first + inner.count as usize == self.operands.len() {
                        self.operands.truncate(first);
                    }
                }
                Err(()) => all.push(self.push(node)?.0),
            }
        }
        self.operands(&all)
    }

    /// A literal pattern is compiled once per expression: when first used, or now in a
    /// long-running process ([`crate::pattern::builds_up_front`]). One that does not compile
    /// is left to the interpreter, for its message.
    fn pattern(&mut self, tree: &IdedExpr) -> Option<u32> {
        let pattern = match &tree.expr {
            Expr::Literal(LiteralValue::String(source)) => {
                let compiled = OnceLock::new();
                if crate::pattern::builds_up_front() {
                    let _ = compiled.set(super::pattern("matches", source.inner()).ok());
                }
                PatternArg::Literal(self.span(source.inner())?, compiled)
            }
            _ => PatternArg::Computed(self.id(tree)?),
        };
        self.patterns.push(pattern);
        u32::try_from(self.patterns.len() - 1).ok()
    }
}

/// How a binary operator's node is made from its operands' nodes, for the operators that
/// take their operands as they are.
fn binary(operator: &str) -> Option<fn(Id, Id) -> Node> {
    Some(match operator {
        operators::EQUALS => |a, b| Node::Equals(a, b, true),
        operators::NOT_EQUALS => |a, b| Node::Equals(a, b, false),
        operators::LESS => |a, b| Node::Compare(a, b, Comparison::Less),
        operators::LESS_EQUALS => |a, b| Node::Compare(a, b, Comparison::LessOrEqual),
        operators::GREATER => |a, b| Node::Compare(a, b, Comparison::Greater),
        operators::GREATER_EQUALS => |a, b| Node::Compare(a, b, Comparison::GreaterOrEqual),
        operators::ADD => Node::Add,
        operators::SUBSTRACT => |a, b| Node::Arithmetic(a, b, Arithmetic::Subtract),
        operators::MULTIPLY => |a, b| Node::Arithmetic(a, b, Arithmetic::Multiply),
        operators::DIVIDE => |a, b| Node::Arithmetic(a, b, Arithmetic::Divide),
        operators::MODULO => |a, b| Node::Arithmetic(a, b, Arithmetic::Remainder),
        operators::INDEX => Node::Index,
        operators::IN => Node::In,
        _ => return None,
    })
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

/// One evaluation: the expression and the values of its variables.
struct Eval<'v> {
    direct: &'v Direct,
    /// The value of each of [`Direct::roots`], looked up once per evaluation.
    roots: [Option<&'v serde_json::Value>; MOST_ROOTS],
    /// What each field chain the expression reads more than once led to, once walked. The
    /// roots are bound once per evaluation and the direct form has no comprehensions (whose
    /// variables would change), so a chain leads to the same value every time. A chain that
    /// leads nowhere gives up the evaluation, so only values are kept.
    chains: [Cell<Option<&'v serde_json::Value>>; SHARED_CHAINS],
}

impl<'v> Eval<'v> {
    #[inline]
    fn root(&self, variable: u8) -> Option<&'v serde_json::Value> {
        *self.roots.get(usize::from(variable))?
    }

    /// `pattern` applied to `using`. A literal's compiled pattern is borrowed: cloning its
    /// `Arc` on every match would write to a cache line that every worker thread reads.
    fn with_regex<T>(&self, pattern: u32, using: impl FnOnce(&Pattern) -> T) -> Option<T> {
        match self.direct.patterns.get(pattern as usize)? {
            PatternArg::Literal(source, regex) => regex
                .get_or_init(|| super::pattern("matches", self.direct.text(*source)).ok())
                .as_deref()
                .map(using),
            PatternArg::Computed(source) => {
                let regex = super::pattern("matches", &string(self.value(*source)?)?).ok()?;
                Some(using(&regex))
            }
        }
    }

    fn string(&self, id: Id) -> Option<Cow<'v, str>> {
        string(self.value(id)?)
    }

    fn value(&self, id: Id) -> Option<Val<'v>> {
        let direct = self.direct;
        Some(match direct.nodes.get(id.0 as usize)? {
            Node::Null => Val::Null,
            Node::Bool(flag) => Val::Bool(*flag),
            Node::Int(int) => Val::Int(*int),
            Node::Str(text) => Val::Str(Cow::Borrowed(direct.text(*text))),
            Node::Variable(variable) => read(self.root(*variable)?)?,
            Node::Path(variable, slot, fields) => {
                let chains = self.chains.get(usize::from(*slot));
                match chains.and_then(Cell::get) {
                    Some(found) => read(found)?,
                    None => {
                        let found = walk(self.root(*variable)?, direct.text(*fields))?;
                        if let Some(cached) = chains {
                            cached.set(Some(found));
                        }
                        read(found)?
                    }
                }
            }
            Node::Select(operand, name) => match self.value(*operand)? {
                Val::Json(serde_json::Value::Object(fields)) => {
                    read(field(fields, direct.text(*name))?)?
                }
                Val::Map(entries) => {
                    let name = direct.text(*name);
                    entries.into_iter().find(|(key, _)| *key == name)?.1
                }
                _ => return None,
            },
            Node::Has(operand, name) => match self.value(*operand)? {
                Val::Json(serde_json::Value::Object(fields)) => {
                    Val::Bool(field(fields, direct.text(*name)).is_some())
                }
                Val::Map(entries) => {
                    let name = direct.text(*name);
                    Val::Bool(entries.iter().any(|(key, _)| *key == name))
                }
                _ => return None,
            },
            // As `has()` of the chain's last selection would: the steps before it must be
            // mappings that have their field, and the last one a mapping.
            Node::HasPath {
                variable,
                negated,
                fields,
            } => {
                let mut value = self.root(*variable)?;
                let mut names = names(direct.text(*fields)).peekable();
                loop {
                    let (name, fields) = (names.next()?, value.as_object()?);
                    if names.peek().is_none() {
                        break Val::Bool(field(fields, name).is_some() != *negated);
                    }
                    value = field(fields, name)?;
                }
            }
            Node::Not(operand) => Val::Bool(!boolean(self.value(*operand))?),
            Node::Negate(operand) => match self.value(*operand)? {
                Val::Int(int) => Val::Int(int.checked_neg()?),
                _ => return None,
            },
            // CEL's `&&` and `||` absorb an error on one side when the other decides; giving
            // up on any error before an operand decides leaves those cases to the interpreter.
            Node::All(operands) => {
                for operand in direct.operands(*operands) {
                    if !boolean(self.value(Id(*operand)))? {
                        return Some(Val::Bool(false));
                    }
                }
                Val::Bool(true)
            }
            Node::Any(operands) => {
                for operand in direct.operands(*operands) {
                    if boolean(self.value(Id(*operand)))? {
                        return Some(Val::Bool(true));
                    }
                }
                Val::Bool(false)
            }
            Node::Conditional(condition, then, otherwise) => {
                if boolean(self.value(*condition))? {
                    self.value(*then)?
                } else {
                    self.value(*otherwise)?
                }
            }
            Node::Equals(left, right, equal) => {
                Val::Bool(equals(self.value(*left)?, self.value(*right)?)? == *equal)
            }
            Node::Compare(left, right, comparison) => {
                let ordering = match (self.value(*left)?, self.value(*right)?) {
                    (Val::Int(a), Val::Int(b)) => a.cmp(&b),
                    (Val::Str(a), Val::Str(b)) => a.cmp(&b),
                    _ => return None,
                };
                Val::Bool(comparison.holds(ordering))
            }
            Node::Add(left, right) => match (self.value(*left)?, self.value(*right)?) {
                (Val::Int(a), Val::Int(b)) => Val::Int(a.checked_add(b)?),
                (Val::Str(a), Val::Str(b)) => Val::Str(Cow::Owned(concatenated(a, &b))),
                _ => return None,
            },
            Node::Arithmetic(left, right, operation) => {
                match (self.value(*left)?, self.value(*right)?) {
                    (Val::Int(a), Val::Int(b)) => Val::Int(operation.apply(a, b)?),
                    _ => return None,
                }
            }
            Node::Index(operand, index) => match (self.value(*operand)?, self.value(*index)?) {
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
            Node::In(element, container) => {
                match (self.value(*element)?, self.value(*container)?) {
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
                }
            }
            Node::List(elements) => Val::List(
                direct
                    .operands(*elements)
                    .iter()
                    .map(|element| self.value(Id(*element)))
                    .collect::<Option<_>>()?,
            ),
            Node::Map(entries) => Val::Map(
                direct
                    .operands(*entries)
                    .chunks_exact(3)
                    .map(|entry| {
                        let key = direct.text(Span {
                            start: entry[0],
                            len: entry[1],
                        });
                        Some((key, self.value(Id(entry[2]))?))
                    })
                    .collect::<Option<_>>()?,
            ),
            // The `cel` crate's size of a string is its length in bytes.
            Node::Size(operand) => Val::Int(
                i64::try_from(match self.value(*operand)? {
                    Val::Str(text) | Val::Bytes(text) => text.len(),
                    Val::Json(serde_json::Value::Array(items)) => items.len(),
                    Val::Json(serde_json::Value::Object(fields)) => fields.len(),
                    Val::Map(entries) => entries.len(),
                    Val::List(items) => items.len(),
                    _ => return None,
                })
                .ok()?,
            ),
            Node::String(operand) => match self.value(*operand)? {
                Val::Str(text) => Val::Str(text),
                Val::Int(int) => Val::Str(Cow::Owned(int.to_string())),
                _ => return None,
            },
            // The `cel` crate reads a string as Rust's `i64::from_str` does.
            Node::ToInt(operand) => match self.value(*operand)? {
                Val::Int(int) => Val::Int(int),
                Val::Str(text) => Val::Int(text.parse().ok()?),
                _ => return None,
            },
            Node::Bytes(operand) => Val::Bytes(self.string(*operand)?),
            Node::Matches(operand, pattern) => {
                let text = self.string(*operand)?;
                Val::Bool(self.with_regex(*pattern, |regex| regex.is_match(&text))?)
            }
            // The first match, or the empty string, as kiln's `find` gives it.
            Node::Find(operand, pattern) => {
                let text = self.string(*operand)?;
                let found = self.with_regex(*pattern, |regex| regex.find(&text))?;
                let found = found.unwrap_or(0..0);
                Val::Str(match text {
                    Cow::Borrowed(text) => Cow::Borrowed(&text[found]),
                    Cow::Owned(text) => Cow::Owned(text[found].to_owned()),
                })
            }
            Node::Trim(operand) => Val::Str(match self.string(*operand)? {
                Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
                Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
            }),
            Node::StartsWith(operand, prefix) => Val::Bool(
                self.string(*operand)?
                    .starts_with(self.string(*prefix)?.as_ref()),
            ),
            Node::EndsWith(operand, suffix) => Val::Bool(
                self.string(*operand)?
                    .ends_with(self.string(*suffix)?.as_ref()),
            ),
            Node::Contains(operand, part) => Val::Bool(
                self.string(*operand)?
                    .contains(self.string(*part)?.as_ref()),
            ),
            Node::Split(operand, separator) => {
                let separator = self.string(*separator)?;
                if separator.is_empty() {
                    return None;
                }
                match self.string(*operand)? {
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
            Node::IsQuantity(operand) => match is_plain_quantity(&self.string(*operand)?) {
                true => Val::Bool(true),
                false => return None,
            },
            Node::Quantity(operand) => Val::Quantity(plain_quantity(&self.string(*operand)?)?),
            Node::QuantityCompare(left, right, wanted) => {
                match (self.value(*left)?, self.value(*right)?) {
                    (Val::Quantity(a), Val::Quantity(b)) => Val::Bool(a.cmp(&b) == *wanted),
                    _ => return None,
                }
            }
        })
    }
}

/// The value at a field chain (`spec.image`) below `value`, if every step is there: as a
/// chain of selections reads it, each step must be a mapping that has the field.
fn walk<'v>(mut value: &'v serde_json::Value, chain: &str) -> Option<&'v serde_json::Value> {
    for name in names(chain) {
        value = field(value.as_object()?, name)?;
    }
    Some(value)
}

/// The field names of a chain as [`Builder::chain`] writes it: no search for a separator.
fn names(chain: &str) -> impl Iterator<Item = &str> {
    let mut rest = chain;
    std::iter::from_fn(move || {
        let length = usize::from(*rest.as_bytes().first()?);
        let name = rest.get(1..1 + length)?;
        rest = &rest[1 + length..];
        Some(name)
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

    /// A field chain read more than once is walked once per evaluation: its reads share a
    /// slot, and a chain read once, or a chain of another variable, has none.
    #[test]
    fn chains_read_twice_share_a_slot() {
        let source = "self.a.b + self.a.b + size(self.c) + values.a.b + self.a.b + self.d.e.size() \
            + self.d.e.size()";
        let tree = kube_cel::cel::parser::Parser::new().parse(source).unwrap();
        let direct = Direct::compile(&tree, &[SELF, VALUES]).unwrap();
        let slots: Vec<(String, u8)> = direct
            .nodes
            .iter()
            .filter_map(|node| match node {
                Node::Path(variable, slot, fields) => Some((
                    format!(
                        "{}.{}",
                        direct.roots[usize::from(*variable)],
                        super::names(direct.text(*fields))
                            .collect::<Vec<_>>()
                            .join(".")
                    ),
                    *slot,
                )),
                _ => None,
            })
            .collect();
        let unshared = super::UNSHARED;
        assert_eq!(
            slots,
            [
                ("self.a.b".to_owned(), 0),
                ("self.a.b".to_owned(), 0),
                ("self.c".to_owned(), unshared),
                ("values.a.b".to_owned(), unshared),
                ("self.a.b".to_owned(), 0),
                ("self.d.e".to_owned(), 1),
                ("self.d.e".to_owned(), 1),
            ]
        );
        // The shared walk gives what the interpreter gives, and so does a chain that leads
        // nowhere on its second read as on its first.
        let value = serde_json::json!({"a": {"b": 2}, "c": "xyz", "d": {"e": "four"}});
        assert!(both("self.a.b + self.a.b * self.a.b", value.clone()).0);
        assert!(both("self.d.e + self.d.e", value.clone()).0);
        assert!(!both("self.x.y == 1 || self.x.y == 2", value).0);
    }

    /// A guard chain is one step per operand: `||` and `&&` are flat lists and `!has(a.b)` a
    /// single walk, since each step of the tree costs a dispatch on every review.
    #[test]
    fn guard_chains_are_flat() {
        let tree = kube_cel::cel::parser::Parser::new()
            .parse("!has(self.a.b) || !has(self.c) || (has(self.d) && self.e && self.f) || self.g")
            .unwrap();
        let direct = Direct::compile(&tree, &[SELF]).unwrap();
        let Node::Any(operands) = &direct.nodes[direct.root.0 as usize] else {
            panic!("{direct:?}");
        };
        let chain = |fields| {
            super::names(direct.text(fields))
                .collect::<Vec<_>>()
                .join(".")
        };
        let shapes: Vec<String> = direct
            .operands(*operands)
            .iter()
            .map(|operand| match &direct.nodes[*operand as usize] {
                Node::HasPath {
                    fields, negated, ..
                } => format!("has {} {negated}", chain(*fields)),
                Node::All(operands) => format!("all of {}", operands.count),
                Node::Path(_, _, fields) => chain(*fields),
                other => format!("{other:?}"),
            })
            .collect();
        // Nothing is written twice: the inner `&&` list's place was reused, and only the
        // nodes that are evaluated were kept.
        assert_eq!(direct.operands.len(), 4 + 3, "{direct:?}");
        assert_eq!(direct.nodes.len(), 4 + 3 + 1, "{direct:?}");
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
