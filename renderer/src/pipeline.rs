//! The pipeline: documents -> kind dispatch -> judge (schema, defaults, variables, rules) ->
//! render -> post-process -> conflicts -> namespace templates -> ordered objects, with every
//! finding. `Kiln` is the library's front door; the CLI and the webhook both hold one. It
//! knows no kind: each chart's `KindDefinition` says what a valid spec is.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use crate::chart::{Chart, ChartError, KindId, LazyChart};
use crate::fields::text_at;
use crate::finding::{FieldPath, Finding, Location, ObjectRef};
use crate::output::{Manifest, order};
use crate::render::{Engine, Exports, Instance, NamespaceContext};
use crate::spec::load::{Document, InputFile, parse_all};
use crate::{namespaces, passthrough, postprocess};

/// From this many documents on, [`Kiln::run`] frees what it is done with on another thread.
const LARGE_RUN: usize = 256;

/// The renderer: the charts, each compiled up front or on first use (`Slot`), shared by every
/// request or run.
pub struct Kiln {
    /// One per kind, in the order the charts were given.
    slots: Vec<Slot>,
    /// Whether `run` lets documents of no chart's kind through as plain manifests
    /// (`passthrough`); off unless asked, so one document is always judged as a spec.
    passthrough: bool,
}

/// A chart and its engine. The engine is compiled when the `Kiln` is made, except for a
/// built-in chart left as shipped ([`Chart::is_builtin_as_shipped`]): that one is read
/// ([`LazyChart`]) and compiled the first time a document of its kind needs it, so a run
/// reads and compiles only the kinds it holds. A chart from a folder, or one with `--values`
/// merged in, is always read and compiled up front, so a broken one is an error before any
/// input is read.
struct Slot {
    chart: Arc<LazyChart>,
    exports: Arc<Exports>,
    engine: OnceLock<Engine>,
}

impl Slot {
    fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| {
            Engine::new(self.chart.get().clone(), self.exports.clone())
                .expect("a built-in chart as shipped compiles (every one is compiled by its tests)")
        })
    }
}

/// What kiln concluded about one document.
#[derive(Debug, Clone)]
pub struct Checked {
    pub object: ObjectRef,
    /// The chart that renders it; `None` when kiln has no chart for its kind.
    pub chart: Option<usize>,
    /// The object with every default applied, for rendering; `None` when there is none.
    pub defaulted: Option<serde_json::Value>,
    /// The chart's variables for it.
    pub variables: serde_json::Value,
    /// Findings with object and, for documents from files, position attached.
    pub findings: Vec<Finding>,
    /// A plain manifest that goes to the output as written (`run` with passthrough on).
    pub manifest: Option<crate::render::Object>,
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
    /// A renderer for one chart only.
    pub fn new(chart: Chart) -> Result<Kiln, ChartError> {
        Kiln::with_charts(vec![chart])
    }

    /// The charts `Chart::load_all` finds for `--chart DIR...` and `--values FILE...`, each
    /// built-in one read when first used (`Chart::load_lazy`).
    pub fn load(
        dirs: &[std::path::PathBuf],
        values: &[std::path::PathBuf],
    ) -> Result<Kiln, ChartError> {
        Kiln::with_lazy_charts(Chart::load_lazy(dirs, values)?)
    }

    /// Compiles every chart; no two may render the same kind.
    pub fn with_charts(charts: Vec<Chart>) -> Result<Kiln, ChartError> {
        Kiln::with_lazy_charts(charts.into_iter().map(LazyChart::ready).collect())
    }

    fn with_lazy_charts(charts: Vec<LazyChart>) -> Result<Kiln, ChartError> {
        for (index, chart) in charts.iter().enumerate() {
            if charts[..index]
                .iter()
                .any(|c| c.renders() == chart.renders())
            {
                // Only a chart read already can clash: built-in charts render distinct kinds.
                return Err(ChartError::Invalid {
                    origin: chart.get().origin.clone(),
                    file: "chart.yaml".into(),
                    message: format!(
                        "renders {}, which another chart renders too",
                        chart.renders()
                    ),
                });
            }
        }
        let charts: Vec<Arc<LazyChart>> = charts.into_iter().map(Arc::new).collect();
        let exports = Arc::new(Exports::of(charts.clone()));
        let slots = charts
            .into_iter()
            .map(|chart| {
                let engine = OnceLock::new();
                if !chart.is_builtin_as_shipped() {
                    let _ = engine.set(Engine::new(chart.get().clone(), exports.clone())?);
                }
                Ok(Slot {
                    chart,
                    exports: exports.clone(),
                    engine,
                })
            })
            .collect::<Result<Vec<_>, ChartError>>()?;
        Ok(Kiln {
            slots,
            passthrough: false,
        })
    }

