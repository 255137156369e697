//! Output: the rendered objects in a stable order, as one YAML stream or as a GitOps folder.
//! Nothing here renders or validates; it only serialises, orders and writes.

pub mod folder;
pub mod order;
pub mod replaced;
pub mod yaml;

use crate::postprocess::SPEC_ANNOTATION;
use crate::render::Object;

/// A finished object: its identity, the spec it came from, and its canonical YAML.
/// The YAML is written once, on the rendering thread, and reused by every output form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The instance (spec fullName) it belongs to; `None` for namespace-wide objects.
    pub instance: Option<String>,
    /// The `kiln.dev/spec` annotation: which spec to edit to change this object.
    pub source: Option<String>,
    /// A plain manifest from the input, written as given (no spec behind it).
    pub passed_through: bool,
    pub yaml: String,
}

impl Manifest {
    pub fn from_object(object: Object) -> Manifest {
        let source =
            crate::fields::text_at(&object.value, &["metadata", "annotations", SPEC_ANNOTATION])
                .map(str::to_owned);
        let mut yaml = yaml::to_yaml(&object.value);
        // Thousands of these live until the end of a run; drop the growth slack.
        yaml.shrink_to_fit();
        Manifest {
            yaml,
            api_version: object.api_version,
            kind: object.kind,
            namespace: object.namespace,
            name: object.name,
            instance: object.instance,
            source,
            passed_through: false,
        }
    }
}

/// One multi-document YAML stream; the same objects always give the same bytes.
pub fn to_yaml_stream(manifests: &[Manifest]) -> String {
    let mut out = Vec::with_capacity(manifests.iter().map(|m| m.yaml.len() + 4).sum());
    write_yaml_stream(&mut out, manifests).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("manifests are UTF-8")
}

/// Writes the stream without building it in memory first.
pub fn write_yaml_stream(
    out: &mut impl std::io::Write,
    manifests: &[Manifest],
) -> std::io::Result<()> {
    for manifest in manifests {
        out.write_all(b"---\n")?;
        out.write_all(manifest.yaml.as_bytes())?;
    }
    out.flush()
}
