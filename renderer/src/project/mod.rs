//! The project file, `kiln.yaml`: which specs, charts, values and patches a GitOps repository
//! renders, and into which folder, per environment. It owns finding the file (the current
//! folder or the nearest parent), checking it (the chart schema checker, with `schema.yaml`
//! next to this file, so unknown keys get a did-you-mean and every finding a position), and
//! resolving an environment into the inputs one render takes. Paths in the file are relative
//! to the folder that holds it; they come out relative to the current folder.

use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use serde::Deserialize;

use crate::finding::{FieldPath, Finding, Location};
use crate::schema::Schema;
use crate::spec::load::{Document, InputFile, parse_documents};
use crate::suggest::closest;

pub const FILE_NAME: &str = "kiln.yaml";

/// What `kiln init` writes: a commented project that renders as it stands.
pub const STARTER: &str = include_str!("../../init/kiln.yaml");

/// The first spec `kiln init` writes next to the project file, under `specs/`.
pub const STARTER_SPEC: &str = include_str!("../../init/hello.yaml");

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let value: serde_json::Value =
        serde_yaml_ng::from_str(include_str!("schema.yaml")).expect("the project schema is YAML");
    Schema::parse(&value, &FieldPath::root()).expect("the project schema is structural")
});

/// A project file that cannot be used: findings with positions, or a file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Finding>),
}

/// A loaded, checked project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project file as the user would name it from the current folder.
    pub file: String,
    pub environments: Vec<Environment>,
}

/// One environment, resolved: every path relative to the current folder, the project's
/// entries first and the environment's after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    pub specs: Vec<String>,
    pub charts: Vec<PathBuf>,
    pub values: Vec<PathBuf>,
    pub patches: Vec<PatchRef>,
    pub output: PathBuf,
}

/// A patch an environment applies, as the project file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRef {
    pub path: PathBuf,
    pub kind: Option<PatchType>,
    pub target: Option<Target>,
    /// Where the entry is written in the project file, for findings about the patch.
    pub declared_at: Option<Location>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchType {
    Json6902,
    Merge,
    Strategic,
}

/// Which rendered objects a patch applies to: every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
}

/// What the project and each environment may list; an environment's entries follow the
/// project's.
#[derive(Deserialize)]
struct RawInputs {
    #[serde(default)]
    specs: Vec<String>,
    #[serde(default)]
    charts: Vec<String>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    patches: Vec<RawPatch>,
}

