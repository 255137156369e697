// Regression tests for the integrity issue's attacks on the `kiln` binary, each named after
// what it attacks, with the exact inputs where it gives them. Output-folder attacks
// are in output_folder.rs, YAML injection in yaml_readers.rs.

mod util;

use util::{kiln, write};

const HEAD: &str =
    "apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {name: a-v1s0}\n";

/// Every finding line starts with `FILE:LINE:COL: `.
fn assert_every_finding_has_a_position(stderr: &str, file: &str) {
    for line in stderr.lines().filter(|l| !l.starts_with("kiln: ")) {
        let rest = line
            .strip_prefix(&format!("{file}:"))
            .unwrap_or_else(|| panic!("no file position: {line}"));
        let mut parts = rest.splitn(3, ':');
        let (line_no, column) = (parts.next().unwrap(), parts.next().unwrap());
        assert!(
            line_no.parse::<usize>().is_ok() && column.parse::<usize>().is_ok(),
            "no line and column: {line}"
        );
    }
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bom.yaml",
        &format!(
            "\u{feff}{HEAD}spec: {{msName: a, version: \"1.0\", image: \"a:1\", resourceRequirements: {{limits: {{memory: 1Gi}}}}}}\n"
        ),
    );
    let run = kiln(dir.path(), &["validate", "-f", "bom.yaml"], None);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn a_tab_after_a_colon_still_gets_positions() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tab.yaml",
        &format!(
            "{HEAD}spec:\n  msName:\ta\n  version: \"1.0\"\n  image: \"a:1\"\n  replicas: -1\n"
        ),
    );
    let run = kiln(dir.path(), &["validate", "-f", "tab.yaml"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_every_finding_has_a_position(&run.stderr, "tab.yaml");
}

#[test]
fn a_raw_next_line_character_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "nel.yaml",
        &format!("{HEAD}spec:\n  msName: a\u{85}  version: \"1.0\"\n  image: \"a:1\"\n"),
    );
    let run = kiln(dir.path(), &["validate", "-f", "nel.yaml"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("nel.yaml:5:12: invalid YAML: raw U+0085 is a line break to some YAML readers and not to others; hint: write it as \\u0085 inside a double-quoted string"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unquoted_version_is_quoted_as_written() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "v.yaml",
        &format!("{HEAD}spec:\n  msName: a\n  version: 1.10\n  image: \"a:1\"\n"),
    );
    let run = kiln(dir.path(), &["validate", "-f", "v.yaml"], None);
    assert!(
        run.stderr.contains("v.yaml:6:3: MicroServiceDeploy/a-v1s0: spec.version: must be a quoted string (got 1.1); hint: write \"1.10\""),
        "{}",
        run.stderr
    );
}

#[test]
fn exabyte_and_exponent_quantities_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "q.yaml",
        &format!(
            "{HEAD}spec: {{msName: a, version: \"1.0\", image: \"a:1\", resourceRequirements: {{limits: {{memory: 1Ei, cpu: 2e3}}, requests: {{cpu: 1.5e+3, memory: 1E}}}}}}\n"
        ),
    );
    let run = kiln(dir.path(), &["validate", "-f", "q.yaml"], None);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn a_quota_overflow_finding_has_a_position() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "big.yaml",
        // In a namespace kiln owns: `default` is shared and gets no quota.
        "apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {name: a-v1s0, namespace: team}\nspec:\n  msName: a\n  version: \"1.0\"\n  image: \"a:1\"\n  replicas: 1000\n  resourceRequirements:\n    limits: {memory: 1e40}\n    requests: {memory: 1e40}\n",
    );
    let run = kiln(dir.path(), &["validate", "-f", "big.yaml"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("add up to more resources than a quota can hold"),
        "{}",
        run.stderr
    );
    assert_every_finding_has_a_position(&run.stderr, "big.yaml");
}