    /// Compiles every chart not compiled yet: for a long-running process (the webhook), so that
    /// no request pays for it.
    pub fn compile_all(&self) {
        for slot in &self.slots {
            slot.engine();
        }
    }

    fn engine(&self, index: usize) -> &Engine {
        self.slots[index].engine()
    }

    /// Reads and compiles now the chart of each kind `wanted` picks, rather than when the
    /// first document of that kind is judged: for a caller that can guess the kinds of its
    /// inputs while it is still parsing them (`kiln render`, `kiln validate`).
    pub fn compile_kinds(&self, wanted: impl Fn(&KindId) -> bool) {
        for slot in &self.slots {
            if wanted(slot.chart.renders()) {
                slot.engine();
            }
        }
    }

    /// With `on`, `run` lets a document of no chart's kind through to the output as a plain
    /// manifest (checked strictly, refused when it looks like a misspelt kind) instead of
    /// reporting an unknown kind.
    pub fn with_passthrough(mut self, on: bool) -> Kiln {
        self.passthrough = on;
        self
    }

    /// The charts, in the order given; reads every built-in chart not read yet.
    pub fn charts(&self) -> impl Iterator<Item = &Chart> {
        self.slots.iter().map(|slot| &**slot.chart.get())
    }

    /// The kinds of the charts, in the order given, without reading any chart.
    fn kinds(&self) -> impl Iterator<Item = &KindId> {
        self.slots.iter().map(|slot| slot.chart.renders())
    }

    /// The values of the chart that rendered `object` (by its `kiln.dev/spec` annotation),
    /// or of the first chart: the guard compares hand edits with them.
    pub fn values_for_rendered(&self, object: &serde_json::Value) -> &serde_json::Value {
        let source = text_at(
            object,
            &["metadata", "annotations", postprocess::SPEC_ANNOTATION],
        )
        .unwrap_or_default();
        let kind = source.split(' ').next().unwrap_or_default();
        self.slots
            .iter()
            .find(|slot| slot.chart.renders().kind == kind)
            .or(self.slots.first())
            .map(|slot| &slot.chart.get().values)
            .unwrap_or(&serde_json::Value::Null)
    }

    /// The kinds this renderer knows, for messages and the webhook's routing.
    pub fn known_kinds(&self) -> Vec<KindId> {
        self.kinds().cloned().collect()
    }

    /// Judges one document against its chart. Used per document by `run` and per request by
    /// the webhook.
    pub fn check(&self, document: &Document) -> Checked {
        self.judge(document, true)
    }

    /// The findings of [`check`](Self::check) alone, without what only rendering needs (the
    /// defaulted object when no default applied, the variables no rule reads): what the
    /// webhook asks. A variable that only templates read, and that fails on an object, is
    /// then reported by rendering (`kiln render`, `kiln validate`), as a failing template is.
    pub fn findings(&self, document: &Document) -> Vec<Finding> {
        self.judge(document, false).findings
    }

    /// `check`; with `for_rendering` off, `findings` (see there).
    fn judge(&self, document: &Document, for_rendering: bool) -> Checked {
        let object = object_ref(&document.value);
        let mut checked = Checked {
            object: object.clone(),
            chart: None,
            defaulted: None,
            variables: serde_json::Value::Null,
            findings: Vec::new(),
            manifest: None,
        };
        match self.dispatch(&document.value) {
            Err(finding) => checked.findings.push(finding),
            Ok(index) => {
                let engine = self.engine(index);
                checked
                    .findings
                    .extend(self.system_namespace(engine, &document.value));
                let judgement = engine.definition().judge(
                    &document.value,
                    &|field: &FieldPath| document.written_scalar(field),
                    for_rendering,
                );
                checked.findings.extend(judgement.findings);
                checked
                    .findings
                    .extend(judgement.failures.iter().map(|failure| {
                        let error = engine.chart().definition_error(failure);
                        Finding::error("chart-definition", FieldPath::root(), error.to_string())
                    }));
                checked.chart = Some(index);
                checked.defaulted = match judgement.defaulted {
                    Some(defaulted) => Some(defaulted),
                    None if for_rendering && document.value.is_object() => {
                        Some(document.value.clone())
                    }
                    None => None,
                };
                checked.variables = judgement.variables;
            }
        }
        locate(&mut checked, document);
        checked
    }

