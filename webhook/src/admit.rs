//! The admission decision: an AdmissionRequest in, an AdmissionResponse out. Synchronous and
//! free of HTTP, so it is tested directly. Decoding, defaults and rules all come from the kiln
//! library, so `kiln validate` in CI and this webhook can never disagree.

use json_patch::Patch;
use kiln::spec::load::Document;
use kiln::{Finding, Kiln};
use kube_core::DynamicObject;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use kube_core::response::StatusSummary;

/// Kubernetes shows warnings up to this length without truncating them.
const MAX_WARNING_CHARS: usize = 120;
/// A denial lists at most this many errors, then says how many more there are: a hostile or
/// broken object must not make the answer larger than the question.
const MAX_DENIAL_LINES: usize = 20;
/// And each line is at most this long.
const MAX_LINE_CHARS: usize = 1024;
/// At most this many warnings.
const MAX_WARNINGS: usize = 10;

/// Which question the API server asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Validate,
    Mutate,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// What happened to a request, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A kind kiln judges, and it passed (for /mutate: nothing to add).
    Allowed,
    Denied,
    /// /mutate returned a patch.
    Patched,
    /// Not a kind kiln judges, or an operation with nothing to judge (DELETE).
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Patched => "patched",
            Outcome::Ignored => "ignored",
        }
    }
}

/// The response and what it means.
#[derive(Debug)]
pub struct Verdict {
    pub response: AdmissionResponse,
    pub outcome: Outcome,
    /// Rule ids of the errors, one per finding.
    /// Rule ids: kiln's own and those the charts name (a fixed set per deployment).
    pub denied_by: Vec<std::borrow::Cow<'static, str>>,
}

/// Decides one request: `object` and `old_object` are its objects as JSON ([`Admission`]).
///
/// [`Admission`]: crate::decode::Admission
pub fn admit(
    kiln: &Kiln,
    request: &AdmissionRequest<DynamicObject>,
    object: Option<Result<serde_json::Value, serde_json::Error>>,
    old_object: Option<&serde_json::Value>,
    endpoint: Endpoint,
) -> Verdict {
    let response = AdmissionResponse::from(request);
    let ignored = |response| Verdict {
        response,
        outcome: Outcome::Ignored,
        denied_by: Vec::new(),
    };
    // DELETE carries no object to judge; CONNECT is not for us either.
    if matches!(request.operation, Operation::Delete | Operation::Connect) {
        return ignored(response);
    }
    let Some(object) = object else {
        return ignored(response);
    };
    let Ok(value) = object else {
        return Verdict {
            response: response.deny("the object could not be read as JSON"),
            outcome: Outcome::Denied,
            denied_by: vec!["unreadable-object".into()],
        };
    };
    if kiln::guard::is_guarded(&value) {
        return match endpoint {
            Endpoint::Validate => guard(kiln, &value, old_object, response),
            Endpoint::Mutate => ignored(response),
        };
    }
    if !kiln.renders(&value) {
        return ignored(response);
    }
    match endpoint {
        Endpoint::Validate => validate(kiln, request, value, response),
        Endpoint::Mutate => mutate(kiln, &value, response),
    }
}

fn validate(
    kiln: &Kiln,
    request: &AdmissionRequest<DynamicObject>,
    value: serde_json::Value,
    mut response: AdmissionResponse,
) -> Verdict {
    let name = format!(
        "{}/{}",
        request.namespace.as_deref().unwrap_or(""),
        request.name
    );
    let findings = kiln.findings(&Document::from_value(&name, value));
    let (errors, warnings): (Vec<&Finding>, Vec<&Finding>) =
        findings.iter().partition(|f| f.is_error());
    if !warnings.is_empty() {
        response.warnings = Some(
            warnings
                .iter()
                .take(MAX_WARNINGS)
                .map(|f| short(f.message_line(), MAX_WARNING_CHARS))
                .collect(),
        );
    }
    deny_or_allow(response, &errors)
}

