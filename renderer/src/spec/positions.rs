//! Positions: where each field of a YAML document was written, so findings can say `FILE:LINE:COL`.
//! serde_yaml_ng gives values without positions; this index is built from saphyr-parser's
//! event stream over the same text. It is a tree of nodes holding child indexes, never a path
//! per node, so its memory and time are linear in the input whatever the nesting depth.
//! Aliases are recorded, never expanded, so a hostile file costs no more here than its length.
//! When saphyr stops on something libyaml accepts (a tab after a colon, say), indexing resumes
//! at the next document; fields it could not reach fall back to their nearest indexed ancestor.
//!
//! The same pass refuses what parses but must not be read (see [`Problem`]): duplicate keys,
//! tags outside YAML's core schema, merge keys, nesting deeper than [`MAX_DEPTH`] and more than
//! [`MAX_DOCUMENTS`] documents. saphyr is linear in its input, so a hostile file is refused in
//! time proportional to its length, before serde_yaml_ng (whose scanner is not) reads it.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Tag};

use crate::finding::{FieldPath, Segment};

/// Collections nested deeper than this are refused. A spec needs a handful of levels, a
/// Kubernetes object a few dozen at most (a CRD's schema); the limit only stops hostile files.
pub const MAX_DEPTH: usize = 100;
/// A file holding more documents than this is refused.
pub const MAX_DOCUMENTS: usize = 10_000;
/// Refusals recorded per file; the rest would only repeat them.
const MAX_REFUSALS: usize = 50;

/// Something kiln refuses although it is valid YAML, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The document's index in the stream, empty ones included.
    pub document: usize,
    pub field: FieldPath,
    /// Line and column, from 1.
    pub at: (usize, usize),
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A key written twice in one mapping; readers disagree on which one wins.
    DuplicateKey { first: (usize, usize) },
    /// A tag outside the core schema (`!!python/object`, `!Ref`), as written.
    Tag(String),
    /// `<<`, YAML 1.1's merge key, which YAML 1.2 readers take as a plain key.
    MergeKey,
    /// Collections nested deeper than [`MAX_DEPTH`]; indexing stops here.
    TooDeep,
    /// More than [`MAX_DOCUMENTS`] documents; indexing stops here.
    TooManyDocuments,
}

/// Every document's positions and what the stream holds that kiln refuses.
#[derive(Debug, Default)]
pub struct Index {
    pub documents: Vec<Positions>,
    pub refusals: Vec<Refusal>,
}

/// The fields of one document: a tree whose node 0 is the document itself.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
struct Node {
    /// Line and column (from 1) of the key that introduces the node, or of the node itself
    /// for the document and sequence items.
    at: (usize, usize),
    /// Char offsets of a scalar value in the text, to quote it as written.
    scalar: Option<(usize, usize)>,
    children: Children,
}

#[derive(Debug, Clone)]
enum Children {
    Leaf,
    Mapping(Vec<(String, usize)>),
    Sequence(Vec<usize>),
}

/// The collection being read, as an index into `Positions::nodes`; `None` inside a complex
/// (non-scalar) mapping key, whose contents are never fields.
enum Frame {
    Mapping {
        node: Option<usize>,
        /// The node of the key whose value comes next; `None` when a key comes next.
        pending: Option<usize>,
        /// Depth of collections opened inside a complex key.
        in_complex_key: usize,
        /// Whether opening it added a segment to the walk's path.
        pushed: bool,
        keys: KeySet,
    },
    Sequence {
        node: Option<usize>,
        pushed: bool,
    },
}

impl Frame {
    fn pushed(&self) -> bool {
        match self {
            Frame::Mapping { pushed, .. } | Frame::Sequence { pushed, .. } => *pushed,
        }
    }
}

/// The keys of one mapping, to find a repeated one: the mapping's own entries while it is
/// small, a hash map once it is wide, so a hostile mapping of many keys stays linear.
#[derive(Default)]
struct KeySet(Option<std::collections::HashMap<String, usize>>);

