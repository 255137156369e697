//! Findings: every problem kiln reports about its input, as data.
//! Loading, decoding, the rules and rendering all produce `Finding`s; the CLI prints
//! them with a file position and the webhook without one, so each message is written once.

use std::fmt;
use std::sync::Arc;

/// How bad a finding is: errors stop rendering, warnings are reported and let it go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One step of a path into a document: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Where in an object a finding points, such as `spec.resourceRequirements.limits.cpu`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    /// The path of the object itself.
    pub fn root() -> Self {
        Self::default()
    }

    /// Builds a path from dotted keys: `FieldPath::of(&["spec", "image"])`.
    pub fn of(keys: &[&str]) -> Self {
        Self(keys.iter().map(|k| Segment::Key((*k).to_owned())).collect())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self(segments)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    pub fn parent(&self) -> Option<Self> {
        let (_, rest) = self.0.split_last()?;
        Some(Self(rest.to_vec()))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The object a finding is about, printed as `KIND/NAME`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: String,
    pub name: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name.as_deref().unwrap_or("<unnamed>");
        write!(f, "{}/{}", self.kind, name)
    }
}

/// A position in an input file; line and column start at 1.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem: which rule, how severe, where, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// A stable identifier of the rule, for metrics and documentation (`image-reference`).
    pub rule: &'static str,
    pub severity: Severity,
    pub location: Option<Location>,
    pub object: Option<ObjectRef>,
    pub field: FieldPath,
    pub message: String,
    /// The offending value as the user wrote it, already quoted where it is a string.
    pub got: Option<String>,
    pub hint: Option<String>,
}

impl Finding {
    pub fn error(rule: &'static str, field: FieldPath, message: impl Into<String>) -> Self {
        Self {
            rule,
            severity: Severity::Error,
            location: None,
            object: None,
            field,
            message: message.into(),
            got: None,
            hint: None,
        }
    }

    pub fn warning(rule: &'static str, field: FieldPath, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(rule, field, message)
        }
    }

    /// Records the offending value; JSON values print as JSON, so strings keep their quotes.
    pub fn got(mut self, value: impl fmt::Display) -> Self {
        self.got = Some(shorten(&value.to_string(), 80));
        self
    }

    /// Records the offending string value, quoted.
    pub fn got_str(self, value: &str) -> Self {
        self.got(serde_json::Value::from(value))
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn object(mut self, object: ObjectRef) -> Self {
        self.object = Some(object);
        self
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The finding without object or position: `spec.replicas: must be at least 0 (got -1)`.
    /// This is the text the webhook returns, one line per finding.
    pub fn message_line(&self) -> String {
        let mut line = String::new();
        if !self.field.is_root() {
            line.push_str(&format!("{}: ", self.field));
        }
        line.push_str(&self.message);
        if let Some(got) = &self.got {
            line.push_str(&format!(" (got {got})"));
        }
        if let Some(hint) = &self.hint {
            line.push_str(&format!("; hint: {hint}"));
        }
        line
    }

    /// Orders findings by file position, then by the rest, so output never depends on
    /// the order in which rules ran.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.location.clone(),
            self.object.clone(),
            self.field.clone(),
            self.severity,
            self.message.as_str(),
        )
    }
}

impl fmt::Display for Finding {
    /// `FILE:LINE:COL: KIND/NAME: FIELD.PATH: [warning: ]problem (got VALUE); hint: ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message_line())
    }
}

/// Cuts long values so one finding stays one readable line.
fn shorten(text: &str, max_chars: usize) -> String {
    let single_line = text.replace('\n', "\\n");
    if single_line.chars().count() <= max_chars {
        return single_line;
    }
    let cut: String = single_line.chars().take(max_chars).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_contract_format() {
        let finding = Finding::error(
            "replicas-range",
            FieldPath::of(&["spec", "replicas"]),
            "must be at least 0",
        )
        .got(-1)
        .object(ObjectRef {
            kind: "MicroServiceDeploy".into(),
            name: Some("ms".into()),
        })
        .at(Location {
            file: "a.yaml".into(),
            line: 7,
            column: 3,
        });
        assert_eq!(
            finding.to_string(),
            "a.yaml:7:3: MicroServiceDeploy/ms: spec.replicas: must be at least 0 (got -1)"
        );
        assert_eq!(
            finding.message_line(),
            "spec.replicas: must be at least 0 (got -1)"
        );
    }

    #[test]
    fn paths_print_indexes_and_keys() {
        let path = FieldPath::of(&["spec", "containers"]).index(2).key("name");
        assert_eq!(path.to_string(), "spec.containers[2].name");
        assert_eq!(path.parent().unwrap().to_string(), "spec.containers[2]");
    }
}
