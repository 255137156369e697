//! Instances replaced in one render: an instance folder (`<namespace>/<instance>/`) that the
//! render empties while it fills a new one in the same namespace for the same application
//! (the standard `app.kubernetes.io/name` label). That is a new version under a new name
//! (catalog-v1s3 -> catalog-v1s4), and the old pods go as soon as the GitOps tool prunes; the
//! CLI warns so the pull request says it.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};

/// An instance folder emptied and a new one of the same application filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub namespace: String,
    pub old: String,
    pub new: String,
    pub app: String,
}

/// `(namespace, instance)` of a file inside an instance folder.
fn instance_of(relative: &Path) -> Option<(String, String)> {
    let parts: Vec<&str> = relative
        .components()
        .map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [namespace, instance, _file] => Some(((*namespace).to_owned(), (*instance).to_owned())),
        _ => None,
    }
}

/// The `app.kubernetes.io/name` label of a generated file's object.
fn app_of(contents: &str) -> Option<String> {
    let value: serde_json::Value = serde_yaml_ng::from_str(contents).ok()?;
    value
        .pointer("/metadata/labels/app.kubernetes.io~1name")?
        .as_str()
        .map(str::to_owned)
}

/// Pairs each instance the render removes with the instances it adds for the same
/// application in the same namespace. `before` is every file the folder held (with a way to
/// read a removed one), `after` every file the render writes.
pub fn find(
    before: &HashSet<PathBuf>,
    read_before: impl Fn(&Path) -> Option<String>,
    after: &[(PathBuf, String)],
) -> Vec<Replacement> {
    let mut before: Vec<&PathBuf> = before.iter().collect();
    before.sort();
    let old_instances: BTreeSet<(String, String)> =
        before.iter().filter_map(|p| instance_of(p)).collect();
    let new_instances: BTreeSet<(String, String)> =
        after.iter().filter_map(|(p, _)| instance_of(p)).collect();
    // One labelled file per new instance names its application; the rest are not parsed.
    let mut added: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut labelled = BTreeSet::new();
    for (relative, contents) in after {
        let Some(instance) = instance_of(relative) else {
            continue;
        };
        if old_instances.contains(&instance) || labelled.contains(&instance) {
            continue;
        }
        if let Some(app) = app_of(contents) {
            added
                .entry((instance.0.clone(), app))
                .or_default()
                .push(instance.1.clone());
            labelled.insert(instance);
        }
    }
    let mut replacements = Vec::new();
    let mut seen = BTreeSet::new();
    for relative in before {
        let Some(instance) = instance_of(relative) else {
            continue;
        };
        if new_instances.contains(&instance) || seen.contains(&instance) {
            continue;
        }
        let Some(app) = read_before(relative).as_deref().and_then(app_of) else {
            continue;
        };
        seen.insert(instance.clone());
        for new in added
            .get(&(instance.0.clone(), app.clone()))
            .into_iter()
            .flatten()
        {
            replacements.push(Replacement {
                namespace: instance.0.clone(),
                old: instance.1.clone(),
                new: new.clone(),
                app: app.clone(),
            });
        }
    }
    replacements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str, app: &str) -> String {
        format!(
            "# header\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/name: {app}\n"
        )
    }

    #[test]
    fn a_new_instance_of_the_same_app_replacing_an_old_one_is_found() {
        let before: HashSet<PathBuf> = [
            "shop/catalog-v1s3/deployment.yaml",
            "shop/cart-v1s9/deployment.yaml",
            "shop/resourcequota.yaml",
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect();
        let read = |path: &Path| {
            let instance = instance_of(path)?.1;
            Some(object(&instance, instance.split('-').next().unwrap()))
        };
        let after = vec![
            (
                PathBuf::from("shop/catalog-v1s4/deployment.yaml"),
                object("catalog-v1s4", "catalog"),
            ),
            (
                PathBuf::from("shop/cart-v1s9/deployment.yaml"),
                object("cart-v1s9", "cart"),
            ),
            (
                PathBuf::from("shop/search-v1s0/deployment.yaml"),
                object("search-v1s0", "search"),
            ),
        ];
        assert_eq!(
            find(&before, read, &after),
            [Replacement {
                namespace: "shop".into(),
                old: "catalog-v1s3".into(),
                new: "catalog-v1s4".into(),
                app: "catalog".into(),
            }]
        );
    }

    #[test]
    fn removing_an_instance_without_a_successor_is_no_replacement() {
        let before: HashSet<PathBuf> = [PathBuf::from("shop/catalog-v1s3/deployment.yaml")]
            .into_iter()
            .collect();
        let read = |_: &Path| Some(object("catalog-v1s3", "catalog"));
        let after = vec![(
            PathBuf::from("other/catalog-v1s4/deployment.yaml"),
            object("catalog-v1s4", "catalog"),
        )];
        assert_eq!(find(&before, read, &after), []);
    }
}
