//! Charts: the folders that hold the operations knowledge, editable by people. A chart is
//! `chart.yaml` (the kind it renders), `values.yaml`, the kind's definition (`schema.yaml`,
//! `defaults.yaml`, `variables.yaml`, compiled by `kind`) and `templates/` and `namespace/`,
//! read from the binary (the built-in charts) or from disk with `--chart`. This module only
//! loads files; `kind` compiles the definition and `render` turns templates into objects.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use crate::finding::FieldPath;
use crate::kind::{DefinitionError, KindDefinition};
use crate::schema::check::check;
use crate::schema::{Schema, rules};
use crate::spec::load::{Document, InputFile, parse_documents};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/charts.rs"));
}

/// A built-in chart's files as (path inside the chart, contents), for `kiln chart export`;
/// the first built-in chart when `name` is `None`.
pub fn builtin_files(name: Option<&str>) -> Option<&'static [(&'static str, &'static str)]> {
    let charts = embedded::BUILTIN_CHARTS;
    match name {
        None => charts.first().map(|(_, files)| *files),
        Some(name) => charts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, files)| *files),
    }
}

/// The names of the built-in charts.
pub fn builtin_names() -> Vec<&'static str> {
    embedded::BUILTIN_CHARTS
        .iter()
        .map(|(name, _)| *name)
        .collect()
}

/// A chart that could not be used; this is a usage error, not a finding about a spec.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("{origin}: cannot read chart: {source}")]
    Io {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: missing {file}")]
    Missing { origin: String, file: &'static str },
    #[error("{origin}/{file}: {message}")]
    Invalid {
        origin: String,
        file: String,
        message: String,
    },
    /// A values file given with `--values`, and where in it.
    #[error("{0}")]
    Values(String),
}

/// Which object kind a chart renders: `chart.yaml`'s `renders`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindId {
    pub api_version: String,
    pub kind: String,
}

impl std::fmt::Display for KindId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.api_version, self.kind)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChartManifest {
    name: String,
    #[serde(default)]
    #[allow(dead_code)] // documentation for people; kiln only checks that it is a string
    description: String,
    renders: KindId,
    /// The field that names an instance; `metadata.name` when absent.
    #[serde(default)]
    instance_name: Option<String>,
    /// Names for the CustomResourceDefinition (`kiln crd`).
    #[serde(default)]
    names: CrdNames,
}

impl ChartManifest {
    /// `chart.yaml`, from its text (`None`: the chart has none) or the value `build.rs` read.
    fn read(
        origin: &str,
        text: Option<&str>,
        prebuilt: Option<&str>,
    ) -> Result<ChartManifest, ChartError> {
        let missing = || ChartError::Missing {
            origin: origin.to_owned(),
            file: "chart.yaml",
        };
        let text = text.ok_or_else(missing)?;
        let document =
            read_one_document(origin, "chart.yaml", text, prebuilt)?.ok_or_else(missing)?;
        serde_json::from_value(document.value).map_err(|e| ChartError::Invalid {
            origin: origin.to_owned(),
            file: "chart.yaml".into(),
            message: e.to_string(),
        })
    }
}

/// The one YAML document of a chart file (`None` when it is empty): the value `build.rs` read
/// when there is one (a built-in chart), else the file's text read as any input is.
fn read_one_document(
    origin: &str,
    file: &str,
    text: &str,
    prebuilt: Option<&str>,
) -> Result<Option<Document>, ChartError> {
    let invalid = |message: String| ChartError::Invalid {
        origin: origin.to_owned(),
        file: file.to_owned(),
        message,
    };
    let input = InputFile {
        name: format!("{origin}/{file}").into(),
        text: text.into(),
    };
    if let Some(Ok(value)) = prebuilt.map(serde_json::from_str) {
        return Ok(Some(Document::prebuilt(input, value)));
    }
    let (mut documents, findings) = parse_documents(&input);
    if let Some(finding) = findings.into_iter().next() {
        return Err(invalid(finding.to_string()));
    }
    if documents.len() > 1 {
        return Err(invalid("must hold one YAML document".into()));
    }
    Ok(documents.pop())
}

