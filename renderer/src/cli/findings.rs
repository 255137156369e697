//! Findings for people and machines: `--output-format text|json|sarif|github|gitlab`. Text is
//! the contract line (`FILE:LINE:COL: KIND/NAME: FIELD: message; hint: ...`); JSON carries the
//! same parts as fields; SARIF 2.1.0 is what GitHub code scanning uploads; `github` prints
//! workflow commands, which GitHub Actions turns into annotations on the pull request's lines;
//! `gitlab` is a GitLab Code Quality report (a Code Climate subset), which GitLab shows in the
//! merge request and on its diff.

use std::io::Write;

use clap::ValueEnum;
use serde_json::{Value, json};

use crate::finding::{Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// One line per finding on stderr, and a summary.
    #[default]
    Text,
    /// One JSON document: every finding with file, line, column, object, field, rule,
    /// severity, message and hint.
    Json,
    /// A SARIF 2.1.0 log, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands (::error file=...,line=...,col=...::message).
    Github,
    /// A GitLab Code Quality report (artifacts:reports:codequality).
    Gitlab,
}

/// Where the findings go: stderr in text, and wherever `stdout_free` allows for the machine
/// formats (stdout, unless manifests are written there).
pub fn emit(format: Format, findings: &[Finding], stdout_free: bool) -> std::io::Result<()> {
    let text = match format {
        Format::Text => {
            let mut stderr = std::io::stderr().lock();
            for finding in findings {
                writeln!(stderr, "{finding}")?;
            }
            return Ok(());
        }
        Format::Json => {
            let document = json!({
                "errors": findings.iter().filter(|f| f.is_error()).count(),
                "warnings": findings.iter().filter(|f| !f.is_error()).count(),
                "findings": findings.iter().map(as_json).collect::<Vec<_>>(),
            });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?
            )
        }
        Format::Sarif => format!(
            "{}\n",
            serde_json::to_string_pretty(&sarif(findings)).map_err(std::io::Error::other)?
        ),
        Format::Github => findings.iter().map(github_command).collect(),
        Format::Gitlab => format!(
            "{}\n",
            serde_json::to_string_pretty(&code_quality(findings)).map_err(std::io::Error::other)?
        ),
    };
    if stdout_free {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()
    } else {
        std::io::stderr().lock().write_all(text.as_bytes())
    }
}

fn severity(finding: &Finding) -> &'static str {
    match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn as_json(finding: &Finding) -> Value {
    let location = finding.location.as_ref();
    json!({
        "file": location.map(|l| &*l.file),
        "line": location.map(|l| l.line),
        "column": location.map(|l| l.column),
        "object": finding.object.as_ref().map(|o| json!({"kind": o.kind, "name": o.name})),
        "field": (!finding.field.is_root()).then(|| finding.field.to_string()),
        "rule": finding.rule,
        "severity": severity(finding),
        "message": finding.message,
        "got": finding.got,
        "hint": finding.hint,
        "text": finding.to_string(),
    })
}

