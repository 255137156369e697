// The output folder's integrity: nothing is written outside the root, only files this root
// owns are pruned, and the folder changes all at once or not at all. Each test is named after
// what it attacks (the integrity issue).

mod util;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use util::{kiln, snapshot_tree, spec, write};

fn webhook_chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/webhook")
        .display()
        .to_string()
}

fn kiln_webhook_spec(namespace: &str) -> String {
    format!(
        "apiVersion: custom.ops/v1\nkind: KilnWebhook\nmetadata: {{name: kiln-webhook, namespace: {namespace:?}}}\nspec: {{image: registry.example.com/kiln/kiln-webhook:0.1.0}}\n"
    )
}

#[test]
fn a_namespace_with_dot_dot_is_refused_by_every_chart() {
    let dir = tempfile::tempdir().unwrap();
    for namespace in ["../../outside-ns", "/kiln-absolute-ns"] {
        write(dir.path(), "w/spec.yaml", &kiln_webhook_spec(namespace));
        let chart = webhook_chart();
        let run = kiln(
            dir.path(),
            &["render", "-f", "w", "--chart", &chart, "-o", "a/out"],
            None,
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("metadata.namespace: must be a DNS-1123 label")
                && run.stderr.contains("nothing was written"),
            "{}",
            run.stderr
        );
        assert!(!dir.path().join("a").exists());
    }
}

/// A chart whose template takes an object's namespace from a spec field with no format, so
/// only the output folder stands between a `..` and the file system.
fn careless_chart(dir: &Path) -> String {
    write(
        dir,
        "careless/chart.yaml",
        "name: careless\nrenders: {apiVersion: example.com/v1, kind: Careless}\n",
    );
    write(
        dir,
        "careless/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: {{ spec.target }}}\ndata: {}\n",
    );
    dir.join("careless").display().to_string()
}

#[test]
fn a_namespace_with_dot_dot_cannot_write_outside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let chart = careless_chart(dir.path());
    for namespace in ["../../outside-ns", "/kiln-absolute-ns"] {
        write(
            dir.path(),
            "w/spec.yaml",
            &format!(
                "apiVersion: example.com/v1\nkind: Careless\nmetadata: {{name: c}}\nspec: {{target: {namespace:?}}}\n"
            ),
        );
        let run = kiln(
            dir.path(),
            &["render", "-f", "w", "--chart", &chart, "-o", "a/out"],
            None,
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{namespace:?} cannot name a folder or file under the output folder: it must be a DNS-1123"))
                && run.stderr.contains("nothing was written"),
            "{}",
            run.stderr
        );
        assert!(!dir.path().join("outside-ns").exists());
        assert!(!dir.path().join("a").exists());
    }
    assert!(!Path::new("/kiln-absolute-ns").exists());
}

#[test]
fn a_symbolic_link_inside_the_root_cannot_lead_outside() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("../elsewhere", dir.path().join("out/team")).unwrap();
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("a symbolic link"), "{}", run.stderr);
    assert_eq!(snapshot_tree(&dir.path().join("elsewhere")), []);
}

#[test]
fn pruning_never_touches_a_nested_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs2/b.yaml", &spec("b", "other"));
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    let first = kiln(
        dir.path(),
        &["render", "-f", "specs2", "-o", "deploy/prod"],
        None,
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let prod = snapshot_tree(&dir.path().join("deploy/prod"));
    let second = kiln(dir.path(), &["render", "-f", "specs", "-o", "deploy"], None);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(prod, snapshot_tree(&dir.path().join("deploy/prod")));
    // And the other way round: re-rendering the outer root keeps the nested one whole.
    let third = kiln(dir.path(), &["render", "-f", "specs", "-o", "deploy"], None);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(prod, snapshot_tree(&dir.path().join("deploy/prod")));
}

