//! CEL: the expression language of chart rules, derived defaults and variables.
//! It owns the one evaluation environment (the `cel` crate with the Kubernetes libraries of
//! `kube-cel`, regular expressions compiled once per pattern), the conversion of JSON values
//! into CEL values with Kubernetes' number semantics, and compile errors with positions.
//! It knows nothing about charts or kinds.

mod chains;
mod direct;
#[cfg_attr(not(test), allow(dead_code))] // encoding is build.rs's, and the tests'
mod encoding;
mod rename;
pub use rename::rename_variables;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use kube_cel::KubeCelExt;
pub use kube_cel::cel::Value;
use kube_cel::cel::common::ast::{CallExpr, EntryExpr, Expr, LiteralValue};
// The syntax and literal types, as `encoding` (shared with build.rs) names them.
use kube_cel::cel::common::{ast, types};
use kube_cel::cel::extractors::This;
use kube_cel::cel::objects::{Key, Map};
use kube_cel::cel::{Context, ExecutionError, IdedExpr};

use crate::pattern::Pattern;

/// The built-in charts' expressions, parsed by build.rs (see `encoding`).
mod prebuilt {
    include!(concat!(env!("OUT_DIR"), "/cel_syntax.rs"));
}

/// Names every expression may read; anything else is a compile error in the chart.
pub const SELF: &str = "self";
pub const VALUES: &str = "values";
pub const VARIABLES: &str = "variables";

/// The functions of the CEL standard library and the Kubernetes libraries, registered once.
static BASE: LazyLock<Context<'static>> = LazyLock::new(|| {
    let mut context = Context::default().with_all();
    // The crate compiles a pattern on every call; rules run per spec, so cache them.
    context.add_function("matches", cached_matches);
    context.add_function("find", cached_find);
    // CEL's type conversion to `dyn`, which the API server's type checker needs wherever one
    // branch of a conditional is null and the other is not; the value is unchanged.
    context.add_function("dyn", to_dyn);
    context
});

fn to_dyn(This(value): This<Value>) -> Result<Value, ExecutionError> {
    Ok(value)
}

/// Whether the environment has a function of this name: asked of the interpreter once per
/// name, since the `cel` crate only says so when the function is called.
fn has_function(name: &str) -> bool {
    static KNOWN: LazyLock<Mutex<HashMap<String, bool>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&answer) = known.get(name) {
        return answer;
    }
    // Called without arguments, a known function complains about its arguments; an unknown
    // one is an undeclared reference. The call is built as syntax, not parsed from text: the
    // parser costs more than the call, and this runs once per function name at start-up.
    let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier {
        return true; // an operator (`!_`, `-_`), which the parser knows
    }
    let call = IdedExpr {
        id: 1,
        expr: Expr::Call(CallExpr {
            func_name: name.to_owned(),
            target: None,
            args: Vec::new(),
        }),
    };
    let answer = !matches!(
        BASE.resolve(&call),
        Err(ExecutionError::UndeclaredReference(reference)) if reference.as_str() == name
    );
    known.insert(name.to_owned(), answer);
    answer
}

/// The syntax tree of `source`: build.rs's for an expression of a built-in chart, else the
/// parser's (with the parser's message when it does not parse).
pub fn parse(source: &str) -> Result<IdedExpr, CompileError> {
    let prebuilt = prebuilt::PARSED
        .binary_search_by(|(known, _)| (*known).cmp(source))
        .ok()
        .and_then(|index| encoding::decode(prebuilt::PARSED[index].1));
    if let Some(tree) = prebuilt {
        return Ok(tree);
    }
    #[cfg(test)]
    tests::PARSER_CALLS.with(|calls| calls.set(calls.get() + 1));
    kube_cel::cel::parser::Parser::new()
        .parse(source)
        .map_err(|errors| CompileError(errors.to_string().trim().replace('\n', " ")))
}

/// A compiled expression and its source, for messages. The direct form comes first
/// (`repr(C)`): it is what most evaluations read, and nothing else.
#[derive(Debug)]
#[repr(C)]
pub struct Expression {
    /// The expression evaluated directly over the JSON, when it is in the part of CEL that
    /// [`direct`] evaluates: what runs first.
    direct: Option<direct::Direct>,
    pub source: String,
    /// The expression as parsed: what runs when the tree with field chains cannot.
    original: IdedExpr,
    /// The same expression with its field chains read as single variables: what runs when the
    /// direct form gives up.
    fast: chains::Chains,
}

