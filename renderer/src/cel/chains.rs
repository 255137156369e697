//! Field chains read as one variable. The `cel` interpreter copies the selected subtree at
//! every field selection (`self.spec.replicas` copies `spec`, then `replicas`) and converts a
//! bound value in full, so an expression that reads three fields of a spec pays for the spec
//! several times over. Here every chain of plain field selections that starts at a variable
//! is replaced, in a copy of the expression's syntax tree, by one identifier, which evaluation
//! binds to the value at the end of the chain: a scalar, mostly.
//!
//! `has(self.spec.x)` is one more identifier, bound to whether `x` is there, when `self.spec`
//! is a mapping; that is all `has()` asks, and it spares converting `self.spec` for the test.
//!
//! A chain whose value is not there (a missing field, a field of something that is not a
//! mapping) is left unbound. If evaluation then fails on it, the caller evaluates the original
//! expression instead, which fails exactly as CEL says (`no such key`). Until then the two
//! trees compute the same values: `||`, `&&` and `?:` absorb an error whatever its kind, so
//! an unbound chain that is never needed (a field guarded by `has()`) changes nothing.

use kube_cel::cel::IdedExpr;
use kube_cel::cel::common::ast::{EntryExpr, Expr, SelectExpr};

/// One chain: the identifier standing for it, and what it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// `self.spec.replicas` or `has(self.spec.x)`: a name no CEL identifier can have.
    pub name: String,
    pub variable: String,
    pub fields: Vec<String>,
    /// A `has()` test of the last field, not its value.
    pub presence: bool,
}

/// What a chain stands for in one evaluation.
#[derive(Debug, PartialEq)]
pub enum Found<'v> {
    Value(&'v serde_json::Value),
    Present(bool),
}

impl Chain {
    /// The value at the end of the chain (or whether its last field is there), or `None`
    /// where CEL's selection would fail.
    pub fn lookup<'v>(&self, root: &'v serde_json::Value) -> Option<Found<'v>> {
        let (last, path) = self.fields.split_last()?;
        let parent = crate::fields::at(root, path)?.as_object()?;
        if self.presence {
            Some(Found::Present(parent.contains_key(last)))
        } else {
            parent.get(last).map(Found::Value)
        }
    }
}

/// An expression's tree with its chains replaced, the chains, the variables it also reads
/// whole (`size(self)`, `self[key]`, a method or macro on `self`), and the variables its
/// comprehensions bind (`x` in `list.all(x, ...)`, which the parser reports as reads).
#[derive(Debug)]
pub struct Chains {
    pub tree: IdedExpr,
    pub chains: Vec<Chain>,
    pub whole: Vec<String>,
    pub bound: Vec<String>,
}

/// Rewrites `tree`, taking chains that start at any of `variables`. A comprehension that
/// names its own variable like one of them hides it in its body, as CEL scopes do.
pub fn extract(tree: &IdedExpr, variables: &[&str]) -> Chains {
    let mut found = Chains {
        tree: tree.clone(),
        chains: Vec::new(),
        whole: Vec::new(),
        bound: Vec::new(),
    };
    let mut walk = Walk {
        variables,
        hidden: Vec::new(),
        chains: &mut found.chains,
        whole: &mut found.whole,
        bound: &mut found.bound,
    };
    walk.expr(&mut found.tree);
    found
}

struct Walk<'a> {
    variables: &'a [&'a str],
    /// Comprehension variables in scope, innermost last.
    hidden: Vec<String>,
    chains: &'a mut Vec<Chain>,
    whole: &'a mut Vec<String>,
    bound: &'a mut Vec<String>,
}

