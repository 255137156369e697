//! A fast reader for the YAML that chart templates produce: block mappings and sequences,
//! JSON flow collections (what kiln's escaping writes), quoted scalars and plain scalars
//! whose type is certain. Anything else (anchors, tags, block scalars, multi-line scalars,
//! plain scalars that YAML readers disagree on) makes it give up, and the caller parses the
//! text with serde_yaml_ng instead. Parsing rendered text back was most of kiln's run time.
//! Debug builds check every fast result against serde_yaml_ng, so the whole test suite
//! doubles as a differential test.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The documents of `text`, or `None` when the text is outside the fast subset.
pub fn parse_documents(text: &str) -> Option<Vec<Value>> {
    // Characters that YAML 1.1 and JSON readers disagree on (U+2028 ends a line for libyaml,
    // not for serde_json) belong to the full parser.
    if !text.is_ascii() && text.chars().any(crate::output::yaml::needs_escape) {
        return None;
    }
    let mut documents = Vec::new();
    let mut lines = Vec::new();
    for raw in text.lines() {
        let trimmed = raw.trim_end();
        if trimmed == "---" {
            documents.push(parse_document(&mut lines)?);
            continue;
        }
        let content = trimmed.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if content.starts_with(['\t', '%']) || content.starts_with("---") || content == "..." {
            return None;
        }
        lines.push(Line {
            indent: trimmed.len() - content.len(),
            text: content,
        });
    }
    documents.push(parse_document(&mut lines)?);
    documents.retain(|d| !d.is_null());
    Some(documents)
}

#[derive(Clone, Copy)]
struct Line<'t> {
    indent: usize,
    text: &'t str,
}

fn parse_document(lines: &mut Vec<Line<'_>>) -> Option<Value> {
    if lines.is_empty() {
        return Some(Value::Null);
    }
    let mut pos = 0;
    let indent = lines[0].indent;
    let value = parse_block(lines, &mut pos, indent)?;
    let complete = pos == lines.len();
    lines.clear();
    complete.then_some(value)
}

fn is_sequence_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