impl KeySet {
    const WIDE: usize = 16;

    /// The node of an earlier key `name` of mapping node `parent`.
    fn earlier(&mut self, document: &Positions, parent: usize, name: &str) -> Option<usize> {
        if let Some(keys) = &self.0 {
            return keys.get(name).copied();
        }
        let Children::Mapping(entries) = &document.nodes[parent].children else {
            return None;
        };
        if entries.len() >= Self::WIDE {
            self.0 = Some(entries.iter().map(|(n, i)| (n.clone(), *i)).collect());
        }
        entries.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }

    fn add(&mut self, name: &str, node: usize) {
        if let Some(keys) = &mut self.0 {
            keys.entry(name.to_owned()).or_insert(node);
        }
    }
}

/// The walk's state beyond the tree: the path to where it is, and what it refused.
struct Walk {
    path: Vec<Segment>,
    refusals: Vec<Refusal>,
    /// Documents started so far, empty ones included.
    documents: usize,
}

impl Walk {
    fn refuse(&mut self, field: FieldPath, at: (usize, usize), problem: Problem) {
        if self.refusals.len() < MAX_REFUSALS {
            self.refusals.push(Refusal {
                document: self.documents.saturating_sub(1),
                field,
                at,
                problem,
            });
        }
    }

    /// The field where a too-deep nesting starts: a few levels of the path, not a hundred.
    fn shallow_field(&self) -> FieldPath {
        FieldPath::from(self.path.iter().take(4).cloned().collect::<Vec<_>>())
    }

    fn field(&self, last: Option<Segment>) -> FieldPath {
        let mut segments = self.path.clone();
        segments.extend(last);
        FieldPath::from(segments)
    }

    /// Refuses a tag outside the core schema on the node at `field`.
    fn check_tag(&mut self, tag: Option<&Tag>, field: FieldPath, at: (usize, usize)) {
        let Some(tag) = tag else { return };
        if tag.is_yaml_core_schema()
            && matches!(
                tag.suffix.as_str(),
                "str" | "int" | "float" | "bool" | "null" | "map" | "seq"
            )
        {
            return;
        }
        let written = if tag.is_yaml_core_schema() {
            format!("!!{}", tag.suffix)
        } else {
            format!("{}{}", tag.handle, tag.suffix)
        };
        self.refuse(field, at, Problem::Tag(written));
    }
}

/// How indexing a part of the text ended.
enum Stop {
    End,
    /// saphyr gave up at this char index; indexing may resume at the next document.
    Syntax(usize),
    /// A limit was reached; nothing after it is read.
    Limit,
}

impl Positions {
    /// Indexes every document of a YAML stream and says what in it kiln refuses.
    pub fn index_checked(text: &str) -> Index {
        let mut documents = Vec::new();
        let mut walk = Walk {
            path: Vec::new(),
            refusals: Vec::new(),
            documents: 0,
        };
        let mut offset = Offset::default();
        let mut rest = text;
        loop {
            let error_index = match index_part(rest, &offset, &mut documents, &mut walk) {
                Stop::End | Stop::Limit => break,
                Stop::Syntax(index) => index,
            };
            // Resume at the next document marker after the point saphyr gave up.
            let byte = char_to_byte(rest, error_index);
            let Some(next) = next_document_start(rest, byte) else {
                break;
            };
            offset.lines += rest[..next].matches('\n').count();
            offset.chars += rest[..next].chars().count();
            rest = &rest[next..];
        }
        Index {
            documents,
            refusals: walk.refusals,
        }
    }

    /// The position of `field`, or of its nearest ancestor that has one.
    pub fn find(&self, field: &FieldPath) -> Option<(usize, usize)> {
        let mut node = self.nodes.first()?;
        for segment in field.segments() {
            match self.child(node, segment) {
                Some(child) => node = child,
                None => break,
            }
        }
        Some(node.at)
    }