    /// `check`, or with passthrough on and a document of no chart's kind, the plain manifest
    /// it is (or why it may not pass through).
    fn check_or_pass(&self, document: &Document) -> Checked {
        if !self.passthrough || self.renders(&document.value) {
            return self.check(document);
        }
        let mut checked = Checked {
            object: object_ref(&document.value),
            chart: None,
            defaulted: None,
            variables: serde_json::Value::Null,
            findings: Vec::new(),
            manifest: None,
        };
        match passthrough::admit(&document.value, &self.known_kinds()) {
            Ok(object) => {
                checked.findings.extend(self.passed_namespace(&object));
                checked.manifest = Some(object);
            }
            // No apiVersion or kind to judge by: `check` says what is missing.
            Err(findings) if findings.is_empty() => return self.check(document),
            Err(findings) => checked.findings = findings,
        }
        locate(&mut checked, document);
        checked
    }

    /// A plain manifest may go into a system namespace only when a chart allows it.
    fn passed_namespace(&self, object: &crate::render::Object) -> Option<Finding> {
        let namespace = object.namespace.as_deref()?;
        let mut values = self.charts().map(|chart| &chart.values).peekable();
        let refused = values.peek().is_some()
            && values.all(|values| namespaces::is_refused(namespace, values));
        refused.then(|| {
            namespaces::refused(
                FieldPath::of(&["metadata", "namespace"]),
                namespace,
                "puts a plain manifest into",
            )
        })
    }

    /// The document with every absent defaultable field added and nothing else changed, or
    /// `None` when it is not a kind kiln renders. Fields that are present, even with a wrong
    /// type, are left alone: validation reports them. The admission webhook turns the
    /// difference into a JSON patch; applying it and asking again yields no change.
    pub fn with_defaults(&self, document: &serde_json::Value) -> Option<serde_json::Value> {
        let index = self.target(document)?;
        Some(self.engine(index).definition().defaults_of(document))
    }

    /// The finding for a spec aimed at a system namespace its chart does not allow.
    fn system_namespace(&self, engine: &Engine, document: &serde_json::Value) -> Option<Finding> {
        let values = &engine.chart().values;
        let namespace = spec_namespace(document, values);
        namespaces::is_refused(namespace, values).then(|| {
            namespaces::refused(
                FieldPath::of(&["metadata", "namespace"]),
                namespace,
                "renders into",
            )
        })
    }

    /// True when the document's apiVersion and kind are one this renderer has a chart for.
    pub fn renders(&self, document: &serde_json::Value) -> bool {
        self.target(document).is_some()
    }

    fn target(&self, document: &serde_json::Value) -> Option<usize> {
        let text = |key: &str| text_at(document, &[key]);
        self.kinds().position(|kind| {
            text("apiVersion") == Some(kind.api_version.as_str())
                && text("kind") == Some(kind.kind.as_str())
        })
    }

