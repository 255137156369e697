//! Formats: the string shapes Kubernetes cares about, shared by every chart's schema
//! (`format: image-reference` and so on). Each check returns a finding that says what is wrong
//! and, where kiln can tell, how to write it; charts never repeat these messages.

pub mod image;
pub mod names;

use serde_json::Value;

use crate::finding::{Finding, PathRef};
use crate::quantity::Quantity;

/// Formats kiln checks, with what each means, for `kiln chart lint` and the authoring guide.
pub const KILN_FORMATS: &[(&str, &str)] = &[
    (
        "dns1123-label",
        "a DNS-1123 label: lowercase letters, digits and '-', at most 63 (Service names)",
    ),
    (
        "dns1123-subdomain",
        "a DNS-1123 subdomain: labels joined by '.', at most 253 (object names)",
    ),
    (
        "label-value",
        "a Kubernetes label value: letters, digits, '-', '_', '.', at most 63",
    ),
    (
        "image-reference",
        "an OCI image reference: [registry/]repository[:tag][@digest]",
    ),
    (
        "quantity",
        "a Kubernetes resource quantity that is not negative: 500m, 2, 4Gi",
    ),
];

/// Formats of the OpenAPI and Kubernetes vocabularies that kiln accepts without checking;
/// the API server checks them when the CRD is installed.
pub const PASSED_THROUGH: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "date",
    "date-time",
    "duration",
    "password",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
];

/// True for the formats kiln itself checks.
pub fn is_kiln_format(format: &str) -> bool {
    KILN_FORMATS.iter().any(|(name, _)| *name == format)
}

/// The name of `format` as this module spells it, when a chart may use it on a field.
pub fn known(format: &str) -> Option<&'static str> {
    let kiln = KILN_FORMATS.iter().map(|(name, _)| *name);
    kiln.chain(PASSED_THROUGH.iter().copied())
        .find(|name| *name == format)
}

/// Checks `value` at `field` against `format`; a value of the wrong type is left to the
/// type check.
pub fn check(format: &str, value: &Value, field: &PathRef<'_>) -> Option<Finding> {
    if format == "quantity" {
        return check_quantity(value, field);
    }
    let text = value.as_str()?;
    match format {
        "dns1123-label" => names::check_label(text, field),
        "dns1123-subdomain" => names::check_subdomain(text, field),
        "label-value" => names::check_label_value(text, field),
        "image-reference" => image::check(text, field),
        _ => None,
    }
}

/// True when a value of this JSON type can carry `format` (quantities may be numbers).
pub fn accepts_numbers(format: &str) -> bool {
    format == "quantity"
}

fn check_quantity(value: &Value, field: &PathRef<'_>) -> Option<Finding> {
    let text: std::borrow::Cow<'_, str> = match value {
        Value::String(text) => text.into(),
        Value::Number(number) => number.to_string().into(),
        other => {
            return Some(
                Finding::error(
                    "field-type",
                    field.to_path(),
                    "must be a quantity such as 500m, 2 or 4Gi",
                )
                .got(other),
            );
        }
    };
    match text.parse::<Quantity>() {
        Ok(quantity) if quantity.is_negative() => {
            Some(Finding::error("quantity", field.to_path(), "must not be negative").got_str(&text))
        }
        Ok(_) => None,
        Err(error) => {
            let finding = Finding::error(
                "quantity",
                field.to_path(),
                "is not a Kubernetes quantity (a number with an optional suffix: m, k, M, G, Ki, Mi, Gi, ...)",
            )
            .got_str(&text);
            Some(match error.hint {
                Some(hint) => finding.hint(hint),
                None => finding,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::FieldPath;

    #[test]
    fn quantities_name_the_fix() {
        let field = FieldPath::of(&["memory"]);
        let finding = check("quantity", &Value::from("4 Gi"), &(&field).into()).unwrap();
        assert_eq!(finding.hint.as_deref(), Some("write 4Gi"));
        assert!(check("quantity", &Value::from(2), &(&field).into()).is_none());
        assert!(check("quantity", &Value::from("-1"), &(&field).into()).is_some());
    }

    #[test]
    fn other_types_are_left_to_the_type_check() {
        let field = FieldPath::of(&["image"]);
        assert!(check("image-reference", &Value::from(3), &(&field).into()).is_none());
        assert!(check("image-reference", &Value::from("a b"), &(&field).into()).is_some());
    }
}