/// A hand-applied object that kiln renders: its invariants must still hold.
fn guard(
    kiln: &Kiln,
    value: &serde_json::Value,
    old: Option<&serde_json::Value>,
    response: AdmissionResponse,
) -> Verdict {
    let findings = kiln::guard::check(value, old, kiln.values_for_rendered(value));
    let errors: Vec<&Finding> = findings.iter().collect();
    deny_or_allow(response, &errors)
}

/// Denies with one line per error (code 422, reason Invalid), or allows when there is none.
fn deny_or_allow(response: AdmissionResponse, errors: &[&Finding]) -> Verdict {
    if errors.is_empty() {
        return Verdict {
            response,
            outcome: Outcome::Allowed,
            denied_by: Vec::new(),
        };
    }
    let mut message: Vec<String> = errors
        .iter()
        .take(MAX_DENIAL_LINES)
        .map(|f| short(f.message_line(), MAX_LINE_CHARS))
        .collect();
    if errors.len() > MAX_DENIAL_LINES {
        message.push(format!(
            "and {} more errors (run `kiln validate` on the spec for all of them)",
            errors.len() - MAX_DENIAL_LINES
        ));
    }
    let mut response = response.deny(message.join("\n"));
    response.result.status = Some(StatusSummary::Failure);
    response.result.code = 422;
    response.result.reason = "Invalid".into();
    Verdict {
        response,
        outcome: Outcome::Denied,
        denied_by: errors.iter().map(|f| f.rule.clone()).collect(),
    }
}

fn mutate(kiln: &Kiln, value: &serde_json::Value, response: AdmissionResponse) -> Verdict {
    let Some(defaulted) = kiln.with_defaults(value) else {
        return Verdict {
            response,
            outcome: Outcome::Ignored,
            denied_by: Vec::new(),
        };
    };
    let patch = keep_valid_defaults(kiln, json_patch::diff(value, &defaulted), &defaulted);
    if patch.0.is_empty() {
        return Verdict {
            response,
            outcome: Outcome::Allowed,
            denied_by: Vec::new(),
        };
    }
    match response.clone().with_patch(patch) {
        Ok(response) => Verdict {
            response,
            outcome: Outcome::Patched,
            denied_by: Vec::new(),
        },
        Err(_) => Verdict {
            response: response.deny("kiln could not serialise its defaults patch"),
            outcome: Outcome::Denied,
            denied_by: vec!["internal".into()],
        },
    }
}

/// Leaves out every added default that itself breaks a rule (a derived `fullName` over 63
/// characters, say): patched in, it would make `/validate` complain about a field the user
/// never wrote, in other words than the CLI's. Left out, `/validate` sees what the user wrote
/// and gives exactly the CLI's message.
fn keep_valid_defaults(kiln: &Kiln, patch: Patch, defaulted: &serde_json::Value) -> Patch {
    if patch.0.is_empty() {
        return patch;
    }
    let findings = kiln.findings(&Document::from_value("mutate", defaulted.clone()));
    let broken: Vec<String> = findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| pointer(&f.field))
        .collect();
    let operations = patch
        .0
        .into_iter()
        .filter(|operation| {
            let json_patch::PatchOperation::Add(add) = operation else {
                return true;
            };
            let path = add.path.to_string();
            !broken
                .iter()
                .any(|field| *field == path || field.starts_with(&format!("{path}/")))
        })
        .collect();
    Patch(operations)
}

/// A field path as a JSON pointer: `spec.fullName` -> `/spec/fullName`.
fn pointer(field: &kiln::FieldPath) -> String {
    field
        .segments()
        .iter()
        .map(|segment| match segment {
            kiln::finding::Segment::Key(key) => {
                format!("/{}", key.replace('~', "~0").replace('/', "~1"))
            }
            kiln::finding::Segment::Index(index) => format!("/{index}"),
        })
        .collect()
}

/// Keeps a line within `max` characters.
fn short(text: String, max: usize) -> String {
    // No more bytes than `max` is no more characters either, without counting them.
    if text.len() <= max || text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max - 3).collect();
    format!("{cut}...")
}
