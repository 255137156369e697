//! Loading: turns the paths given on the command line into YAML documents.
//! It owns file discovery (files, recursive folders, `-` for stdin), reading, and the split of
//! a file into documents with their positions. Problems with the input's YAML become findings;
//! problems with the paths themselves (missing, unreadable) are `LoadError`s, a usage error.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use super::positions::{self, Positions, Problem, Refusal};
use crate::finding::{FieldPath, Finding, Location};
use crate::output::folder::HEADER;

/// The largest input file kiln reads; specs are a few hundred bytes, so this only stops
/// accidents such as pointing kiln at a log file.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The most kiln reads in one run, all files together: 10,000 specs are about 10 MB, so this
/// stops a run pointed at the wrong folder long before memory runs out.
pub const MAX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;

/// A problem with a path rather than with what it holds.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: is not UTF-8 text")]
    NotUtf8 { path: String },
    #[error("{path}: is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: String },
    #[error(
        "{path}: the input so far is larger than {MAX_TOTAL_BYTES} bytes in all (a fixed limit); render fewer folders per run"
    )]
    TotalTooLarge { path: String },
    #[error("{path}: holds no *.yaml or *.yml file")]
    EmptyDirectory { path: String },
    #[error(
        "{path}: holds only files kiln generated (they start with \"{HEADER}\"); name the folder of your specs"
    )]
    OnlyGenerated { path: String },
}

/// One input file's text, named as the user will recognise it.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub name: Arc<str>,
    pub text: Arc<str>,
}

/// A file's text shared by its documents, with the field positions of every document
/// (indexed once per file, when it is parsed, or when first asked for in a file whose value
/// was read at build time).
#[derive(Debug)]
struct SourceText {
    text: Arc<str>,
    positions: OnceLock<Vec<Positions>>,
}

/// One YAML document of an input file, as a JSON value, and where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: Arc<str>,
    pub value: serde_json::Value,
    /// The file's text and this document's index in it; `None` when there is no file.
    source: Option<(Arc<SourceText>, usize)>,
}

impl Document {
    /// A document built from a value with no file behind it, as the webhook receives them.
    pub fn from_value(name: &str, value: serde_json::Value) -> Self {
        Self {
            file: name.into(),
            value,
            source: None,
        }
    }

    /// The one document of a built-in chart file, with the value `build.rs` read from it.
    /// A test holds every such file to [`parse_documents`] (no refusal, the same value), so
    /// its text is indexed for positions only when a message needs one.
    pub fn prebuilt(file: InputFile, value: serde_json::Value) -> Self {
        let source = SourceText {
            text: file.text,
            positions: OnceLock::new(),
        };
        Self {
            file: file.name,
            value,
            source: Some((Arc::new(source), 0)),
        }
    }

    /// Where `field` was written, or the nearest enclosing field that was.
    pub fn location_of(&self, field: &FieldPath) -> Option<Location> {
        let (_, positions) = self.positions()?;
        let (line, column) = positions
            .and_then(|document| document.find(field))
            // Not indexed at all (saphyr gave up before this document): the file's start.
            .unwrap_or((1, 1));
        Some(Location {
            file: self.file.clone(),
            line,
            column,
        })
    }

    /// The scalar at `field` exactly as it was written (`1.10`, not the number 1.1).
    pub fn written_scalar(&self, field: &FieldPath) -> Option<String> {
        let (text, positions) = self.positions()?;
        let (start, end) = positions?.scalar_range(field)?;
        Some(text.chars().skip(start).take(end - start).collect())
    }

    /// The file's text and this document's positions (`None` inside when saphyr gave up
    /// before it); `None` for documents with no file behind them.
    fn positions(&self) -> Option<(&str, Option<&Positions>)> {
        let (source, index) = self.source.as_ref()?;
        let positions = source
            .positions
            .get_or_init(|| Positions::index_checked(&source.text).documents);
        Some((&source.text, positions.get(*index)))
    }
}

/// Expands paths into input files: files as given, folders recursively (`*.yaml`, `*.yml`,
/// sorted, hidden entries skipped), `-` as standard input. A file reached twice is read once.
/// Files found in a folder that start with kiln's generated-file header are output, not
/// input, and are skipped: `kiln render -f . -o rendered` must not read `rendered/` back on
/// its second run.
pub fn read_inputs(paths: &[String]) -> Result<Vec<InputFile>, LoadError> {
    read_inputs_within(paths, MAX_TOTAL_BYTES)
}

