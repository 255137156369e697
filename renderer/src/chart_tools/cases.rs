//! `kiln chart test`: a chart's own cases, like `kyverno test`. A case is a folder under the
//! chart's `tests/`:
//!
//! - `input.yaml`: one or more specs (any kind kiln knows);
//! - `expected.yaml`: the stream `kiln render` prints for them; absent when the input must be
//!   refused;
//! - `findings.txt`: every finding, one per line, as `kiln validate` prints it; absent when
//!   there is none;
//! - `values.yaml` (optional): merged over the chart's values for this case, as `--values`.
//!
//! Findings name the input as `tests/CASE/input.yaml`, wherever the chart lives, so the
//! expectations do not depend on the folder the command runs from.

use std::path::{Path, PathBuf};

use crate::Kiln;
use crate::chart::{Chart, ChartError};
use crate::output::write_yaml_stream;
use crate::spec::load::InputFile;

const INPUT: &str = "input.yaml";
const EXPECTED: &str = "expected.yaml";
const FINDINGS: &str = "findings.txt";
const VALUES: &str = "values.yaml";

/// What one case gave.
#[derive(Debug)]
pub struct CaseResult {
    /// The case's folder name.
    pub name: String,
    pub passed: bool,
    /// A one-line summary when it passed; what differs (unified diffs) when it did not.
    pub detail: String,
}

/// Why the cases cannot run at all.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{0}")]
    Chart(#[from] ChartError),
    #[error("{path}: {message}")]
    Case { path: String, message: String },
}

/// Runs every case under `dir/tests/`, in name order; with `update`, writes each case's
/// expectations from what it gives instead of comparing.
pub fn run(dir: &Path, update: bool) -> Result<Vec<CaseResult>, CaseError> {
    let tests = dir.join("tests");
    let io = |path: &Path, error: std::io::Error| CaseError::Case {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&tests)
        .map_err(|e| io(&tests, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    if cases.is_empty() {
        return Err(CaseError::Case {
            path: tests.display().to_string(),
            message: "holds no case folder (each has an input.yaml)".into(),
        });
    }
    cases
        .iter()
        .map(|case| run_case(dir, case, update))
        .collect()
}

fn run_case(dir: &Path, case: &Path, update: bool) -> Result<CaseResult, CaseError> {
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let read = |file: &str| -> Result<Option<String>, CaseError> {
        let path = case.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CaseError::Case {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    };
    let input = read(INPUT)?.ok_or_else(|| CaseError::Case {
        path: case.display().to_string(),
        message: format!("has no {INPUT}"),
    })?;
    let values: Vec<PathBuf> = [case.join(VALUES)]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    let kiln = Kiln::with_charts(Chart::load_all(&[dir.to_path_buf()], &values)?)?;
    let (rendered, findings) = give(&kiln, &format!("tests/{name}/{INPUT}"), &input);
    if update {
        write_or_remove(&case.join(EXPECTED), rendered.as_deref())?;
        write_or_remove(
            &case.join(FINDINGS),
            Some(findings.as_str()).filter(|f| !f.is_empty()),
        )?;
        let written: Vec<&str> = [
            (EXPECTED, rendered.is_some()),
            (FINDINGS, !findings.is_empty()),
        ]
        .into_iter()
        .filter_map(|(file, kept)| kept.then_some(file))
        .collect();
        return Ok(CaseResult {
            name,
            passed: true,
            detail: written.join(", "),
        });
    }
    let expected = read(EXPECTED)?;
    let expected_findings = read(FINDINGS)?.unwrap_or_default();
    if expected.is_none() && expected_findings.is_empty() {
        return Err(CaseError::Case {
            path: case.display().to_string(),
            message: format!(
                "has neither {EXPECTED} nor {FINDINGS}; `kiln chart test --update` writes them"
            ),
        });
    }
    let mut differences = Vec::new();
    if findings != expected_findings {
        differences.push(diff(FINDINGS, &expected_findings, "findings", &findings));
    }
    match (&expected, &rendered) {
        (Some(expected), Some(rendered)) if expected != rendered => {
            differences.push(diff(EXPECTED, expected, "rendered", rendered));
        }
        (Some(_), None) => {
            differences.push(format!("{EXPECTED} is there, but the input was refused"));
        }
        (None, Some(_)) => {
            differences.push(format!("the input renders, but the case has no {EXPECTED}"));
        }
        _ => {}
    }
    let passed = differences.is_empty();
    let detail = if passed {
        match &rendered {
            Some(text) => super::counted(text.matches("\nkind: ").count(), "object"),
            None => format!(
                "refused with {}",
                super::counted(findings.lines().count(), "finding")
            ),
        }
    } else {
        differences.join("\n")
    };
    Ok(CaseResult {
        name,
        passed,
        detail,
    })
}

/// What `kiln render` would print for `text` (`None` when it is refused) and the findings,
/// a line each, as `kiln validate` prints them.
fn give(kiln: &Kiln, name: &str, text: &str) -> (Option<String>, String) {
    let file = InputFile {
        name: name.into(),
        text: text.into(),
    };
    let report = kiln.run_files(&[file]);
    let findings: String = report
        .findings
        .iter()
        .map(|finding| format!("{finding}\n"))
        .collect();
    if report.has_errors() {
        return (None, findings);
    }
    let mut stream = Vec::new();
    write_yaml_stream(&mut stream, &report.objects).expect("writing to memory cannot fail");
    (
        Some(String::from_utf8_lossy(&stream).into_owned()),
        findings,
    )
}

fn write_or_remove(path: &Path, text: Option<&str>) -> Result<(), CaseError> {
    let result = match text {
        Some(text) => std::fs::write(path, text),
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    result.map_err(|e| CaseError::Case {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// A unified diff from what the case expects to what it gave.
fn diff(expected_name: &str, expected: &str, actual_name: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header(expected_name, actual_name)
        .to_string()
}