/// Values an evaluation may bind, by variable name; each expression gets only what it reads.
pub type Inputs<'a> = [(&'static str, &'a serde_json::Value)];

/// Why an expression cannot be used: the message says where in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

impl Expression {
    /// Parses `source` and checks that it reads only the variables in `allowed`.
    pub fn compile(source: &str, allowed: &[&'static str]) -> Result<Expression, CompileError> {
        let original = parse(source)?;
        let references = original.references();
        let fast = chains::extract(&original, allowed);
        let unknown = distinct(
            references
                .variables()
                .into_iter()
                .filter(|name| !allowed.contains(name) && !fast.bound.iter().any(|b| b == name)),
        );
        if !unknown.is_empty() {
            return Err(CompileError(format!(
                "reads {}, which is not defined here (available: {})",
                unknown.join(", "),
                allowed.join(", ")
            )));
        }
        let missing = distinct(
            references
                .functions()
                .into_iter()
                .filter(|name| !name.starts_with(['_', '@']) && !has_function(name)),
        );
        if !missing.is_empty() {
            return Err(CompileError(format!(
                "calls {}, which kiln's CEL does not have",
                missing.join(", ")
            )));
        }
        if crate::pattern::builds_up_front() {
            build_literal_patterns(&original);
        }
        Ok(Expression {
            source: source.to_owned(),
            direct: direct::Direct::compile(&original, allowed),
            original,
            fast,
        })
    }

    /// The fields of `variable` the expression reads (`autoscaling` of
    /// `variables.autoscaling.minReplicas`, or of `has(variables.autoscaling)`), or `None` when
    /// it reads the variable whole (`variables[name]`, `size(variables)`): any field.
    pub fn fields_read(&self, variable: &str) -> Option<Vec<&str>> {
        if self.fast.whole.iter().any(|whole| whole == variable) {
            return None;
        }
        let chains = self.fast.chains.iter().filter(|c| c.variable == variable);
        chains
            .map(|chain| chain.fields.first().map(String::as_str))
            .collect()
    }

    /// The parsed expression, for analyses over its syntax (cost bounds).
    pub fn ast(&self) -> &kube_cel::cel::IdedExpr {
        &self.original
    }

    /// Evaluates in `scope` with `inputs` bound: directly when the expression and the values
    /// allow it ([`direct`]), else with the interpreter.
    pub fn eval(&self, scope: &Scope<'_>, inputs: &Inputs<'_>) -> Result<Value, String> {
        if let Some(value) = self.direct(scope, inputs).and_then(|value| value.to_cel()) {
            self.debug_check(scope, inputs, &value);
            return Ok(value);
        }
        self.interpret(scope, inputs)
    }

    /// Evaluates to a boolean, as a rule must.
    pub fn eval_bool(&self, scope: &Scope<'_>, inputs: &Inputs<'_>) -> Result<bool, String> {
        if let Some(direct::Val::Bool(result)) = self.direct(scope, inputs) {
            self.debug_check(scope, inputs, &Value::Bool(result));
            return Ok(result);
        }
        match self.interpret(scope, inputs)? {
            Value::Bool(result) => Ok(result),
            other => Err(format!("gave {}, not true or false", short(&other))),
        }
    }

    /// Evaluates to a string, as a message expression must.
    pub fn eval_string(&self, scope: &Scope<'_>, inputs: &Inputs<'_>) -> Result<String, String> {
        if let Some(direct::Val::Str(text)) = self.direct(scope, inputs) {
            let text = text.into_owned();
            self.debug_check(scope, inputs, &Value::String(Arc::new(text.clone())));
            return Ok(text);
        }
        match self.interpret(scope, inputs)? {
            Value::String(text) => Ok(text.as_str().to_owned()),
            other => Err(format!("gave {}, not a string", short(&other))),
        }
    }

    /// Evaluates to JSON, as a default or a variable must: `Ok(None)` for a value JSON cannot
    /// hold. Mappings come with their keys sorted ([`to_json`]).
    pub fn eval_json(
        &self,
        scope: &Scope<'_>,
        inputs: &Inputs<'_>,
    ) -> Result<Option<serde_json::Value>, String> {
        if let Some(json) = self.direct(scope, inputs).and_then(|value| value.to_json()) {
            #[cfg(debug_assertions)]
            assert_eq!(
                self.interpret(scope, inputs).map(|value| to_json(&value)),
                Ok(Some(json.clone())),
                "direct evaluation of {}",
                self.source
            );
            return Ok(Some(json));
        }
        Ok(to_json(&self.interpret(scope, inputs)?))
    }

    fn direct<'v>(
        &'v self,
        scope: &'v Scope<'_>,
        inputs: &'v Inputs<'v>,
    ) -> Option<direct::Val<'v>> {
        self.direct.as_ref()?.eval(&Roots { scope, inputs })
    }

    /// Debug builds, every test among them, hold a direct result to the interpreter's.
    fn debug_check(&self, _scope: &Scope<'_>, _inputs: &Inputs<'_>, _direct: &Value) {
        #[cfg(debug_assertions)]
        assert_eq!(
            self.interpret(_scope, _inputs).as_ref(),
            Ok(_direct),
            "direct evaluation of {}",
            self.source
        );
    }

    /// The interpreter: the tree with field chains runs first, each chain standing for the
    /// value at its end ([`Bindings`]); only when it fails on a chain that is not there does
    /// the original expression run, over the whole inputs, for CEL's own error.
    fn interpret(&self, scope: &Scope<'_>, inputs: &Inputs<'_>) -> Result<Value, String> {
        let bindings = Bindings {
            fast: &self.fast,
            scope,
            inputs,
        };
        let mut local = scope.context.new_inner_scope();
        local.set_variable_resolver(&bindings);
        match Value::resolve(&self.fast.tree, &local) {
            Err(ExecutionError::UndeclaredReference(name))
                if self.fast.chains.iter().any(|chain| *chain.name == *name) =>
            {
                let mut local = scope.context.new_inner_scope();
                for (name, value) in inputs {
                    local.add_variable_from_value(*name, to_cel(value));
                }
                Value::resolve(&self.original, &local).map_err(|e| describe(&e))
            }
            result => result.map_err(|e| describe(&e)),
        }
    }
}

