//! The rule set: every check a MicroServiceDeploy must pass, as pure functions with no I/O.
//! The CLI and the webhook both call `check`, so a spec is judged the same way in CI and at
//! admission. One file per family of rules; each finding names its rule id.

mod config;
mod image;
pub mod names;
mod replicas;
mod required;
mod resources;
mod version;

pub use image::{ImageReference, parse_image_reference};
pub use replicas::MAX_REPLICAS;

use crate::chart::ChartDefaults;
use crate::finding::Finding;
use crate::spec::model::{MicroServiceDeploy, Spec};

/// What the rules look at: the spec as written and the same spec with defaults applied.
pub struct Subject<'a> {
    /// After `defaults::apply`.
    pub object: &'a MicroServiceDeploy,
    /// Before defaults, to tell derived values from written ones in messages.
    pub written: &'a Spec,
    pub defaults: &'a ChartDefaults,
}

impl Subject<'_> {
    pub fn spec(&self) -> &Spec {
        &self.object.spec
    }
}

/// Runs every rule and returns all findings, errors and warnings.
pub fn check(subject: &Subject<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    required::check(subject, &mut findings);
    names::check(subject, &mut findings);
    version::check(subject, &mut findings);
    image::check(subject, &mut findings);
    replicas::check(subject, &mut findings);
    resources::check(subject, &mut findings);
    config::check(subject, &mut findings);
    findings
}