impl Walk<'_> {
    fn is_variable(&self, name: &str) -> bool {
        self.variables.contains(&name) && !self.hidden.iter().any(|hidden| hidden == name)
    }

    fn expr(&mut self, node: &mut IdedExpr) {
        if let Some(chain) = self.chain_at(node) {
            node.expr = Expr::Ident(chain.name.clone());
            if !self.chains.contains(&chain) {
                self.chains.push(chain);
            }
            return;
        }
        match &mut node.expr {
            Expr::Ident(name) => {
                if self.is_variable(name) && !self.whole.contains(name) {
                    self.whole.push(name.clone());
                }
            }
            Expr::Select(select) => self.expr(&mut select.operand),
            Expr::Call(call) => {
                if let Some(target) = &mut call.target {
                    self.expr(target);
                }
                for arg in &mut call.args {
                    self.expr(arg);
                }
            }
            Expr::Comprehension(comprehension) => {
                self.expr(&mut comprehension.iter_range);
                self.expr(&mut comprehension.accu_init);
                let depth = self.hidden.len();
                self.hidden.push(comprehension.iter_var.clone());
                self.hidden.extend(comprehension.iter_var2.clone());
                self.hidden.push(comprehension.accu_var.clone());
                for name in &self.hidden[depth..] {
                    if !self.bound.contains(name) {
                        self.bound.push(name.clone());
                    }
                }
                self.expr(&mut comprehension.loop_cond);
                self.expr(&mut comprehension.loop_step);
                self.expr(&mut comprehension.result);
                self.hidden.truncate(depth);
            }
            Expr::List(list) => list.elements.iter_mut().for_each(|e| self.expr(e)),
            Expr::Map(map) => {
                for entry in &mut map.entries {
                    self.entry(&mut entry.expr);
                }
            }
            Expr::Struct(object) => {
                for entry in &mut object.entries {
                    self.entry(&mut entry.expr);
                }
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn entry(&mut self, entry: &mut EntryExpr) {
        match entry {
            EntryExpr::MapEntry(map_entry) => {
                self.expr(&mut map_entry.key);
                self.expr(&mut map_entry.value);
            }
            EntryExpr::StructField(field) => self.expr(&mut field.value),
        }
    }

    /// The chain `node` is, when it is plain selections down to a variable, the outermost
    /// of them possibly a `has()` test.
    fn chain_at(&self, node: &IdedExpr) -> Option<Chain> {
        let mut fields = Vec::new();
        let mut at = node;
        let presence = matches!(&node.expr, Expr::Select(select) if select.test);
        if let Expr::Select(select) = &node.expr
            && select.test
        {
            fields.push(select.field.clone());
            at = &select.operand;
        }
        while let Expr::Select(SelectExpr {
            operand,
            field,
            test: false,
        }) = &at.expr
        {
            fields.push(field.clone());
            at = operand;
        }
        let Expr::Ident(variable) = &at.expr else {
            return None;
        };
        if fields.is_empty() || !self.is_variable(variable) {
            return None;
        }
        fields.reverse();
        let path = format!("{variable}.{}", fields.join("."));
        Some(Chain {
            name: if presence {
                format!("has({path})")
            } else {
                path
            },
            variable: variable.clone(),
            fields,
            presence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube_cel::cel::Program;

    fn chains(source: &str) -> (Vec<String>, Vec<String>) {
        let program = Program::compile(source).unwrap();
        let found = extract(program.expression(), &["self", "variables"]);
        let names = found.chains.into_iter().map(|chain| chain.name).collect();
        (names, found.whole)
    }

    #[test]
    fn plain_selections_from_a_variable_are_chains() {
        assert_eq!(
            chains("self.spec.a > 1 && has(self.spec.b.c) && self.spec.b.c.d == variables.x"),
            (
                vec![
                    "self.spec.a".into(),
                    "has(self.spec.b.c)".into(),
                    "self.spec.b.c.d".into(),
                    "variables.x".into()
                ],
                vec![]
            )
        );
    }

    #[test]
    fn receivers_of_methods_and_indexes_end_a_chain() {
        assert_eq!(
            chains("self.spec.version.split('.')[0] + self.spec['x'] + self.spec.y"),
            (
                vec![
                    "self.spec.version".into(),
                    "self.spec".into(),
                    "self.spec.y".into()
                ],
                vec![]
            )
        );
        assert_eq!(
            chains("size(self) > 0 && self.a.all(k, k.b != values.c)"),
            (vec!["self.a".into()], vec!["self".into()])
        );
    }

    #[test]
    fn comprehension_variables_hide_a_variable_of_the_same_name() {
        assert_eq!(
            chains("self.items.all(self, self.port > 0) && self.other"),
            (vec!["self.items".into(), "self.other".into()], vec![])
        );
    }

    #[test]
    fn has_on_a_variable_itself_is_a_presence_chain() {
        assert_eq!(
            chains("has(self.x) && !has(self.y) ? self.x : 0"),
            (
                vec!["has(self.x)".into(), "has(self.y)".into(), "self.x".into()],
                vec![]
            )
        );
    }

    #[test]
    fn lookups_fail_where_cel_selection_fails() {
        let mut chain = Chain {
            name: "self.a.b".into(),
            variable: "self".into(),
            fields: vec!["a".into(), "b".into()],
            presence: false,
        };
        let value = serde_json::json!({"a": {"b": 3}});
        assert_eq!(
            chain.lookup(&value),
            Some(Found::Value(&serde_json::json!(3)))
        );
        assert_eq!(chain.lookup(&serde_json::json!({"a": [1]})), None);
        assert_eq!(chain.lookup(&serde_json::json!({"a": {}})), None);
        chain.presence = true;
        assert_eq!(chain.lookup(&value), Some(Found::Present(true)));
        assert_eq!(
            chain.lookup(&serde_json::json!({"a": {}})),
            Some(Found::Present(false))
        );
        assert_eq!(chain.lookup(&serde_json::json!({"a": "text"})), None);
    }
}
