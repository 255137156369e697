// The YAML writer's guarantee: whatever string a value or key holds, every reader the
// output meets (serde_yaml_ng here, go-yaml in kubectl, kustomize and Argo CD, PyYAML in
// many CI tools) reads back exactly that string and no other structure. Strings are drawn
// with a bias toward the characters readers disagree on (U+0085, U+2028, U+2029, U+FEFF,
// C0 and C1 controls), quotes, `---`, `#` and `: `.

mod util;

use std::path::Path;
use std::process::Command;

use kiln::output::yaml::to_yaml;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{Value, json};
use util::{kiln, parse_stream, write};

fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '\u{85}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffe}', '\u{ffff}', '\r', '\n',
            '\t', '\0', '\u{1b}', '\u{7f}', '\u{80}', '\u{9f}', '\u{a0}', '\'', '"', '\\',
            '#', ':', ' ', '-', '{', '}', '[', ']', '&', '*', '!', '|', '>', '%', '@', '`',
            ',', '?', '~', '=', '<',
        ]),
        2 => prop::char::range('a', 'z'),
        1 => any::<char>(),
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => tricky_char().prop_map(String::from),
        1 => prop::sample::select(vec!["---", ": ", " #", "- ", "...", "\u{2028}---\u{2028}", "yes", "0755", "1e3", "~"])
            .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// An object holding `strings` as values, as keys and as list items.
fn probe_object(name: &str, strings: &[String]) -> Value {
    let keyed: serde_json::Map<String, Value> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("{s}\u{1}{i}"), Value::from(s.clone())))
        .collect();
    json!({
        "apiVersion": "test.kiln.dev/v1",
        "kind": "Probe",
        "metadata": {"name": name},
        "spec": {"values": strings, "keyed": keyed}
    })
}

fn serde_yaml_reads(text: &str) -> Vec<Value> {
    parse_stream(text)
}

#[test]
fn every_string_reads_back_as_itself_with_serde_yaml_ng() {
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(tricky_string(), 1..6), |strings| {
            let object = probe_object("p", &strings);
            let text = to_yaml(&object);
            let read = serde_yaml_reads(&text);
            prop_assert_eq!(read, vec![object], "YAML was:\n{}", text);
            Ok(())
        })
        .unwrap();
}

/// Strings drawn from the same strategy with a fixed seed, so the slow external readers
/// see a reproducible batch.
fn fixed_batch(count: usize) -> Vec<String> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = tricky_string();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// `kubectl ARGS`'s stdout; kubectl must succeed.
fn kubectl(args: &[&str]) -> Vec<u8> {
    let output = Command::new("kubectl")
        .args(args)
        .output()
        .expect("kubectl runs (make test needs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn kubectl_kustomize(dir: &Path) -> String {
    String::from_utf8(kubectl(&["kustomize", dir.to_str().unwrap()])).unwrap()
}

/// PyYAML's reading of a file as JSON documents, or `None` when PyYAML is not installed.
fn pyyaml_reads(file: &Path) -> Option<Vec<Value>> {
    let script = "import json, sys, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1], encoding='utf-8')) if d is not None]))";
    let output = Command::new("python3")
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .ok()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("No module named 'yaml'"),
            "PyYAML failed: {stderr}"
        );
        return None;
    }
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

/// go-yaml's reading of a file, as JSON: `kubectl annotate --local` decodes with
/// sigs.k8s.io/yaml (go-yaml) and prints JSON, with no cluster. The annotation it adds is
/// taken off again.
fn go_yaml_reads(file: &Path) -> Vec<Value> {
    let stdout = kubectl(&[
        "annotate",
        "--local",
        "-o",
        "json",
        "-f",
        file.to_str().unwrap(),
        "kiln.dev/probe=1",
    ]);
    // One JSON document per object, one after the other.
    let mut items: Vec<Value> = serde_json::Deserializer::from_slice(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    for item in &mut items {
        let metadata = item["metadata"].as_object_mut().unwrap();
        metadata.remove("annotations");
    }
    items
}

#[test]
fn go_yaml_and_pyyaml_read_every_string_as_itself() {
    let dir = tempfile::tempdir().unwrap();
    let objects: Vec<Value> = fixed_batch(600)
        .chunks(50)
        .enumerate()
        .map(|(i, chunk)| probe_object(&format!("p{i}"), chunk))
        .collect();
    let stream: String = objects
        .iter()
        .map(|o| format!("---\n{}", to_yaml(o)))
        .collect();
    let file = write(dir.path(), "probes.yaml", &stream);
    assert_eq!(go_yaml_reads(&file), objects, "go-yaml read something else");
    if let Some(read) = pyyaml_reads(&file) {
        assert_eq!(read, objects, "PyYAML read something else");
    }
}

#[test]
fn kubectl_kustomize_carries_every_string_it_can_write() {
    let dir = tempfile::tempdir().unwrap();
    // kustomize reads every string above correctly, but its own writer refuses DEL, C1
    // controls, U+FFFE and U+FFFF ("control characters are not allowed") and writes
    // U+0085, U+2028 and U+2029 raw, which YAML readers then fold: whoever wrote the input,
    // such values do not survive `kubectl kustomize`. They are checked by the readers above.
    let kustomize_cannot_write = |c: char| {
        matches!(
            c,
            '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
        )
    };
    let strings: Vec<String> = fixed_batch(1500)
        .into_iter()
        .filter(|s| !s.chars().any(kustomize_cannot_write))
        .take(400)
        .collect();
    assert_eq!(strings.len(), 400);
    let objects: Vec<Value> = strings
        .chunks(50)
        .enumerate()
        .map(|(i, chunk)| probe_object(&format!("p{i}"), chunk))
        .collect();
    let mut resources = String::new();
    for (i, object) in objects.iter().enumerate() {
        write(dir.path(), &format!("p{i}.yaml"), &to_yaml(object));
        resources.push_str(&format!("- p{i}.yaml\n"));
    }
    write(
        dir.path(),
        "kustomization.yaml",
        &format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nsortOptions:\n  order: fifo\nresources:\n{resources}"
        ),
    );
    assert_eq!(serde_yaml_reads(&kubectl_kustomize(dir.path())), objects);
}

