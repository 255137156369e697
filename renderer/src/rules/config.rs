//! Config: the runtime configuration must fit in a ConfigMap, and should not carry secrets,
//! which ConfigMaps neither encrypt nor guard (a warning, with the fix).

use super::Subject;
use crate::finding::{FieldPath, Finding};
use crate::spec::config::secret_looking_key;

/// ConfigMaps are stored in etcd, which caps an object at about 1 MiB.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024 - 16 * 1024;

pub fn check(subject: &Subject<'_>, findings: &mut Vec<Finding>) {
    let Some(config) = &subject.spec().config else {
        return;
    };
    let field = FieldPath::of(&["spec", "config"]);
    if config.len() > MAX_CONFIG_BYTES {
        findings.push(Finding::error(
            "config-size",
            field.clone(),
            format!(
                "is {} bytes; a ConfigMap holds at most {MAX_CONFIG_BYTES}",
                config.len()
            ),
        ));
    }
    if let Some(key) = secret_looking_key(config) {
        findings.push(
            Finding::warning(
                "config-secret",
                field,
                format!("key \"{key}\" looks like a secret, and ConfigMaps are not encrypted"),
            )
            .hint("move it to a Secret"),
        );
    }
}