/// The value `build.rs` read from a built-in chart's file, if it read that file.
fn prebuilt_value(chart: &str, file: &str) -> Option<&'static str> {
    embedded::PARSED_FILES
        .iter()
        .find(|(c, path, _)| *c == chart && *path == file)
        .map(|(_, _, json)| *json)
}

/// What `kiln crd` calls the kind; kiln derives what is left out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrdNames {
    pub plural: Option<String>,
    #[serde(default)]
    pub short_names: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
}

/// The files that define a kind, besides templates.
pub const DEFINITION_FILES: &[&str] = &[
    "schema.yaml",
    "defaults.yaml",
    "variables.yaml",
    "values.schema.yaml",
];

/// A loaded chart: its templates by path, its merged values and its kind's definition.
#[derive(Debug, Clone)]
pub struct Chart {
    pub name: String,
    /// `built-in chart NAME` or the folder it was read from, for messages.
    pub origin: String,
    pub renders: KindId,
    pub instance_name: Option<String>,
    pub crd_names: CrdNames,
    /// `templates/*.yaml`, rendered once per spec; `_*` files are helpers for `import`.
    /// Empty for a chart that only guards its kind (see [`Chart::guards_only`]).
    pub instance_templates: Vec<String>,
    /// `namespace/*.yaml`, rendered once per namespace with every instance in it.
    pub namespace_templates: Vec<String>,
    /// Every template and helper, by path inside the chart.
    pub sources: BTreeMap<String, String>,
    pub values: serde_json::Value,
    /// values.yaml, then each `--values` document merged into `values`, for positions.
    pub values_sources: Vec<Document>,
    /// `schema.yaml`, `defaults.yaml`, `variables.yaml` and `values.schema.yaml` as read,
    /// with their positions.
    pub definition_files: BTreeMap<&'static str, Document>,
    /// `values.schema.yaml`, compiled once when the chart is read.
    pub values_schema: Option<Arc<Schema>>,
    /// Compiled into the binary (`Chart::builtins`), rather than read from a folder.
    pub builtin: bool,
}

impl Chart {
    /// A built-in chart with no `--values` merged in: what CI compiled and tested, so it may be
    /// compiled when first needed rather than up front (`Kiln`).
    pub fn is_builtin_as_shipped(&self) -> bool {
        self.builtin && self.values_sources.len() <= 1
    }

    /// A chart without templates checks and defaults objects of its kind and outputs them
    /// as they are: the kind belongs to an operator the team keeps, and kiln guards it.
    pub fn guards_only(&self) -> bool {
        self.instance_templates.is_empty()
    }

    /// Every chart compiled into the binary, in the order `build.rs` lists them.
    pub fn builtins() -> Result<Vec<Chart>, ChartError> {
        embedded::BUILTIN_CHARTS
            .iter()
            .map(|(name, files)| Chart::from_builtin(name, files))
            .collect()
    }

    fn from_builtin(name: &str, files: &[(&str, &str)]) -> Result<Chart, ChartError> {
        let files = files
            .iter()
            .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
            .collect();
        let chart = Chart::from_files(&builtin_origin(name), files, |file| {
            prebuilt_value(name, file)
        })?;
        Ok(Chart {
            builtin: true,
            ..chart
        })
    }

    /// The resource name of the chart's kind: `names.plural` or the lowercased kind plus s.
    pub fn plural(&self) -> String {
        self.crd_names
            .plural
            .clone()
            .unwrap_or_else(|| format!("{}s", self.renders.kind.to_ascii_lowercase()))
    }

    /// The first built-in chart (the one `kiln chart export` copies by default).
    pub fn builtin() -> Result<Chart, ChartError> {
        Ok(Chart::builtins()?.remove(0))
    }

