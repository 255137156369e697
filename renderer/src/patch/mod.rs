//! Patches: the escape hatch for the field no chart foresaw. It owns reading a patch file
//! (RFC 6902 operations, RFC 7386 merge patches, strategic-merge patches), choosing the
//! rendered objects a patch targets, applying it, and checking what comes out as strictly as a
//! rendered object (the Kubernetes type, what the API server refuses, the guard's invariants).
//! Every finding names the patch file and the line of the operation or document at fault.

mod strategic;
mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::finding::{FieldPath, Finding, Location, ObjectRef};
use crate::output::Manifest;
use crate::postprocess;
use crate::project::{PatchRef, PatchType, Target};
use crate::render::Object;
use crate::spec::load::{Document, InputFile, parse_documents};

/// One patch document, read and ready to apply.
#[derive(Debug, Clone)]
pub struct Patch {
    file: Arc<str>,
    /// Where the patch document starts.
    at: Location,
    body: Body,
    target: target::Matcher,
    /// How the target was given, for messages.
    target_text: String,
    document: Document,
}

#[derive(Debug, Clone)]
enum Body {
    Json6902(Vec<json_patch::PatchOperation>),
    Merge(Value),
    Strategic(Value),
}

/// Reads the patches a project or `--patch` names. Every problem is reported at once.
pub fn load(refs: &[PatchRef]) -> Result<Vec<Patch>, Vec<Finding>> {
    let mut patches = Vec::new();
    let mut findings = Vec::new();
    for patch_ref in refs {
        match load_one(patch_ref) {
            Ok(mut loaded) => patches.append(&mut loaded),
            Err(mut problems) => findings.append(&mut problems),
        }
    }
    if findings.is_empty() {
        Ok(patches)
    } else {
        Err(findings)
    }
}

fn load_one(patch_ref: &PatchRef) -> Result<Vec<Patch>, Vec<Finding>> {
    let name = patch_ref.path.display().to_string();
    let at_declaration = |finding: Finding| match &patch_ref.declared_at {
        Some(location) => finding.at(location.clone()),
        None => finding,
    };
    let text = std::fs::read_to_string(&patch_ref.path).map_err(|error| {
        vec![at_declaration(Finding::error(
            "patch",
            FieldPath::root(),
            format!("{name}: cannot read the patch: {error}"),
        ))]
    })?;
    let file = InputFile {
        name: name.as_str().into(),
        text: text.into(),
    };
    let (documents, findings) = parse_documents(&file);
    if !findings.is_empty() {
        return Err(findings);
    }
    if documents.is_empty() {
        return Err(vec![
            Finding::error("patch", FieldPath::root(), "the patch file is empty")
                .at(start(&file.name)),
        ]);
    }
    let mut patches = Vec::new();
    let mut problems = Vec::new();
    for document in documents {
        match read_document(patch_ref, document) {
            Ok(patch) => patches.push(patch),
            Err(finding) => problems.push(finding),
        }
    }
    if problems.is_empty() {
        Ok(patches)
    } else {
        Err(problems)
    }
}

fn start(file: &Arc<str>) -> Location {
    Location {
        file: file.clone(),
        line: 1,
        column: 1,
    }
}

fn read_document(patch_ref: &PatchRef, document: Document) -> Result<Patch, Finding> {
    let at = document
        .location_of(&FieldPath::root())
        .unwrap_or_else(|| start(&document.file));
    let problem = |field: FieldPath, message: String| {
        let location = document.location_of(&field).unwrap_or_else(|| at.clone());
        Finding::error("patch", field, message).at(location)
    };
    let kind = match (patch_ref.kind, &document.value) {
        (Some(kind), _) => kind,
        (None, Value::Array(_)) => PatchType::Json6902,
        (None, Value::Object(_)) => PatchType::Strategic,
        (None, _) => {
            return Err(problem(
                FieldPath::root(),
                "a patch is a list of RFC 6902 operations or a mapping to merge".into(),
            ));
        }
    };
    let body = match kind {
        PatchType::Json6902 => {
            let Value::Array(items) = &document.value else {
                return Err(problem(
                    FieldPath::root(),
                    "a json6902 patch is a list of operations ({op: replace, path: /spec/replicas, value: 3})".into(),
                ));
            };
            let mut operations = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let operation = serde_json::from_value(item.clone()).map_err(|error| {
                    let location = document
                        .location_of(&FieldPath::root().index(index))
                        .unwrap_or_else(|| at.clone());
                    Finding::error(
                        "patch",
                        FieldPath::root(),
                        format!(
                            "operation {} is not an RFC 6902 operation: {error}",
                            index + 1
                        ),
                    )
                    .at(location)
                })?;
                operations.push(operation);
            }
            Body::Json6902(operations)
        }
        PatchType::Merge | PatchType::Strategic if !document.value.is_object() => {
            return Err(problem(
                FieldPath::root(),
                format!("a {} patch is a mapping", type_name(kind)),
            ));
        }
        PatchType::Merge => Body::Merge(document.value.clone()),
        PatchType::Strategic => Body::Strategic(document.value.clone()),
    };
    let target = match &patch_ref.target {
        Some(target) => target.clone(),
        None => own_target(&document.value).ok_or_else(|| {
            problem(
                FieldPath::root(),
                "the patch has no target: give one in kiln.yaml (target: {kind: Deployment, name: web}), or write apiVersion, kind and metadata.name in the patch".into(),
            )
        })?,
    };
    let matcher = target::Matcher::new(&target).map_err(|message| {
        let mut finding = Finding::error("patch", FieldPath::of(&["target"]), message);
        if let Some(location) = &patch_ref.declared_at {
            finding = finding.at(location.clone());
        }
        finding
    })?;
    Ok(Patch {
        file: document.file.clone(),
        at,
        body,
        target: matcher,
        target_text: target::describe(&target),
        document,
    })
}

