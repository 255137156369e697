//! The pipeline: documents -> kind dispatch -> decode -> defaults -> rules -> render ->
//! post-process -> conflicts -> namespace quotas -> ordered objects, with every finding.
//! `Kiln` is the library's front door; the CLI and the webhook both hold one.

use std::collections::{BTreeMap, HashMap};

use crate::chart::{Chart, ChartError, KindId, Model};
use crate::finding::{FieldPath, Finding, Location, ObjectRef};
use crate::output::{Manifest, order};
use crate::render::{Engine, Instance, NamespaceSummary};
use crate::rules::{self, Subject};
use crate::spec::decode::{PlainSpec, decode_plain, decode_written};
use crate::spec::defaults;
use crate::spec::load::Document;
use crate::spec::model::{KIND, MicroServiceDeploy};
use crate::{namespaces, postprocess};

/// The renderer: charts compiled and ready, shared by every request or run.
pub struct Kiln {
    /// The MicroServiceDeploy chart.
    engine: Engine,
    /// Charts of the `manifests` model (kiln's own deployment, say), by kind.
    manifest_engines: Vec<Engine>,
}

/// Which chart renders a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Microservice,
    Manifests(usize),
}

/// What kiln concluded about one document.
#[derive(Debug, Clone)]
pub struct Checked {
    pub object: ObjectRef,
    /// The decoded spec before and after defaults; `None` when the document is not a kind kiln
    /// renders (and after `run`, which drops them once they are used).
    pub written: Option<MicroServiceDeploy>,
    pub defaulted: Option<MicroServiceDeploy>,
    /// For kinds of a `manifests`-model chart: which chart renders it, and the spec.
    pub manifests: Option<(usize, PlainSpec)>,
    /// Findings with object and, for documents from files, position attached.
    pub findings: Vec<Finding>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(Finding::is_error)
    }
}

/// The result of a run: the objects (only meaningful when there is no error) and every finding.
#[derive(Debug, Default)]
pub struct Report {
    pub objects: Vec<Manifest>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(Finding::is_error)
    }
}

impl Kiln {
    pub fn new(chart: Chart) -> Result<Kiln, ChartError> {
        Kiln::with_charts(vec![chart])
    }

    /// The charts `Chart::load_all` finds for `--chart DIR...` and `--values FILE...`.
    pub fn load(
        dirs: &[std::path::PathBuf],
        values: &[std::path::PathBuf],
    ) -> Result<Kiln, ChartError> {
        Kiln::with_charts(Chart::load_all(dirs, values)?)
    }

    /// One MicroServiceDeploy chart (the last given, else the built-in one) and any number
    /// of `manifests`-model charts; no two may render the same kind.
    pub fn with_charts(charts: Vec<Chart>) -> Result<Kiln, ChartError> {
        let mut main = None;
        let mut manifest_engines: Vec<Engine> = Vec::new();
        for chart in charts {
            match chart.model {
                Model::Microservice => main = Some(chart),
                Model::Manifests => {
                    let taken = manifest_engines
                        .iter()
                        .any(|e| e.chart().renders == chart.renders);
                    if taken || chart.renders.kind == crate::spec::model::KIND {
                        return Err(ChartError::Invalid {
                            origin: chart.origin.clone(),
                            file: "chart.yaml".into(),
                            message: format!(
                                "renders {}, which another chart renders too",
                                chart.renders
                            ),
                        });
                    }
                    manifest_engines.push(Engine::new(chart)?);
                }
            }
        }
        let main = match main {
            Some(chart) => chart,
            None => Chart::builtin()?,
        };
        Ok(Kiln {
            engine: Engine::new(main)?,
            manifest_engines,
        })
    }

    pub fn chart(&self) -> &Chart {
        self.engine.chart()
    }

    /// The kinds this renderer knows, for messages and the webhook's routing.
    pub fn known_kinds(&self) -> Vec<KindId> {
        std::iter::once(&self.engine)
            .chain(&self.manifest_engines)
            .map(|engine| engine.chart().renders.clone())
            .collect()
    }