fn read_inputs_within(paths: &[String], max_total: u64) -> Result<Vec<InputFile>, LoadError> {
    let mut files: Vec<InputFile> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut total: u64 = 0;
    let mut add = |files: &mut Vec<InputFile>, file: InputFile| {
        total += file.text.len() as u64;
        if total > max_total {
            return Err(LoadError::TotalTooLarge {
                path: file.name.to_string(),
            });
        }
        files.push(file);
        Ok(())
    };
    for path in paths {
        if path == "-" {
            add(&mut files, read_capped("<stdin>", std::io::stdin().lock())?)?;
            continue;
        }
        let as_path = Path::new(path);
        let metadata = fs::metadata(as_path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound { path: path.clone() },
            _ => LoadError::Io {
                path: path.clone(),
                source,
            },
        })?;
        let walked = metadata.is_dir();
        let found = if walked {
            let mut found = Vec::new();
            collect_yaml_files(as_path, &mut found).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            if found.is_empty() {
                return Err(LoadError::EmptyDirectory { path: path.clone() });
            }
            found
        } else {
            vec![as_path.to_path_buf()]
        };
        let mut generated = 0;
        let count = found.len();
        for file in found {
            let identity = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen.insert(identity) {
                let input = read_file(&file)?;
                if walked && input.text.starts_with(HEADER) {
                    generated += 1;
                    continue;
                }
                add(&mut files, input)?;
            }
        }
        if walked && generated == count {
            return Err(LoadError::OnlyGenerated { path: path.clone() });
        }
    }
    Ok(files)
}

fn read_file(path: &Path) -> Result<InputFile, LoadError> {
    let name = path.display().to_string();
    let file = fs::File::open(path).map_err(|source| LoadError::Io {
        path: name.clone(),
        source,
    })?;
    read_capped(&name, file)
}

/// Reads at most `MAX_FILE_BYTES` (files and stdin alike), as UTF-8, without a byte-order mark.
fn read_capped(name: &str, reader: impl Read) -> Result<InputFile, LoadError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Io {
            path: name.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: name.to_owned(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 {
        path: name.to_owned(),
    })?;
    Ok(InputFile {
        name: name.into(),
        text: text.into(),
    })
}

