// Embeds the built-in charts: writes `charts.rs` in OUT_DIR with one `include_str!` per file,
// so rustc tracks every template and a changed chart rebuilds the binary. The first chart is
// the one `kiln chart export` copies when no name is given.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// The chart folders under `charts/` that ship inside the binary.
const BUILTIN: &[&str] = &["microservice", "appservice", "etcd", "redisenterprise"];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut code = String::from(
        "/// (chart folder name, [(path inside the chart, contents)]) of every built-in chart.\npub static BUILTIN_CHARTS: &[(&str, &[(&str, &str)])] = &[\n",
    );
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
        }
        code.push_str("    ]),\n");
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("charts.rs");
    fs::write(out, code).expect("OUT_DIR is writable");
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