    /// The charts a command line asks for: each `--chart DIR`, plus every built-in chart
    /// whose kind none of them renders; then each `--values FILE`, in order, merged into every
    /// chart whose values have its top-level keys (a key no chart has is an error). Shared by
    /// `kiln` and `kiln-webhook`.
    pub fn load_all(
        dirs: &[std::path::PathBuf],
        values: &[std::path::PathBuf],
    ) -> Result<Vec<Chart>, ChartError> {
        let mut charts = dirs
            .iter()
            .map(|dir| Chart::from_dir(dir))
            .collect::<Result<Vec<_>, _>>()?;
        for builtin in Chart::builtins()? {
            if !charts.iter().any(|c| c.renders == builtin.renders) {
                charts.push(builtin);
            }
        }
        for file in values {
            overlay_values(&mut charts, file)?;
        }
        for chart in &charts {
            chart.check_values()?;
        }
        Ok(charts)
    }

    /// What `load_all` gives, but a built-in chart is only read when first used
    /// ([`LazyChart`]), unless a `--values` file is given: merging values needs every
    /// chart's. What `Kiln::load` holds.
    pub fn load_lazy(
        dirs: &[std::path::PathBuf],
        values: &[std::path::PathBuf],
    ) -> Result<Vec<LazyChart>, ChartError> {
        if !values.is_empty() {
            return Ok(Chart::load_all(dirs, values)?
                .into_iter()
                .map(LazyChart::ready)
                .collect());
        }
        let mut charts = Vec::new();
        for dir in dirs {
            let chart = Chart::from_dir(dir)?;
            chart.check_values()?;
            charts.push(LazyChart::ready(chart));
        }
        for (name, files) in embedded::BUILTIN_CHARTS {
            let builtin = LazyChart::builtin(name, files)?;
            if !charts.iter().any(|c| c.renders() == builtin.renders()) {
                charts.push(builtin);
            }
        }
        Ok(charts)
    }

    /// A chart folder on disk, for `--chart DIR`.
    pub fn from_dir(dir: &Path) -> Result<Chart, ChartError> {
        let origin = dir.display().to_string();
        let mut files = BTreeMap::new();
        read_tree(dir, dir, &mut files).map_err(|source| ChartError::Io {
            origin: origin.clone(),
            source,
        })?;
        Chart::from_files(&origin, files, |_| None)
    }

