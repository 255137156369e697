//! Strict reading of rendered objects of built-in kinds. The k8s-openapi types skip fields
//! they do not know, as the API server's lenient decoder does; the server's strict field
//! validation (the `kubectl` default) refuses them instead, and a typo such as
//! `maxUnavailabl` would otherwise pass kiln and fail at apply time, or worse, be dropped.
//!
//! [`read`] deserializes a JSON value into a k8s-openapi type through [`Probe`], a
//! deserializer over `&Value` that remembers which struct fields each mapping may hold and
//! notes every key a type skips (k8s-openapi reads an unknown key as `IgnoredAny`), with its
//! path and the closest known field. Maps (labels, data) are read as maps and never skipped,
//! so only real struct fields are judged.

use std::cell::RefCell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A field the target type does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Where it is, `spec.strategy.rollingUpdate.maxUnavailabl`.
    pub path: String,
    /// The closest field the type has there, if one is close.
    pub closest: Option<&'static str>,
}

/// Why a value is not a valid `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A value of the wrong type (or an invalid one): `path: message`.
    Invalid(String),
    /// Fields the type does not have, in the order they were read.
    Unknown(Vec<UnknownField>),
}

/// Reads `value` as a `T`, refusing values of the wrong type and fields `T` does not have.
pub fn read<T: for<'de> Deserialize<'de>>(value: &Value) -> Result<T, Refusal> {
    let unknown = RefCell::new(Vec::new());
    let probe = |unknown| Probe {
        value,
        at: None,
        unknown,
    };
    // Tracking the path of every value was about half of the read, and only an invalid
    // value needs it: a refused value is read a second time, with the path.
    let typed = match T::deserialize(probe(&unknown)) {
        Ok(typed) => typed,
        Err(error) => {
            let traced = serde_path_to_error::deserialize::<_, T>(probe(&RefCell::default()));
            // The same read fails the same way; the message without its path is the fallback.
            let message = traced.err().map_or_else(
                || error.to_string(),
                |traced| format!("{}: {}", traced.path(), traced.inner()),
            );
            return Err(Refusal::Invalid(message));
        }
    };
    let unknown = unknown.into_inner();
    if unknown.is_empty() {
        Ok(typed)
    } else {
        Err(Refusal::Unknown(unknown))
    }
}

/// One step from the root: a mapping key, with the fields its mapping may hold when the
/// mapping is a struct, or a list index.
enum Step<'p> {
    Key {
        key: &'p str,
        fields: Option<&'static [&'static str]>,
    },
    Index(usize),
}

/// The path to a value, as a chain of borrowed steps (no allocation unless reported).
struct Crumb<'p> {
    parent: Option<&'p Crumb<'p>>,
    step: Step<'p>,
}

impl fmt::Display for Crumb<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        match self.step {
            Step::Key { key, .. } if self.parent.is_none() => f.write_str(key),
            Step::Key { key, .. } => write!(f, ".{key}"),
            Step::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A deserializer over a borrowed JSON value that reports skipped struct fields.
struct Probe<'p> {
    value: &'p Value,
    at: Option<&'p Crumb<'p>>,
    unknown: &'p RefCell<Vec<UnknownField>>,
}

type Error = serde_json::Error;

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Items {
                items: items.iter().enumerate(),
                parent: self.at,
                unknown: self.unknown,
            }),
            Value::Object(entries) => visitor.visit_map(Entries::new(entries, None, &self)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(entries) => visitor.visit_map(Entries::new(entries, Some(fields), &self)),
            _ => self.deserialize_any(visitor),
        }
    }

    /// Called for a key the enclosing struct does not know: that is the finding.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(crumb) = self.at
            && let Step::Key {
                key,
                fields: Some(fields),
            } = crumb.step
        {
            self.unknown.borrow_mut().push(UnknownField {
                path: crumb.to_string(),
                closest: crate::suggest::closest(key, fields),
            });
        }
        visitor.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// A mapping's entries; `fields` is set when the mapping is read as a struct.
struct Entries<'p> {
    entries: serde_json::map::Iter<'p>,
    fields: Option<&'static [&'static str]>,
    parent: Option<&'p Crumb<'p>>,
    unknown: &'p RefCell<Vec<UnknownField>>,
    pending: Option<(&'p str, &'p Value)>,
}

impl<'p> Entries<'p> {
    fn new(
        entries: &'p Map<String, Value>,
        fields: Option<&'static [&'static str]>,
        probe: &Probe<'p>,
    ) -> Self {
        Entries {
            entries: entries.iter(),
            fields,
            parent: probe.at,
            unknown: probe.unknown,
            pending: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        seed.deserialize(key.as_str().into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        let crumb = Crumb {
            parent: self.parent,
            step: Step::Key {
                key,
                fields: self.fields,
            },
        };
        seed.deserialize(Probe {
            value,
            at: Some(&crumb),
            unknown: self.unknown,
        })
    }
}

struct Items<'p> {
    items: std::iter::Enumerate<std::slice::Iter<'p, Value>>,
    parent: Option<&'p Crumb<'p>>,
    unknown: &'p RefCell<Vec<UnknownField>>,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let crumb = Crumb {
            parent: self.parent,
            step: Step::Index(index),
        };
        seed.deserialize(Probe {
            value,
            at: Some(&crumb),
            unknown: self.unknown,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    fn deployment(strategy: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "a", "labels": {"any-key": "x"}, "annotations": {"b": "c"}},
            "spec": {
                "selector": {"matchLabels": {"app": "a"}},
                "strategy": strategy,
                "template": {
                    "metadata": {"labels": {"app": "a"}},
                    "spec": {"containers": [{"name": "a", "image": "a:1",
                        "resources": {"requests": {"cpu": "1"}},
                        "ports": [{"containerPort": 80, "name": "http"}]}]}
                }
            }
        })
    }

    #[test]
    fn a_valid_object_reads_the_same_as_serde_json_reads_it() {
        let value = deployment(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}),
        );
        let strict: Deployment = read(&value).unwrap();
        let lenient: Deployment = serde_json::from_value(value).unwrap();
        assert_eq!(strict, lenient);
    }

    #[test]
    fn an_unknown_field_is_named_with_its_path_and_the_closest_field() {
        let value = deployment(json!({"rollingUpdate": {"maxUnavailabl": 0}}));
        assert_eq!(
            read::<Deployment>(&value).unwrap_err(),
            Refusal::Unknown(vec![UnknownField {
                path: "spec.strategy.rollingUpdate.maxUnavailabl".into(),
                closest: Some("maxUnavailable"),
            }])
        );
        let mut value = deployment(json!({}));
        value["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
        value["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPorts"] = json!(1);
        let Err(Refusal::Unknown(unknown)) = read::<Deployment>(&value) else {
            panic!("unknown fields pass");
        };
        let mut paths: Vec<&str> = unknown.iter().map(|u| u.path.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "spec.template.spec.containers[0].imagePullPolicyy",
                "spec.template.spec.containers[0].ports[0].hostPorts"
            ]
        );
    }

    #[test]
    fn a_wrong_type_is_named_with_its_path() {
        let mut value = deployment(json!({}));
        value["spec"]["replicas"] = json!("three");
        let Err(Refusal::Invalid(message)) = read::<Deployment>(&value) else {
            panic!("a string replica count passes");
        };
        assert!(
            message.starts_with("spec.replicas: invalid type"),
            "{message}"
        );
    }
}
