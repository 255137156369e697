//! Findings: every problem kiln reports about its input, as data.
//! Loading, decoding, the rules and rendering all produce `Finding`s; the CLI prints
//! them with a file position and the webhook without one, so each message is written once.

use std::borrow::Cow;
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

/// Where in an object a finding points, such as `spec.ports[0].nodePort`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(Vec<Segment>);

/// A path while a value is walked: each step borrows the one above it, so going down a
/// document allocates nothing, and the [`FieldPath`] is built only for a finding.
#[derive(Clone, Copy, Debug)]
pub enum PathRef<'a> {
    /// Where the walk starts.
    At(&'a FieldPath),
    Key(&'a PathRef<'a>, &'a str),
    Index(&'a PathRef<'a>, usize),
}

impl<'a> From<&'a FieldPath> for PathRef<'a> {
    fn from(path: &'a FieldPath) -> Self {
        PathRef::At(path)
    }
}

impl PathRef<'_> {
    pub fn key<'b>(&'b self, key: &'b str) -> PathRef<'b> {
        PathRef::Key(self, key)
    }

    pub fn index(&self, index: usize) -> PathRef<'_> {
        PathRef::Index(self, index)
    }

    pub fn is_root(&self) -> bool {
        matches!(self, PathRef::At(path) if path.is_root())
    }

    /// The path as a finding holds it.
    pub fn to_path(&self) -> FieldPath {
        let mut below = Vec::new();
        let mut step = self;
        let mut segments = loop {
            match step {
                PathRef::At(path) => break path.0.clone(),
                PathRef::Key(parent, key) => {
                    below.push(Segment::Key((*key).to_owned()));
                    step = parent;
                }
                PathRef::Index(parent, index) => {
                    below.push(Segment::Index(*index));
                    step = parent;
                }
            }
        };
        segments.extend(below.into_iter().rev());
        FieldPath(segments)
    }
}

impl From<Vec<Segment>> for FieldPath {
    fn from(segments: Vec<Segment>) -> Self {
        Self(segments)
    }
}

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

    /// This path followed by `other`.
    pub fn join(&self, other: &FieldPath) -> Self {
        let mut segments = self.0.clone();
        segments.extend(other.0.iter().cloned());
        Self(segments)
    }

    /// Parses a field path as Kubernetes writes one in `fieldPath`: `.spec.limits['cpu']`,
    /// `.items[2].name`; the leading dot may be left out. `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let mut segments = Vec::new();
        let mut rest = text.strip_prefix('.').unwrap_or(text);
        if rest.is_empty() {
            return Some(Self::root());
        }
        let mut first = true;
        while !rest.is_empty() {
            if let Some(bracketed) = rest.strip_prefix('[') {
                let close = bracketed.find(']')?;
                let inner = &bracketed[..close];
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                segments.push(match quoted {
                    Some(key) => Segment::Key(key.to_owned()),
                    None => Segment::Index(inner.parse().ok()?),
                });
                rest = &bracketed[close + 1..];
            } else {
                if !first {
                    rest = rest.strip_prefix('.')?;
                }
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                if end == 0 {
                    return None;
                }
                segments.push(Segment::Key(rest[..end].to_owned()));
                rest = &rest[end..];
            }
            first = false;
        }
        Some(Self(segments))
    }

    /// The value at this path in `value`, if there is one.
    pub fn lookup<'v>(&self, value: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        self.0
            .iter()
            .try_fold(value, |value, segment| match segment {
                Segment::Key(key) => crate::fields::get(value.as_object()?, key),
                Segment::Index(index) => value.get(index),
            })
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
    /// A stable identifier of the rule, for metrics and documentation (`image-reference`);
    /// chart rules name their own.
    pub rule: Cow<'static, str>,
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
    pub fn error(
        rule: impl Into<Cow<'static, str>>,
        field: FieldPath,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.into(),
            severity: Severity::Error,
            location: None,
            object: None,
            field,
            message: message.into(),
            got: None,
            hint: None,
        }
    }

    pub fn warning(
        rule: impl Into<Cow<'static, str>>,
        field: FieldPath,
        message: impl Into<String>,
    ) -> Self {
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
        use std::fmt::Write as _;
        // Written in place: every webhook answer with a finding builds this line.
        let mut line = String::with_capacity(
            self.message.len() + self.hint.as_ref().map_or(0, |h| h.len() + 8) + 48,
        );
        // Writing to a String cannot fail.
        if !self.field.is_root() {
            let _ = write!(line, "{}: ", self.field);
        }
        line.push_str(&self.message);
        if let Some(got) = &self.got {
            let _ = write!(line, " (got {got})");
        }
        if let Some(hint) = &self.hint {
            line.push_str("; hint: ");
            line.push_str(hint);
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
    fn a_walked_path_is_its_base_and_the_steps_below_it() {
        let base = FieldPath::of(&["spec"]);
        let at = PathRef::from(&base);
        let ports = at.key("ports");
        let first = ports.index(0);
        assert_eq!(
            first.key("port").to_path().to_string(),
            "spec.ports[0].port"
        );
        assert_eq!(first.to_path(), FieldPath::of(&["spec", "ports"]).index(0));
        assert!(!at.is_root() && PathRef::from(&FieldPath::root()).is_root());
    }

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
    fn paths_parse_as_kubernetes_writes_them() {
        for text in [
            ".spec.replicas",
            "spec.replicas",
            ".limits['cpu']",
            ".items[2].name",
        ] {
            let path = FieldPath::parse(text).unwrap();
            assert!(!path.is_root(), "{text}");
        }
        assert_eq!(
            FieldPath::parse(".a['b.c'][1].d").unwrap(),
            FieldPath::of(&["a", "b.c"]).index(1).key("d")
        );
        assert_eq!(FieldPath::parse("").unwrap(), FieldPath::root());
        for bad in ["a..b", ".a[", ".a[x]", "a.", "[0"] {
            assert_eq!(FieldPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_print_indexes_and_keys() {
        let path = FieldPath::of(&["spec", "containers"]).index(2).key("name");
        assert_eq!(path.to_string(), "spec.containers[2].name");
        assert_eq!(path.parent().unwrap().to_string(), "spec.containers[2]");
    }
}