    /// A chart from its files; `prebuilt` gives the value `build.rs` read from a file, for
    /// built-in charts.
    fn from_files(
        origin: &str,
        files: BTreeMap<String, String>,
        prebuilt: impl Fn(&str) -> Option<&'static str>,
    ) -> Result<Chart, ChartError> {
        let invalid = |file: &str, message: String| ChartError::Invalid {
            origin: origin.to_owned(),
            file: file.to_owned(),
            message,
        };
        let read_yaml = |file: &'static str| -> Result<Option<Document>, ChartError> {
            match files.get(file) {
                Some(text) => read_one_document(origin, file, text, prebuilt(file)),
                None => Ok(None),
            }
        };
        let manifest = ChartManifest::read(
            origin,
            files.get("chart.yaml").map(String::as_str),
            prebuilt("chart.yaml"),
        )?;
        let values_document = read_yaml("values.yaml")?;
        let values = values_document
            .as_ref()
            .map(|document| document.value.clone())
            .unwrap_or_else(|| serde_json::json!({}));
        if !values.is_object() {
            return Err(invalid("values.yaml", "must be a mapping".into()));
        }
        let mut definition_files = BTreeMap::new();
        for file in DEFINITION_FILES {
            if let Some(document) = read_yaml(file)? {
                definition_files.insert(*file, document);
            }
        }
        let is_rendered = |path: &str, folder: &str| {
            path.strip_prefix(folder)
                .is_some_and(|name| !name.starts_with('_') && !name.contains('/'))
                && (path.ends_with(".yaml") || path.ends_with(".yml"))
        };
        let instance_templates: Vec<String> = files
            .keys()
            .filter(|path| is_rendered(path, "templates/"))
            .cloned()
            .collect();
        // No `templates/` at all: the chart guards a kind someone else's operator owns, and
        // the checked object itself is the output. A folder without a template is a mistake.
        if instance_templates.is_empty() && files.keys().any(|path| path.starts_with("templates/"))
        {
            return Err(invalid("templates/", "holds no *.yaml template".into()));
        }
        let namespace_templates = files
            .keys()
            .filter(|path| is_rendered(path, "namespace/"))
            .cloned()
            .collect();
        let sources = files
            .into_iter()
            .filter(|(path, _)| path.starts_with("templates/") || path.starts_with("namespace/"))
            .collect();
        let mut chart = Chart {
            name: manifest.name,
            origin: origin.to_owned(),
            renders: manifest.renders,
            instance_name: manifest.instance_name,
            crd_names: manifest.names,
            instance_templates,
            namespace_templates,
            sources,
            values,
            values_sources: values_document.into_iter().collect(),
            definition_files,
            values_schema: None,
            builtin: false,
        };
        if let Some(document) = chart.definition_files.get("values.schema.yaml") {
            let schema = Schema::parse(&document.value, &FieldPath::root()).map_err(|error| {
                chart.definition_error(&DefinitionError {
                    file: "values.schema.yaml",
                    at: error.at,
                    message: error.message,
                })
            })?;
            chart.values_schema = Some(Arc::new(schema));
        }
        Ok(chart)
    }

    /// Checks the chart's values (values.yaml with every `--values` merged) against its
    /// `values.schema.yaml`, when it has one: every finding, each at the position of the file
    /// that last set the field.
    pub fn check_values(&self) -> Result<(), ChartError> {
        let Some(schema) = &self.values_schema else {
            return Ok(());
        };
        let mut findings = check(schema, &self.values, &FieldPath::root(), &|_| None);
        let scope = crate::cel::Scope::root();
        let (rule_findings, failures) = rules::run(
            schema,
            &self.values,
            &self.values,
            &scope,
            &serde_json::Value::Null,
        );
        // A rule that cannot be evaluated on values that passed the schema is the chart's bug.
        if findings.is_empty()
            && let Some(failure) = failures.first()
        {
            return Err(self.definition_error(&DefinitionError {
                file: "values.schema.yaml",
                at: failure.written_at.clone(),
                message: format!("cannot be evaluated: {}", failure.message),
            }));
        }
        findings.extend(rule_findings);
        if findings.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = findings
            .iter()
            .map(|finding| {
                let source = self
                    .values_sources
                    .iter()
                    .rev()
                    .find(|source| finding.field.lookup(&source.value).is_some())
                    .or(self.values_sources.first());
                let position = source
                    .and_then(|source| source.location_of(&finding.field))
                    .map(|location| format!("{location}: "))
                    .unwrap_or_default();
                format!(
                    "{position}values of {}: {}",
                    self.origin,
                    finding.message_line()
                )
            })
            .collect();
        Err(ChartError::Values(lines.join("\n")))
    }

    /// Compiles the kind's schema, defaults and variables against the current values.
    pub fn definition(&self) -> Result<KindDefinition, ChartError> {
        let file = |name: &str| self.definition_files.get(name).map(|d| &d.value);
        KindDefinition::compile(
            file("schema.yaml"),
            file("defaults.yaml"),
            file("variables.yaml"),
            self.instance_name.as_deref(),
            &self.values,
        )
        .map_err(|error| self.definition_error(&error))
    }

    /// A problem in one of the definition files, with its position.
    pub fn definition_error(&self, error: &DefinitionError) -> ChartError {
        let position = self
            .definition_files
            .get(error.file)
            .and_then(|document| document.location_of(&error.at))
            .map(|l| format!(":{}:{}", l.line, l.column))
            .unwrap_or_default();
        let at = if error.at.is_root() {
            String::new()
        } else {
            format!("{}: ", error.at)
        };
        ChartError::Invalid {
            origin: self.origin.clone(),
            file: format!("{}{position}", error.file),
            message: format!("{at}{}", error.message),
        }
    }
}

fn builtin_origin(name: &str) -> String {
    format!("built-in chart {name}")
}

/// A chart `Kiln` holds: read already, or a built-in chart left as shipped that is read the
/// first time something needs more than the kind it renders. A run mostly uses one kind of
/// the built-in four, and reading a chart's files is a large share of a small run's time.
#[derive(Debug)]
pub struct LazyChart {
    renders: KindId,
    chart: OnceLock<Arc<Chart>>,
    /// The built-in chart's name and files, read on first use; `None` when read already.
    builtin: Option<(&'static str, &'static [(&'static str, &'static str)])>,
}

