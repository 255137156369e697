//! What an expression reads of each variable, found from its source: the field chains
//! (`self.spec.replicas`) it selects. Binding a variable converts the whole value into the
//! interpreter's form, and every field selection copies the selected subtree again, so an
//! expression gets only the parts of the object it can reach. The analysis is conservative:
//! wherever it cannot tell (`self[...]`, `self.?x`, a bare `self`, a method on `self`), it keeps
//! the whole value from that point, so a pruned value always evaluates like the full one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kube_cel::cel::Value;
use kube_cel::cel::objects::{Key, Map};

use super::to_cel;

/// The parts of one variable an expression can reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The whole value from here down.
    whole: bool,
    fields: BTreeMap<String, Reach>,
}

impl Reach {
    fn everything() -> Reach {
        Reach {
            whole: true,
            fields: BTreeMap::new(),
        }
    }

    /// Adds a chain read for its value or, when `presence`, only tested with `has()`.
    fn add(&mut self, chain: &[String], presence: bool) {
        if self.whole {
            return;
        }
        match chain.split_first() {
            None if presence => {}
            None => *self = Reach::everything(),
            Some((field, rest)) => self
                .fields
                .entry(field.clone())
                .or_default()
                .add(rest, presence),
        }
    }

    /// `value` as CEL, cut down to what can be reached; below a non-mapping, all of it. A
    /// field only tested with `has()` is kept as null: present, and cheap to copy.
    pub fn project(&self, value: &serde_json::Value) -> Value {
        if !self.whole && self.fields.is_empty() {
            return Value::Null;
        }
        match value {
            serde_json::Value::Object(fields) if !self.whole => {
                let map: HashMap<Key, Value> = self
                    .fields
                    .iter()
                    .filter_map(|(name, reach)| {
                        let child = fields.get(name)?;
                        Some((Key::String(Arc::new(name.clone())), reach.project(child)))
                    })
                    .collect();
                Value::Map(Map { map: Arc::new(map) })
            }
            _ => to_cel(value),
        }
    }

    #[cfg(test)]
    fn chains(&self) -> Vec<String> {
        if self.whole {
            return vec![String::new()];
        }
        if self.fields.is_empty() {
            return vec!["?".into()]; // presence only
        }
        let mut out = Vec::new();
        for (name, reach) in &self.fields {
            for rest in reach.chains() {
                out.push(match rest.as_str() {
                    "" => name.clone(),
                    "?" => format!("{name}?"),
                    _ => format!("{name}.{rest}"),
                });
            }
        }
        out
    }
}

/// What `source` reaches of each of `variables`; a variable it never names is absent.
pub fn reaches(source: &str, variables: &[&str]) -> Vec<(String, Reach)> {
    let code = without_literals(source);
    let bytes = code.as_bytes();
    let mut found: Vec<(String, Reach)> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !is_ident_start(bytes[at]) || (at > 0 && is_ident_char(bytes[at - 1])) {
            at += 1;
            continue;
        }
        let start = at;
        let (name, after) = identifier(bytes, at);
        let member = previous_non_space(bytes, at) == Some(b'.');
        at = after;
        if member || !variables.contains(&name) {
            continue;
        }
        let mut chain: Vec<String> = Vec::new();
        let mut cursor = after;
        loop {
            let dot = skip_space(bytes, cursor);
            if bytes.get(dot) != Some(&b'.') {
                break;
            }
            let start = skip_space(bytes, dot + 1);
            if !bytes.get(start).copied().is_some_and(is_ident_start) {
                break; // `.?field` and the like: keep what is reached so far
            }
            let (field, end) = identifier(bytes, start);
            if bytes.get(skip_space(bytes, end)) == Some(&b'(') {
                break; // a method on what is reached so far
            }
            chain.push(field.to_owned());
            cursor = end;
        }
        at = cursor;
        // `has(self.a.b)` asks only whether `b` is there.
        let presence = before_ends_with(bytes, start, b"has(")
            && bytes.get(skip_space(bytes, cursor)) == Some(&b')');
        let index = match found.iter().position(|(n, _)| n == name) {
            Some(index) => index,
            None => {
                found.push((name.to_owned(), Reach::default()));
                found.len() - 1
            }
        };
        found[index].1.add(&chain, presence && !chain.is_empty());
    }
    found
}

/// True when the code before `at`, spaces aside, ends with `text` (itself without spaces).
fn before_ends_with(bytes: &[u8], at: usize, text: &[u8]) -> bool {
    let mut at = at;
    for &expected in text.iter().rev() {
        let Some(found) = previous_non_space(bytes, at) else {
            return false;
        };
        if found != expected {
            return false;
        }
        at = bytes[..at]
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
    }
    // `has(` and not `xhas(`
    at == 0 || !is_ident_char(bytes[at - 1])
}

/// `source` with each variable of `renames` replaced where it is read (not where it is a
/// field, `x.self`, or inside a string): how a node's rule becomes a policy's expression.
pub fn rename_variables(source: &str, renames: &[(&str, &str)]) -> String {
    let code = without_literals(source);
    let bytes = code.as_bytes();
    let mut out = String::with_capacity(source.len());
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        if !is_ident_start(bytes[at]) || (at > 0 && is_ident_char(bytes[at - 1])) {
            at += 1;
            continue;
        }
        let (name, end) = identifier(bytes, at);
        if previous_non_space(bytes, at) != Some(b'.')
            && let Some((_, to)) = renames.iter().find(|(from, _)| *from == name)
        {
            // Identifiers are ASCII and literals keep their length, so these are boundaries.
            out.push_str(&source[copied..at]);
            out.push_str(to);
            copied = end;
        }
        at = end;
    }
    out.push_str(&source[copied..]);
    out
}

fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_ident_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn identifier(bytes: &[u8], start: usize) -> (&str, usize) {
    let mut end = start;
    while end < bytes.len() && is_ident_char(bytes[end]) {
        end += 1;
    }
    // Identifier bytes are ASCII, so this slice is valid UTF-8.
    (std::str::from_utf8(&bytes[start..end]).unwrap_or(""), end)
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && bytes[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

fn previous_non_space(bytes: &[u8], at: usize) -> Option<u8> {
    bytes[..at]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .copied()
}

/// The source with every string or bytes literal and every comment replaced by spaces, so
/// that `'self.x'` inside quotes is not taken for a read.
fn without_literals(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'/' && bytes.get(at + 1) == Some(&b'/') {
            while at < bytes.len() && bytes[at] != b'\n' {
                out.push(b' ');
                at += 1;
            }
            continue;
        }
        if byte != b'\'' && byte != b'"' {
            out.push(if byte.is_ascii() { byte } else { b' ' });
            at += 1;
            continue;
        }
        // A raw literal's prefix (r, R, possibly with b) sits right before the quote.
        let raw = out
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'r' | b'R' | b'b' | b'B'))
            .any(|b| matches!(b, b'r' | b'R'));
        let triple = bytes.get(at + 1) == Some(&byte) && bytes.get(at + 2) == Some(&byte);
        let quote_len = if triple { 3 } else { 1 };
        let mut end = at + quote_len;
        loop {
            if end >= bytes.len() {
                break;
            }
            if bytes[end] == b'\\' && !raw {
                end += 2;
                continue;
            }
            if bytes[end] == byte
                && (!triple
                    || (bytes.get(end + 1) == Some(&byte) && bytes.get(end + 2) == Some(&byte)))
            {
                end += quote_len;
                break;
            }
            end += 1;
        }
        let end = end.min(bytes.len());
        out.extend(std::iter::repeat_n(b' ', end - at));
        at = end;
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cel::to_json;
    use serde_json::json;

    fn chains(source: &str) -> Vec<(String, Vec<String>)> {
        reaches(source, &["self", "variables"])
            .into_iter()
            .map(|(name, reach)| (name, reach.chains()))
            .collect()
    }

    #[test]
    fn field_chains_are_what_is_reached() {
        assert_eq!(
            chains("self.spec.a > 1 && has(self.spec.b.c) && self.spec.b.c.d == 2"),
            vec![("self".into(), vec!["spec.a".into(), "spec.b.c.d".into()])]
        );
    }

    #[test]
    fn fields_only_tested_with_has_are_kept_as_presence() {
        assert_eq!(
            chains(
                "has(self.spec.r) && has( self.spec.r.limits ) && self.spec.r.limits.cpu > 1 && has(self.x)"
            ),
            vec![("self".into(), vec!["spec.r.limits.cpu".into(), "x?".into()])]
        );
        let (_, reach) = reaches("has(self.a) && !has(self.b) && chas(self.c)", &["self"])
            .pop()
            .unwrap();
        let value = json!({"a": {"big": [1, 2, 3]}, "c": {"big": 1}});
        assert_eq!(
            to_json(&reach.project(&value)).unwrap(),
            json!({"a": null, "c": {"big": 1}})
        );
    }

    #[test]
    fn methods_macros_and_indexes_keep_the_receiver_whole() {
        assert_eq!(
            chains("self.spec.version.split('.')[0] + self.spec.ports.all(p, p.port > 0)"),
            vec![(
                "self".into(),
                vec!["spec.ports".into(), "spec.version".into()]
            )]
        );
        assert_eq!(
            chains("self.spec['x-y'] == 1")[0].1,
            vec!["spec".to_owned()]
        );
        assert_eq!(
            chains("self.spec.?x.orValue(1)")[0].1,
            vec!["spec".to_owned()]
        );
        assert_eq!(chains("size(self) > 0 && self.a")[0].1, vec![String::new()]);
        assert_eq!(chains("self.all(k, k != 'a')")[0].1, vec![String::new()]);
    }

    #[test]
    fn literals_comments_and_members_are_not_reads() {
        assert_eq!(
            chains("'self.a' + \"\"\"self.b\"\"\" + r'\\' + self.c // self.d\n + x.self"),
            vec![("self".into(), vec!["c".into()])]
        );
        assert!(chains("values.a > 1").is_empty());
        assert_eq!(chains("selfish.a + self .  b")[0].1, vec!["b".to_owned()]);
    }

    #[test]
    fn variables_are_renamed_where_read_only() {
        assert_eq!(
            rename_variables(
                "self.a + 'self' + x.self + values.n + selfish + self",
                &[("self", "object.spec"), ("values", "variables.values")]
            ),
            "object.spec.a + 'self' + x.self + variables.values.n + selfish + object.spec"
        );
        assert_eq!(rename_variables("'é' + self", &[("self", "o")]), "'é' + o");
    }

    #[test]
    fn pruning_keeps_what_is_reached_and_what_it_cannot_descend() {
        let (_, reach) = reaches("self.spec.a + self.spec.list.b + self.meta.x", &["self"])
            .pop()
            .unwrap();
        let value =
            json!({"spec": {"a": {"deep": 1}, "list": [1, 2], "z": 3}, "meta": "text", "other": 1});
        assert_eq!(
            to_json(&reach.project(&value)).unwrap(),
            json!({"spec": {"a": {"deep": 1}, "list": [1, 2]}, "meta": "text"})
        );
    }
}
