//! Strategic-merge patches for built-in kinds, as `kubectl patch --type strategic` merges them:
//! maps merge key by key (`null` deletes), lists of objects with a merge key (containers by
//! `name`, container ports by `containerPort`, volume mounts by `mountPath`, ...) merge item
//! by item, other lists are replaced. The directives `$patch: delete` (on a list item or a
//! map: remove it), `$patch: replace` (on a map or a list item: replace instead of merging) and
//! `$retainKeys` are understood; other `$` directives are refused rather than written out.

use serde_json::{Map, Value};

/// The merge keys of Kubernetes' built-in types, by field name (`patchMergeKey` in the API).
/// Where one field name has different keys in different types (`ports`), the first key the
/// patch's item carries wins.
const MERGE_KEYS: &[(&str, &[&str])] = &[
    ("containers", &["name"]),
    ("initContainers", &["name"]),
    ("ephemeralContainers", &["name"]),
    ("volumes", &["name"]),
    ("env", &["name"]),
    ("ports", &["containerPort", "port"]),
    ("volumeMounts", &["mountPath"]),
    ("volumeDevices", &["devicePath"]),
    ("imagePullSecrets", &["name"]),
    ("hostAliases", &["ip"]),
    ("topologySpreadConstraints", &["topologyKey"]),
    ("resourceClaims", &["name"]),
    ("readinessGates", &["conditionType"]),
    ("conditions", &["type"]),
    ("ownerReferences", &["uid"]),
];

/// A problem at a path of the patch (`spec.template.spec.containers[0]`).
pub type MergeError = (String, String);

/// Merges `patch` into `target`.
pub fn merge(target: &mut Value, patch: &Value) -> Result<(), MergeError> {
    merge_at(target, patch, "")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn merge_at(target: &mut Value, patch: &Value, path: &str) -> Result<(), MergeError> {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch_map.clone();
            replacement.remove("$patch");
            *target = Value::Object(replacement);
            return Ok(());
        }
        Some("delete") => {
            return Err((
                path.to_owned(),
                "$patch: delete removes a field or a list item, not the whole object".into(),
            ));
        }
        Some(other) => {
            return Err((
                path.to_owned(),
                format!("unknown $patch directive {other:?}"),
            ));
        }
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target_map = target.as_object_mut().expect("made an object above");
    let retain: Option<Vec<String>> = match patch_map.get("$retainKeys") {
        None => None,
        Some(Value::Array(keys)) => Some(
            keys.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        Some(_) => {
            return Err((
                join(path, "$retainKeys"),
                "must be a list of field names".into(),
            ));
        }
    };
    for (key, value) in patch_map {
        if key == "$retainKeys" {
            continue;
        }
        if key.starts_with('$') {
            return Err((
                join(path, key),
                "kiln does not support this strategic-merge directive; use a json6902 patch".into(),
            ));
        }
        let at = join(path, key);
        match value {
            Value::Null => {
                target_map.remove(key);
            }
            Value::Array(items) => {
                let merged = merge_list(key, target_map.get(key), items, &at)?;
                target_map.insert(key.clone(), merged);
            }
            Value::Object(map) if map.get("$patch").and_then(Value::as_str) == Some("delete") => {
                target_map.remove(key);
            }
            Value::Object(_) => {
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                merge_at(slot, value, &at)?;
            }
            scalar => {
                target_map.insert(key.clone(), scalar.clone());
            }
        }
    }
    if let Some(keep) = retain {
        target_map.retain(|key, _| keep.iter().any(|k| k == key));
    }
    Ok(())
}

/// A list under `key`: merged item by item when its items are objects with the field's merge
/// key, replaced otherwise.
fn merge_list(
    key: &str,
    current: Option<&Value>,
    items: &[Value],
    path: &str,
) -> Result<Value, MergeError> {
    let candidates = MERGE_KEYS
        .iter()
        .find(|(field, _)| *field == key)
        .map(|(_, keys)| *keys)
        .unwrap_or_default();
    let replace_all = items
        .iter()
        .any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"));
    let merge_key = candidates
        .iter()
        .find(|k| items.iter().any(|item| item.get(**k).is_some()));
    let (Some(merge_key), false) = (merge_key, replace_all) else {
        // Not a list kiln knows how to merge (or asked to replace): the patch's list wins.
        let list = items
            .iter()
            .filter(|item| item.get("$patch").is_none())
            .cloned()
            .collect();
        return Ok(Value::Array(list));
    };
    let mut merged: Vec<Value> = match current {
        Some(Value::Array(existing)) => existing.clone(),
        _ => Vec::new(),
    };
    for (index, item) in items.iter().enumerate() {
        let at = format!("{path}[{index}]");
        let Some(id) = item.get(*merge_key) else {
            return Err((
                at,
                format!(
                    "every item of {key} in a strategic-merge patch needs its merge key {merge_key}"
                ),
            ));
        };
        let position = merged.iter().position(|e| e.get(*merge_key) == Some(id));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(position), true) => {
                merged.remove(position);
            }
            (None, true) => {
                return Err((
                    at,
                    format!("$patch: delete names no item of {key} with {merge_key} {id}"),
                ));
            }
            (Some(position), false) => merge_at(&mut merged[position], item, &at)?,
            (None, false) => {
                let mut added = Value::Null;
                merge_at(&mut added, item, &at)?;
                merged.push(added);
            }
        }
    }
    Ok(Value::Array(merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_and_other_lists_are_replaced() {
        let mut deployment = json!({"spec": {"template": {"spec": {
            "containers": [
                {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}],
                 "args": ["--x"]},
                {"name": "sidecar", "image": "s:1"}
            ],
            "tolerations": [{"key": "a"}]
        }}}});
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [
                {"name": "app", "env": [{"name": "B", "value": "2"}], "args": ["--y"]},
                {"name": "sidecar", "$patch": "delete"}
            ],
            "tolerations": [{"key": "b"}],
            "nodeSelector": null
        }}}});
        merge(&mut deployment, &patch).unwrap();
        assert_eq!(
            deployment,
            json!({"spec": {"template": {"spec": {
                "containers": [
                    {"name": "app", "image": "a:1",
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "args": ["--y"]}
                ],
                "tolerations": [{"key": "b"}]
            }}}})
        );
    }

    #[test]
    fn ports_use_the_key_their_items_carry() {
        let mut service = json!({"spec": {"ports": [{"port": 80, "name": "http"}]}});
        merge(
            &mut service,
            &json!({"spec": {"ports": [{"port": 80, "nodePort": 30080}]}}),
        )
        .unwrap();
        assert_eq!(
            service,
            json!({"spec": {"ports": [{"port": 80, "name": "http", "nodePort": 30080}]}})
        );
    }

    #[test]
    fn a_deleted_map_leaves_its_parent() {
        let mut pod = json!({"spec": {"affinity": {"podAntiAffinity": {}}, "hostNetwork": false}});
        merge(
            &mut pod,
            &json!({"spec": {"affinity": {"$patch": "delete"}}}),
        )
        .unwrap();
        assert_eq!(pod, json!({"spec": {"hostNetwork": false}}));
    }

    #[test]
    fn directives_it_does_not_know_are_refused() {
        let mut object = json!({"a": 1});
        let error = merge(&mut object, &json!({"$setElementOrder/x": []})).unwrap_err();
        assert_eq!(error.0, "$setElementOrder/x");
        let error = merge(
            &mut json!({"containers": [{"name": "a"}]}),
            &json!({"containers": [{"name": "b", "$patch": "delete"}]}),
        )
        .unwrap_err();
        assert_eq!(error.0, "containers[0]");
    }
}
