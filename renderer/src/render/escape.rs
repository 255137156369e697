//! YAML-safe output: every `{{ value }}` in a chart is written as its JSON encoding, which
//! YAML reads back as the same scalar, list or mapping. A value can therefore never add YAML
//! structure (`a\n---\nkind: X` stays one string) or be re-read as another type (`no`, `0755`).
//! Output of macros and values passed through `|safe` is written as is: raw output is opt-in.

use minijinja::value::Value;
use minijinja::{AutoEscape, Error, ErrorKind, Output, State};

/// The auto-escape mode every chart template uses, whatever its file extension.
pub const YAML: AutoEscape = AutoEscape::Custom(std::borrow::Cow::Borrowed("yaml"));

/// The formatter installed on kiln's template environment.
pub fn yaml_formatter(
    out: &mut Output<'_>,
    state: &mut State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    if value.is_safe() || *state.auto_escape() != YAML {
        return minijinja::escape_formatter(out, state, value);
    }
    // Most values are strings JSON writes as they are, between quotes: write them so, without
    // building the JSON text. Anything else goes through serde_json.
    if let Some(text) = value.as_str()
        && text
            .bytes()
            .all(|byte| (0x20..0x7f).contains(&byte) && byte != b'"' && byte != b'\\')
    {
        return out
            .write_str("\"")
            .and_then(|()| out.write_str(text))
            .and_then(|()| out.write_str("\""))
            .map_err(Error::from);
    }
    let json = serde_json::to_string(value).map_err(|e| {
        Error::new(
            ErrorKind::BadSerialization,
            "value cannot be written as YAML",
        )
        .with_source(e)
    })?;
    out.write_str(&escape_line_breaks(json))
        .map_err(Error::from)
}

/// JSON leaves U+0085, U+2028, U+2029, C1 controls and other non-printables raw inside
/// strings; YAML 1.1 readers would break the line there. `\uXXXX` means the same character
/// to a JSON reader and to a YAML one, and such characters only occur inside JSON strings.
fn escape_line_breaks(json: String) -> String {
    if json.is_ascii() || !json.chars().any(crate::output::yaml::needs_escape) {
        return json;
    }
    let mut escaped = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if crate::output::yaml::needs_escape(c) {
            crate::output::yaml::push_unicode_escape(&mut escaped, c);
        } else {
            escaped.push(c);
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::{Environment, context};

    fn render(template: &str, value: Value) -> String {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| YAML);
        env.set_formatter(yaml_formatter);
        env.render_str(template, context! { v => value }).unwrap()
    }

    #[test]
    fn strings_cannot_inject_structure() {
        let out = render(
            "data: {{ v }}",
            Value::from("a\n---\nkind: ClusterRoleBinding"),
        );
        let parsed: serde_json::Value = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(parsed["data"], "a\n---\nkind: ClusterRoleBinding");
    }

    #[test]
    fn strings_keep_their_type() {
        for text in [
            "no",
            "on",
            "0755",
            "1.0",
            "null",
            "{{ 7*7 }}",
            "*alias",
            "- item",
        ] {
            let out = render("k: {{ v }}", Value::from(text));
            let parsed: serde_json::Value = serde_yaml_ng::from_str(&out).unwrap();
            assert_eq!(parsed["k"], text, "{out}");
        }
    }

    #[test]
    fn unicode_line_breaks_are_escaped() {
        for text in [
            "a\u{2028}b: c",
            "a\u{2029}---\u{2029}kind: X",
            "a\u{85}b",
            "\u{feff}x\u{9f}",
        ] {
            let out = render("k: {{ v }}", Value::from(text));
            assert!(out.is_ascii(), "{out}");
            let parsed: serde_json::Value = serde_yaml_ng::from_str(&out).unwrap();
            assert_eq!(parsed["k"], text, "{out}");
        }
    }

    /// The shortcut for plain strings writes what serde_json writes.
    #[test]
    fn strings_are_written_as_json_writes_them() {
        for text in [
            "",
            "web",
            "a b",
            "it's",
            "x\"y",
            "back\\slash",
            "tab\t",
            "é",
            "\u{7f}",
        ] {
            let out = render("{{ v }}", Value::from(text));
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn safe_values_are_written_raw() {
        assert_eq!(render("{{ v|safe }}", Value::from("a: b")), "a: b");
    }
}