#[derive(Deserialize)]
struct RawProject {
    #[serde(flatten)]
    inputs: RawInputs,
    environments: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawEnvironment {
    #[serde(flatten)]
    inputs: RawInputs,
    output: String,
}

#[derive(Deserialize)]
struct RawPatch {
    path: String,
    #[serde(rename = "type")]
    kind: Option<PatchType>,
    target: Option<Target>,
}

/// The nearest `kiln.yaml`, looking in `start` and then its parents, named relative to
/// `start` (`kiln.yaml`, `../kiln.yaml`, ...).
pub fn find(start: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(start).ok()?;
    let mut relative = PathBuf::new();
    for folder in absolute.ancestors() {
        if folder.join(FILE_NAME).is_file() {
            return Some(relative.join(FILE_NAME));
        }
        relative.push("..");
    }
    None
}

impl Project {
    /// Reads and checks the project file at `path` (as the user names it).
    pub fn load(path: &Path) -> Result<Project, ProjectError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProjectError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let file = path.display().to_string();
        let input = InputFile {
            name: file.as_str().into(),
            text: text.into(),
        };
        let (mut documents, mut findings) = parse_documents(&input);
        if findings.is_empty() && documents.len() != 1 {
            findings.push(
                Finding::error(
                    "project",
                    FieldPath::root(),
                    format!("must hold one YAML document, not {}", documents.len()),
                )
                .at(Location {
                    file: input.name.clone(),
                    line: 1,
                    column: 1,
                }),
            );
        }
        if !findings.is_empty() {
            return Err(ProjectError::Invalid(findings));
        }
        let document = documents.remove(0);
        let written = |field: &FieldPath| document.written_scalar(field);
        let mut findings =
            crate::schema::check::check(&SCHEMA, &document.value, &FieldPath::root(), &written);
        if let Some(environments) = document
            .value
            .get("environments")
            .and_then(|e| e.as_object())
        {
            for name in environments.keys() {
                if !crate::formats::names::is_dns_label(name) {
                    findings.push(
                        Finding::error(
                            "project",
                            FieldPath::of(&["environments", name]),
                            "an environment name must be a DNS-1123 label",
                        )
                        .hint("lower-case letters, digits and '-', such as prod or eu-staging"),
                    );
                }
            }
        }
        if !findings.is_empty() {
            return Err(invalid(&document, findings));
        }
        let raw: RawProject = serde_json::from_value(document.value.clone()).map_err(|e| {
            invalid(
                &document,
                vec![Finding::error("project", FieldPath::root(), e.to_string())],
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let resolver = Resolver {
            base: &base,
            document: &document,
            findings: Vec::new(),
        };
        resolver.resolve(file, raw)
    }

    /// The environments a command works on: `name`, or all with `all`, or the only one.
    /// With several and none chosen, `how_to_choose` ends the message: the CLI names its
    /// flags, the Argo CD plugin the Application's fields.
    pub fn select(
        &self,
        name: Option<&str>,
        all: bool,
        how_to_choose: &str,
    ) -> Result<Vec<&Environment>, String> {
        let names: Vec<&str> = self.environments.iter().map(|e| e.name.as_str()).collect();
        match (name, all) {
            (Some(_), true) => Err("--env and --all-envs exclude each other".into()),
            (None, true) => Ok(self.environments.iter().collect()),
            (Some(name), false) => match self.environments.iter().find(|e| e.name == name) {
                Some(environment) => Ok(vec![environment]),
                None => Err(format!(
                    "{}: no environment {name:?}; {}{}",
                    self.file,
                    match closest(name, &names) {
                        Some(candidate) => format!("did you mean {candidate}? "),
                        None => String::new(),
                    },
                    format_args!("the environments are {}", names.join(", "))
                )),
            },
            (None, false) if self.environments.len() == 1 => Ok(vec![&self.environments[0]]),
            (None, false) => Err(format!(
                "{}: {} environments ({}); {how_to_choose}",
                self.file,
                names.len(),
                names.join(", ")
            )),
        }
    }
}

/// Puts findings at the positions their fields were written.
fn invalid(document: &Document, findings: Vec<Finding>) -> ProjectError {
    ProjectError::Invalid(
        findings
            .into_iter()
            .map(|finding| match document.location_of(&finding.field) {
                Some(location) if finding.location.is_none() => finding.at(location),
                _ => finding,
            })
            .collect(),
    )
}

/// Turns the file's entries into paths from the current folder, checking that each exists.
struct Resolver<'a> {
    base: &'a Path,
    document: &'a Document,
    findings: Vec<Finding>,
}

impl Resolver<'_> {
    fn resolve(mut self, file: String, raw: RawProject) -> Result<Project, ProjectError> {
        let root = FieldPath::root();
        let (specs, charts, values, patches) = self.inputs(&root, raw.inputs);
        let mut environments = Vec::new();
        for (name, value) in raw.environments {
            let at = root.key("environments").key(&name);
            let raw: RawEnvironment = match serde_json::from_value(value) {
                Ok(raw) => raw,
                Err(error) => {
                    self.findings
                        .push(Finding::error("project", at, error.to_string()));
                    continue;
                }
            };
            let join = |shared: &[PathBuf], own: Vec<PathBuf>| {
                shared.iter().cloned().chain(own).collect::<Vec<_>>()
            };
            let (own_specs, own_charts, own_values, own_patches) = self.inputs(&at, raw.inputs);
            environments.push(Environment {
                name,
                specs: join(&specs, own_specs)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
                charts: join(&charts, own_charts),
                values: join(&values, own_values),
                patches: patches.iter().cloned().chain(own_patches).collect(),
                output: self.within(&at.key("output"), &raw.output),
            });
        }
        if !self.findings.is_empty() {
            return Err(invalid(self.document, self.findings));
        }
        Ok(Project { file, environments })
    }