/// The variables as [`direct`] reads them: the inputs, which shadow the scope, then the scope.
struct Roots<'v, 's> {
    scope: &'v Scope<'s>,
    inputs: &'v Inputs<'v>,
}

impl<'v> direct::Variables<'v> for Roots<'v, '_> {
    fn get(&self, name: &str) -> Option<&'v serde_json::Value> {
        self.scope.json(name, self.inputs)
    }
}

/// What the rewritten tree reads, converted when the interpreter first asks for it: a branch
/// not taken (`has(x) ? x.y : z`) converts nothing, and nothing is copied into a map of
/// bindings that each evaluation would build and drop. A chain that is not there resolves to
/// nothing, which the interpreter reports as an undeclared reference (see [`Expression::eval`]).
struct Bindings<'e> {
    fast: &'e chains::Chains,
    scope: &'e Scope<'e>,
    inputs: &'e Inputs<'e>,
}

impl kube_cel::cel::context::VariableResolver for Bindings<'_> {
    fn resolve(&self, name: &str) -> Option<Value> {
        if let Some(chain) = self.fast.chains.iter().find(|chain| chain.name == name) {
            return match chain.lookup(self.scope.json(&chain.variable, self.inputs)?)? {
                chains::Found::Value(value) => Some(to_cel(value)),
                chains::Found::Present(present) => Some(Value::Bool(present)),
            };
        }
        if self.fast.whole.iter().any(|whole| whole == name) {
            return self
                .inputs
                .iter()
                .find(|(input, _)| *input == name)
                .map(|(_, value)| to_cel(value));
        }
        None
    }
}

/// Variables bound for evaluation: what many expressions share (the chart's values), bound
/// once; per-object values come as [`Inputs`] to each evaluation. The JSON is kept beside its
/// converted form, for reading field chains out of it.
pub struct Scope<'a> {
    context: Context<'a>,
    json: Vec<(&'static str, serde_json::Value)>,
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scope")
    }
}

impl Scope<'static> {
    /// A scope with the standard and Kubernetes functions and no variables.
    pub fn root() -> Scope<'static> {
        Scope {
            context: BASE.new_inner_scope(),
            json: Vec::new(),
        }
    }
}

