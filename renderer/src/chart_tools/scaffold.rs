//! `kiln chart new`: writes a chart that works as written (a schema with one CEL rule, a
//! Deployment and a PodDisruptionBudget template, values with their schema, a valid and an
//! invalid case), then records what the cases give, so `kiln chart test` passes on it.

use std::path::Path;

use crate::formats::names::is_dns_subdomain;

/// The scaffold's files, with `__KIND__`, `__API_VERSION__`, `__NAME__` and `__PLURAL__` to
/// fill in.
const FILES: &[(&str, &str)] = &[
    ("chart.yaml", include_str!("scaffold/chart.yaml")),
    ("schema.yaml", include_str!("scaffold/schema.yaml")),
    ("values.yaml", include_str!("scaffold/values.yaml")),
    (
        "values.schema.yaml",
        include_str!("scaffold/values.schema.yaml"),
    ),
    (
        "templates/deployment.yaml",
        include_str!("scaffold/templates/deployment.yaml"),
    ),
    (
        "templates/pdb.yaml",
        include_str!("scaffold/templates/pdb.yaml"),
    ),
    (
        "tests/example/input.yaml",
        include_str!("scaffold/tests/example/input.yaml"),
    ),
    (
        "tests/min-available-too-high/input.yaml",
        include_str!("scaffold/tests/min-available-too-high/input.yaml"),
    ),
];

/// Writes a new chart for `kind` of `api_version` into `dir`, which must not exist.
pub fn new_chart(dir: &Path, kind: &str, api_version: &str) -> Result<(), String> {
    check_kind(kind)?;
    check_api_version(api_version)?;
    if dir.exists() {
        return Err(format!(
            "{}: already exists; choose a new folder",
            dir.display()
        ));
    }
    let name = kind.to_ascii_lowercase();
    let plural = plural_of(&name);
    for (relative, text) in FILES {
        let text = text
            .replace("__API_VERSION__", api_version)
            .replace("__KIND__", kind)
            .replace("__PLURAL__", &plural)
            .replace("__NAME__", &name);
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // The expectations are what the chart gives, recorded by the same code as `--update`.
    let results = super::cases::run(dir, true).map_err(|e| e.to_string())?;
    debug_assert!(results.iter().all(|r| r.passed));
    Ok(())
}

/// The resource name of a kind, as English plurals go: nightlies, classes, boxes, apps.
fn plural_of(name: &str) -> String {
    if let Some(stem) = name.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else if name.ends_with(['s', 'x', 'z']) || name.ends_with("ch") || name.ends_with("sh") {
        format!("{name}es")
    } else {
        format!("{name}s")
    }
}

/// A kind is an UpperCamelCase identifier, as the API server requires of CRD kinds.
fn check_kind(kind: &str) -> Result<(), String> {
    let ok = kind.starts_with(|c: char| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphanumeric())
        && kind.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--kind {kind:?}: must be an UpperCamelCase name of letters and digits, such as Nightly"
        ))
    }
}

/// GROUP/VERSION, where a CRD's group is a DNS subdomain with a dot and the version a
/// DNS label such as v1 or v1alpha1.
fn check_api_version(api_version: &str) -> Result<(), String> {
    let problem = match api_version.split_once('/') {
        None => Some("has no GROUP/".to_owned()),
        Some((group, version)) => (!is_dns_subdomain(group) || !group.contains('.'))
            .then(|| {
                format!(
                    "group {group:?} must be a lowercase DNS name with a dot, as CRD groups are \
                     (batch.example.com)"
                )
            })
            .or_else(|| {
                let ok = version.starts_with('v')
                    && version.len() > 1
                    && version
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                (!ok).then(|| format!("version {version:?} must look like v1, v1beta1"))
            }),
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(format!(
            "--api-version {api_version:?}: {problem}; write GROUP/VERSION, such as batch.example.com/v1"
        )),
    }
}
