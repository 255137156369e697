//! Version: `MAJOR.MINOR[.PATCH]` whenever `fullName` or `path` is derived from it, and a
//! valid label value in any case, since it becomes `app.kubernetes.io/version`.

use super::Subject;
use super::names::is_label_value;
use crate::finding::{FieldPath, Finding};
use crate::spec::defaults::parse_version;

pub fn check(subject: &Subject<'_>, findings: &mut Vec<Finding>) {
    let written = subject.written;
    let field = FieldPath::of(&["spec", "version"]);
    let mut needed_for: Vec<&str> = Vec::new();
    if written.full_name.is_none() {
        needed_for.push("spec.fullName");
    }
    if written.path.is_none() {
        needed_for.push("spec.path");
    }
    let derives = needed_for.join(" and ");
    match &written.version {
        None if !needed_for.is_empty() && written.ms_name.is_some() => findings.push(
            Finding::error("version-format", field, format!("is required to derive {derives}"))
                .hint("write version: \"1.0\", or set the derived fields yourself"),
        ),
        Some(version) if !needed_for.is_empty() && parse_version(version).is_none() => findings.push(
            Finding::error(
                "version-format",
                field,
                format!("must be MAJOR.MINOR or MAJOR.MINOR.PATCH to derive {derives}"),
            )
            .got_str(version),
        ),
        Some(version) if !is_label_value(version) => findings.push(
            Finding::error(
                "version-format",
                field,
                "must be a valid label value (letters, digits, '-', '_', '.', at most 63 characters)",
            )
            .got_str(version),
        ),
        _ => {}
    }
    if let (Some(path), Some(version)) = (
        &written.path,
        written.version.as_deref().and_then(parse_version),
    ) && *path != format!("v{}", version.major)
    {
        findings.push(
            Finding::warning(
                "path-version",
                FieldPath::of(&["spec", "path"]),
                format!(
                    "does not match the major version of spec.version (v{})",
                    version.major
                ),
            )
            .got_str(path),
        );
    }
}