fn type_name(kind: PatchType) -> &'static str {
    match kind {
        PatchType::Json6902 => "json6902",
        PatchType::Merge => "merge",
        PatchType::Strategic => "strategic",
    }
}

/// A mapping patch that names its object (as kustomize's patches do) targets that object.
fn own_target(patch: &Value) -> Option<Target> {
    let kind = patch.get("kind")?.as_str()?;
    let name = patch.pointer("/metadata/name")?.as_str()?;
    let (group, version) = match patch.get("apiVersion").and_then(Value::as_str) {
        Some(api_version) => match api_version.split_once('/') {
            Some((group, version)) => (Some(group.to_owned()), Some(version.to_owned())),
            None => (Some(String::new()), Some(api_version.to_owned())),
        },
        None => (None, None),
    };
    Some(Target {
        group,
        version,
        kind: Some(kind.to_owned()),
        name: Some(name.to_owned()),
        namespace: patch
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned),
        label_selector: None,
    })
}

/// What a check of a patched object needs from the engine: the chart values that say what the
/// guard's security defaults are.
pub type ValuesFor<'a> = &'a dyn Fn(&Value) -> Value;

/// Applies every patch, in order, to the objects it targets, and checks each patched object.
/// On any finding the objects are left as they were rendered.
pub fn apply(
    patches: &[Patch],
    objects: &mut [Manifest],
    values_for: ValuesFor<'_>,
) -> Vec<Finding> {
    if patches.is_empty() {
        return Vec::new();
    }
    // Parsed once, and only when a patch reads labels or changes the object.
    let mut parsed: Vec<Option<Value>> = vec![None; objects.len()];
    let mut findings = Vec::new();
    let mut touched = vec![false; objects.len()];
    for patch in patches {
        let mut matched = 0;
        for (index, manifest) in objects.iter().enumerate() {
            if !patch.target.matches_identity(manifest) {
                continue;
            }
            let value = parsed[index].get_or_insert_with(|| parse(manifest));
            if !patch.target.matches_labels(value) {
                continue;
            }
            matched += 1;
            let object = ObjectRef {
                kind: manifest.kind.clone(),
                name: Some(qualified(manifest)),
            };
            match patch.apply_to(value) {
                Ok(()) => touched[index] = true,
                Err(finding) => findings.push(finding.object(object)),
            }
        }
        if matched == 0 {
            findings.push(
                Finding::error(
                    "patch-target",
                    FieldPath::root(),
                    format!(
                        "the patch matches no rendered object (target: {})",
                        patch.target_text
                    ),
                )
                .at(patch.at.clone())
                .hint(
                    "check the target's kind, name and namespace against what `kiln render` prints",
                ),
            );
        }
    }
    for (index, manifest) in objects.iter().enumerate() {
        let Some(value) = parsed[index].as_ref().filter(|_| touched[index]) else {
            continue;
        };
        findings.extend(check_patched(manifest, value, values_for, patches));
    }
    if findings.is_empty() {
        rehash_patched_content(objects, &mut parsed, &mut touched);
        for (index, manifest) in objects.iter_mut().enumerate() {
            if let (true, Some(value)) = (touched[index], parsed[index].take()) {
                manifest.yaml = crate::output::yaml::to_yaml(&value);
            }
        }
    }
    findings
}