impl Scope<'_> {
    /// `value` bound as `name`.
    pub fn with(mut self, name: &'static str, value: &serde_json::Value) -> Self {
        self.context.add_variable_from_value(name, to_cel(value));
        self.json.retain(|(bound, _)| *bound != name);
        self.json.push((name, value.clone()));
        self
    }

    /// The JSON bound as `name`: in `inputs`, which shadow the scope, or in the scope.
    fn json<'v>(&'v self, name: &str, inputs: &'v Inputs<'v>) -> Option<&'v serde_json::Value> {
        inputs
            .iter()
            .find(|(input, _)| same_name(input, name))
            .map(|(_, value)| *value)
            .or_else(|| {
                self.json
                    .iter()
                    .find(|(bound, _)| same_name(bound, name))
                    .map(|(_, value)| value)
            })
    }
}

/// Names are the constants `SELF`, `VALUES`, `VARIABLES` on both sides, mostly: the same
/// pointer, found without comparing bytes.
fn same_name(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// Names sorted and each once, for messages.
fn distinct<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// JSON to CEL as the API server sees it: integers are `int`, never `uint`.
pub fn to_cel(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(int) => Value::Int(int),
            None => match number.as_u64() {
                Some(uint) => Value::UInt(uint),
                None => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
            },
        },
        serde_json::Value::String(text) => Value::String(Arc::new(text.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(to_cel).collect()))
        }
        serde_json::Value::Object(fields) => {
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(key, value)| (Key::String(Arc::new(key.clone())), to_cel(value)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// CEL to JSON, for defaults and variables that reach templates and patches. `None` for
/// values JSON cannot hold (functions, bytes, timestamps).
pub fn to_json(value: &Value) -> Option<serde_json::Value> {
    Some(match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Int(int) => serde_json::Value::from(*int),
        Value::UInt(uint) => serde_json::Value::from(*uint),
        Value::Float(float) => serde_json::Number::from_f64(*float)?.into(),
        Value::String(text) => serde_json::Value::String(text.as_str().to_owned()),
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Option<Vec<_>>>()?)
        }
        Value::Map(map) => {
            let mut fields: Vec<(String, serde_json::Value)> = Vec::with_capacity(map.map.len());
            for (key, value) in map.map.iter() {
                let key = match key {
                    Key::String(text) => text.as_str().to_owned(),
                    Key::Int(int) => int.to_string(),
                    Key::Uint(uint) => uint.to_string(),
                    Key::Bool(flag) => flag.to_string(),
                };
                fields.push((key, to_json(value)?));
            }
            // CEL maps are unordered; sort so output never depends on hashing.
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(fields.into_iter().collect())
        }
        _ => return None,
    })
}

fn describe(error: &ExecutionError) -> String {
    match error {
        ExecutionError::NoSuchKey(key) => {
            format!("no such key: {key} (guard optional fields with has())")
        }
        other => other.to_string(),
    }
}

fn short(value: &Value) -> String {
    match to_json(value) {
        Some(json) => {
            let text = json.to_string();
            if text.chars().count() > 60 {
                format!("{}...", text.chars().take(60).collect::<String>())
            } else {
                text
            }
        }
        None => format!("{:?}", value.type_of()),
    }
}

/// Compiled patterns, shared by every thread; bounded so a chart cannot grow it forever.
static PATTERNS: LazyLock<Mutex<HashMap<String, Arc<Pattern>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const MAX_PATTERNS: usize = 512;

fn pattern(name: &str, source: &str) -> Result<Arc<Pattern>, ExecutionError> {
    let mut cache = PATTERNS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(regex) = cache.get(source) {
        return Ok(regex.clone());
    }
    let regex = Pattern::new(source)
        .map_err(|e| ExecutionError::function_error(name, format!("invalid regex: {e}")))?;
    let regex = Arc::new(regex);
    if cache.len() < MAX_PATTERNS {
        cache.insert(source.to_owned(), regex.clone());
    }
    Ok(regex)
}

