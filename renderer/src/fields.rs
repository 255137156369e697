//! Reading a field of a JSON value by its path of plain keys. Every rendered object, and every
//! object the webhook guards, is read this way several times (apiVersion, kind, name,
//! namespace, labels, annotations), and
//! `Value::pointer` parses and unescapes its JSON Pointer into new strings at every segment:
//! that was 4% of a render. Also the lookup of one key in a mapping, which for the small
//! mappings of specs compares keys instead of hashing one.

use serde_json::{Map, Value};

/// Up to this many keys, comparing a few of them costs less than hashing one with the SipHash
/// of serde_json's map.
const SCAN_UP_TO: usize = 32;

/// The value of `key` in `fields`.
pub fn get<'m>(fields: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    if fields.len() <= SCAN_UP_TO {
        fields
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value)
    } else {
        fields.get(key)
    }
}

/// The value of `key` in `fields`, to change.
pub fn get_mut<'m>(fields: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Value> {
    if fields.len() <= SCAN_UP_TO {
        fields
            .iter_mut()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value)
    } else {
        fields.get_mut(key)
    }
}

/// The value at `path` (mapping keys only), if every step is there: as a chain of selections
/// reads it, each step must be a mapping that has the key.
pub fn at<'v>(mut value: &'v Value, path: &[impl AsRef<str>]) -> Option<&'v Value> {
    for key in path {
        value = get(value.as_object()?, key.as_ref())?;
    }
    Some(value)
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
        assert_eq!(super::at(&value, &[] as &[&str]), Some(&value));
        assert_eq!(super::at(&value, &["items", "0"]), None);
        assert_eq!(super::text_at(&value, &["metadata"]), None);
        assert_eq!(super::text_at(&value, &["metadata", "name", "x"]), None);
    }

    #[test]
    fn finds_a_key_in_small_and_large_mappings_alike() {
        for size in [1, 32, 33, 100] {
            let mut fields: serde_json::Map<String, serde_json::Value> =
                (0..size).map(|i| (format!("k{i}"), json!(i))).collect();
            let last = format!("k{}", size - 1);
            assert_eq!(super::get(&fields, &last), Some(&json!(size - 1)));
            assert_eq!(super::get(&fields, "missing"), None);
            *super::get_mut(&mut fields, &last).unwrap() = json!("changed");
            assert_eq!(fields[&last], "changed");
            assert!(super::get_mut(&mut fields, "missing").is_none());
        }
    }
}
