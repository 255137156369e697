//! The properties of an object node: names and child schemas, in the order the chart author
//! wrote them.
//!
//! Every field of every object a review carries is looked up here (by the type check, the
//! defaults and the rules), and in a server the chart's data is cold again by the next request:
//! each line of memory read is a cache miss. So the names sit side by side in one buffer and
//! the child schemas in another, and finding `replicas` among fifteen properties reads the few
//! lines of the names instead of one large schema node per property passed.

use super::Schema;

#[derive(Debug, Default)]
pub struct Properties {
    /// Every name, one after the other.
    text: String,
    /// Where each name ends in `text`; it starts where the one before ends.
    ends: Vec<u32>,
    /// The child schemas, in the order of the names.
    nodes: Vec<Schema>,
}

impl Properties {
    /// Room for `count` properties whose names take `text` bytes: schema nodes are large and
    /// cache-line aligned, so growing the list of them copies every node already in it.
    pub fn with_capacity(count: usize, text: usize) -> Properties {
        Properties {
            text: String::with_capacity(text),
            ends: Vec::with_capacity(count),
            nodes: Vec::with_capacity(count),
        }
    }

    /// Adds a property after the others. Schema files are far below 4 GiB of names.
    pub fn push(&mut self, name: &str, schema: Schema) {
        self.text.push_str(name);
        self.ends
            .push(u32::try_from(self.text.len()).expect("property names over 4 GiB"));
        self.nodes.push(schema);
    }

    /// The child schema of `name`.
    pub fn get(&self, name: &str) -> Option<&Schema> {
        let mut start = 0;
        for (index, &end) in self.ends.iter().enumerate() {
            let end = end as usize;
            if end - start == name.len() && &self.text.as_bytes()[start..end] == name.as_bytes() {
                return self.nodes.get(index);
            }
            start = end;
        }
        None
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(name, _)| name)
    }

    /// Each name with its schema, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            text: &self.text,
            start: 0,
            ends: self.ends.iter(),
            nodes: self.nodes.iter(),
        }
    }

    /// The child schemas, in order.
    pub fn schemas(&self) -> impl Iterator<Item = &Schema> {
        self.nodes.iter()
    }
}

impl<'p> IntoIterator for &'p Properties {
    type Item = (&'p str, &'p Schema);
    type IntoIter = Iter<'p>;

    fn into_iter(self) -> Iter<'p> {
        self.iter()
    }
}

/// The properties' names with their schemas, in order.
pub struct Iter<'p> {
    text: &'p str,
    start: usize,
    ends: std::slice::Iter<'p, u32>,
    nodes: std::slice::Iter<'p, Schema>,
}

impl<'p> Iterator for Iter<'p> {
    type Item = (&'p str, &'p Schema);

    fn next(&mut self) -> Option<Self::Item> {
        let end = *self.ends.next()? as usize;
        let name = &self.text[self.start..end];
        self.start = end;
        Some((name, self.nodes.next()?))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.nodes.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(text: &str) -> Schema {
        Schema {
            description: Some(text.to_owned()),
            ..Schema::default()
        }
    }

    #[test]
    fn finds_each_name_and_only_whole_names() {
        let mut properties = Properties::default();
        for name in ["image", "replicas", "", "imagePullPolicy", "é"] {
            properties.push(name, described(name));
        }
        for name in ["image", "replicas", "", "imagePullPolicy", "é"] {
            let found = properties.get(name).and_then(|s| s.description.as_deref());
            assert_eq!(found, Some(name));
        }
        for missing in ["imag", "imagePull", "replica", "s", "e", "Image"] {
            assert!(properties.get(missing).is_none(), "{missing}");
        }
        let names: Vec<&str> = properties.names().collect();
        assert_eq!(names, ["image", "replicas", "", "imagePullPolicy", "é"]);
        let pairs: Vec<(&str, Option<&str>)> = (&properties)
            .into_iter()
            .map(|(name, schema)| (name, schema.description.as_deref()))
            .collect();
        assert_eq!(pairs.len(), 5);
        assert!(pairs.iter().all(|(name, text)| Some(*name) == *text));
        assert_eq!(properties.len(), 5);
        assert!(Properties::default().get("").is_none());
    }
}