    /// The char range of the scalar written at exactly `field`, if it is one.
    pub fn scalar_range(&self, field: &FieldPath) -> Option<(usize, usize)> {
        let mut node = self.nodes.first()?;
        for segment in field.segments() {
            node = self.child(node, segment)?;
        }
        node.scalar
    }

    /// The child of `node` at `segment` (the last one, should a key repeat).
    fn child(&self, node: &Node, segment: &Segment) -> Option<&Node> {
        let index = match (&node.children, segment) {
            (Children::Mapping(entries), Segment::Key(key)) => entries
                .iter()
                .rev()
                .find(|(name, _)| name == key)
                .map(|(_, index)| *index),
            (Children::Sequence(items), Segment::Index(index)) => items.get(*index).copied(),
            _ => None,
        }?;
        Some(&self.nodes[index])
    }

    /// A new node as the next item of sequence node `parent`.
    fn add_item(&mut self, parent: usize, at: (usize, usize)) -> usize {
        let item = self.add(at);
        if let Children::Sequence(items) = &mut self.nodes[parent].children {
            items.push(item);
        }
        item
    }

    fn add(&mut self, at: (usize, usize)) -> usize {
        self.nodes.push(Node {
            at,
            scalar: None,
            children: Children::Leaf,
        });
        self.nodes.len() - 1
    }
}

/// Lines and chars skipped before the part being indexed, when indexing resumed.
#[derive(Default)]
struct Offset {
    lines: usize,
    chars: usize,
}

impl Offset {
    fn position(&self, at: &Marker) -> (usize, usize) {
        (at.line() + self.lines, at.col() + 1)
    }
}