/// The attack of the integrity issue: U+2028 in `config` must not add keys to the ConfigMap
/// for go-yaml, nor a second object for PyYAML.
#[test]
fn unicode_line_breaks_in_config_cannot_inject_structure() {
    let dir = tempfile::tempdir().unwrap();
    let configs = [
        "line one\nline two\u{2028}immutable: true\u{2028}binaryData:\u{2028}  x: aGk=",
        "a=1\u{2028}---\u{2028}apiVersion: rbac.authorization.k8s.io/v1\u{2028}kind: ClusterRoleBinding\u{2028}metadata: {name: pwn}",
        "one line\u{2028}with a separator",
        "next\u{85}line\u{2029}para\u{feff}",
    ];
    for (i, config) in configs.iter().enumerate() {
        let spec = json!({
            "apiVersion": "custom.ops/v1", "kind": "MicroServiceDeploy",
            "metadata": {"name": format!("s{i}-v1s0")},
            "spec": {"msName": format!("s{i}"), "version": "1.0", "image": "registry.example.com/s:1.0",
                     "config": config, "resourceRequirements": {"limits": {"memory": "1Gi"}}}
        });
        // Written by kiln's own writer: raw U+2028 in a spec file is refused by the loader.
        write(dir.path(), &format!("specs/s{i}.yaml"), &to_yaml(&spec));
    }
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let objects = serde_yaml_reads(&kubectl_kustomize(&dir.path().join("out")));
    let config_maps: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .collect();
    assert_eq!(config_maps.len(), configs.len());
    assert!(objects.iter().all(|o| o["kind"] != "ClusterRoleBinding"));
    for config_map in config_maps {
        let mut keys: Vec<&String> = config_map.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["apiVersion", "data", "kind", "metadata"],
            "{config_map}"
        );
    }
    // `a=1...` is one key=value line (U+2028 ends no line for kiln): key `a`, value `1...`.
    let mut expected: Vec<Value> = configs.iter().map(|c| Value::from(*c)).collect();
    expected.push(Value::from(configs[1].strip_prefix("a=").unwrap()));
    let mut read_back = Vec::new();
    for entry in walk(&dir.path().join("out")) {
        let go = go_yaml_reads(&entry);
        assert_eq!(
            go.len(),
            1,
            "{} holds more than one object for go-yaml",
            entry.display()
        );
        if go[0]["kind"] == "ConfigMap" && go[0]["data"].as_object().unwrap().len() == 1 {
            read_back.push(
                go[0]["data"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
                    .clone(),
            );
        }
        if let Some(read) = pyyaml_reads(&entry) {
            assert_eq!(
                read.len(),
                1,
                "{} holds more than one object for PyYAML",
                entry.display()
            );
            assert_ne!(read[0]["kind"], "ClusterRoleBinding");
            let mut py = read[0].clone();
            py["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("annotations");
            assert_eq!(
                py,
                go[0],
                "PyYAML and go-yaml disagree on {}",
                entry.display()
            );
        }
    }
    for value in &read_back {
        assert!(expected.contains(value), "go-yaml read {value:?}");
    }
    assert_eq!(read_back.len(), configs.len());
}

/// Every rendered golden fixture reads the same through go-yaml as through serde_yaml_ng.
#[test]
fn rendered_fixtures_read_the_same_through_go_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name.starts_with("err") {
            continue;
        }
        let out = dir.path().join(&name);
        let run = kiln(
            dir.path(),
            &[
                "render",
                "-f",
                path.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let stream = kiln(dir.path(), &["render", "-f", path.to_str().unwrap()], None);
        assert_eq!(
            serde_yaml_reads(&kubectl_kustomize(&out)),
            serde_yaml_reads(&stream.stdout),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= 6);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.file_name().unwrap() != "kustomization.yaml" {
            files.push(path);
        }
    }
    files
}
