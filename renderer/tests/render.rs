// Golden files: each spec under fixtures/render/ renders to a snapshot of its manifests, or,
// when its name starts with `err`, to a snapshot of its findings. Review changes with
// `cargo insta review`; a changed snapshot is a changed product.

use kiln::chart::Chart;
use kiln::output::to_yaml_stream;
use kiln::spec::load::{InputFile, parse_documents};
use kiln::{Kiln, Report};

fn render_fixture(path: &std::path::Path) -> Report {
    let file = InputFile {
        name: path.file_name().unwrap().to_string_lossy().into(),
        text: std::fs::read_to_string(path).unwrap().into(),
    };
    let kiln = Kiln::with_charts(Chart::builtins().unwrap()).unwrap();
    let (documents, yaml_findings) = parse_documents(&file);
    let mut report = kiln.run(documents);
    report.findings.extend(yaml_findings);
    report
}

fn findings_text(report: &Report) -> String {
    report.findings.iter().map(|f| format!("{f}\n")).collect()
}

#[test]
fn rendered_fixtures_match_their_snapshots() {
    insta::glob!("fixtures/render/*.yaml", |path| {
        let report = render_fixture(path);
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("err") {
            assert!(report.has_errors(), "{name} should be rejected");
            insta::assert_snapshot!(findings_text(&report));
        } else {
            assert!(
                !report.has_errors(),
                "{name} should render:\n{}",
                findings_text(&report)
            );
            let text = format!(
                "# findings\n{}# manifests\n{}",
                findings_text(&report),
                to_yaml_stream(&report.objects)
            );
            insta::assert_snapshot!(text);
        }
    });
}