impl LazyChart {
    /// A chart read already.
    pub fn ready(chart: Chart) -> LazyChart {
        LazyChart {
            renders: chart.renders.clone(),
            chart: OnceLock::from(Arc::new(chart)),
            builtin: None,
        }
    }

    /// A built-in chart of which only `chart.yaml` is read now.
    fn builtin(
        name: &'static str,
        files: &'static [(&'static str, &'static str)],
    ) -> Result<LazyChart, ChartError> {
        let text = files
            .iter()
            .find(|(path, _)| *path == "chart.yaml")
            .map(|(_, text)| *text);
        let manifest = ChartManifest::read(
            &builtin_origin(name),
            text,
            prebuilt_value(name, "chart.yaml"),
        )?;
        Ok(LazyChart {
            renders: manifest.renders,
            chart: OnceLock::new(),
            builtin: Some((name, files)),
        })
    }

    /// The kind the chart renders, without reading the rest of it.
    pub fn renders(&self) -> &KindId {
        &self.renders
    }

    /// A built-in chart with no `--values` merged in, read or not (see
    /// [`Chart::is_builtin_as_shipped`]).
    pub fn is_builtin_as_shipped(&self) -> bool {
        match self.chart.get() {
            Some(chart) => chart.is_builtin_as_shipped(),
            None => true,
        }
    }

    /// The chart, read now if it was not. A built-in chart as shipped is what CI read and
    /// tested (`the_builtin_charts_load_and_compile`), so reading it cannot fail.
    pub fn get(&self) -> &Arc<Chart> {
        self.chart.get_or_init(|| {
            let (name, files) = self
                .builtin
                .expect("a chart that is not built-in is read when it is made");
            // The values of a built-in chart as shipped are fixed when kiln is built: test
            // builds check them here on every load, release builds trust what CI checked.
            let chart = Chart::from_builtin(name, files)
                .and_then(|chart| {
                    if cfg!(debug_assertions) {
                        chart.check_values()?;
                    }
                    Ok(chart)
                })
                .expect("a built-in chart as shipped loads (every one is loaded by its tests)");
            Arc::new(chart)
        })
    }
}

/// Merges one `--values` file into the charts whose values have its top-level keys.
fn overlay_values(charts: &mut [Chart], file: &Path) -> Result<(), ChartError> {
    let origin = file.display().to_string();
    let invalid = |message: String| ChartError::Values(format!("{origin}: {message}"));
    let text = fs::read_to_string(file).map_err(|source| ChartError::Io {
        origin: origin.clone(),
        source,
    })?;
    let input = InputFile {
        name: origin.as_str().into(),
        text: text.into(),
    };
    let (documents, findings) = parse_documents(&input);
    if let Some(finding) = findings.into_iter().next() {
        return Err(ChartError::Values(finding.to_string()));
    }
    let Some(document) = documents.first() else {
        return Ok(());
    };
    let Some(overlay) = document.value.as_object() else {
        return Err(invalid("values must be a mapping".into()));
    };
    for key in overlay.keys() {
        if !charts.iter().any(|chart| chart.values.get(key).is_some()) {
            let known: Vec<&str> = charts
                .iter()
                .flat_map(|chart| chart.values.as_object().into_iter().flat_map(|v| v.keys()))
                .map(String::as_str)
                .collect();
            let hint = crate::suggest::did_you_mean(key, &known);
            let position = document
                .location_of(&crate::finding::FieldPath::of(&[key]))
                .map(|l| format!("{l}: "))
                .unwrap_or_default();
            return Err(ChartError::Values(format!(
                "{position}{key}: no chart has this value{hint}"
            )));
        }
    }
    for chart in charts {
        let mine: serde_json::Map<String, serde_json::Value> = overlay
            .iter()
            .filter(|(key, _)| chart.values.get(key.as_str()).is_some())
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !mine.is_empty() {
            chart.values_sources.push(document.clone());
        }
        merge(&mut chart.values, serde_json::Value::Object(mine));
    }
    Ok(())
}