    /// Decodes, defaults and validates one document. Used per document by `run` and per
    /// request by the webhook.
    pub fn check(&self, document: &Document) -> Checked {
        let object = object_ref(&document.value);
        let mut findings = Vec::new();
        let (mut written, mut defaulted, mut manifests) = (None, None, None);
        let target = self.dispatch(&document.value);
        if let Ok(target) = target {
            findings.extend(self.system_namespace(target, &document.value));
        }
        match target {
            Err(finding) => findings.push(finding),
            Ok(Target::Manifests(index)) => {
                let (plain, plain_findings) = decode_plain(&document.value);
                findings.extend(plain_findings);
                manifests = plain.map(|plain| (index, plain));
            }
            Ok(Target::Microservice) => {
                let (decoded, decode_findings, filled) = self
                    .decode_with_defaults(&document.value, &|field: &FieldPath| {
                        document.written_scalar(field)
                    });
                let rule_findings = rules::check(&Subject {
                    object: &filled,
                    written: &decoded.spec,
                    defaults: &self.chart().defaults,
                });
                // A field that could not be decoded reads as absent to the rules; its type
                // error is the one finding worth showing for it.
                let undecodable: Vec<FieldPath> =
                    decode_findings.iter().map(|f| f.field.clone()).collect();
                findings.extend(decode_findings);
                findings.extend(
                    rule_findings
                        .into_iter()
                        .filter(|f| !undecodable.contains(&f.field)),
                );
                written = Some(decoded);
                defaulted = Some(filled);
            }
        }
        for finding in &mut findings {
            finding.object.get_or_insert_with(|| object.clone());
            if finding.location.is_none() {
                finding.location = document.location_of(&finding.field);
            }
        }
        Checked {
            object,
            written,
            defaulted,
            manifests,
            findings,
        }
    }

    /// The document with every absent defaultable field added and nothing else changed, or
    /// `None` when it is not a kind kiln renders. Fields that are present, even with a wrong
    /// type, are left alone: validation reports them. The admission webhook turns the
    /// difference into a JSON patch; applying it and asking again yields no change.
    pub fn with_defaults(&self, document: &serde_json::Value) -> Option<serde_json::Value> {
        if self.dispatch(document).ok()? != Target::Microservice {
            return None;
        }
        let (_, _, filled) = self.decode_with_defaults(document, &|_| None);
        let filled_spec = serde_json::to_value(&filled.spec).ok()?;
        let mut result = document.clone();
        let spec = result.get_mut("spec")?;
        add_missing(spec, filled_spec);
        Some(result)
    }

    /// The spec as written (with its decoding findings) and with the chart's defaults applied.
    fn decode_with_defaults(
        &self,
        document: &serde_json::Value,
        written: &dyn Fn(&FieldPath) -> Option<String>,
    ) -> (MicroServiceDeploy, Vec<Finding>, MicroServiceDeploy) {
        let (decoded, findings) = decode_written(document, written);
        let mut filled = decoded.clone();
        defaults::apply(&mut filled, &self.chart().defaults);
        (decoded, findings, filled)
    }

    /// The finding for a spec aimed at a system namespace its chart does not allow.
    fn system_namespace(&self, target: Target, document: &serde_json::Value) -> Option<Finding> {
        let values = &self.engine_for(target).chart().values;
        let namespace = document
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
            .or_else(|| values.get("namespace").and_then(|v| v.as_str()))
            .unwrap_or("default");
        namespaces::is_refused(namespace, values).then(|| {
            namespaces::refused(
                FieldPath::of(&["metadata", "namespace"]),
                namespace,
                "renders into",
            )
        })
    }

    fn engine_for(&self, target: Target) -> &Engine {
        match target {
            Target::Microservice => &self.engine,
            Target::Manifests(index) => &self.manifest_engines[index],
        }
    }

    /// True when the document's apiVersion and kind are one this renderer has a chart for.
    pub fn renders(&self, document: &serde_json::Value) -> bool {
        self.target(document).is_some()
    }

    fn target(&self, document: &serde_json::Value) -> Option<Target> {
        let text = |key: &str| document.get(key).and_then(|v| v.as_str());
        let matches = |kind: &KindId| {
            text("apiVersion") == Some(kind.api_version.as_str())
                && text("kind") == Some(kind.kind.as_str())
        };
        if matches(&self.chart().renders) {
            return Some(Target::Microservice);
        }
        self.manifest_engines
            .iter()
            .position(|engine| matches(&engine.chart().renders))
            .map(Target::Manifests)
    }

    /// Finds the chart for the document, or says what is wrong with its kind.
    fn dispatch(&self, value: &serde_json::Value) -> Result<Target, Finding> {
        let Some(fields) = value.as_object() else {
            return Err(Finding::error(
                "field-type",
                FieldPath::root(),
                "the document must be a mapping",
            ));
        };
        for field in ["apiVersion", "kind"] {
            match fields.get(field) {
                Some(serde_json::Value::String(_)) => {}
                Some(other) => {
                    return Err(Finding::error(
                        "field-type",
                        FieldPath::of(&[field]),
                        "must be a string",
                    )
                    .got(other));
                }
                None => {
                    return Err(Finding::error(
                        "required",
                        FieldPath::of(&[field]),
                        "is required",
                    ));
                }
            }
        }
        if let Some(target) = self.target(value) {
            return Ok(target);
        }
        let api_version = fields["apiVersion"].as_str().unwrap_or_default();
        let kind = fields["kind"].as_str().unwrap_or_default();
        let list: Vec<String> = self.known_kinds().iter().map(ToString::to_string).collect();
        Err(Finding::error(
            "unknown-kind",
            FieldPath::of(&["kind"]),
            format!(
                "kiln has no chart for {api_version} {kind}; it renders: {}",
                list.join(", ")
            ),
        ))
    }