/// A patch that changes a ConfigMap's data or a Certificate's spec changes what the pods of
/// its instance read: the instance's workloads get the content hash of the patched objects,
/// as a render of that content would give them, so their pods roll when the patch lands.
fn rehash_patched_content(
    objects: &[Manifest],
    parsed: &mut [Option<Value>],
    touched: &mut [bool],
) {
    let changed: BTreeSet<_> = objects
        .iter()
        .zip(touched.iter())
        .filter(|(manifest, touched)| {
            **touched && postprocess::is_hashed_content(&manifest.api_version, &manifest.kind)
        })
        .filter_map(|(manifest, _)| spec_of(manifest))
        .collect();
    if changed.is_empty() {
        return;
    }
    // Of each such spec, the objects the hash reads and the workloads it goes on.
    let mut members: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for (index, manifest) in objects.iter().enumerate() {
        let (api_version, kind) = (&manifest.api_version, &manifest.kind);
        if let Some(spec) = spec_of(manifest).filter(|spec| changed.contains(spec))
            && (postprocess::is_hashed_content(api_version, kind)
                || postprocess::is_rolled_workload(api_version, kind))
        {
            members.entry(spec).or_default().push(index);
        }
    }
    for members in members.values() {
        for &member in members {
            parsed[member].get_or_insert_with(|| parse(&objects[member]));
        }
        let config_hash = postprocess::config_hash(
            &members
                .iter()
                .filter_map(|&member| {
                    let object = &objects[member];
                    Some(postprocess::Hashed {
                        api_version: &object.api_version,
                        kind: &object.kind,
                        name: &object.name,
                        value: parsed[member].as_ref()?,
                    })
                })
                .collect::<Vec<_>>(),
        );
        for &member in members {
            let object = &objects[member];
            if let Some(value) = parsed[member].as_mut() {
                touched[member] |= postprocess::set_config_hash(
                    &object.api_version,
                    &object.kind,
                    value,
                    &config_hash,
                );
            }
        }
    }
}

/// Which spec rendered an object: the objects one spec rendered share an instance (a
/// namespace-wide object has none) and the `kiln.dev/spec` source.
fn spec_of(manifest: &Manifest) -> Option<(&str, Option<&str>)> {
    Some((manifest.instance.as_deref()?, manifest.source.as_deref()))
}

fn parse(manifest: &Manifest) -> Value {
    serde_yaml_ng::from_str(&manifest.yaml).expect("kiln reads back what its writer wrote")
}

fn qualified(manifest: &Manifest) -> String {
    match &manifest.namespace {
        Some(namespace) => format!("{namespace}/{}", manifest.name),
        None => manifest.name.clone(),
    }
}

impl Patch {
    fn apply_to(&self, value: &mut Value) -> Result<(), Finding> {
        match &self.body {
            Body::Json6902(operations) => {
                for (index, operation) in operations.iter().enumerate() {
                    let single = json_patch::Patch(vec![operation.clone()]);
                    if let Err(error) = json_patch::patch(value, &single) {
                        let field = FieldPath::root().index(index);
                        let location = self
                            .document
                            .location_of(&field)
                            .unwrap_or_else(|| self.at.clone());
                        return Err(Finding::error(
                            "patch",
                            FieldPath::root(),
                            format!(
                                "operation {} of {} fails: {} at {}",
                                index + 1,
                                self.file,
                                error.kind,
                                error.path
                            ),
                        )
                        .at(location));
                    }
                }
                Ok(())
            }
            Body::Merge(patch) => {
                json_patch::merge(value, patch);
                Ok(())
            }
            Body::Strategic(patch) => strategic::merge(value, patch).map_err(|(path, message)| {
                let field = FieldPath::parse(&path).unwrap_or_default();
                let location = self
                    .document
                    .location_of(&field)
                    .unwrap_or_else(|| self.at.clone());
                Finding::error("patch", FieldPath::root(), format!("{path}: {message}"))
                    .at(location)
            }),
        }
    }
}

