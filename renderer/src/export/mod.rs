//! Export: a chart's kind in the forms the API server enforces by itself, so the rules hold
//! even when kiln's webhook is down. `crd` turns the schema into a CustomResourceDefinition
//! (the rules that read only the object go along as `x-kubernetes-validations`); `policy`
//! turns every rule, values and variables included, into ValidatingAdmissionPolicies;
//! `json_schema` gives editors the kind as a JSON Schema.

pub mod crd;
pub mod json_schema;
pub mod policy;