    /// Checks every document and renders the valid ones; rendering is part of checking, since
    /// conflicts between specs and chart errors only show there. The objects come back sorted;
    /// the caller must not use them when the report has errors. Documents are taken by value:
    /// their contents are dropped once checked, which keeps large runs small.
    pub fn run(&self, mut documents: Vec<Document>) -> Report {
        let mut report = Report::default();
        let mut checked = Vec::with_capacity(documents.len());
        let mut instances: Vec<(usize, Instance)> = Vec::new();
        let mut plain: Vec<(usize, usize, PlainSpec)> = Vec::new();
        let whole_key = self.whole_config_key();
        for (index, document) in documents.iter_mut().enumerate() {
            let mut result = self.check(document);
            document.value = serde_json::Value::Null;
            let has_errors = result.has_errors();
            report.findings.append(&mut result.findings);
            if let (false, Some(object)) = (has_errors, result.defaulted.take()) {
                instances.push((
                    index,
                    Instance::resolve(&object, &self.chart().defaults, &whole_key),
                ));
            }
            if let (false, Some((engine, spec))) = (has_errors, result.manifests.take()) {
                plain.push((index, engine, spec));
            }
            result.written = None;
            checked.push(result);
        }
        let mut rendered: Vec<(usize, Result<Rendered, Finding>)> = instances
            .iter()
            .map(|(index, _)| *index)
            .zip(self.render_instances(&instances))
            .collect();
        for (index, engine, spec) in &plain {
            rendered.push((*index, self.render_manifests(*engine, spec)));
        }
        collect_objects(rendered, &checked, &documents, &mut report);
        self.render_namespaces(&instances, &checked, &documents, &mut report);
        order::sort(&mut report.objects);
        report
            .findings
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        report
    }

    fn whole_config_key(&self) -> String {
        self.chart()
            .values
            .pointer("/config/wholeKey")
            .and_then(|v| v.as_str())
            .unwrap_or("config")
            .to_owned()
    }

    /// Renders instances, on all cores when there are many; results keep the input order.
    /// Each instance is rendered, post-processed, checked against the Kubernetes types and
    /// serialised on the same thread, so only finished text travels back.
    fn render_instances(&self, instances: &[(usize, Instance)]) -> Vec<Result<Rendered, Finding>> {
        let render_one = |(_, instance): &(usize, Instance)| {
            let mut objects = self.engine.render_instance(instance)?;
            postprocess::finish_instance(&mut objects, &instance.spec_ref);
            Ok(Rendered::from_objects(objects, &self.chart().values))
        };
        crate::parallel::map(instances, render_one)
    }

    /// Renders a spec of a `manifests`-model chart.
    fn render_manifests(&self, engine: usize, spec: &PlainSpec) -> Result<Rendered, Finding> {
        let engine = &self.manifest_engines[engine];
        let mut objects = engine.render_plain(spec)?;
        let namespace = spec.namespace.as_deref().unwrap_or("default");
        let source = format!("{} {namespace}/{}", engine.chart().renders.kind, spec.name);
        postprocess::stamp_source(&mut objects, &source);
        Ok(Rendered::from_objects(objects, &engine.chart().values))
    }

    /// One set of namespace-wide objects (the ResourceQuota) per namespace.
    /// Findings about a namespace go on its first spec, at `metadata.namespace`.
    fn render_namespaces(
        &self,
        instances: &[(usize, Instance)],
        checked: &[Checked],
        documents: &[Document],
        report: &mut Report,
    ) {
        let mut by_namespace: BTreeMap<&str, (usize, Vec<&Instance>)> = BTreeMap::new();
        for (index, instance) in instances {
            by_namespace
                .entry(instance.namespace.as_str())
                .or_insert_with(|| (*index, Vec::new()))
                .1
                .push(instance);
        }
        let surge = self.chart().defaults.rollout.max_surge;
        for (namespace, (first, members)) in by_namespace {
            let result = NamespaceSummary::compute(namespace, &members, surge)
                .map_err(|_| {
                    Finding::error(
                        "quota-overflow",
                        FieldPath::of(&["metadata", "namespace"]),
                        format!("the services of namespace {namespace} add up to more resources than a quota can hold"),
                    )
                    .hint("lower replicas or resources, or spread the services over namespaces")
                })
                .and_then(|summary| self.engine.render_namespace(&summary));
            match result {
                Ok(mut objects) => {
                    // A namespace-wide object comes from every spec in the namespace.
                    postprocess::stamp_source(&mut objects, &format!("{KIND} {namespace}/*"));
                    for object in objects {
                        report.findings.extend(postprocess::check_schema(&object));
                        report.objects.push(Manifest::from_object(object));
                    }
                }
                Err(finding) => {
                    report
                        .findings
                        .push(attach(finding, &checked[first], &documents[first]))
                }
            }
        }
    }
}

