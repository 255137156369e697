//! Required fields: a spec without a name, an msName or an image cannot be rendered.

use super::Subject;
use crate::finding::{FieldPath, Finding};

pub fn check(subject: &Subject<'_>, findings: &mut Vec<Finding>) {
    if subject.object.name.is_none() {
        findings.push(Finding::error(
            "required",
            FieldPath::of(&["metadata", "name"]),
            "is required",
        ));
    }
    let spec = subject.spec();
    let required = [
        ("msName", spec.ms_name.is_some()),
        ("image", spec.image.is_some()),
    ];
    for (field, present) in required {
        if !present {
            findings.push(Finding::error(
                "required",
                FieldPath::of(&["spec", field]),
                "is required",
            ));
        }
    }
}
