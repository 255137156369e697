//! kiln renders short specs into plain Kubernetes manifests for GitOps, with the knowledge of
//! each kind (schema, defaults, CEL rules, templates) in a chart.
//!
//! The pipeline runs load -> judge (schema, defaults, rules) -> render -> post-process ->
//! output, one module per step. [`Kiln`] is the entry point shared by the `kiln` CLI and the admission
//! webhook, so both judge a spec with the same rules and the same messages.
//!
//! ```
//! use kiln::{Kiln, chart::Chart, spec::load::{InputFile, parse_documents}};
//!
//! let kiln = Kiln::with_charts(Chart::builtins().unwrap()).unwrap();
//! let file = InputFile {
//!     name: "example.yaml".into(),
//!     text: "apiVersion: app.example.com/v1\nkind: AppService\nmetadata: {name: web-v1s0}\n\
//!            spec: {size: 2, image: \"nginx:1.27\", ports: [{port: 80}]}\n".into(),
//! };
//! let (documents, _) = parse_documents(&file);
//! let report = kiln.run(documents);
//! assert!(!report.has_errors());
//! assert!(report.objects.iter().any(|o| o.kind == "Deployment" && o.name == "web-v1s0"));
//! ```

pub mod api_rules;
pub mod cel;
pub mod chart;
pub mod chart_tools;
pub mod cli;
pub mod export;
pub mod fields;
pub mod finding;
pub mod formats;
pub mod guard;
pub mod kind;
pub mod namespaces;
pub mod output;
mod parallel;
pub mod passthrough;
pub mod patch;
pub mod pattern;
mod pipeline;
pub mod postprocess;
pub mod project;
pub mod quantity;
pub mod render;
pub mod schema;
pub mod spec;
pub mod strict;
mod suggest;

pub use finding::{FieldPath, Finding, Location, ObjectRef, Severity};
pub use pipeline::{Checked, Kiln, Report};