/// Walks a folder in sorted order so the file list never depends on the file system.
/// Symbolic links to folders are not followed, which rules out cycles.
fn collect_yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect_yaml_files(&path, out)?;
        } else if has_yaml_extension(&path) && (file_type.is_file() || path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

fn has_yaml_extension(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Splits a file into its non-empty documents. A YAML error ends the file: what follows a
/// syntax error cannot be trusted, and reporting it would only add noise.
pub fn parse_documents(file: &InputFile) -> (Vec<Document>, Vec<Finding>) {
    // Editors on Windows write a byte-order mark; it is not part of the YAML.
    let stripped;
    let file = match file.text.strip_prefix('\u{feff}') {
        Some(text) => {
            stripped = InputFile {
                name: file.name.clone(),
                text: text.into(),
            };
            &stripped
        }
        None => file,
    };
    let mut documents = Vec::new();
    let mut findings = Vec::new();
    if let Some(finding) = ambiguous_line_break(file) {
        return (documents, vec![finding]);
    }
    // Every file is indexed first: the index is linear in the input and sees what
    // serde_yaml_ng passes over (repeated keys, tags, merge keys). A refusal ends the file at
    // its document, as a syntax error does, so what follows is never read by a parser that
    // is not linear; the documents before it are read as usual.
    let index = Positions::index_checked(&file.text);
    let refused_from = index.refusals.first().map(|r| r.document);
    findings.extend(
        index
            .refusals
            .into_iter()
            .map(|refusal| refusal_finding(&file.name, refusal)),
    );
    let source = Arc::new(SourceText {
        text: file.text.clone(),
        positions: OnceLock::from(index.documents),
    });
    // `take`, not `take_while`: the refused document must not even be parsed.
    let documents_read = serde_yaml_ng::Deserializer::from_str(&file.text)
        .enumerate()
        .take(refused_from.unwrap_or(usize::MAX));
    for (index, document) in documents_read {
        match serde_json::Value::deserialize(document) {
            Ok(serde_json::Value::Null) => {}
            Ok(value) => documents.push(Document {
                file: file.name.clone(),
                value,
                source: Some((source.clone(), index)),
            }),
            Err(error) => {
                findings.push(yaml_finding(&file.name, &error));
                break;
            }
        }
    }
    (documents, findings)
}

/// Parses many files, on all cores when there are several; documents keep the file order.
pub fn parse_all(files: &[InputFile]) -> (Vec<Document>, Vec<Finding>) {
    let parsed = crate::parallel::map_coarse(files, parse_documents);
    let mut documents = Vec::new();
    let mut findings = Vec::new();
    for (file_documents, file_findings) in parsed {
        documents.extend(file_documents);
        findings.extend(file_findings);
    }
    (documents, findings)
}

/// U+0085, U+2028 and U+2029 end a line for YAML 1.1 readers (libyaml, go-yaml, PyYAML) and
/// not for YAML 1.2 ones, so a file holding one raw means different things to kiln, to the
/// reviewer's tools and to the cluster's. Written escaped in a double-quoted string, it is fine.
fn ambiguous_line_break(file: &InputFile) -> Option<Finding> {
    let (byte, character) = file
        .text
        .char_indices()
        .find(|(_, c)| matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'))?;
    let before = &file.text[..byte];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    let escaped = format!("\\u{:04X}", u32::from(character));
    Some(
        Finding::error(
            "yaml-syntax",
            FieldPath::root(),
            format!(
                "invalid YAML: raw U+{:04X} is a line break to some YAML readers and not to others",
                u32::from(character)
            ),
        )
        .hint(format!(
            "write it as {escaped} inside a double-quoted string"
        ))
        .at(Location {
            file: file.name.clone(),
            line,
            column,
        }),
    )
}

/// What the index refused, as a finding at its position.
fn refusal_finding(file: &Arc<str>, refusal: Refusal) -> Finding {
    let Refusal {
        field,
        at: (line, column),
        problem,
        ..
    } = refusal;
    let finding = match problem {
        Problem::DuplicateKey {
            first: (first_line, first_column),
        } => Finding::error(
            "yaml-duplicate-key",
            field,
            format!("duplicate key; first at {first_line}:{first_column}"),
        )
        .hint(
            "keep one: YAML readers disagree on which one wins, so a reviewer, kiln and \
             the cluster could each read a different value",
        ),
        Problem::Tag(tag) => Finding::error(
            "yaml-tag",
            field,
            format!("YAML tag {tag} is not allowed: specs are plain data"),
        )
        .hint("remove the tag; only the core schema's !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are read"),
        Problem::MergeKey => Finding::error(
            "yaml-merge-key",
            field,
            "kiln does not support YAML merge keys (<<)",
        )
        .hint(
            "write the fields out in each mapping, or keep what several specs share in the \
             chart's values; merge keys are YAML 1.1 only and readers treat them differently",
        ),
        Problem::TooDeep => Finding::error(
            "yaml-limit",
            field,
            format!(
                "invalid YAML: collections nested deeper than {} levels",
                positions::MAX_DEPTH
            ),
        )
        .hint("a spec needs a few levels; this limit stops hostile files early and is fixed"),
        Problem::TooManyDocuments => Finding::error(
            "yaml-limit",
            field,
            format!(
                "holds more than {} documents",
                positions::MAX_DOCUMENTS
            ),
        )
        .hint("split the file; the limit is fixed"),
    };
    finding.at(Location {
        file: file.clone(),
        line,
        column,
    })
}

fn yaml_finding(file: &Arc<str>, error: &serde_yaml_ng::Error) -> Finding {
    let (line, column) = error
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    let mut message = error.to_string();
    // serde_yaml_ng appends " at line L column C"; the position is printed in front already.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    let mut finding = Finding::error(
        "yaml-syntax",
        FieldPath::root(),
        format!("invalid YAML: {message}"),
    )
    .at(Location {
        file: file.clone(),
        line,
        column,
    });
    if message.contains("repetition limit") || message.contains("recursion limit") {
        finding =
            finding.hint("the document expands aliases or nests far beyond what a spec needs");
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<Document>, Vec<Finding>) {
        parse_documents(&InputFile {
            name: "t.yaml".into(),
            text: text.into(),
        })
    }

    #[test]
    fn multi_document_files_skip_empty_documents() {
        let (documents, findings) = parse("---\na: 1\n---\n# nothing\n---\nb: 2\n");
        assert!(findings.is_empty());
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[1].value["b"], 2);
    }

    #[test]
    fn the_total_input_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.yaml", "b.yaml"] {
            std::fs::write(dir.path().join(name), "a: 1\n").unwrap();
        }
        let folder = dir.path().display().to_string();
        assert_eq!(
            read_inputs_within(std::slice::from_ref(&folder), 10)
                .unwrap()
                .len(),
            2
        );
        let error = read_inputs_within(&[folder], 9).unwrap_err();
        assert!(matches!(&error, LoadError::TotalTooLarge { path } if path.ends_with("b.yaml")));
        assert!(
            error.to_string().contains("render fewer folders per run"),
            "{error}"
        );
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let (_, findings) = parse("a: 1\nb: [unclosed\n");
        assert_eq!(findings.len(), 1);
        let location = findings[0].location.as_ref().unwrap();
        assert_eq!(location.line, 3);
        assert!(
            findings[0].message.starts_with("invalid YAML"),
            "{}",
            findings[0].message
        );
    }
}
