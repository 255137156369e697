//! Refuses a JSON document in which an object holds the same key twice.
//!
//! serde_json, like Go's encoding/json, keeps the last of two equal keys; other readers keep
//! the first, so a reviewer (or a log) reading one value while kiln judges the other is exactly
//! what the spec loader refuses in YAML. The API server encodes AdmissionReviews from its own
//! objects and never repeats a key: a repeated key means the body did not come from it.
//!
//! `check` is one walk of the body with serde's visitor API (keys compared once escapes are decoded),
//! after it decoded as an AdmissionReview, so a malformed body keeps serde's message about the
//! review's shape. serde_json's recursion limit (128) bounds its depth; its error adds the line
//! and column of the repeated key. `value` builds a JSON value (a field of a typed decode that
//! holds arbitrary JSON) in one pass and refuses a repeated key as it inserts it; its error is
//! short, for a caller that then asks `check` for the located one.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// `Ok` if no object in `json` holds a key twice, else serde_json's error naming the path to
/// the object, the key and where the second one ends. Malformed JSON is also an error here.
pub fn check(json: &str) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let mut path = Vec::new();
    Walk { path: &mut path }.deserialize(&mut deserializer)?;
    deserializer.end()
}

/// The value `deserializer` holds, or an error if an object in it holds a key twice: for a
/// field of a typed decode that holds arbitrary JSON.
pub fn value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<serde_json::Value, D::Error> {
    let mut pending = Vec::with_capacity(32);
    UniqueValue {
        pending: &mut pending,
    }
    .deserialize(deserializer)
}

/// Builds a value as serde_json's own `Value` does, but a repeated key is an error.
///
/// An object's entries wait on `pending`, one stack for the whole document (an object inside
/// another stacks its entries above its parent's and takes them off when it ends), and the map
/// is built once its size is known: a map grown one key at a time allocates and rehashes its
/// table and its entries three or four times on the way to a spec's dozen keys.
struct UniqueValue<'p> {
    pending: &'p mut Vec<(String, serde_json::Value)>,
}

impl<'de> DeserializeSeed<'de> for UniqueValue<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue<'_> {
    type Value = serde_json::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(flag.into())
    }
    fn visit_i64<E>(self, number: i64) -> Result<Self::Value, E> {
        Ok(number.into())
    }
    fn visit_u64<E>(self, number: u64) -> Result<Self::Value, E> {
        Ok(number.into())
    }
    fn visit_f64<E>(self, number: f64) -> Result<Self::Value, E> {
        Ok(number.into())
    }
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(text.into())
    }
    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(text.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        let mut list = Vec::with_capacity(items.size_hint().unwrap_or(0));
        while let Some(item) = items.next_element_seed(UniqueValue {
            pending: self.pending,
        })? {
            list.push(item);
        }
        Ok(list.into())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        let start = self.pending.len();
        while let Some(key) = entries.next_key::<String>()? {
            let value = entries.next_value_seed(UniqueValue {
                pending: self.pending,
            })?;
            self.pending.push((key, value));
        }
        let mut map = serde_json::Map::with_capacity(self.pending.len() - start);
        for (key, value) in self.pending.drain(start..) {
            if map.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(map.into())
    }
}

/// One step from a value to a child. Keys borrow from the body unless they hold an escape.
enum Segment<'de> {
    Key(Cow<'de, str>),
    Index(usize),
}

/// `request.object.spec`, `items[2]`: written only for an error.
fn display(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) if text.is_empty() => text.push_str(key),
            Segment::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// Walks one value; `path` leads to it, grown on the way down and cut back on the way up.
struct Walk<'p, 'de> {
    path: &'p mut Vec<Segment<'de>>,
}

impl<'de> Walk<'_, 'de> {
    /// Walks a child at `segment` below this value.
    fn below<T, E>(
        &mut self,
        segment: Segment<'de>,
        next: impl FnOnce(Walk<'_, 'de>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.path.push(segment);
        let walked = next(Walk { path: self.path });
        self.path.pop();
        walked
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        for index in 0usize.. {
            let more = self.below(Segment::Index(index), |walk| {
                items.next_element_seed(walk).map(|item| item.is_some())
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut entries: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(key) = entries.next_key_seed(KeySeed)? {
            if !seen.insert(key.clone()) {
                self.path.push(Segment::Key(key));
                return Err(de::Error::custom(format_args!(
                    "{}: duplicate key; JSON readers disagree on which one wins",
                    display(self.path)
                )));
            }
            self.below(Segment::Key(key), |walk| entries.next_value_seed(walk))?;
        }
        Ok(())
    }
}

/// The keys of one object so far: a list while short (most objects have a few keys), a hash
/// set past that, so an object of 100,000 keys is still checked in linear time.
#[derive(Default)]
struct Seen<'de> {
    few: Vec<Cow<'de, str>>,
    many: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Seen<'de> {
    const FEW: usize = 16;

    /// Adds `key`; false if it was there.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        let many = match &mut self.many {
            Some(many) => many,
            None if self.few.len() < Self::FEW => {
                let new = !self.few.contains(&key);
                if new {
                    self.few.push(key);
                }
                return new;
            }
            None => self.many.insert(self.few.drain(..).collect()),
        };
        many.insert(key)
    }
}

/// Reads a key without copying it when the body holds it unescaped (serde's own `Cow` always
/// copies).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }
}
