//! Canonical YAML emission for rendered objects: block style, two-space indentation,
//! multi-line strings as literal blocks, and quotes wherever a plain scalar could be read
//! back as something else by any YAML 1.1 or 1.2 reader (`no`, `0755`, `1e3`, `~`).
//! Written by hand because it runs once per rendered object and the generic serde path
//! through libyaml was most of kiln's run time; tests check that serde_yaml_ng reads back
//! exactly the value that was written.

use serde_json::{Map, Value};

/// One document's YAML, without the leading `---`.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::with_capacity(1024);
    match value {
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_sequence(&mut out, items, 0),
        scalar => {
            write_inline(&mut out, scalar, 0);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, width: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = width;
    while left > 0 {
        let step = left.min(SPACES.len());
        out.push_str(&SPACES[..step]);
        left -= step;
    }
}

/// Mapping entries at `width`; the caller has already written the indentation of the first.
fn write_mapping(out: &mut String, map: &Map<String, Value>, width: usize) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            indent(out, width);
        }
        write_string(out, key, width, true);
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                indent(out, width + 2);
                write_mapping(out, inner, width + 2);
            }
            // Sequences under a key are not indented further, as kubectl writes them.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                indent(out, width);
                write_sequence(out, items, width);
            }
            scalar => {
                out.push(' ');
                write_inline(out, scalar, width + 2);
                out.push('\n');
            }
        }
    }
}

/// Sequence items at `width`; the caller has already written the indentation of the first.
fn write_sequence(out: &mut String, items: &[Value], width: usize) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            indent(out, width);
        }
        out.push_str("- ");
        match item {
            Value::Object(inner) if !inner.is_empty() => write_mapping(out, inner, width + 2),
            Value::Array(inner) if !inner.is_empty() => write_sequence(out, inner, width + 2),
            scalar => {
                write_inline(out, scalar, width + 2);
                out.push('\n');
            }
        }
    }
}

/// A scalar, or an empty collection, on the current line. Block literals continue on the
/// following lines, indented to `width`.
fn write_inline(out: &mut String, value: &Value, width: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{number}");
        }
        Value::String(text) => write_string(out, text, width, false),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn write_string(out: &mut String, text: &str, width: usize, is_key: bool) {
    if is_plain_safe(text) {
        out.push_str(text);
    } else if !is_key && can_be_literal_block(text) {
        write_literal_block(out, text, width);
    } else if text
        .chars()
        .all(|c| c != '\n' && c != '\t' && !needs_escape(c))
    {
        out.push('\'');
        out.push_str(&text.replace('\'', "''"));
        out.push('\'');
    } else {
        write_double_quoted(out, text);
    }
}

/// Characters that must never appear raw in a scalar: anything outside YAML's printable set,
/// and the characters that some readers take for a line break or a byte-order mark (U+0085,
/// U+2028, U+2029 for libyaml, go-yaml and PyYAML; a raw CR for everyone). Written raw, they
/// would let a value end a line and start a key of its own.
pub fn needs_escape(c: char) -> bool {
    let printable = matches!(c, '\t' | '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    !printable || matches!(c, '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A double-quoted scalar: `\\`, `\"`, `\n`, `\t`, and `\uXXXX` for everything in `needs_escape`.
fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => push_unicode_escape(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `\uXXXX`: the same character to a JSON reader and to a YAML double-quoted scalar.
pub fn push_unicode_escape(out: &mut String, c: char) {
    use std::fmt::Write as _;
    let _ = write!(out, "\\u{:04X}", u32::from(c));
}

/// True when `text` written plain reads back as this same string in YAML 1.1 and 1.2.
/// One pass over the bytes and no allocation: it runs for every key and string kiln writes.
pub(crate) fn is_plain_safe(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if first.is_ascii_digit() {
        return is_number_with_unit(text);
    }
    if BYTE_CLASS[usize::from(first)] & NOT_FIRST != 0
        || matches!(bytes[bytes.len() - 1], b' ' | b':')
    {
        return false;
    }
    // Most text has none of the bytes `passes_closer_look` looks for.
    let plain = bytes
        .iter()
        .all(|&byte| BYTE_CLASS[usize::from(byte)] & LOOK_CLOSER == 0)
        || passes_closer_look(text);
    plain && !is_reserved_word(text)
}

/// No `: ` (the end of a plain scalar), no ` #` (a comment), no control character, and no
/// non-ASCII character that needs escaping or is white space.
fn passes_closer_look(text: &str) -> bool {
    let mut previous = 0u8;
    for &byte in text.as_bytes() {
        let breaks_plain = (previous == b':' && byte == b' ') || (previous == b' ' && byte == b'#');
        if breaks_plain || byte.is_ascii_control() {
            return false;
        }
        previous = byte;
    }
    text.is_ascii()
        || !text
            .chars()
            .any(|c| !c.is_ascii() && (needs_escape(c) || c.is_whitespace()))
}

/// Words that YAML 1.1 (still used by many Kubernetes tools) or 1.2 reads as booleans or null.
fn is_reserved_word(text: &str) -> bool {
    text.len() <= 5
        && ["y", "yes", "n", "no", "true", "false", "on", "off", "null"]
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
}

/// A plain scalar may not start with this byte (an indicator, or a space).
const NOT_FIRST: u8 = 1;
/// The byte makes `is_plain_safe` look closer: a control character, `:` or `#` (a plain
/// scalar ends at `: ` and a comment starts at ` #`), or part of a non-ASCII character.
const LOOK_CLOSER: u8 = 2;

/// The bytes a plain scalar may not start with: YAML's indicators, and a space.
const INDICATORS: &[u8] = b" -+.?:,[]{}#&*!|>'\"%@`~=<";

/// `NOT_FIRST` and `LOOK_CLOSER` for every byte, so each byte costs one lookup.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < INDICATORS.len() {
        table[INDICATORS[i] as usize] |= NOT_FIRST;
        i += 1;
    }
    let mut byte = 0;
    while byte < 256 {
        if byte < 0x20
            || byte == 0x7f
            || byte >= 0x80
            || byte == b':' as usize
            || byte == b'#' as usize
        {
            table[byte] |= LOOK_CLOSER;
        }
        byte += 1;
    }
    table
};

/// `64Mi`, `100m`, `1.5Gi`: digits, an optional fraction, then letters only. No YAML reader
/// takes these for numbers, while `1e3`, `0x1F`, `2.3.1` or `1_000` might be.
pub(crate) fn is_number_with_unit(text: &str) -> bool {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let mut rest = &text[digits_end..];
    // `0xc`, `0xBF`: hexadecimal integers whose digits are all letters (found by the fuzz
    // pass: written plain, `0xc` read back as 12). `0o` and `0b` are the octal and binary
    // prefixes of YAML 1.2 and 1.1.
    if &text[..digits_end] == "0" && rest.starts_with(['x', 'X', 'o', 'O', 'b', 'B']) {
        return false;
    }
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return false;
        }
        rest = &fraction[end..];
    }
    !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphabetic())
}