    /// Finds the chart for the document, or says what is wrong with its kind.
    fn dispatch(&self, value: &serde_json::Value) -> Result<usize, Finding> {
        let Some(fields) = value.as_object() else {
            return Err(Finding::error(
                "field-type",
                FieldPath::root(),
                "the document must be a mapping",
            ));
        };
        for field in ["apiVersion", "kind"] {
            match crate::fields::get(fields, field) {
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
        if let Some(index) = self.target(value) {
            return Ok(index);
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

    /// Reads every document of `files` and runs them: YAML problems and the pipeline's
    /// findings together, in file and position order. What `kiln validate` and `kiln render`
    /// report, and what a chart's test cases record.
    pub fn run_files(&self, files: &[InputFile]) -> Report {
        self.run_parsed(parse_all(files))
    }

    /// `run_files` over files parsed beforehand by `parse_all` (the documents and what the
    /// parser found), for a caller that parses while the charts load.
    pub fn run_parsed(&self, (documents, yaml_findings): (Vec<Document>, Vec<Finding>)) -> Report {
        let mut report = self.run(documents);
        if !yaml_findings.is_empty() {
            report.findings.extend(yaml_findings);
            report
                .findings
                .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        }
        report
    }

    /// Checks every document and renders the valid ones; rendering is part of checking, since
    /// conflicts between specs and chart errors only show there. The objects come back sorted;
    /// the caller must not use them when the report has errors. Documents are taken by value:
    /// their contents are dropped once checked, which keeps large runs small.
    pub fn run(&self, mut documents: Vec<Document>) -> Report {
        let mut report = Report::default();
        let mut checked = crate::parallel::map(&documents, |document| self.check_or_pass(document));
        // Freeing what a large run is done with happens beside the work, not before it.
        let large = documents.len() >= LARGE_RUN;
        let mut spent = Vec::with_capacity(documents.len());
        let mut instances: Vec<(usize, usize, Instance)> = Vec::new();
        let mut manifests = Vec::new();
        for (index, (document, result)) in documents.iter_mut().zip(&mut checked).enumerate() {
            spent.push(std::mem::take(&mut document.value));
            let has_errors = result.has_errors();
            report.findings.append(&mut result.findings);
            if let (false, Some(object)) = (has_errors, result.manifest.take()) {
                manifests.push((index, object));
            }
            if let (false, Some(chart), Some(object)) =
                (has_errors, result.chart, result.defaulted.take())
            {
                let engine = self.engine(chart);
                let variables = std::mem::take(&mut result.variables);
                instances.push((index, chart, instance(engine, object, variables)));
            }
        }
        crate::parallel::drop_in_background(spent, large);
        let groups = self.namespace_groups(&instances);
        let (rendered, namespaces) = self.render_instances_and_namespaces(&instances, &groups);
        let rendered: Vec<(usize, Result<Rendered, Finding>)> = instances
            .iter()
            .map(|(index, _, _)| *index)
            .zip(rendered)
            .collect();
        let instance_field = |index: usize| {
            checked[index].chart.map_or_else(FieldPath::root, |chart| {
                self.engine(chart).definition().instance_field.clone()
            })
        };
        collect_objects(rendered, &checked, &documents, &instance_field, &mut report);
        report_namespaces(&groups, namespaces, &checked, &documents, &mut report);
        add_manifests(manifests, &checked, &documents, &mut report);
        order::sort(&mut report.objects);
        report
            .findings
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        crate::parallel::drop_in_background((documents, checked, instances), large);
        report
    }

    /// Renders every instance and every namespace group in one parallel loop, namespaces
    /// first: a namespace's templates read all of its instances, which makes one group a few
    /// milliseconds of work, and as a phase of its own after the instances it left a core idle
    /// whenever one group took longer than the other. Each instance is rendered,
    /// post-processed, checked against the Kubernetes types and serialised on the same thread,
    /// so only finished text travels back. Results keep the input order.
    fn render_instances_and_namespaces(
        &self,
        instances: &[(usize, usize, Instance)],
        groups: &[NamespaceGroup<'_>],
    ) -> (Vec<Result<Rendered, Finding>>, Vec<NamespaceRendered>) {
        enum Work<'w, 'i> {
            Namespace(&'w NamespaceGroup<'i>),
            Instance(&'w (usize, usize, Instance)),
        }
        enum Done {
            Namespace(NamespaceRendered),
            Instance(Result<Rendered, Finding>),
        }
        let work: Vec<Work<'_, '_>> = groups
            .iter()
            .map(Work::Namespace)
            .chain(instances.iter().map(Work::Instance))
            .collect();
        let done = crate::parallel::map_mixed(&work, groups.len(), |work| match work {
            Work::Namespace(group) => Done::Namespace(self.render_namespace_group(group)),
            Work::Instance((_, chart, instance)) => {
                let engine = self.engine(*chart);
                Done::Instance(engine.render_instance(instance).map(|mut objects| {
                    postprocess::finish_instance(&mut objects, &instance.spec_ref);
                    Rendered::from_objects(objects, &engine.chart().values)
                }))
            }
        });
        let mut rendered = Vec::with_capacity(instances.len());
        let mut namespaces = Vec::with_capacity(groups.len());
        for result in done {
            match result {
                Done::Namespace(result) => namespaces.push(result),
                Done::Instance(result) => rendered.push(result),
            }
        }
        (rendered, namespaces)
    }

    /// The instances of each chart with namespace templates, grouped by namespace, each
    /// group sorted by instance name. Findings about a namespace go on its first spec.
    fn namespace_groups<'i>(
        &self,
        instances: &'i [(usize, usize, Instance)],
    ) -> Vec<NamespaceGroup<'i>> {
        let mut groups: BTreeMap<(usize, &str), (usize, Vec<&Instance>)> = BTreeMap::new();
        for (index, chart, instance) in instances {
            if self.engine(*chart).chart().namespace_templates.is_empty() {
                continue;
            }
            groups
                .entry((*chart, instance.namespace.as_str()))
                .or_insert_with(|| (*index, Vec::new()))
                .1
                .push(instance);
        }
        groups
            .into_iter()
            .map(|((chart, namespace), (first, mut members))| {
                members.sort_by(|a, b| a.name.cmp(&b.name));
                NamespaceGroup {
                    chart,
                    namespace,
                    first,
                    members,
                }
            })
            .collect()
    }

    /// A chart's namespace templates for one namespace, post-processed, checked and written.
    fn render_namespace_group(&self, group: &NamespaceGroup<'_>) -> NamespaceRendered {
        let engine = self.engine(group.chart);
        let context = NamespaceContext {
            name: group.namespace,
            instances: &group.members,
        };
        let mut objects = engine.render_namespace(&context)?;
        // A namespace-wide object comes from every spec of the kind in the namespace.
        let source = format!("{} {}/*", engine.chart().renders.kind, group.namespace);
        postprocess::stamp_source(&mut objects, &source);
        let findings: Vec<Finding> = objects.iter().flat_map(postprocess::check_output).collect();
        let manifests: Vec<Manifest> = objects.into_iter().map(Manifest::from_object).collect();
        Ok((findings, manifests))
    }

    /// The text of every instance template for every valid document, for tests of the
    /// templates' shape.
    #[cfg(test)]
    pub(crate) fn rendered_texts(&self, documents: Vec<Document>) -> Vec<(String, String)> {
        let mut texts = Vec::new();
        for document in &documents {
            let checked = self.check(document);
            assert!(!checked.has_errors(), "{:?}", checked.findings);
            let (Some(chart), Some(object)) = (checked.chart, checked.defaulted) else {
                continue;
            };
            let engine = self.engine(chart);
            let instance = instance(engine, object, checked.variables);
            texts.extend(engine.instance_texts(&instance));
        }
        texts
    }
}

/// The namespace a spec renders into: its own, else the chart value `namespace`, else
/// `default`.
fn spec_namespace<'a>(document: &'a serde_json::Value, values: &'a serde_json::Value) -> &'a str {
    text_at(document, &["metadata", "namespace"])
        .or_else(|| text_at(values, &["namespace"]))
        .unwrap_or("default")
}

/// A judged spec as its chart's templates see it.
fn instance(
    engine: &Engine,
    mut object: serde_json::Value,
    variables: serde_json::Value,
) -> Instance {
    let values = &engine.chart().values;
    let namespace = spec_namespace(&object, values).to_owned();
    let metadata_name = text_at(&object, &["metadata", "name"])
        .unwrap_or_default()
        .to_owned();
    let name = engine
        .definition()
        .instance_field
        .lookup(&object)
        .and_then(|v| v.as_str())
        .map_or_else(|| metadata_name.clone(), str::to_owned);
    if let Some(metadata) = object.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        metadata.insert("namespace".into(), namespace.clone().into());
    }
    let take = |object: &mut serde_json::Value, key: &str| {
        object
            .get_mut(key)
            .map(std::mem::take)
            .unwrap_or_else(|| serde_json::json!({}))
    };
    Instance {
        spec_ref: format!(
            "{} {namespace}/{metadata_name}",
            engine.chart().renders.kind
        ),
        spec: take(&mut object, "spec"),
        metadata: take(&mut object, "metadata"),
        variables,
        name,
        namespace,
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
        let mut findings: Vec<Finding> =
            objects.iter().flat_map(postprocess::check_output).collect();
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

/// The instances one chart renders into one namespace, for its namespace templates.
struct NamespaceGroup<'i> {
    chart: usize,
    namespace: &'i str,
    /// The document index of the group's first spec, where findings about it go.
    first: usize,
    members: Vec<&'i Instance>,
}

/// A namespace group's findings and objects, or the error that stopped its templates.
type NamespaceRendered = Result<(Vec<Finding>, Vec<Manifest>), Finding>;

/// Puts each namespace group's objects and findings into the report; a template error goes
/// on the group's first spec, at `metadata.namespace`.
fn report_namespaces(
    groups: &[NamespaceGroup<'_>],
    rendered: Vec<NamespaceRendered>,
    checked: &[Checked],
    documents: &[Document],
    report: &mut Report,
) {
    for (group, result) in groups.iter().zip(rendered) {
        match result {
            Ok((findings, manifests)) => {
                report.findings.extend(findings);
                report.objects.extend(manifests);
            }
            Err(mut finding) => {
                finding.field = FieldPath::of(&["metadata", "namespace"]);
                report.findings.push(attach(
                    finding,
                    &checked[group.first],
                    &documents[group.first],
                ));
            }
        }
    }
}

/// Moves rendered objects into the report and reports objects that two specs both render
/// (the second spec gets the finding).
fn collect_objects(
    rendered: Vec<(usize, Result<Rendered, Finding>)>,
    checked: &[Checked],
    documents: &[Document],
    instance_field: &dyn Fn(usize) -> FieldPath,
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
        let finding = conflict_finding(
            &checked[first],
            &documents[first],
            &objects,
            &instance_field(second),
        );
        report
            .findings
            .push(attach(finding, &checked[second], &documents[second]));
    }
}

/// Puts the plain manifests into the report, after every rendered object: one that is also
/// rendered from a spec, or given twice, is an error on the manifest.
fn add_manifests(
    manifests: Vec<(usize, crate::render::Object)>,
    checked: &[Checked],
    documents: &[Document],
    report: &mut Report,
) {
    if manifests.is_empty() {
        return;
    }
    let mut taken: HashMap<(String, Option<String>, String), Option<String>> = report
        .objects
        .iter()
        .map(|m| {
            (
                (m.kind.clone(), m.namespace.clone(), m.name.clone()),
                m.source.clone(),
            )
        })
        .collect();
    for (index, object) in manifests {
        let identity = (
            object.kind.clone(),
            object.namespace.clone(),
            object.name.clone(),
        );
        if let Some(source) = taken.get(&identity) {
            let by = source.as_deref().map_or_else(
                || "another manifest".to_owned(),
                |spec| format!("the spec {spec}"),
            );
            let finding = Finding::error(
                "duplicate-object",
                FieldPath::of(&["metadata", "name"]),
                format!(
                    "{} {}/{} is given by {by} too",
                    object.kind,
                    object.namespace.as_deref().unwrap_or(""),
                    object.name
                ),
            )
            .hint("keep one: a plain manifest cannot replace or repeat an object");
            report
                .findings
                .push(attach(finding, &checked[index], &documents[index]));
            continue;
        }
        taken.insert(identity, None);
        let mut manifest = Manifest::from_object(object);
        manifest.passed_through = true;
        report.objects.push(manifest);
    }
}

/// Attaches the document's object to each finding, and a position to those without one, then
/// sorts them: position first, then field, the same order in the CLI and in a webhook denial.
fn locate(checked: &mut Checked, document: &Document) {
    for finding in &mut checked.findings {
        finding.object.get_or_insert_with(|| checked.object.clone());
        if finding.location.is_none() {
            finding.location = document.location_of(&finding.field);
        }
    }
    checked
        .findings
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
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
fn conflict_finding(
    first: &Checked,
    first_document: &Document,
    objects: &[String],
    instance_field: &FieldPath,
) -> Finding {
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
        instance_field.clone(),
        format!(
            "renders the same objects as {} at {position}: {}{more}",
            first.object,
            shown.join(", ")
        ),
    )
    .hint(format!(
        "give one of them another {instance_field} or metadata.namespace"
    ))
}

/// `KIND/NAME` from whatever the document holds, for messages about documents of any kind.
fn object_ref(value: &serde_json::Value) -> ObjectRef {
    let text = |path: &[&str]| text_at(value, path).map(str::to_owned);
    ObjectRef {
        kind: text(&["kind"]).unwrap_or_else(|| "<no kind>".into()),
        name: text(&["metadata", "name"]),
    }
}
