//! Resources: every quantity parses as a Kubernetes quantity, none is negative, and no
//! request exceeds its limit. A missing memory limit is a warning: one pod can starve a node.

use std::collections::BTreeMap;

use super::Subject;
use crate::finding::{FieldPath, Finding};
use crate::quantity::Quantity;

fn parsed(
    quantities: Option<&BTreeMap<String, String>>,
    field: &FieldPath,
    findings: &mut Vec<Finding>,
) -> BTreeMap<String, Quantity> {
    let mut out = BTreeMap::new();
    for (resource, text) in quantities.into_iter().flatten() {
        let path = field.key(resource);
        match text.parse::<Quantity>() {
            Ok(quantity) if quantity.is_negative() => findings
                .push(Finding::error("quantity", path, "must not be negative").got_str(text)),
            Ok(quantity) => {
                out.insert(resource.clone(), quantity);
            }
            Err(error) => {
                let mut finding = Finding::error(
                    "quantity",
                    path,
                    "is not a Kubernetes quantity (a number with an optional suffix: m, k, M, G, Ki, Mi, Gi, ...)",
                )
                .got_str(text);
                if let Some(hint) = error.hint {
                    finding = finding.hint(hint);
                }
                findings.push(finding);
            }
        }
    }
    out
}

pub fn check(subject: &Subject<'_>, findings: &mut Vec<Finding>) {
    let spec = subject.spec();
    let base = FieldPath::of(&["spec", "resourceRequirements"]);
    let limits = parsed(spec.limits(), &base.key("limits"), findings);
    let requests = parsed(spec.requests(), &base.key("requests"), findings);
    for (resource, request) in &requests {
        if let Some(limit) = limits.get(resource)
            && request > limit
        {
            let written = spec
                .requests()
                .and_then(|r| r.get(resource))
                .cloned()
                .unwrap_or_default();
            let limit_text = spec
                .limits()
                .and_then(|l| l.get(resource))
                .cloned()
                .unwrap_or_default();
            findings.push(
                Finding::error(
                    "requests-within-limits",
                    base.key("requests").key(resource),
                    format!("must not exceed limits.{resource} ({limit_text})"),
                )
                .got_str(&written),
            );
        }
    }
    if !limits.contains_key("memory") && spec.limits().is_none_or(|l| !l.contains_key("memory")) {
        findings.push(Finding::warning(
            "memory-limit",
            base.key("limits").key("memory"),
            "is not set: the container may use all of its node's memory",
        ));
    }
}