/// Multi-line text reads best as a literal block, when a block can hold it exactly.
fn can_be_literal_block(text: &str) -> bool {
    text.contains('\n')
        && !text.starts_with([' ', '\n'])
        && !text.contains('\t')
        && text.chars().all(|c| c == '\n' || !needs_escape(c))
        && !text.lines().any(|line| line.ends_with(' '))
}

fn write_literal_block(out: &mut String, text: &str, width: usize) {
    let trailing_newlines = text.len() - text.trim_end_matches('\n').len();
    out.push_str(match trailing_newlines {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    let body = text.strip_suffix('\n').unwrap_or(text);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, width);
            out.push_str(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    /// Each byte's class is what its comment says.
    #[test]
    fn the_byte_classes_are_their_definitions() {
        for byte in 0..=255u8 {
            let class = BYTE_CLASS[usize::from(byte)];
            assert_eq!(class & NOT_FIRST != 0, INDICATORS.contains(&byte), "{byte}");
            let closer = byte.is_ascii_control() || !byte.is_ascii() || b":#".contains(&byte);
            assert_eq!(class & LOOK_CLOSER != 0, closer, "{byte}");
        }
    }

    proptest::proptest! {
        /// The shortcut changes no answer: text with no byte to look closer at passes the
        /// closer look.
        #[test]
        fn text_the_shortcut_passes_passes_the_closer_look(text in "[ -~\t\n\u{85}\u{a0}\u{2028}é]{0,12}") {
            let shortcut = text
                .bytes()
                .all(|byte| BYTE_CLASS[usize::from(byte)] & LOOK_CLOSER == 0);
            proptest::prop_assert!(!shortcut || passes_closer_look(&text));
        }
    }

    fn round_trip(value: &Value) -> Value {
        let text = to_yaml(value);
        let read = Value::deserialize(serde_yaml_ng::Deserializer::from_str(&text))
            .unwrap_or_else(|e| panic!("{e}:\n{text}"));
        assert_eq!(&read, value, "YAML was:\n{text}");
        read
    }

    #[test]
    fn strings_that_look_like_other_types_are_quoted() {
        for text in [
            "",
            "no",
            "No",
            "on",
            "y",
            "true",
            "null",
            "~",
            "0755",
            "1.0",
            "1e3",
            ".inf",
            "-1",
            "+1",
            "0x1F",
            "1:20",
            "a: b",
            "a #b",
            "#x",
            "- x",
            "*alias",
            "&anchor",
            "!tag",
            "%x",
            "@x",
            "`x",
            "{x}",
            "[x]",
            "x:",
            " x",
            "x ",
            "it's",
            "=",
            "<<",
            "\u{7}bell",
            "2.3.1",
            "1_000",
            "1E3",
            "0o17",
            "0b101",
            "0xc",
            "0xBF",
            "0Xabc",
            "0b",
            "0o",
            "2001-12-14",
            "1.",
            "64Mi",
            "1.5Gi",
            "100m",
        ] {
            round_trip(&json!({ "k": text, text: "v" }));
        }
    }

    #[test]
    fn multi_line_strings_use_literal_blocks_when_exact() {
        for text in [
            "a\nb",
            "a\nb\n",
            "a\nb\n\n",
            "a\n\nb",
            "a: b\n---\nkind: ClusterRoleBinding",
            " leading\nspace",
            "trailing \nspace",
            "tab\there\nx",
            "\nfirst empty",
            "a\r\nb",
        ] {
            round_trip(&json!({ "data": { "k": text }, "list": [text] }));
        }
        assert_eq!(to_yaml(&json!({"k": "a\nb"})), "k: |-\n  a\n  b\n");
        assert_eq!(
            to_yaml(&json!({"m": "64Mi", "v": "1.0"})),
            "m: 64Mi\nv: '1.0'\n"
        );
    }

    #[test]
    fn nested_collections_and_empty_ones() {
        let value = json!({
            "a": {"b": [1, 2.5, {"c": null, "d": [[], {}]}, [true, false]]},
            "e": [], "f": {}, "g": [[1, 2], [3]], "h": -7
        });
        round_trip(&value);
        assert_eq!(
            to_yaml(&json!({"a": ["x", {"b": 1, "c": 2}]})),
            "a:\n- x\n- b: 1\n  c: 2\n"
        );
    }
}
