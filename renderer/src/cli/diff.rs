//! `kiln diff` and `kiln render --check`: what a render would change in an output folder,
//! file by file (one object per file), found by the same comparison `render -o` makes before
//! it writes, so a clean check means a render would write nothing.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use similar::TextDiff;

use crate::finding::{FieldPath, Finding, Location, ObjectRef};
use crate::output::Manifest;
use crate::output::folder::{self, Change};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Color {
    /// When stdout is a terminal and NO_COLOR is unset.
    #[default]
    Auto,
    Always,
    Never,
}

impl Color {
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// The files a render writes into a folder, by path, with the object each holds.
pub type Planned = Vec<(PathBuf, String)>;

/// A job's render measured against its output folder.
pub struct Comparison {
    /// What `render -o` would write.
    pub files: Planned,
    /// How the folder differs, each change with a label naming the object it holds.
    pub changes: Vec<(Change, String)>,
}

impl Comparison {
    /// Plans the folder for `objects` and compares it with `root`.
    pub fn of(root: &Path, objects: &[Manifest]) -> Result<Comparison, String> {
        let files = folder::plan(objects).map_err(|e| e.to_string())?;
        let changes = folder::changes(root, &files).map_err(|e| e.to_string())?;
        // The plan lists one file per object, in object order, then the kustomization.
        // Indexed only when something changed: a passing check needs no labels.
        let index: HashMap<&Path, usize> = if changes.is_empty() {
            HashMap::new()
        } else {
            files
                .iter()
                .enumerate()
                .map(|(i, (path, _))| (path.as_path(), i))
                .collect()
        };
        let label_of = |change: &Change| -> String {
            match change {
                Change::Removed { old, .. } => label_of_text(old),
                _ => index
                    .get(change.path())
                    .and_then(|i| objects.get(*i))
                    .map(label)
                    .unwrap_or_else(|| "the folder's listing".into()),
            }
        };
        let changes = changes
            .into_iter()
            .map(|change| {
                let label = label_of(&change);
                (change, label)
            })
            .collect();
        Ok(Comparison { files, changes })
    }

    /// `N changed, N added, N removed, N unchanged`.
    pub fn summary(&self) -> String {
        let count = |wanted: fn(&Change) -> bool| {
            self.changes
                .iter()
                .filter(|(change, _)| wanted(change))
                .count()
        };
        let changed = count(|c| matches!(c, Change::Changed { .. }));
        let added = count(|c| matches!(c, Change::Added { .. }));
        let removed = count(|c| matches!(c, Change::Removed { .. }));
        format!(
            "{changed} changed, {added} added, {removed} removed, {} unchanged",
            self.files.len() - changed - added
        )
    }
}

fn label(manifest: &Manifest) -> String {
    match &manifest.namespace {
        Some(namespace) => format!("{} {namespace}/{}", manifest.kind, manifest.name),
        None => format!("{} {}", manifest.kind, manifest.name),
    }
}

/// `Kind namespace/name` of a file kiln wrote, read back from its text.
fn label_of_text(text: &str) -> String {
    let value: serde_json::Value = serde_yaml_ng::from_str(text).unwrap_or_default();
    let field = |pointer: &str| value.pointer(pointer).and_then(|v| v.as_str());
    match (
        field("/kind"),
        field("/metadata/namespace"),
        field("/metadata/name"),
    ) {
        (Some(kind), Some(namespace), Some(name)) => format!("{kind} {namespace}/{name}"),
        (Some(kind), None, Some(name)) => format!("{kind} {name}"),
        _ if text.contains("kind: Kustomization") => "the folder's listing".into(),
        _ => "an object".into(),
    }
}

/// Each change as a finding at the output file, for `--check` and the machine formats.
pub fn stale_findings(root: &Path, changes: &[(Change, String)], rerun: &str) -> Vec<Finding> {
    changes
        .iter()
        .map(|(change, label)| {
            let message = match change {
                Change::Added { .. } => "is missing: the specs render it",
                Change::Changed { .. } => "is stale: the specs render other contents",
                Change::Removed { .. } => "is obsolete: the specs no longer render it",
            };
            let (kind, name) = label.split_once(' ').unwrap_or((label, ""));
            Finding::error("stale-output", FieldPath::root(), message)
                .object(ObjectRef {
                    kind: kind.to_owned(),
                    name: Some(name.to_owned()).filter(|n| !n.is_empty()),
                })
                .hint(format!("run `{rerun}` and commit the result"))
                .at(Location {
                    file: root.join(change.path()).display().to_string().into(),
                    line: 1,
                    column: 1,
                })
        })
        .collect()
}

/// Writes a unified diff per change: `--- ROOT/path` (what is there) and `+++ ROOT/path`
/// (what a render would write), with `/dev/null` for a missing or an obsolete file.
pub fn print(
    out: &mut impl Write,
    root: &Path,
    comparison: &Comparison,
    color: bool,
) -> std::io::Result<()> {
    let planned: HashMap<&Path, &str> = comparison
        .files
        .iter()
        .map(|(path, text)| (path.as_path(), text.as_str()))
        .collect();
    for (change, label) in &comparison.changes {
        let path = root.join(change.path()).display().to_string();
        let new_text = planned.get(change.path()).copied().unwrap_or("");
        let (old, new, from, to, verb) = match change {
            Change::Added { .. } => ("", new_text, "/dev/null".to_owned(), path.clone(), "added"),
            Change::Changed { old, .. } => (
                old.as_str(),
                new_text,
                path.clone(),
                path.clone(),
                "changed",
            ),
            Change::Removed { old, .. } => (
                old.as_str(),
                "",
                path.clone(),
                "/dev/null".to_owned(),
                "removed",
            ),
        };
        let heading = format!("{verb}: {label} ({path})");
        paint(out, color, "1", &heading)?;
        let diff = TextDiff::from_lines(old, new);
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header(&from, &to)
            .to_string();
        for line in text.lines() {
            let style = match line.as_bytes().first() {
                _ if line.starts_with("---") || line.starts_with("+++") => "1",
                Some(b'+') => "32",
                Some(b'-') => "31",
                Some(b'@') => "36",
                _ => "",
            };
            paint(out, color && !style.is_empty(), style, line)?;
        }
    }
    Ok(())
}

fn paint(out: &mut impl Write, color: bool, style: &str, line: &str) -> std::io::Result<()> {
    if color {
        writeln!(out, "\x1b[{style}m{line}\x1b[0m")
    } else {
        writeln!(out, "{line}")
    }
}
