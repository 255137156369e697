//! Config: how `spec.config` becomes ConfigMap data. `key=value` lines become one key each,
//! so applications read single settings from files or environment variables; any other text
//! is kept whole under one key named by the chart (`values.config.wholeKey`).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigData {
    /// Every non-blank, non-comment line was `key=value` with a distinct, valid key.
    Entries(BTreeMap<String, String>),
    /// The text as written, under one key.
    Whole { key: String, text: String },
}

impl ConfigData {
    pub fn parse(text: &str, whole_key: &str) -> ConfigData {
        match parse_entries(text) {
            Some(entries) => ConfigData::Entries(entries),
            None => ConfigData::Whole {
                key: whole_key.to_owned(),
                text: text.to_owned(),
            },
        }
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        match self {
            ConfigData::Entries(entries) => entries,
            ConfigData::Whole { key, text } => BTreeMap::from([(key, text)]),
        }
    }
}

fn parse_entries(text: &str) -> Option<BTreeMap<String, String>> {
    let mut entries = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=')?;
        let key = key.trim();
        if !is_config_key(key)
            || entries
                .insert(key.to_owned(), value.trim().to_owned())
                .is_some()
        {
            return None;
        }
    }
    Some(entries)
}

/// A ConfigMap key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`.
pub fn is_config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The first `key=value` or `key: value` line whose key usually holds a credential.
pub fn secret_looking_key(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(['=', ':'])?;
        let key = key.trim();
        (looks_secret(key) && !value.trim().is_empty()).then_some(key)
    })
}

/// Keys that usually hold credentials.
pub fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "credential",
        "private_key",
        "privatekey",
    ]
    .iter()
    .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lines_become_keys() {
        let data = ConfigData::parse(
            "# comment\nlog.level = debug\n\nurl=http://x?a=b\n",
            "config",
        );
        let expected = BTreeMap::from([
            ("log.level".to_owned(), "debug".to_owned()),
            ("url".to_owned(), "http://x?a=b".to_owned()),
        ]);
        assert_eq!(data, ConfigData::Entries(expected));
    }

    #[test]
    fn anything_else_is_kept_whole() {
        for text in [
            "a: b\n---\nkind: ClusterRoleBinding",
            "{{ 7*7 }}",
            "a=1\na=2",
            "bad key=1",
        ] {
            let data = ConfigData::parse(text, "config");
            assert_eq!(
                data,
                ConfigData::Whole {
                    key: "config".into(),
                    text: text.into()
                },
                "{text:?}"
            );
        }
    }

    #[test]
    fn recognises_secret_keys() {
        assert!(looks_secret("password"));
        assert!(looks_secret("DB_PASSWORD"));
        assert!(looks_secret("github.token"));
        assert!(!looks_secret("log.level"));
        assert_eq!(
            secret_looking_key("a=1\npassword=88888888"),
            Some("password")
        );
        assert_eq!(secret_looking_key("db:\n  token: abc"), Some("token"));
        assert_eq!(secret_looking_key("password="), None);
    }
}
