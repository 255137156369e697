// The fuzz targets' properties (`fuzz/src/lib.rs`), run on stable over every seed
// (`fuzz/seeds/TARGET/`) and every crash the fuzzers found (`fuzz/regressions/TARGET/`), so a
// fixed crash stays fixed without nightly or libFuzzer.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::path::Path;

/// Runs `property` on every file of the target's seeds and regressions; returns how many.
fn replay(target: &str, property: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for folder in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| property(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its property",
                path.display()
            );
            count += 1;
        }
    }
    count
}

#[test]
fn spec_loader() {
    assert!(replay("spec_loader", harness::spec_loader) >= 10);
}

#[test]
fn admission_review() {
    assert!(replay("admission_review", harness::admission_review) >= 10);
}

#[test]
fn quantity() {
    assert!(replay("quantity", harness::quantity) >= 10);
}

#[test]
fn image_reference() {
    assert!(replay("image_reference", harness::image_reference) >= 10);
}

#[test]
fn yaml_writer() {
    assert!(replay("yaml_writer", harness::yaml_writer) >= 10);
}
