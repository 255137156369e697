// Embeds the built-in charts: writes `charts.rs` in OUT_DIR with one `include_str!` per file,
// so rustc tracks every template and a changed chart rebuilds the binary. The first chart is
// the one `kiln chart export` copies when no name is given.
//
// It also reads each built-in chart's definition files (schema, values, defaults, ...) as
// JSON, into `PARSED_FILES` in the same file: reading them as YAML (the positions walk, then
// serde_yaml_ng) was most of what reading a chart cost. Their positions are indexed at run
// time only when a message needs one.
//
// And it parses, once here, every CEL expression the built-in charts' YAML files hold (the
// values of `rule`, `messageExpression` and `expression` keys) and writes their syntax trees,
// encoded by `src/cel/encoding.rs`, to `cel_syntax.rs`: parsing them at every start was most
// of what compiling a chart cost. `cel::Expression::compile` looks each source up there and
// parses what it does not find, so an expression this walk misses is only slower.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use cel::common::{ast, types};

#[allow(dead_code)] // decode is for the library; build.rs only encodes
#[path = "src/cel/encoding.rs"]
mod encoding;

/// The chart folders under `charts/` that ship inside the binary.
const BUILTIN: &[&str] = &["microservice", "appservice", "etcd", "redisenterprise"];

/// The keys of the chart files (schema, defaults, variables, values schema) whose values are
/// CEL expressions.
const EXPRESSION_KEYS: &[&str] = &["rule", "messageExpression", "expression"];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src/cel/encoding.rs");
    let mut code = String::from(
        "/// (chart folder name, [(path inside the chart, contents)]) of every built-in chart.\npub static BUILTIN_CHARTS: &[(&str, &[(&str, &str)])] = &[\n",
    );
    let mut expressions = BTreeMap::new();
    let mut values = Vec::new();
    for name in BUILTIN {
        let charts_dir = manifest_dir.join("../charts").join(name);
        println!("cargo:rerun-if-changed={}", charts_dir.display());
        let mut files = Vec::new();
        collect(&charts_dir, &charts_dir, &mut files);
        files.sort();
        writeln!(code, "    ({name:?}, &[").expect("writing to a String");
        for (relative, absolute) in &files {
            println!("cargo:rerun-if-changed={}", absolute.display());
            writeln!(
                code,
                "        ({relative:?}, include_str!({:?})),",
                absolute.display().to_string()
            )
            .expect("writing to a String");
            let definition = !relative.contains('/') && relative.ends_with(".yaml");
            if definition {
                let text = fs::read_to_string(absolute).expect("a readable chart file");
                // A file that is not YAML is the chart loader's to report, at run time.
                if let Ok(value) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
                    expression_sources(&value, &mut expressions);
                }
                if let Ok(value) = serde_yaml_ng::from_str::<serde_json::Value>(&text)
                    && !value.is_null()
                {
                    values.push((*name, relative.clone(), value.to_string()));
                }
            }
        }
        code.push_str("    ]),\n");
    }
    code.push_str("];\n");
    code.push_str(
        "/// (chart folder name, path inside the chart, the file's one YAML document as JSON) of\n/// every definition file of the built-in charts.\npub static PARSED_FILES: &[(&str, &str, &str)] = &[\n",
    );
    for (name, relative, json) in &values {
        writeln!(code, "    ({name:?}, {relative:?}, {json:?}),").expect("writing to a String");
    }
    code.push_str("];\n");
    fs::write(out_dir.join("charts.rs"), code).expect("OUT_DIR is writable");
    fs::write(out_dir.join("cel_syntax.rs"), syntax_table(&expressions))
        .expect("OUT_DIR is writable");
}

/// Every string under an expression key, anywhere in `value`, parsed (when it parses: one
/// that does not is the chart loader's to report, with its position).
fn expression_sources(value: &serde_yaml_ng::Value, out: &mut BTreeMap<String, Vec<u8>>) {
    match value {
        serde_yaml_ng::Value::Mapping(mapping) => {
            for (key, child) in mapping {
                let is_expression = key
                    .as_str()
                    .is_some_and(|key| EXPRESSION_KEYS.contains(&key));
                if let (true, Some(source)) = (is_expression, child.as_str()) {
                    if let Ok(tree) = cel::parser::Parser::new().parse(source) {
                        out.insert(source.to_owned(), encoding::encode(&tree));
                    }
                } else {
                    expression_sources(child, out);
                }
            }
        }
        serde_yaml_ng::Value::Sequence(items) => {
            for item in items {
                expression_sources(item, out);
            }
        }
        _ => {}
    }
}

/// `PARSED`: (source, encoded tree), sorted by source for a binary search.
fn syntax_table(expressions: &BTreeMap<String, Vec<u8>>) -> String {
    let mut code = String::from(
        "/// (CEL source, its syntax tree as `cel::encoding` writes it), sorted by source.\npub static PARSED: &[(&str, &[u8])] = &[\n",
    );
    for (source, tree) in expressions {
        let mut bytes = String::with_capacity(tree.len() * 4);
        for byte in tree {
            write!(bytes, "\\x{byte:02x}").expect("writing to a String");
        }
        writeln!(code, "    ({source:?}, b\"{bytes}\"),").expect("writing to a String");
    }
    code.push_str("];\n");
    code
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in fs::read_dir(dir).expect("the built-in chart folder exists") {
        let path = entry.expect("readable chart folder").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .expect("inside the chart")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
    }
}