/// Builds now, into the cache of patterns, every literal pattern `tree` matches or finds with:
/// a long-running process ([`crate::pattern::builds_up_front`]) would otherwise build each
/// (determinizing it, up to about 30 ms) on the first request that reaches it, even in an
/// expression left to the interpreter (`self.all(k, k.matches('^[A-Z]+$'))`). One that does
/// not compile is left for evaluation to report.
fn build_literal_patterns(tree: &IdedExpr) {
    let mut pending = vec![tree];
    while let Some(node) = pending.pop() {
        if let Expr::Call(call) = &node.expr
            && let (Some(_), "matches" | "find", [argument]) =
                (&call.target, call.func_name.as_str(), call.args.as_slice())
            && let Expr::Literal(LiteralValue::String(source)) = &argument.expr
        {
            let _ = pattern(&call.func_name, source.inner());
        }
        pending.extend(subexpressions(node));
    }
}

/// The expressions directly inside `tree`, in the order written: a call's target and
/// arguments, a selection's operand, list elements, map keys and values, struct field values,
/// and a comprehension's range, initial value, condition, step and result. For walks that do
/// the same at every node; one that binds names (a comprehension's variables) walks itself.
pub(crate) fn subexpressions(tree: &IdedExpr) -> Vec<&IdedExpr> {
    match &tree.expr {
        Expr::Call(call) => call
            .target
            .as_deref()
            .into_iter()
            .chain(&call.args)
            .collect(),
        Expr::Select(select) => vec![&select.operand],
        Expr::Comprehension(comprehension) => vec![
            &comprehension.iter_range,
            &comprehension.accu_init,
            &comprehension.loop_cond,
            &comprehension.loop_step,
            &comprehension.result,
        ],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map
            .entries
            .iter()
            .flat_map(|entry| entry_values(&entry.expr))
            .collect(),
        Expr::Struct(object) => object
            .entries
            .iter()
            .flat_map(|entry| entry_values(&entry.expr))
            .collect(),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

/// A map entry's key and value, or a struct field's value.
fn entry_values(entry: &EntryExpr) -> Vec<&IdedExpr> {
    match entry {
        EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
        EntryExpr::StructField(field) => vec![&field.value],
    }
}

/// `string.matches(pattern)`: RE2 syntax, true when the pattern matches anywhere.
fn cached_matches(
    This(this): This<Arc<String>>,
    regex: Arc<String>,
) -> Result<bool, ExecutionError> {
    Ok(pattern("matches", &regex)?.is_match(&this))
}

/// `string.find(pattern)`: the first match, or the empty string.
fn cached_find(This(this): This<Arc<String>>, regex: Arc<String>) -> Result<Value, ExecutionError> {
    let found = pattern("find", &regex)?
        .find(&this)
        .map(|range| this[range].to_owned())
        .unwrap_or_default();
    Ok(Value::String(Arc::new(found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(source: &str, value: serde_json::Value) -> Result<Value, String> {
        let expression = Expression::compile(source, &[SELF]).map_err(|e| e.0)?;
        expression.eval(&Scope::root(), &[(SELF, &value)])
    }

    /// What a long-running process builds when an expression compiles: every literal
    /// pattern, wherever it sits (in a comprehension, in a list inside a map), and nothing else.
    #[test]
    fn literal_patterns_are_found_everywhere_in_an_expression() {
        let tree = parse(
            "self.all(k, k.matches('^warm-1$')) && {'a': [self.x.find('warm-2')]}.size() > 0 \
             && self.y.matches(self.z) && 'warm-3'.contains('w') && !self.w.matches('(')",
        )
        .unwrap();
        let cached = |source: &str| PATTERNS.lock().unwrap().contains_key(source);
        assert!(!cached("^warm-1$") && !cached("warm-2"));
        build_literal_patterns(&tree);
        assert!(cached("^warm-1$") && cached("warm-2"));
        // Not a pattern, or not one that compiles: left for evaluation.
        assert!(!cached("warm-3") && !cached("("));
    }

    #[test]
    fn integers_are_ints_as_in_kubernetes() {
        let value = serde_json::json!({"replicas": 3});
        assert_eq!(eval("self.replicas - 5", value), Ok(Value::Int(-2)));
    }

    #[test]
    fn kubernetes_libraries_are_available() {
        let value = serde_json::json!({"cpu": "1500m", "limit": 1, "v": "1.10.2"});
        assert_eq!(
            eval(
                "quantity(self.cpu).isGreaterThan(quantity(string(self.limit)))",
                value.clone()
            ),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            eval("self.v.split('.')[1]", value.clone()),
            Ok(Value::String(Arc::new("10".into())))
        );
        assert_eq!(
            eval("self.v.matches('^[0-9.]+$')", value.clone()),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            eval("self.v.find('[0-9]+$')", value),
            Ok(Value::String(Arc::new("2".into())))
        );
    }

    #[test]
    fn unknown_functions_are_compile_errors_and_dyn_is_known() {
        let error = Expression::compile("self.a.frobnicate() && nope(1)", &[SELF]).unwrap_err();
        assert_eq!(
            error.0,
            "calls frobnicate, nope, which kiln's CEL does not have"
        );
        let value = serde_json::json!({"a": 1});
        assert_eq!(eval("dyn(self.a) == 1", value), Ok(Value::Bool(true)));
    }

    #[test]
    fn undeclared_variables_are_compile_errors() {
        let error = Expression::compile("values.a > 1", &[SELF]).unwrap_err();
        assert!(error.0.contains("reads values"), "{error:?}");
        assert!(Expression::compile("self.a >", &[SELF]).is_err());
    }

    #[test]
    fn comprehension_variables_are_bound_where_the_syntax_binds_them() {
        for source in [
            "self.all(k, k != '')",
            "self.all (k, k != '')",
            "self.map(k, k.size()).exists(n, n > 1)",
        ] {
            assert!(Expression::compile(source, &[SELF]).is_ok(), "{source}");
        }
        // Macro-like text inside a string binds nothing.
        let error = Expression::compile("'.all(foo, 1)' + foo", &[SELF]).unwrap_err();
        assert!(error.0.contains("reads foo"), "{error:?}");
    }

    thread_local! {
        /// How often `parse` called the parser on this thread.
        pub(super) static PARSER_CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Reading and compiling the built-in charts (schemas, rules, messages, defaults,
    /// variables, values schemas) parses nothing: build.rs found every expression.
    #[test]
    fn the_builtin_charts_compile_without_the_parser() {
        PARSER_CALLS.with(|calls| calls.set(0));
        for chart in crate::chart::Chart::builtins().unwrap() {
            chart.definition().unwrap();
        }
        assert_eq!(PARSER_CALLS.with(std::cell::Cell::get), 0);
        Expression::compile("1 + 1 == 2", &[]).unwrap();
        assert_eq!(PARSER_CALLS.with(std::cell::Cell::get), 1);
    }

    /// What build.rs parsed is what the parser gives now, for every expression it holds,
    /// and the built-in charts' expressions are there.
    #[test]
    fn prebuilt_trees_are_the_parsers_trees() {
        assert!(prebuilt::PARSED.len() > 50, "{}", prebuilt::PARSED.len());
        assert!(prebuilt::PARSED.is_sorted_by(|a, b| a.0 < b.0));
        for (source, bytes) in prebuilt::PARSED {
            let parsed = kube_cel::cel::parser::Parser::new().parse(source).unwrap();
            assert_eq!(encoding::decode(bytes).as_ref(), Some(&parsed), "{source}");
        }
    }

    /// Every kind of node survives the encoding, and bytes it did not write decode to nothing.
    #[test]
    fn the_encoding_keeps_every_kind_of_node() {
        let sources = [
            "self.a.b.exists(x, x > 1) && has(self.c) ? [1, 2u, -3.5e3, b'\\x00', null] : {'k': true}",
            "[self.a, 1].all(i, v, v != 'x') || Msg{field: 1, other: self.o}",
            "self.map(k, k.size()).filter(n, n % 2 == 0).size() >= 9223372036854775807",
            "''",
        ];
        for source in sources {
            let Ok(tree) = kube_cel::cel::parser::Parser::new().parse(source) else {
                panic!("{source} does not parse");
            };
            let bytes = encoding::encode(&tree);
            assert_eq!(encoding::decode(&bytes), Some(tree), "{source}");
            for cut in 0..bytes.len() {
                assert_eq!(
                    encoding::decode(&bytes[..cut]),
                    None,
                    "{source} cut at {cut}"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(encoding::decode(&longer), None);
        }
    }

    #[test]
    fn maps_come_back_sorted() {
        let value = to_cel(&serde_json::json!({"b": 1, "a": [true, null, "x", 1.5]}));
        assert_eq!(
            to_json(&value).unwrap().to_string(),
            r#"{"a":[true,null,"x",1.5],"b":1}"#
        );
    }
}