/// A SARIF 2.1.0 log with one run: kiln as the tool, each rule that fired as a reporting
/// descriptor, each finding as a result at its file position.
pub fn sarif(findings: &[Finding]) -> Value {
    let mut rules: Vec<&str> = findings.iter().map(|f| f.rule.as_ref()).collect();
    rules.sort_unstable();
    rules.dedup();
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| {
            let mut result = json!({
                "ruleId": finding.rule,
                "ruleIndex": rules.binary_search(&finding.rule.as_ref()).unwrap_or_default(),
                "level": severity(finding),
                "message": {"text": finding_text(finding)},
            });
            let mut location = serde_json::Map::new();
            if let Some(at) = &finding.location {
                location.insert(
                    "physicalLocation".into(),
                    json!({
                        "artifactLocation": {"uri": uri(&at.file)},
                        "region": {"startLine": at.line, "startColumn": at.column},
                    }),
                );
            }
            if let Some(object) = &finding.object {
                let mut name = object.to_string();
                if !finding.field.is_root() {
                    name = format!("{name}:{}", finding.field);
                }
                location.insert(
                    "logicalLocations".into(),
                    json!([{"fullyQualifiedName": name, "kind": "object"}]),
                );
            }
            if !location.is_empty() {
                result["locations"] = json!([Value::Object(location)]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kiln",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|id| rule_descriptor(id, findings)).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

/// A reporting descriptor for a rule, described by its first finding: kiln's rules live in
/// charts and in the engine, so the finding's own message is the most precise description
/// there is. GitHub code scanning wants a full description and help for each.
fn rule_descriptor(id: &str, findings: &[Finding]) -> Value {
    let first = findings.iter().find(|f| f.rule == id);
    let message = first.map_or_else(String::new, |f| f.message.clone());
    let help = match first.and_then(|f| f.hint.as_deref()) {
        Some(hint) => format!("{message}. Hint: {hint}."),
        None => {
            format!("{message}. Fix the file at the position given and run `kiln validate` again.")
        }
    };
    json!({
        "id": id,
        "shortDescription": {"text": format!("kiln rule {id}")},
        "fullDescription": {"text": format!("kiln rule {id}: {message}")},
        "help": {"text": help},
        "defaultConfiguration": {"level": first.map_or("error", severity)},
    })
}

/// The finding without its position (which SARIF and GitHub carry on their own).
fn finding_text(finding: &Finding) -> String {
    let mut text = String::new();
    if let Some(object) = &finding.object {
        text.push_str(&format!("{object}: "));
    }
    text.push_str(&finding.message_line());
    text
}

/// A file name as a relative URI reference: percent-encoded where a URI needs it.
fn uri(file: &str) -> String {
    let mut out = String::with_capacity(file.len());
    for byte in file.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out.strip_prefix("./").map(str::to_owned).unwrap_or(out)
}

/// A GitLab Code Quality report: one issue per finding with the fields GitLab requires
/// (description, check_name, fingerprint, severity, location.path, location.lines.begin).
/// The fingerprint is stable across runs, so GitLab can tell new findings from fixed ones.
pub fn code_quality(findings: &[Finding]) -> Value {
    use sha2::{Digest, Sha256};
    let issues: Vec<Value> = findings
        .iter()
        .map(|finding| {
            let (path, line) = finding.location.as_ref().map_or((String::new(), 1), |at| {
                let path = at.file.strip_prefix("./").unwrap_or(&at.file).to_owned();
                (path, at.line)
            });
            let description = finding_text(finding);
            let fingerprint = Sha256::digest(
                format!("{path}\0{line}\0{}\0{description}", finding.rule).as_bytes(),
            );
            json!({
                "type": "issue",
                "description": description,
                "check_name": finding.rule,
                "fingerprint": fingerprint.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "severity": match finding.severity {
                    Severity::Error => "critical",
                    Severity::Warning => "minor",
                },
                "location": {"path": path, "lines": {"begin": line}},
            })
        })
        .collect();
    Value::Array(issues)
}

/// `::error file=F,line=L,col=C,title=RULE::message`, escaped as the runner unescapes.
fn github_command(finding: &Finding) -> String {
    let mut properties = Vec::new();
    if let Some(at) = &finding.location {
        properties.push(format!("file={}", escape_property(&at.file)));
        properties.push(format!("line={}", at.line));
        properties.push(format!("col={}", at.column));
    }
    properties.push(format!(
        "title={}",
        escape_property(&format!("kiln {}", finding.rule))
    ));
    format!(
        "::{} {}::{}\n",
        severity(finding),
        properties.join(","),
        escape_data(&finding_text(finding))
    )
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FieldPath, Location, ObjectRef};

    fn finding() -> Finding {
        Finding::error(
            "image-reference",
            FieldPath::of(&["spec", "image"]),
            "bad image",
        )
        .got_str("a,b:c")
        .hint("write nginx:1.27")
        .object(ObjectRef {
            kind: "AppService".into(),
            name: Some("web".into()),
        })
        .at(Location {
            file: "specs/a b.yaml".into(),
            line: 3,
            column: 10,
        })
    }

    #[test]
    fn github_commands_escape_what_the_runner_unescapes() {
        let line = github_command(&finding());
        assert_eq!(
            line,
            "::error file=specs/a b.yaml,line=3,col=10,title=kiln image-reference::AppService/web: \
             spec.image: bad image (got \"a,b:c\"); hint: write nginx:1.27\n"
        );
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn code_quality_issues_carry_what_gitlab_requires() {
        let report = code_quality(&[finding()]);
        let issue = &report[0];
        assert_eq!(issue["check_name"], "image-reference");
        assert_eq!(issue["severity"], "critical");
        assert_eq!(issue["location"]["path"], "specs/a b.yaml");
        assert_eq!(issue["location"]["lines"]["begin"], 3);
        assert_eq!(issue["fingerprint"].as_str().unwrap().len(), 64);
        assert_eq!(
            code_quality(&[finding()]),
            report,
            "the fingerprint is stable"
        );
    }

    #[test]
    fn sarif_results_point_at_the_file_and_the_rule() {
        let log = sarif(&[finding()]);
        let result = &log["runs"][0]["results"][0];
        assert_eq!(result["ruleId"], "image-reference");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "specs/a%20b.yaml"
        );
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"][0]["id"],
            "image-reference"
        );
    }
}
