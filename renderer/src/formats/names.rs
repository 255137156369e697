//! Name formats: DNS-1123 labels and subdomains and label values, as the API server checks
//! them, with the nearest valid label offered as a fix.

use crate::finding::{FieldPath, Finding, PathRef};

pub const MAX_LABEL: usize = 63;
pub const MAX_SUBDOMAIN: usize = 253;

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns_label(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_LABEL && label_chars_ok(text)
}

/// Dot-separated DNS labels, at most 253 characters in all.
pub fn is_dns_subdomain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_SUBDOMAIN
        && text
            .split('.')
            .all(|part| !part.is_empty() && label_chars_ok(part))
}

fn label_chars_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    bytes.iter().all(|b| alnum(b) || *b == b'-')
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
}

/// A label value: empty, or alphanumerics with `-_.` inside, at most 63 characters.
pub fn is_label_value(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    text.len() <= MAX_LABEL
        && (bytes.is_empty()
            || (bytes
                .iter()
                .all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
                && bytes.first().is_some_and(alnum)
                && bytes.last().is_some_and(alnum)))
}

/// The nearest valid label, offered as a hint: `My_Service` -> `my-service`.
fn suggest_label(text: &str) -> Option<String> {
    let mut candidate: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    candidate = candidate.trim_matches('-').to_owned();
    while candidate.contains("--") {
        candidate = candidate.replace("--", "-");
    }
    (is_dns_label(&candidate) && candidate != text).then_some(candidate)
}

const LABEL_RULE: &str = "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

fn label_finding(field: FieldPath, value: &str) -> Finding {
    let message = if value.is_empty() {
        "must not be empty".to_owned()
    } else if value.len() > MAX_LABEL && label_chars_ok(value) {
        format!(
            "must be at most {MAX_LABEL} characters (it has {})",
            value.len()
        )
    } else {
        LABEL_RULE.to_owned()
    };
    let finding = Finding::error("dns-name", field, message).got_str(value);
    match suggest_label(value) {
        Some(better) if value.len() <= MAX_LABEL => finding.hint(format!("write \"{better}\"")),
        _ => finding,
    }
}

/// The `dns1123-label` format.
pub fn check_label(text: &str, field: &PathRef<'_>) -> Option<Finding> {
    (!is_dns_label(text)).then(|| label_finding(field.to_path(), text))
}

/// The `dns1123-subdomain` format (object names).
pub fn check_subdomain(text: &str, field: &PathRef<'_>) -> Option<Finding> {
    (!is_dns_subdomain(text)).then(|| {
        Finding::error(
            "dns-name",
            field.to_path(),
            "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253 characters",
        )
        .got_str(text)
    })
}

/// The `label-value` format (values that become labels, such as versions).
pub fn check_label_value(text: &str, field: &PathRef<'_>) -> Option<Finding> {
    (!is_label_value(text)).then(|| {
        Finding::error(
            "label-value",
            field.to_path(),
            "must be a valid label value (letters, digits, '-', '_', '.', at most 63 characters)",
        )
        .got_str(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_dns_1123() {
        assert!(is_dns_label("ms-sample-v1s0"));
        assert!(is_dns_label("a"));
        assert!(!is_dns_label("Ms"));
        assert!(!is_dns_label("-a"));
        assert!(!is_dns_label("a-"));
        assert!(!is_dns_label("a.b"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_subdomain("a.b-c.d"));
        assert!(!is_dns_subdomain("a..b"));
    }

    #[test]
    fn label_values_allow_dots_and_case() {
        assert!(is_label_value("1.0"));
        assert!(is_label_value("Release_2"));
        assert!(is_label_value(""));
        assert!(!is_label_value("1.0+build"));
        assert!(!is_label_value(".1"));
    }

    #[test]
    fn suggestions_are_valid_labels() {
        assert_eq!(suggest_label("My_Service").as_deref(), Some("my-service"));
        assert_eq!(suggest_label("ok"), None);
    }
}
