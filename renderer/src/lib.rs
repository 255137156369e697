//! kiln renders MicroServiceDeploy specs into plain Kubernetes manifests for GitOps.
//!
//! The pipeline runs load -> decode -> defaults -> rules -> render -> post-process -> output,
//! one module per step. [`Kiln`] is the entry point shared by the `kiln` CLI and the admission
//! webhook, so both judge a spec with the same rules and the same messages.
//!
//! ```
//! use kiln::{Kiln, chart::Chart, spec::load::{InputFile, parse_documents}};
//!
//! let kiln = Kiln::new(Chart::builtin().unwrap()).unwrap();
//! let file = InputFile {
//!     name: "example.yaml".into(),
//!     text: "apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {name: web-v1s0}\n\
//!            spec: {msName: web, version: \"1.0\", image: \"nginx:1.27\"}\n".into(),
//! };
//! let (documents, _) = parse_documents(&file);
//! let report = kiln.run(documents);
//! assert!(!report.has_errors());
//! assert!(report.objects.iter().any(|o| o.kind == "Deployment" && o.name == "web-v1s0"));
//! ```

pub mod chart;
pub mod cli;
pub mod finding;
pub mod guard;
pub mod namespaces;
pub mod output;
mod parallel;
mod pipeline;
pub mod postprocess;
pub mod quantity;
pub mod render;
pub mod rules;
pub mod spec;

pub use finding::{FieldPath, Finding, Location, ObjectRef, Severity};
pub use pipeline::{Checked, Kiln, Report};
