//! Reading a field of a JSON value by its path of plain keys. Every rendered object, and every
//! object the webhook guards, is read this way several times (apiVersion, kind, name,
//! namespace, labels, annotations), and
//! `Value::pointer` parses and unescapes its JSON Pointer into new strings at every segment:
//! that was 4% of a render.

use serde_json::Value;

/// The value at `path` (mapping keys only), if every step is there.
pub fn at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

/// The string at `path`, if there is one.
pub fn text_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    at(value, path)?.as_str()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn reads_what_a_pointer_reads() {
        let value = json!({"metadata": {"name": "web", "labels": {"a/b": "c"}}, "items": [1]});
        assert_eq!(super::text_at(&value, &["metadata", "name"]), Some("web"));
        assert_eq!(
            super::text_at(&value, &["metadata", "labels", "a/b"]),
            Some("c")
        );
        assert_eq!(super::at(&value, &[]), Some(&value));
        assert_eq!(super::at(&value, &["items", "0"]), None);
        assert_eq!(super::text_at(&value, &["metadata"]), None);
        assert_eq!(super::text_at(&value, &["metadata", "name", "x"]), None);
    }
}