#[test]
fn writing_to_a_full_disk_exits_two_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for args in [vec!["crd"], vec!["render", "-f", "-"]] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(&args)
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if args[0] == "crd" {
            assert_eq!(output.status.code(), Some(2), "{stderr}");
            assert!(stderr.contains("cannot write to stdout"), "{stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn stdin_has_the_same_size_cap_as_files() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "# padding\n".repeat(1_700_000);
    let run = kiln(dir.path(), &["validate", "-f", "-"], Some(&huge));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("<stdin>: is larger than"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_spec_in_kube_system_is_refused_unless_the_chart_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sys.yaml",
        "apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {name: a-v1s0, namespace: kube-system}\nspec: {msName: a, version: \"1.0\", image: \"a:1\", resourceRequirements: {limits: {memory: 1Gi}}}\n",
    );
    let run = kiln(dir.path(), &["render", "-f", "sys.yaml"], None);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "", "no quota in kube-system");
    assert!(
        run.stderr.contains("sys.yaml:3:26: MicroServiceDeploy/a-v1s0: metadata.namespace: renders into \"kube-system\", a system namespace"),
        "{}",
        run.stderr
    );
    write(
        dir.path(),
        "allow.yaml",
        "allowedSystemNamespaces: [kube-system]\n",
    );
    let allowed = kiln(
        dir.path(),
        &["render", "-f", "sys.yaml", "--values", "allow.yaml"],
        None,
    );
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert!(allowed.stdout.contains("namespace: kube-system"));
}

#[test]
fn deep_nesting_after_a_valid_spec_is_answered_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("{HEAD}spec: {{msName: a, version: \"1.0\", image: \"a:1\"}}\n");
    write(
        dir.path(),
        "deep.yaml",
        &format!("{spec}---\n{}x\n", "- ".repeat(8000)),
    );
    let run = kiln(dir.path(), &["validate", "-f", "deep.yaml"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_every_finding_has_a_position(&run.stderr, "deep.yaml");
    assert!(run.stderr.contains("deep.yaml:4:1: MicroServiceDeploy/a-v1s0: warning: spec.resourceRequirements.limits.memory"), "{}", run.stderr);
}

// The hardening issue's YAML attacks: what parses but must not be read.

#[test]
fn a_repeated_key_is_refused_with_both_positions() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "dup.yaml",
        &format!("{HEAD}spec:\n  msName: a\n  version: \"1.0\"\n  image: a:1\n  msName: b\n"),
    );
    let run = kiln(dir.path(), &["render", "-f", "dup.yaml"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .starts_with("dup.yaml:8:3: spec.msName: duplicate key; first at 5:3; hint: keep one"),
        "{}",
        run.stderr
    );
}

#[test]
fn tags_and_merge_keys_are_named_and_the_documents_before_them_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let valid = format!("{HEAD}spec: {{msName: a, version: \"1.0\", image: \"a:1\"}}\n");
    write(
        dir.path(),
        "tags.yaml",
        &format!(
            "{valid}---\n{HEAD}spec: !!python/object:os.system\n  msName: a\n  <<: {{version: \"1.0\"}}\n"
        ),
    );
    let run = kiln(dir.path(), &["validate", "-f", "tags.yaml"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_every_finding_has_a_position(&run.stderr, "tags.yaml");
    assert!(
        run.stderr
            .contains("tags.yaml:9:7: spec: YAML tag !!python/object:os.system is not allowed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("tags.yaml:11:3: spec.<<: kiln does not support YAML merge keys (<<); hint: write the fields out"), "{}", run.stderr);
    // The valid spec before them was read and judged (its memory-limit warning).
    assert!(
        run.stderr
            .contains("tags.yaml:4:1: MicroServiceDeploy/a-v1s0: warning:"),
        "{}",
        run.stderr
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_before_serde_yaml_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec =
        format!("{HEAD}spec: {{msName: a, version: \"1.0\", image: \"a:1\", config: CONFIG}}\n");
    // The 80,000 levels took 16.8 s to reject; bench/hostile.sh times it.
    let levels = 80_000;
    let nested = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    write(dir.path(), "deep.yaml", &spec.replace("CONFIG", &nested));
    let run = kiln(dir.path(), &["validate", "-f", "deep.yaml"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("deep.yaml:4:"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            ": spec.config: invalid YAML: collections nested deeper than 100 levels; hint:"
        ),
        "{}",
        run.stderr
    );
}
