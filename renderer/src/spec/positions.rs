//! Positions: where each field of a YAML document was written, so findings can say `FILE:LINE:COL`.
//! serde_yaml_ng gives values without positions; this index is built from saphyr-parser's
//! event stream over the same text. It is a tree of nodes holding child indexes, never a path
//! per node, so its memory and time are linear in the input whatever the nesting depth.
//! Aliases are recorded, never expanded, so a hostile file costs no more here than its length.
//! When saphyr stops on something libyaml accepts (a tab after a colon, say), indexing resumes
//! at the next document; fields it could not reach fall back to their nearest indexed ancestor.

use saphyr_parser::{Event, Parser, Span};

use crate::finding::{FieldPath, Segment};

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
    },
    Sequence {
        node: Option<usize>,
    },
}

impl Positions {
    /// Indexes every document of a YAML stream.
    pub fn index_stream(text: &str) -> Vec<Positions> {
        let mut documents = Vec::new();
        let mut offset = Offset::default();
        let mut rest = text;
        loop {
            let stopped_at = index_part(rest, &offset, &mut documents);
            let Some(error_index) = stopped_at else { break };
            // Resume at the next document marker after the point saphyr gave up.
            let byte = char_to_byte(rest, error_index);
            let Some(next) = next_document_start(rest, byte) else {
                break;
            };
            offset.lines += rest[..next].matches('\n').count();
            offset.chars += rest[..next].chars().count();
            rest = &rest[next..];
        }
        documents
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
    fn position(&self, span: &Span) -> (usize, usize) {
        (span.start.line() + self.lines, span.start.col() + 1)
    }
}

/// Indexes `text` into `documents`; returns the char index where saphyr gave up, if it did.
fn index_part(text: &str, offset: &Offset, documents: &mut Vec<Positions>) -> Option<usize> {
    let mut current: Option<Positions> = None;
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, span) = match parser.next_event() {
            Some(Ok(next)) => next,
            Some(Err(error)) => {
                documents.extend(current.take());
                return Some(error.marker().index());
            }
            None => break,
        };
        let here = offset.position(&span);
        match event {
            Event::DocumentStart(_) => {
                let mut document = Positions::default();
                document.add(here);
                current = Some(document);
                stack.clear();
            }
            Event::DocumentEnd => documents.extend(current.take()),
            Event::Scalar(value, ..) => {
                let Some(document) = current.as_mut() else {
                    continue;
                };
                if let Some(Frame::Mapping {
                    node: Some(parent),
                    pending: pending @ None,
                    in_complex_key: 0,
                }) = stack.last_mut()
                {
                    let key = document.add(here);
                    if let Children::Mapping(entries) = &mut document.nodes[*parent].children {
                        entries.push((value.into_owned(), key));
                    }
                    *pending = Some(key);
                } else {
                    let range = (
                        span.start.index() + offset.chars,
                        span.end.index() + offset.chars,
                    );
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
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_mapping = matches!(event, Event::MappingStart(..));
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
                stack.push(if is_mapping {
                    Frame::Mapping {
                        node,
                        pending: None,
                        in_complex_key: 0,
                    }
                } else {
                    Frame::Sequence { node }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                close_complex_key(&mut stack);
            }
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing => {}
        }
    }
    documents.extend(current.take());
    None
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
        Frame::Sequence { node } => Some(document.add_item((*node)?, here)),
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
        Frame::Sequence { node } => Some(document.add_item((*node)?, here)),
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

    #[test]
    fn finds_keys_in_nested_mappings_and_sequences() {
        let text = "apiVersion: v1\nspec:\n  replicas: 3\n  items:\n    - name: a\n    - name: b\n---\nother: 1\n";
        let documents = Positions::index_stream(text);
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
        let documents = Positions::index_stream("spec:\n  image: x\n");
        let missing = FieldPath::of(&["spec", "name"]);
        assert_eq!(documents[0].find(&missing), Some((1, 1)));
    }

    #[test]
    fn flow_style_and_aliases_keep_the_stack_balanced() {
        let text = "a: &x {b: [1, 2], c: {d: 1}}\ne: *x\nf: {[1, 2]: g}\nh: 1\n";
        let documents = Positions::index_stream(text);
        assert_eq!(
            documents[0].find(&FieldPath::of(&["a", "c", "d"])),
            Some((1, 23))
        );
        assert_eq!(documents[0].find(&FieldPath::of(&["h"])), Some((4, 1)));
    }

    #[test]
    fn scalars_can_be_quoted_as_written() {
        let text = "spec:\n  version: 1.10\n";
        let documents = Positions::index_stream(text);
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
        let documents = Positions::index_stream(text);
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
        let documents = Positions::index_stream(&text);
        assert!(documents.iter().map(|d| d.nodes.len()).sum::<usize>() <= 8002);
    }
}