/// Indexes `text` into `documents`, recording refusals in `walk`.
fn index_part(
    text: &str,
    offset: &Offset,
    documents: &mut Vec<Positions>,
    walk: &mut Walk,
) -> Stop {
    let mut current: Option<Positions> = None;
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, span) = match parser.next_event() {
            Some(Ok(next)) => next,
            Some(Err(error)) => {
                documents.extend(current.take());
                // saphyr counts flow levels in a byte: past 255 it stops, as kiln would.
                if error.info() == "recursion limit exceeded" {
                    let field = walk.shallow_field();
                    walk.refuse(field, offset.position(error.marker()), Problem::TooDeep);
                    return Stop::Limit;
                }
                return Stop::Syntax(error.marker().index());
            }
            None => break,
        };
        let here = offset.position(&span.start);
        match event {
            Event::DocumentStart(_) => {
                walk.documents += 1;
                if walk.documents > MAX_DOCUMENTS {
                    walk.refuse(FieldPath::root(), here, Problem::TooManyDocuments);
                    return Stop::Limit;
                }
                let mut document = Positions::default();
                document.add(here);
                current = Some(document);
                stack.clear();
                walk.path.clear();
            }
            Event::DocumentEnd => documents.extend(current.take()),
            Event::Scalar(value, style, _, tag) => {
                let Some(document) = current.as_mut() else {
                    continue;
                };
                if let Some(Frame::Mapping {
                    node: Some(parent),
                    pending: pending @ None,
                    in_complex_key: 0,
                    keys,
                    ..
                }) = stack.last_mut()
                {
                    let key = document.add(here);
                    let field = |walk: &Walk| walk.field(Some(Segment::Key(value.to_string())));
                    if let Some(first) = keys.earlier(document, *parent, &value) {
                        let first = document.nodes[first].at;
                        let field = field(walk);
                        walk.refuse(field, here, Problem::DuplicateKey { first });
                    } else if value == "<<" && style == ScalarStyle::Plain {
                        let field = field(walk);
                        walk.refuse(field, here, Problem::MergeKey);
                    }
                    if tag.is_some() {
                        let field = field(walk);
                        walk.check_tag(tag.as_deref(), field, here);
                    }
                    keys.add(&value, key);
                    if let Children::Mapping(entries) = &mut document.nodes[*parent].children {
                        entries.push((value.into_owned(), key));
                    }
                    *pending = Some(key);
                } else {
                    let range = (
                        span.start.index() + offset.chars,
                        span.end.index() + offset.chars,
                    );
                    if tag.is_some() {
                        let field = walk.field(next_segment(&stack, document));
                        walk.check_tag(tag.as_deref(), field, here);
                    }
                    if let Some(node) = value_node(&mut stack, document, here) {
                        document.nodes[node].scalar = Some(range);
                    }
                }
            }
            Event::Alias(_) => {
                if let Some(document) = current.as_mut() {
                    value_node(&mut stack, document, here);
                }
            }
            Event::MappingStart(_, ref tag) | Event::SequenceStart(_, ref tag) => {
                if stack.len() >= MAX_DEPTH {
                    let field = walk.shallow_field();
                    walk.refuse(field, here, Problem::TooDeep);
                    documents.extend(current.take());
                    return Stop::Limit;
                }
                let is_mapping = matches!(event, Event::MappingStart(..));
                let segment = current
                    .as_ref()
                    .and_then(|document| next_segment(&stack, document));
                let node = match current.as_mut() {
                    Some(document) if stack.is_empty() => {
                        Some(0).filter(|_| !document.nodes.is_empty())
                    }
                    Some(document) => open_child(&mut stack, document, here),
                    None => None,
                };
                if let (Some(document), Some(index)) = (current.as_mut(), node) {
                    document.nodes[index].children = if is_mapping {
                        Children::Mapping(Vec::new())
                    } else {
                        Children::Sequence(Vec::new())
                    };
                }
                let pushed = node.is_some() && segment.is_some();
                if let (true, Some(segment)) = (pushed, segment) {
                    walk.path.push(segment);
                }
                if tag.is_some() && (node.is_some() || stack.is_empty()) {
                    let field = walk.field(None);
                    walk.check_tag(tag.as_deref(), field, here);
                }
                stack.push(if is_mapping {
                    Frame::Mapping {
                        node,
                        pending: None,
                        in_complex_key: 0,
                        pushed,
                        keys: KeySet::default(),
                    }
                } else {
                    Frame::Sequence { node, pushed }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if stack.pop().is_some_and(|frame| frame.pushed()) {
                    walk.path.pop();
                }
                close_complex_key(&mut stack);
            }
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing => {}
        }
    }
    documents.extend(current.take());
    Stop::End
}

/// The path segment of the value that comes next in the top frame: the pending key's name
/// or the next sequence index; `None` where it is not a field (inside a complex key).
fn next_segment(stack: &[Frame], document: &Positions) -> Option<Segment> {
    match stack.last()? {
        Frame::Mapping {
            node: Some(node),
            pending: Some(_),
            in_complex_key: 0,
            ..
        } => match &document.nodes[*node].children {
            Children::Mapping(entries) => {
                entries.last().map(|(name, _)| Segment::Key(name.clone()))
            }
            _ => None,
        },
        Frame::Sequence {
            node: Some(node), ..
        } => match &document.nodes[*node].children {
            Children::Sequence(items) => Some(Segment::Index(items.len())),
            _ => None,
        },
        _ => None,
    }
}

/// A scalar or alias value has been read inside the top frame; returns its node, if indexed.
fn value_node(
    stack: &mut [Frame],
    document: &mut Positions,
    here: (usize, usize),
) -> Option<usize> {
    match stack.last_mut()? {
        Frame::Mapping {
            pending,
            in_complex_key,
            ..
        } => {
            if *in_complex_key > 0 {
                return None;
            }
            pending.take()
        }
        Frame::Sequence { node, .. } => Some(document.add_item((*node)?, here)),
    }
}