    /// The specs, charts, values and patches listed at `at`, resolved.
    fn inputs(
        &mut self,
        at: &FieldPath,
        raw: RawInputs,
    ) -> (Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>, Vec<PatchRef>) {
        (
            self.paths(&at.key("specs"), &raw.specs),
            self.paths(&at.key("charts"), &raw.charts),
            self.paths(&at.key("values"), &raw.values),
            self.patches(&at.key("patches"), raw.patches),
        )
    }

    fn paths(&mut self, at: &FieldPath, entries: &[String]) -> Vec<PathBuf> {
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| self.existing(&at.index(index), entry))
            .collect()
    }

    fn patches(&mut self, at: &FieldPath, entries: Vec<RawPatch>) -> Vec<PatchRef> {
        entries
            .into_iter()
            .enumerate()
            .map(|(index, raw)| {
                let at = at.index(index);
                PatchRef {
                    path: self.existing(&at.key("path"), &raw.path),
                    kind: raw.kind,
                    target: raw.target,
                    declared_at: self.document.location_of(&at),
                }
            })
            .collect()
    }

    /// `entry` from the current folder; a finding when nothing is there.
    fn existing(&mut self, at: &FieldPath, entry: &str) -> PathBuf {
        let path = self.within(at, entry);
        if self.findings.last().is_some_and(|f| f.field == *at) {
            return path;
        }
        if !path.exists() {
            let mut finding =
                Finding::error("project", at.clone(), "no such file or folder").got_str(entry);
            if let Some(candidate) = sibling_like(&path) {
                finding = finding.hint(format!("did you mean {candidate}?"));
            }
            self.findings.push(finding);
        }
        path
    }
}

impl Resolver<'_> {
    /// `entry` from the current folder, refused when it is absolute or leaves the project's
    /// folder: a project file changed in a pull request must not make kiln read or write
    /// anything outside the repository.
    fn within(&mut self, at: &FieldPath, entry: &str) -> PathBuf {
        let mut depth = 0usize;
        let mut escapes = Path::new(entry).is_absolute();
        for component in Path::new(entry).components() {
            match component {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::ParentDir if depth > 0 => depth -= 1,
                _ => escapes = true,
            }
        }
        if escapes {
            self.findings.push(
                Finding::error(
                    "project",
                    at.clone(),
                    "must be a relative path inside the project's folder",
                )
                .got_str(entry)
                .hint("paths in kiln.yaml are relative to the folder that holds it"),
            );
        }
        self.base.join(entry)
    }
}

/// The entry of the same folder whose name is closest to the missing one's, as written.
fn sibling_like(missing: &Path) -> Option<String> {
    let name = missing.file_name()?.to_str()?;
    let folder = missing.parent().filter(|p| !p.as_os_str().is_empty());
    let entries = std::fs::read_dir(folder.unwrap_or(Path::new("."))).ok()?;
    let names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    let known: Vec<&str> = names.iter().map(String::as_str).collect();
    let candidate = closest(name, &known)?;
    Some(match folder {
        Some(folder) => folder.join(candidate).display().to_string(),
        None => candidate.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_and_the_starter_are_sound() {
        assert!(SCHEMA.property("environments").is_some());
        let value: serde_json::Value = serde_yaml_ng::from_str(STARTER).unwrap();
        let written = |_: &FieldPath| None;
        let findings = crate::schema::check::check(&SCHEMA, &value, &FieldPath::root(), &written);
        assert!(findings.is_empty(), "{findings:?}");
    }
}