fn parse_block(lines: &mut [Line<'_>], pos: &mut usize, indent: usize) -> Option<Value> {
    if is_sequence_item(lines[*pos].text) {
        parse_sequence(lines, pos, indent)
    } else {
        parse_mapping(lines, pos, indent)
    }
}

fn parse_sequence(lines: &mut [Line<'_>], pos: &mut usize, indent: usize) -> Option<Value> {
    let mut items = Vec::new();
    while *pos < lines.len() && lines[*pos].indent == indent && is_sequence_item(lines[*pos].text) {
        let rest = lines[*pos].text[1..].trim_start_matches(' ');
        if rest.is_empty() {
            *pos += 1;
            items.push(nested_or_null(lines, pos, indent, false)?);
            continue;
        }
        // `- key: value` or `- - x`: the item is a block that starts on this line.
        let item_indent = indent + (lines[*pos].text.len() - rest.len());
        if is_sequence_item(rest) || split_key(rest)?.is_some() {
            lines[*pos] = Line {
                indent: item_indent,
                text: rest,
            };
            items.push(parse_block(lines, pos, item_indent)?);
        } else {
            items.push(parse_inline(rest)?);
            *pos += 1;
        }
    }
    if *pos < lines.len() && lines[*pos].indent > indent {
        return None;
    }
    Some(Value::Array(items))
}

fn parse_mapping(lines: &mut [Line<'_>], pos: &mut usize, indent: usize) -> Option<Value> {
    let mut map = Map::new();
    while *pos < lines.len() && lines[*pos].indent == indent && !is_sequence_item(lines[*pos].text)
    {
        let (key, rest) = split_key(lines[*pos].text)??;
        *pos += 1;
        let value = if rest.is_empty() {
            nested_or_null(lines, pos, indent, true)?
        } else {
            parse_inline(rest)?
        };
        if map.insert(key, value).is_some() {
            return None; // duplicate key: let the full parser report it
        }
    }
    if *pos < lines.len() && lines[*pos].indent > indent {
        return None;
    }
    Some(Value::Object(map))
}

/// The block under a key or dash: more indented lines, or (under a key) a sequence at the
/// same indentation, or nothing at all (null).
fn nested_or_null(
    lines: &mut [Line<'_>],
    pos: &mut usize,
    indent: usize,
    under_key: bool,
) -> Option<Value> {
    match lines.get(*pos) {
        Some(next) if next.indent > indent => parse_block(lines, pos, next.indent),
        Some(next) if under_key && next.indent == indent && is_sequence_item(next.text) => {
            parse_sequence(lines, pos, indent)
        }
        _ => Some(Value::Null),
    }
}

/// Splits `key: value` into the key and the (trimmed) value text. `Some(None)` means the
/// line is not a mapping entry; `None` means it is outside the subset.
fn split_key(text: &str) -> Option<Option<(String, &str)>> {
    let (key, after) = if text.starts_with('"') {
        let end = quoted_end(text)?;
        let key: String = serde_json::from_str(&text[..end]).ok()?;
        match text[end..].strip_prefix(':') {
            Some(after) => (key, after),
            None => return Some(None),
        }
    } else if text.starts_with(['{', '[', '\'']) {
        return if text.contains(": ") || text.ends_with(':') {
            None
        } else {
            Some(None)
        };
    } else {
        let Some(colon) = find_mapping_colon(text) else {
            return Some(None);
        };
        let key = &text[..colon];
        match resolve_plain(key)? {
            Value::String(key) => (key, &text[colon + 1..]),
            _ => return None,
        }
    };
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let value = strip_comment(after.trim_start_matches(' '));
    Some(Some((key, value)))
}

/// The first `:` followed by a space or the end of the line.
fn find_mapping_colon(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' '))
}

/// Byte index just past the closing quote of a double-quoted scalar starting at 0.
fn quoted_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// A plain value without its comment. A quoted or flow value is left whole, unscanned: its
/// reader finds its end and allows only a comment after it (`only_comment_after`).
fn strip_comment(text: &str) -> &str {
    if text.starts_with(['"', '\'', '{', '[']) {
        return text;
    }
    match comment_start(text) {
        Some(i) => text[..i].trim_end(),
        None => text,
    }
}

/// Where ` #` first occurs (the index of the space), as `text.find(" #")` says, by looking
/// for `#` bytes only: this runs for every line, and most have none.
fn comment_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = bytes[from..].iter().position(|&byte| byte == b'#') {
        let at = from + offset;
        if at > 0 && bytes[at - 1] == b' ' {
            return Some(at - 1);
        }
        from = at + 1;
    }
    None
}

/// A value written on the rest of a line.
fn parse_inline(text: &str) -> Option<Value> {
    match text.as_bytes()[0] {
        b'"' => {
            let end = quoted_end(text)?;
            only_comment_after(&text[end..])?;
            serde_json::from_str(&text[..end]).ok()
        }
        b'\'' => {
            let (value, end) = single_quoted(text)?;
            only_comment_after(&text[end..])?;
            Some(Value::String(value))
        }
        b'{' | b'[' => {
            let mut stream = serde_json::Deserializer::from_str(text).into_iter::<StrictJson>();
            let value = stream.next()?.ok()?.0;
            only_comment_after(&text[stream.byte_offset()..])?;
            Some(value)
        }
        b'|' | b'>' | b'&' | b'*' | b'!' | b'?' | b'%' | b'@' | b'`' => None,
        _ => resolve_plain(text),
    }
}

/// After a quoted or flow value only a comment may follow, separated by a space.
fn only_comment_after(rest: &str) -> Option<()> {
    let comment = rest.starts_with(' ') && rest.trim_start_matches(' ').starts_with('#');
    (rest.trim_end().is_empty() || comment).then_some(())
}

fn single_quoted(text: &str) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if let Some((_, '\'')) = chars.peek() {
                chars.next();
                value.push('\'');
            } else {
                return Some((value, i + 1));
            }
        } else {
            value.push(c);
        }
    }
    None
}

/// The type of a plain scalar, when every YAML reader kiln may meet agrees on it.
fn resolve_plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if unsigned.bytes().all(|b| b.is_ascii_digit()) && !unsigned.is_empty() {
        if unsigned.len() > 1 && unsigned.starts_with('0') {
            return None; // octal in YAML 1.1, decimal in 1.2
        }
        return text.parse::<i64>().ok().map(Value::from);
    }
    if let Some((whole, fraction)) = unsigned.split_once('.') {
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if digits(whole) && digits(fraction) && (whole == "0" || !whole.starts_with('0')) {
            let number = text.parse::<f64>().ok()?;
            return serde_json::Number::from_f64(number).map(Value::Number);
        }
    }
    let first = text.chars().next()?;
    let certain_string = if first.is_ascii_digit() {
        crate::output::yaml::is_number_with_unit(text)
    } else {
        crate::output::yaml::is_plain_safe(text)
    };
    certain_string.then(|| Value::String(text.to_owned()))
}