/// The node of a collection that starts now, or `None` inside a complex key.
fn open_child(
    stack: &mut [Frame],
    document: &mut Positions,
    here: (usize, usize),
) -> Option<usize> {
    match stack.last_mut()? {
        Frame::Mapping {
            node,
            pending,
            in_complex_key,
            ..
        } => {
            if *in_complex_key > 0 || node.is_none() {
                *in_complex_key += 1;
                return None;
            }
            match pending.take() {
                Some(key) => Some(key),
                None => {
                    // A mapping or sequence used as a key: legal YAML, never a field name.
                    *in_complex_key += 1;
                    None
                }
            }
        }
        Frame::Sequence { node, .. } => Some(document.add_item((*node)?, here)),
    }
}

/// A collection just closed; if it was (part of) a complex key, the key is one level done.
fn close_complex_key(stack: &mut [Frame]) {
    if let Some(Frame::Mapping {
        in_complex_key,
        pending,
        ..
    }) = stack.last_mut()
        && *in_complex_key > 0
    {
        *in_complex_key -= 1;
        // The value after a complex key is not indexed either: mark it consumed.
        *pending = None;
    }
}

fn char_to_byte(text: &str, char_index: usize) -> usize {
    text.char_indices()
        .nth(char_index)
        .map_or(text.len(), |(byte, _)| byte)
}