/// One spec's finished objects and what the schema check found in them.
struct Rendered {
    manifests: Vec<Manifest>,
    findings: Vec<Finding>,
}

impl Rendered {
    /// Checks each object against its Kubernetes type and its namespace against the system
    /// namespaces the chart's `values` allow, and writes its YAML.
    fn from_objects(objects: Vec<crate::render::Object>, values: &serde_json::Value) -> Rendered {
        let mut findings: Vec<Finding> = objects
            .iter()
            .filter_map(postprocess::check_schema)
            .collect();
        for object in &objects {
            if let Some(namespace) = &object.namespace
                && namespaces::is_refused(namespace, values)
            {
                let what = format!(
                    "{} renders {} {} into",
                    object.template, object.kind, object.name
                );
                findings.push(namespaces::refused(FieldPath::root(), namespace, &what));
            }
        }
        let manifests = objects.into_iter().map(Manifest::from_object).collect();
        Rendered {
            manifests,
            findings,
        }
    }
}

/// Moves rendered objects into the report and reports objects that two specs both render
/// (the second spec gets the finding).
fn collect_objects(
    rendered: Vec<(usize, Result<Rendered, Finding>)>,
    checked: &[Checked],
    documents: &[Document],
    report: &mut Report,
) {
    let mut producers: HashMap<(String, Option<String>, String), usize> = HashMap::new();
    let mut conflicts: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for (index, result) in rendered {
        let locate = |finding: Finding| attach(finding, &checked[index], &documents[index]);
        let rendered = match result {
            Ok(rendered) => rendered,
            Err(finding) => {
                report.findings.push(locate(finding));
                continue;
            }
        };
        report
            .findings
            .extend(rendered.findings.into_iter().map(locate));
        for manifest in rendered.manifests {
            let identity = (
                manifest.kind.clone(),
                manifest.namespace.clone(),
                manifest.name.clone(),
            );
            match producers.get(&identity) {
                Some(first) => conflicts
                    .entry((*first, index))
                    .or_default()
                    .push(describe(&manifest)),
                None => {
                    producers.insert(identity, index);
                    report.objects.push(manifest);
                }
            }
        }
    }
    for ((first, second), objects) in conflicts {
        let finding = conflict_finding(&checked[first], &documents[first], &objects);
        report
            .findings
            .push(attach(finding, &checked[second], &documents[second]));
    }
}

/// Adds the keys of `defaults` that `target` lacks, recursing into mappings both have.
fn add_missing(target: &mut serde_json::Value, defaults: serde_json::Value) {
    let (Some(target), serde_json::Value::Object(defaults)) = (target.as_object_mut(), defaults)
    else {
        return;
    };
    for (key, value) in defaults {
        match target.get_mut(&key) {
            Some(existing) => add_missing(existing, value),
            None => {
                target.insert(key, value);
            }
        }
    }
}

/// Gives a finding raised while rendering the object and position of its spec.
fn attach(mut finding: Finding, checked: &Checked, document: &Document) -> Finding {
    finding.object.get_or_insert_with(|| checked.object.clone());
    if finding.location.is_none() {
        finding.location = document.location_of(&finding.field);
    }
    finding
}

fn describe(object: &Manifest) -> String {
    format!(
        "{} {}/{}",
        object.kind,
        object.namespace.as_deref().unwrap_or(""),
        object.name
    )
}

/// Two specs render the same object: the finding goes on the second and names the first.
fn conflict_finding(first: &Checked, first_document: &Document, objects: &[String]) -> Finding {
    let position = first_document.location_of(&FieldPath::root()).map_or_else(
        || first_document.file.to_string(),
        |l: Location| l.to_string(),
    );
    let shown: Vec<&str> = objects.iter().take(3).map(String::as_str).collect();
    let more = match objects.len().saturating_sub(3) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Finding::error(
        "duplicate-object",
        FieldPath::of(&["spec", "fullName"]),
        format!(
            "renders the same objects as {} at {position}: {}{more}",
            first.object,
            shown.join(", ")
        ),
    )
    .hint("give one of them another spec.fullName or metadata.namespace")
}

/// `KIND/NAME` from whatever the document holds, for messages about documents of any kind.
fn object_ref(value: &serde_json::Value) -> ObjectRef {
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    ObjectRef {
        kind: text("/kind").unwrap_or_else(|| "<no kind>".into()),
        name: text("/metadata/name"),
    }
}
