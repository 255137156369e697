//! Replicas and autoscaling: counts within 0..=MAX_REPLICAS, and an HPA whose bounds make
//! sense (at least one pod, max not below min, a CPU target that is a percentage).

use super::Subject;
use crate::finding::{FieldPath, Finding};
use crate::spec::defaults::effective_autoscaling;
use crate::spec::model::Autoscaling;

/// The most replicas a spec may ask for; beyond this, a typo is likelier than a real need,
/// and the namespace quota would be sized for it.
pub const MAX_REPLICAS: i64 = 1000;

fn range_finding(
    rule: &'static str,
    field: FieldPath,
    value: i64,
    min: i64,
    max: i64,
) -> Option<Finding> {
    let message = if value < min {
        format!("must be at least {min}")
    } else if value > max {
        format!("must be at most {max}")
    } else {
        return None;
    };
    Some(Finding::error(rule, field, message).got(value))
}

pub fn check(subject: &Subject<'_>, findings: &mut Vec<Finding>) {
    let spec = subject.spec();
    let replicas_field = FieldPath::of(&["spec", "replicas"]);
    let out_of_range = spec.replicas.and_then(|replicas| {
        range_finding(
            "replicas-range",
            replicas_field.clone(),
            replicas,
            0,
            MAX_REPLICAS,
        )
    });
    let replicas_ok = out_of_range.is_none();
    findings.extend(out_of_range);
    let Some(policy) = effective_autoscaling(spec, subject.defaults) else {
        return;
    };
    let written = match &subject.written.autoscaling {
        Some(Autoscaling::Policy(policy)) => policy.clone(),
        _ => Default::default(),
    };
    let autoscaling = FieldPath::of(&["spec", "autoscaling"]);
    // A minimum derived from an out-of-range replicas count is already reported there.
    let min_from_replicas = written.min_replicas.is_none();
    if policy.min_replicas < 1 && (replicas_ok || !min_from_replicas) {
        let finding = if min_from_replicas {
            Finding::error(
                "autoscaling-range",
                replicas_field,
                "must be at least 1 when autoscaling is on, since it is the autoscaler's minimum",
            )
            .got(policy.min_replicas)
            .hint("use idle: true to scale to zero")
        } else {
            Finding::error(
                "autoscaling-range",
                autoscaling.key("minReplicas"),
                "must be at least 1",
            )
            .got(policy.min_replicas)
        };
        findings.push(finding);
    }
    let max_field = if written.max_replicas.is_some() {
        autoscaling.key("maxReplicas")
    } else {
        autoscaling.clone()
    };
    if policy.max_replicas > MAX_REPLICAS {
        findings.extend(range_finding(
            "autoscaling-range",
            max_field,
            policy.max_replicas,
            1,
            MAX_REPLICAS,
        ));
    } else if policy.max_replicas < policy.min_replicas {
        findings.push(
            Finding::error(
                "autoscaling-range",
                max_field,
                format!("must be at least minReplicas ({})", policy.min_replicas),
            )
            .got(policy.max_replicas),
        );
    }
    let target = policy.target_cpu_utilization_percentage;
    let target_field = autoscaling.key("targetCPUUtilizationPercentage");
    findings.extend(range_finding(
        "autoscaling-range",
        target_field,
        target,
        1,
        100,
    ));
}