/// The byte offset of the next line that starts a document (`---`) after `from`.
fn next_document_start(text: &str, from: usize) -> Option<usize> {
    let mut search = from;
    while let Some(found) = text[search..].find("\n---") {
        let start = search + found + 1;
        let after = text[start + 3..].chars().next();
        if after.is_none_or(|c| c == '\n' || c == ' ' || c == '\r' || c == '\t') {
            return Some(start);
        }
        search = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_stream(text: &str) -> Vec<Positions> {
        Positions::index_checked(text).documents
    }

    #[test]
    fn finds_keys_in_nested_mappings_and_sequences() {
        let text = "apiVersion: v1\nspec:\n  replicas: 3\n  items:\n    - name: a\n    - name: b\n---\nother: 1\n";
        let documents = index_stream(text);
        assert_eq!(documents.len(), 2);
        let first = &documents[0];
        assert_eq!(
            first.find(&FieldPath::of(&["spec", "replicas"])),
            Some((3, 3))
        );
        let second_name = FieldPath::of(&["spec", "items"]).index(1).key("name");
        assert_eq!(first.find(&second_name), Some((6, 7)));
        assert_eq!(documents[1].find(&FieldPath::of(&["other"])), Some((8, 1)));
    }

    #[test]
    fn missing_fields_fall_back_to_their_parent() {
        let documents = index_stream("spec:\n  image: x\n");
        let missing = FieldPath::of(&["spec", "name"]);
        assert_eq!(documents[0].find(&missing), Some((1, 1)));
    }

    #[test]
    fn flow_style_and_aliases_keep_the_stack_balanced() {
        let text = "a: &x {b: [1, 2], c: {d: 1}}\ne: *x\nf: {[1, 2]: g}\nh: 1\n";
        let documents = index_stream(text);
        assert_eq!(
            documents[0].find(&FieldPath::of(&["a", "c", "d"])),
            Some((1, 23))
        );
        assert_eq!(documents[0].find(&FieldPath::of(&["h"])), Some((4, 1)));
    }

    #[test]
    fn scalars_can_be_quoted_as_written() {
        let text = "spec:\n  version: 1.10\n";
        let documents = index_stream(text);
        let (start, end) = documents[0]
            .scalar_range(&FieldPath::of(&["spec", "version"]))
            .unwrap();
        let written: String = text.chars().skip(start).take(end - start).collect();
        assert_eq!(written, "1.10");
    }

    #[test]
    fn indexing_resumes_after_what_saphyr_refuses() {
        // libyaml accepts a tab after a colon; saphyr does not.
        let text = "a: 1\nspec:\n  b:\tx\n  c: 2\n---\nnext:\n  d: 1\n";
        let documents = index_stream(text);
        assert_eq!(documents.len(), 2);
        assert_eq!(
            documents[0].find(&FieldPath::of(&["spec", "c"])),
            Some((2, 1))
        );
        assert_eq!(
            documents[1].find(&FieldPath::of(&["next", "d"])),
            Some((7, 3))
        );
    }

    #[test]
    fn deep_nesting_costs_linear_memory() {
        let text = format!("{}x\n", "- ".repeat(8000));
        let documents = index_stream(&text);
        assert!(documents.iter().map(|d| d.nodes.len()).sum::<usize>() <= 8002);
    }

    fn refusals(text: &str) -> Vec<(String, (usize, usize), Problem)> {
        Positions::index_checked(text)
            .refusals
            .into_iter()
            .map(|r| (r.field.to_string(), r.at, r.problem))
            .collect()
    }

    #[test]
    fn repeated_keys_are_refused_with_both_positions_at_any_depth() {
        let text = "spec:\n  msName: a\n  items:\n    - {x: 1, x: 2}\n  msName: b\n";
        assert_eq!(
            refusals(text),
            vec![
                (
                    "spec.items[0].x".into(),
                    (4, 14),
                    Problem::DuplicateKey { first: (4, 8) }
                ),
                (
                    "spec.msName".into(),
                    (5, 3),
                    Problem::DuplicateKey { first: (2, 3) }
                ),
            ]
        );
        // The same key in two documents, or in sibling mappings, is no repetition.
        assert!(refusals("a: 1\n---\na: 2\n").is_empty());
        assert!(refusals("- {a: 1}\n- {a: 2}\n").is_empty());
    }

    #[test]
    fn wide_mappings_find_repeats_through_the_hash_map() {
        let mut text: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k7: again\n");
        assert_eq!(
            refusals(&text),
            vec![(
                "k7".into(),
                (101, 1),
                Problem::DuplicateKey { first: (8, 1) }
            )]
        );
    }

    #[test]
    fn tags_outside_the_core_schema_and_merge_keys_are_refused() {
        let text = "spec: !!python/object:os.system {a: 1}\nb: !Ref x\nc: !!str 12\nd: [!!int 1, !custom 2]\ne:\n  <<: {f: 1}\ng:\n  '<<': quoted\n";
        assert_eq!(
            refusals(text),
            vec![
                (
                    "spec".into(),
                    (1, 7),
                    Problem::Tag("!!python/object:os.system".into())
                ),
                ("b".into(), (2, 4), Problem::Tag("!Ref".into())),
                ("d[1]".into(), (4, 14), Problem::Tag("!custom".into())),
                ("e.<<".into(), (6, 3), Problem::MergeKey),
            ]
        );
    }

    #[test]
    fn nesting_beyond_the_limit_stops_the_walk() {
        let within = format!(
            "a: {}{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(refusals(&within).is_empty());
        let beyond = format!("a: {}{}\n", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(refusals(&beyond).len(), 1);
        assert_eq!(refusals(&beyond)[0].2, Problem::TooDeep);
        // Past saphyr's own flow limit (255) the scanner stops before any event.
        let open = format!("a: {}\n", "[".repeat(100_000));
        assert_eq!(
            refusals(&open),
            vec![("a".into(), (1, 259), Problem::TooDeep)]
        );
        let block = format!("{}x\n", "- ".repeat(10_000));
        assert_eq!(refusals(&block)[0].2, Problem::TooDeep);
    }

    #[test]
    fn too_many_documents_are_refused() {
        let text = "---\na: 1\n".repeat(MAX_DOCUMENTS + 1);
        assert_eq!(
            refusals(&text),
            vec![(
                "".into(),
                (2 * MAX_DOCUMENTS + 1, 1),
                Problem::TooManyDocuments
            )]
        );
    }
}