/// A patched object must still be the object it was, of its type, and within the guard.
fn check_patched(
    manifest: &Manifest,
    value: &Value,
    values_for: ValuesFor<'_>,
    patches: &[Patch],
) -> Vec<Finding> {
    let object_ref = ObjectRef {
        kind: manifest.kind.clone(),
        name: Some(qualified(manifest)),
    };
    let mut files: Vec<&str> = Vec::new();
    for patch in patches
        .iter()
        .filter(|p| p.target.matches_identity(manifest))
    {
        if !files.contains(&&*patch.file) {
            files.push(&patch.file);
        }
    }
    let by = files.join(", ");
    let applied: Vec<&Patch> = patches
        .iter()
        .filter(|p| p.target.matches_identity(manifest))
        .collect();
    // The field where the last patch that wrote it says so, else where that patch starts: a
    // mapping patch mirrors the object, so its positions mostly name the very line.
    let finish = |finding: Finding| {
        let location = applied.iter().rev().find_map(|patch| match &patch.body {
            Body::Json6902(operations) => {
                let pointer = pointer_of(&finding.field);
                operations
                    .iter()
                    .rposition(|op| {
                        let path = operation_path(op);
                        pointer.starts_with(path) || path.starts_with(&pointer)
                    })
                    .and_then(|index| patch.document.location_of(&FieldPath::root().index(index)))
            }
            Body::Merge(_) | Body::Strategic(_) => {
                let written = finding.field.lookup(&patch.document.value).is_some()
                    || finding
                        .field
                        .parent()
                        .is_some_and(|p| p.lookup(&patch.document.value).is_some());
                written
                    .then(|| patch.document.location_of(&finding.field))
                    .flatten()
            }
        });
        let location = location.or_else(|| applied.last().map(|p| p.at.clone()));
        let finding = finding.object(object_ref.clone());
        match location {
            Some(location) => finding.at(location),
            None => finding,
        }
    };
    let mut findings = Vec::new();
    let identity = [
        ("apiVersion", Some(manifest.api_version.as_str())),
        ("kind", Some(manifest.kind.as_str())),
        ("metadata.name", Some(manifest.name.as_str())),
        ("metadata.namespace", manifest.namespace.as_deref()),
    ];
    for (field, expected) in identity {
        let actual = FieldPath::parse(field)
            .and_then(|path| path.lookup(value).cloned())
            .and_then(|v| v.as_str().map(str::to_owned));
        if actual.as_deref() != expected {
            findings.push(finish(
                Finding::error(
                    "patch",
                    FieldPath::parse(field).unwrap_or_default(),
                    format!("a patch cannot change an object's identity ({by})"),
                )
                .got(actual.map_or(Value::Null, Value::from))
                .hint("rename or move the object in its spec, not in a patch"),
            ));
        }
    }
    if !findings.is_empty() {
        return findings;
    }
    let object = Object {
        api_version: manifest.api_version.clone(),
        kind: manifest.kind.clone(),
        namespace: manifest.namespace.clone(),
        name: manifest.name.clone(),
        instance: manifest.instance.clone(),
        template: format!("the patch {by}"),
        value: value.clone(),
    };
    for refused in crate::postprocess::refusals(&object) {
        let field = FieldPath::parse(&refused.path).unwrap_or_default();
        let mut finding = Finding::error(
            "patch-output",
            field,
            format!(
                "{} (Kubernetes would reject the object as the patch {by} leaves it)",
                refused.problem
            ),
        );
        if let Some(hint) = refused.hint {
            finding = finding.hint(hint);
        }
        findings.push(finish(finding));
    }
    if crate::guard::is_guarded(value) {
        let values = values_for(value);
        for mut finding in crate::guard::check(value, None, &values) {
            finding.hint = Some(format!(
                "the patch {by} breaks a guarantee of the chart; where the chart's values allow \
                 it, set the value in the environment's values file instead of patching"
            ));
            findings.push(finish(finding));
        }
    }
    findings
}

/// `spec.containers[0].image` as the JSON pointer `/spec/containers/0/image`.
fn pointer_of(field: &FieldPath) -> String {
    use crate::finding::Segment;
    field
        .segments()
        .iter()
        .map(|segment| match segment {
            Segment::Key(key) => format!("/{}", key.replace('~', "~0").replace('/', "~1")),
            Segment::Index(index) => format!("/{index}"),
        })
        .collect()
}

fn operation_path(operation: &json_patch::PatchOperation) -> &str {
    use json_patch::PatchOperation as Op;
    match operation {
        Op::Add(op) => op.path.as_str(),
        Op::Remove(op) => op.path.as_str(),
        Op::Replace(op) => op.path.as_str(),
        Op::Move(op) => op.path.as_str(),
        Op::Copy(op) => op.path.as_str(),
        Op::Test(op) => op.path.as_str(),
    }
}

/// The path a patch file is named by in findings, for callers that build `PatchRef`s.
pub fn patch_ref(path: &Path) -> PatchRef {
    PatchRef {
        path: path.to_path_buf(),
        kind: None,
        target: None,
        declared_at: None,
    }
}