/// A JSON value that rejects duplicate keys, as YAML does.
struct StrictJson(Value);

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some((key, StrictJson(value))) = access.next_entry::<String, StrictJson>()? {
            if map.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_parse(text: &str) -> Vec<Value> {
        serde_yaml_ng::Deserializer::from_str(text)
            .map(|d| Value::deserialize(d).unwrap())
            .filter(|v| !v.is_null())
            .collect()
    }

    fn agrees(text: &str) {
        let fast =
            parse_documents(text).unwrap_or_else(|| panic!("should be in the subset:\n{text}"));
        assert_eq!(fast, full_parse(text), "{text}");
    }

    #[test]
    fn reads_what_templates_write() {
        agrees(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: \"web\"\n  labels: {\"a.b/c\":\"d\", \"e\": \"f\"}\nspec:\n  ports:\n    - name: http\n      port: 80\n  selector: { \"x\": \"y\" }\n",
        );
        agrees(
            "a:\n- 1\n- -2\n- b: c\n  d: [1, \"two\", {\"t\": true}, null]\n- - nested\n  - seq\n-\n  e: f\n",
        );
        agrees(
            "---\na: 1\n---\n# only a comment\n---\nb: 'it''s'\nc: ~\nd: 64Mi\ne: 1.5\nf:\ng: True # comment\n",
        );
        agrees("k: \"multi\\nline \\\"quoted\\\" \\u00e9\"\nempty: {}\nnone: []\n");
    }

    #[test]
    fn comments_start_where_find_says() {
        for text in [
            "",
            "#",
            " #",
            "a #b",
            "a#b # c",
            "##  #",
            "x",
            "a # b # c",
            "é #",
        ] {
            assert_eq!(comment_start(text), text.find(" #"), "{text:?}");
        }
    }

    #[test]
    fn gives_up_on_everything_else() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !tag x\n",
            "a: |\n  block\n",
            "a: >\n  folded\n",
            "a: 0755\n",
            "a: yes\n",
            "a: 1e3\n",
            "a: plain\n  continued\n",
            "a: {b: c}\n",
            "a: {\"b\": 1, \"b\": 2}\n",
            "a: 1\na: 2\n",
            "? complex\n: key\n",
            "%YAML 1.2\n---\na: 1\n",
            "a:\n\t- tab\n",
            "- a\nb: c\n",
            "a: b: c\n",
            "1: one\n",
        ] {
            assert_eq!(parse_documents(text), None, "{text:?}");
        }
    }

    /// Every single-character edit of a realistic rendered document: the fast reader never
    /// panics, and whenever it answers, it agrees with serde_yaml_ng.
    #[test]
    fn edits_of_rendered_text_never_make_it_disagree() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: \"web\"\n  labels: {\"a.b/c\": \"d\", \"e\": \"f\"}\n  annotations:\n    k: 'it''s'\nspec:\n  ports:\n    - name: http\n      port: 80 # comment\n  selector: [1, \"x\"]\n  empty:\n  list:\n  - a\n  - b: 64Mi\n    c: 1.5\n";
        let mut checked = 0;
        for (index, _) in text.char_indices() {
            for insert in [
                "", ":", " ", "\"", "'", "#", "-", "{", "[", "\n", "\\", "&", "0", "!", "|", ">",
                "*", "~", "?", ",", "}", "]", "\t", ".", "e3", "no", "- ",
            ] {
                let mut edited = text.to_owned();
                if insert.is_empty() {
                    edited.remove(index);
                } else {
                    edited.insert_str(index, insert);
                }
                if let Some(fast) = parse_documents(&edited) {
                    let full: Result<Vec<Value>, _> =
                        serde_yaml_ng::Deserializer::from_str(&edited)
                            .map(Value::deserialize)
                            .filter(|v| !matches!(v, Ok(Value::Null)))
                            .collect();
                    assert_eq!(full.ok(), Some(fast), "disagree on:\n{edited}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000, "most edits stay in the subset ({checked})");
    }
}