fn merge(base: &mut serde_json::Value, overlay: serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(relative, fs::read_to_string(&path)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_charts_load_and_compile() {
        let charts = Chart::builtins().unwrap();
        assert!(charts.len() >= 2);
        for chart in &charts {
            chart.check_values().unwrap();
            chart.definition().unwrap();
            // Only the chart of a kind another operator owns renders no templates.
            let guards = chart.name == "redisenterprise";
            assert_eq!(chart.guards_only(), guards, "{}", chart.name);
        }
    }

    /// Read lazily, a built-in chart is the chart `builtins` reads, and its kind is known
    /// before it is read.
    #[test]
    fn a_lazy_builtin_chart_is_the_chart_itself() {
        let eager = Chart::builtins().unwrap();
        let lazy = Chart::load_lazy(&[], &[]).unwrap();
        assert_eq!(lazy.len(), eager.len());
        for (lazy, eager) in lazy.iter().zip(&eager) {
            assert_eq!(lazy.renders(), &eager.renders);
            assert!(
                lazy.chart.get().is_none(),
                "{} was read up front",
                eager.name
            );
            assert!(lazy.is_builtin_as_shipped());
            let read = lazy.get();
            assert_eq!(read.origin, eager.origin);
            assert_eq!(read.values, eager.values);
            assert_eq!(read.sources, eager.sources);
            assert!(read.builtin);
        }
    }

    /// What `build.rs` read from each definition file of a built-in chart is what the loader
    /// reads from its text: the same value (key order included), no finding, and the same
    /// positions, indexed when first asked for. Every definition file has its value there.
    #[test]
    fn the_values_read_at_build_time_are_what_the_files_say() {
        let mut definition_files = 0;
        for (chart, files) in embedded::BUILTIN_CHARTS {
            for (path, text) in *files {
                if path.contains('/') || !path.ends_with(".yaml") {
                    continue;
                }
                definition_files += 1;
                let input = InputFile {
                    name: format!("{chart}/{path}").into(),
                    text: (*text).into(),
                };
                let (mut documents, findings) = parse_documents(&input);
                assert!(findings.is_empty(), "{chart}/{path}: {findings:?}");
                assert_eq!(documents.len(), 1, "{chart}/{path}");
                let read = documents.pop().unwrap();
                let (_, _, json) = embedded::PARSED_FILES
                    .iter()
                    .find(|(c, p, _)| c == chart && p == path)
                    .unwrap_or_else(|| panic!("{chart}/{path} was not read at build time"));
                let prebuilt = Document::prebuilt(input, serde_json::from_str(json).unwrap());
                // As text, so that the key order counts at every level.
                assert_eq!(
                    prebuilt.value.to_string(),
                    read.value.to_string(),
                    "{chart}/{path}"
                );
                // Each top-level entry (a mapping's keys, a list's items) is at the same place.
                let fields: Vec<FieldPath> = match &read.value {
                    serde_json::Value::Object(map) => {
                        map.keys().map(|k| FieldPath::of(&[k])).collect()
                    }
                    serde_json::Value::Array(items) => (0..items.len())
                        .map(|i| FieldPath::root().index(i))
                        .collect(),
                    _ => Vec::new(),
                };
                assert!(!fields.is_empty(), "{chart}/{path}");
                for field in fields {
                    let location = read.location_of(&field);
                    assert!(location.is_some(), "{chart}/{path}: {field}");
                    assert_eq!(prebuilt.location_of(&field), location, "{chart}/{path}");
                }
            }
        }
        assert_eq!(definition_files, embedded::PARSED_FILES.len());
    }

    #[test]
    fn overlays_merge_mappings_and_replace_the_rest() {
        let mut base = serde_json::json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        merge(&mut base, serde_json::json!({"a": {"c": [3]}, "e": 2}));
        assert_eq!(
            base,
            serde_json::json!({"a": {"b": 1, "c": [3]}, "d": 1, "e": 2})
        );
    }
}