#[test]
fn a_generated_file_this_root_did_not_record_is_reported_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    let stray = write(
        dir.path(),
        "out/team/copied.yaml",
        "# Generated by kiln from somewhere else. Do not edit.\na: 1\n",
    );
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(stray.exists());
    assert!(
        run.stderr
            .contains("copied.yaml carries kiln's header but is not listed"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_conflict_is_found_before_the_first_byte_is_written() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a.yaml", &spec("a", "team"));
    kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    // A person's file where the new namespace's folder must go; the other new objects come
    // first in the plan.
    write(dir.path(), "out/zz", "a person's file\n");
    write(dir.path(), "specs/b.yaml", &spec("b", "aa"));
    write(dir.path(), "specs/c.yaml", &spec("c", "zz"));
    let before = snapshot_tree(&dir.path().join("out"));
    let run = kiln(dir.path(), &["render", "-f", "specs", "-o", "out"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("out/zz: a file where kiln needs a folder"),
        "{}",
        run.stderr
    );
    assert_eq!(before, snapshot_tree(&dir.path().join("out")));
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// Files next to the root that a render left behind (stages, temporary files).
fn leftovers(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("kiln-stage") || n.contains("kiln-tmp"))
        .collect()
}

fn many_specs(dir: &Path, folder: &str, count: usize, tag: &str) {
    for i in 0..count {
        write(
            dir,
            &format!("{folder}/s{i}.yaml"),
            &format!(
                "apiVersion: custom.ops/v1\nkind: MicroServiceDeploy\nmetadata: {{name: s{i}-v1s0, namespace: ns{}}}\nspec: {{msName: s{i}, version: \"1.0\", image: \"registry.example.com/s:{tag}\", resourceRequirements: {{limits: {{memory: 1Gi}}}}}}\n",
                i % 20
            ),
        );
    }
}

#[test]
fn concurrent_renders_into_one_folder_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    many_specs(dir.path(), "one", 400, "1.0");
    many_specs(dir.path(), "two", 400, "2.0");
    let start = |folder: &str| {
        Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["render", "-f", folder, "-o", "out"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start("one"), start("two"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let tree = snapshot_tree(&dir.path().join("out"));
    let one = render_alone(dir.path(), "one");
    let two = render_alone(dir.path(), "two");
    assert!(
        tree == one || tree == two,
        "the folder is a mix of both renders"
    );
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// The tree a render of `folder` produces in a fresh root.
fn render_alone(dir: &Path, folder: &str) -> Vec<(String, String)> {
    let out = format!("alone-{folder}");
    let run = kiln(dir, &["render", "-f", folder, "-o", &out], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot_tree(&dir.join(out))
}

/// SIGKILL at random moments of a large re-render: the folder is always exactly the old
/// tree or the new one, never a mix, and the next render cleans up what the killed one left.
#[test]
fn a_killed_render_leaves_the_old_tree_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    // Kills land anywhere in a full render's time, so the count of specs only sets how long
    // the test runs (16 renders of a debug build), not what it covers.
    many_specs(dir.path(), "v1", 500, "1.0");
    many_specs(dir.path(), "v2", 500, "2.0");
    let trees = [
        render_alone(dir.path(), "v1"),
        render_alone(dir.path(), "v2"),
    ];
    let first = kiln(dir.path(), &["render", "-f", "v1", "-o", "out"], None);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let started = Instant::now();
    let full = kiln(dir.path(), &["render", "-f", "v2", "-o", "out"], None);
    assert_eq!(full.code, 0, "{}", full.stderr);
    let duration = started.elapsed();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let (mut saw_old, mut saw_new) = (0, 0);
    for round in 0..12 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = duration.mul_f64((seed >> 11) as f64 / (1u64 << 53) as f64 * 1.1);
        let folder = if round % 2 == 0 { "v1" } else { "v2" };
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["render", "-f", folder, "-o", "out"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let tree = snapshot_tree(&dir.path().join("out"));
        let target = if round % 2 == 0 { 0 } else { 1 };
        if tree == trees[target] {
            saw_new += 1;
        } else {
            assert!(
                tree == trees[1 - target],
                "round {round}: killed after {delay:?}, the folder is neither the old nor the new tree"
            );
            saw_old += 1;
        }
    }
    eprintln!("old tree {saw_old} times, new tree {saw_new} times");
    let last = kiln(dir.path(), &["render", "-f", "v1", "-o", "out"], None);
    assert_eq!(last.code, 0, "{}", last.stderr);
    assert_eq!(snapshot_tree(&dir.path().join("out")), trees[0]);
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}
