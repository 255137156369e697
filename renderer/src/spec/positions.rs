//! Positions: where each field of a YAML document was written, so findings can say `FILE:LINE:COL`.
//! serde_yaml_ng gives values without positions; this index is built from saphyr-parser's
//! event stream over the same text. Aliases are recorded, never expanded, so a hostile file
//! costs no more here than its length.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use crate::finding::FieldPath;

/// Field path -> (line, column) of the key that introduces it, both starting at 1.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    fields: HashMap<FieldPath, (usize, usize)>,
}

enum Frame {
    Mapping {
        path: FieldPath,
        /// The key whose value comes next, or `None` when a key comes next.
        pending_key: Option<String>,
        /// A complex (non-scalar) key is being read; its contents are not fields.
        in_complex_key: bool,
    },
    Sequence {
        path: FieldPath,
        next_index: usize,
    },
    /// A node inside a complex key: tracked only to keep the stack balanced.
    Ignored,
}

impl Positions {
    /// Indexes every document of a YAML stream. A syntax error ends the stream; the
    /// loader reports it with serde_yaml_ng's message.
    pub fn index_stream(text: &str) -> Vec<Positions> {
        let mut documents = Vec::new();
        let mut current = Positions::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(Ok((event, span))) = parser.next_event() {
            let here = (span.start.line(), span.start.col() + 1);
            match event {
                Event::DocumentStart(_) => {
                    current = Positions::default();
                    current.fields.insert(FieldPath::root(), here);
                    stack.clear();
                }
                Event::DocumentEnd => documents.push(std::mem::take(&mut current)),
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Mapping {
                        pending_key: pending_key @ None,
                        path,
                        in_complex_key: false,
                    }) = stack.last_mut()
                    {
                        current.fields.insert(path.key(&value), here);
                        *pending_key = Some(value.into_owned());
                    } else {
                        value_done(&mut stack);
                    }
                }
                Event::Alias(_) => value_done(&mut stack),
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let is_mapping = matches!(event, Event::MappingStart(..));
                    let frame = match child_path(&mut stack) {
                        Some(path) => {
                            current.fields.entry(path.clone()).or_insert(here);
                            if is_mapping {
                                Frame::Mapping {
                                    path,
                                    pending_key: None,
                                    in_complex_key: false,
                                }
                            } else {
                                Frame::Sequence {
                                    path,
                                    next_index: 0,
                                }
                            }
                        }
                        None => Frame::Ignored,
                    };
                    stack.push(frame);
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    value_done(&mut stack);
                }
                Event::StreamEnd => break,
                Event::StreamStart | Event::Nothing => {}
            }
        }
        documents
    }

    /// The position of `field`, or of its nearest ancestor that has one.
    pub fn find(&self, field: &FieldPath) -> Option<(usize, usize)> {
        let mut path = Some(field.clone());
        while let Some(candidate) = path {
            if let Some(position) = self.fields.get(&candidate) {
                return Some(*position);
            }
            path = candidate.parent();
        }
        None
    }
}

/// The path of a collection that starts now, or `None` inside a complex key.
fn child_path(stack: &mut [Frame]) -> Option<FieldPath> {
    match stack.last_mut() {
        None => Some(FieldPath::root()),
        Some(Frame::Mapping {
            path,
            pending_key: Some(key),
            in_complex_key: false,
        }) => Some(path.key(key)),
        Some(Frame::Mapping { in_complex_key, .. }) => {
            // A mapping or sequence used as a key: legal YAML, never a field name.
            *in_complex_key = true;
            None
        }
        Some(Frame::Sequence { path, next_index }) => Some(path.index(*next_index)),
        Some(Frame::Ignored) => None,
    }
}

/// A value (scalar, alias or whole collection) has ended inside the top frame.
fn value_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Mapping {
            pending_key,
            in_complex_key,
            ..
        }) => {
            if *in_complex_key {
                // The complex key ended; its value follows and is not indexed either.
                *in_complex_key = false;
                *pending_key = Some(String::new());
            } else {
                *pending_key = None;
            }
        }
        Some(Frame::Sequence { next_index, .. }) => *next_index += 1,
        Some(Frame::Ignored) | None => {}
    }
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
        let missing = FieldPath::of(&["spec", "msName"]);
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
}
