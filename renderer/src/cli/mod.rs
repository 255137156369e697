//! The command line: clap types, and the glue from a parsed command to the library.
//! Exit codes follow the contract: 0 clean, 1 invalid input (nothing written), 2 usage or I/O.
//! Findings go to stderr, one per line; manifests go to stdout or the output folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::chart::{Chart, ChartError};
use crate::chart_tools;
use crate::output;
use crate::{Finding, Report};

mod argocd;
mod diff;
mod findings;
mod jobs;

use findings::Format;
use jobs::{Job, PlanError};

#[derive(Debug, Parser)]
#[command(
    name = "kiln",
    version,
    about = "Render MicroServiceDeploy specs into plain Kubernetes manifests for GitOps",
    long_about = "kiln expands high-level MicroServiceDeploy specs (custom.ops/v1) into plain \
Kubernetes manifests: ServiceAccount, ConfigMap, Service, Deployment, HorizontalPodAutoscaler, \
PodDisruptionBudget and one ResourceQuota per namespace. Commit the output to Git and let Argo CD \
or Flux apply it; the pull request is the human review.\n\n\
Exit status: 0 when every spec is valid, 1 when any is invalid (nothing is written), \
2 on usage or I/O errors.",
    after_help = "Examples:\n  kiln render -f specs/                 manifests of every spec under specs/ on stdout\n  kiln render -f specs/ -o deploy/       one file per object under deploy/, plus kustomization.yaml\n  kiln validate -f service.yaml          check only\n  cat service.yaml | kiln render -f -    read a spec from stdin\n  kiln init                             write a kiln.yaml project with two environments\n  kiln render --all-envs                 render every environment of kiln.yaml into its folder\n  kiln diff --env prod                   what a render of prod would change (exit 1 if anything)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render specs into manifests: a YAML stream on stdout, or a GitOps folder with -o (or
    /// each environment's folder, from kiln.yaml).
    Render(RenderArgs),
    /// Check specs with every rule and print the findings; write nothing.
    Validate(ValidateArgs),
    /// Compare what a render would write with the output folder, object by object, as a
    /// unified diff; exit 0 when identical, 1 when different, 2 on error (like diff).
    Diff(DiffArgs),
    /// Write a commented starter kiln.yaml (two environments) and a first spec.
    Init {
        /// The folder of the new project (default: the current folder).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Work with charts.
    #[command(subcommand)]
    Chart(ChartCommand),
    /// Argo CD's Config Management Plugin (deploy/argocd/plugin.yaml).
    #[command(subcommand)]
    Argocd(ArgocdCommand),
    /// Print a CustomResourceDefinition per kind kiln knows (built-in charts and --chart),
    /// generated from each chart's schema, with the rules that read only the object.
    Crd(ChartArgs),
    /// Print a ValidatingAdmissionPolicy and its binding per kind kiln knows: every rule,
    /// errors with Deny and warnings with Warn, with the messages the CLI prints.
    Policy(ChartArgs),
    /// Print a kind's JSON Schema for editors (yaml-language-server): field completion,
    /// descriptions, typos and wrong types marked as you type.
    Schema {
        /// The kind (MicroServiceDeploy, AppService, ...; any case), or its plural name.
        kind: String,
        #[command(flatten)]
        charts: ChartArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ArgocdCommand {
    /// The plugin's generate step: render one environment of the nearest kiln.yaml to
    /// stdout (manifests only; findings on stderr). The environment comes from the plugin
    /// parameter env (PARAM_ENV) or the plugin env entry KILN_ENV (ARGOCD_ENV_KILN_ENV).
    Generate,
}

/// The charts a command works with.
#[derive(Debug, Args)]
pub struct ChartArgs {
    /// Also use the chart in DIR (it replaces a built-in chart of the same kind). Repeatable.
    #[arg(long = "chart", value_name = "DIR")]
    pub charts: Vec<PathBuf>,
    /// Values merged over the charts' values.yaml, in order: each top-level key goes to every
    /// chart that has it, and a key no chart has is an error.
    #[arg(long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ChartCommand {
    /// Copy a built-in chart into DIR, to edit it and render with --chart DIR.
    Export {
        /// Folder to create; it must not exist yet.
        dir: PathBuf,
        /// Which built-in chart (default: the first, microservice).
        #[arg(long)]
        name: Option<String>,
    },
    /// Write a new, working chart into DIR: a schema with one CEL rule, a Deployment and a
    /// PodDisruptionBudget template, values with their schema, and two test cases.
    New {
        /// Folder to create; it must not exist yet.
        dir: PathBuf,
        /// The kind the chart renders, such as Nightly.
        #[arg(long)]
        kind: String,
        /// GROUP/VERSION of the kind, such as batch.example.com/v1.
        #[arg(long = "api-version", value_name = "GROUP/VERSION")]
        api_version: String,
    },
    /// Check a chart as kiln loads it (schema, rules and their cost, defaults, variables,
    /// values, templates and the fields they read) and its exports; exit 1 on a problem.
    Lint {
        dir: PathBuf,
        /// Values files to check with it, as --values of render.
        #[arg(long = "values", value_name = "FILE")]
        values: Vec<PathBuf>,
        #[arg(long = "output-format", value_enum, default_value_t)]
        format: Format,
    },
    /// Run the chart's cases (DIR/tests/CASE/input.yaml against expected.yaml and
    /// findings.txt); exit 1 when one fails.
    Test {
        dir: PathBuf,
        /// Write each case's expectations from what it gives instead of comparing.
        #[arg(long)]
        update: bool,
    },
}

#[derive(Debug, Args)]
pub struct InputArgs {
    /// Spec files or folders (searched recursively for *.yaml and *.yml), or - for stdin.
    /// Multi-document files are fine. Repeat the flag or list several paths. Without -f,
    /// kiln reads kiln.yaml from this folder or the nearest parent.
    #[arg(short = 'f', long = "file", value_name = "PATH", num_args = 1..)]
    pub files: Vec<String>,
    /// The environment of kiln.yaml to work on.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// Work on every environment of kiln.yaml.
    #[arg(long = "all-envs")]
    pub all_envs: bool,
    /// The project file, instead of looking for kiln.yaml.
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
    /// A patch applied to the rendered objects after the project's: RFC 6902 operations, or
    /// a strategic-merge mapping that names its object. Repeatable.
    #[arg(long = "patch", value_name = "FILE")]
    pub patches: Vec<PathBuf>,
    #[command(flatten)]
    pub charts: ChartArgs,
    /// Refuse documents of kinds no chart renders, instead of passing them through to the
    /// output as plain manifests (checked as strictly as rendered objects).
    #[arg(long = "no-passthrough")]
    pub no_passthrough: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Write one file per object under DIR/<namespace>/<instance>/ and a root
    /// kustomization.yaml; generated files no longer produced are removed, other files are
    /// never touched. `-o -` writes the YAML stream to stdout, even for an environment.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<String>,
    /// Write nothing; exit 1 listing every file of the output folder that is stale, missing
    /// or obsolete.
    #[arg(long)]
    pub check: bool,
    #[arg(long = "output-format", value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[arg(long = "output-format", value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The output folder to compare with (default: the environment's, from kiln.yaml).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<String>,
    /// Color the diff.
    #[arg(long, value_enum, default_value_t)]
    pub color: diff::Color,
    /// With json, sarif, github or gitlab, every changed file is a finding (rule stale-output)
    /// instead of a diff.
    #[arg(long = "output-format", value_enum, default_value_t)]
    pub format: Format,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "kiln: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs a parsed command. `Err` is a usage or I/O problem (exit 2).
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Render(args) => render(&args),
        Command::Validate(args) => validate(&args),
        Command::Diff(args) => diff(&args),
        Command::Init { dir } => init(&dir),
        Command::Argocd(ArgocdCommand::Generate) => {
            argocd::generate(|name| std::env::var(name).ok())
        }
        Command::Chart(ChartCommand::Export { dir, name }) => {
            export_chart(&dir, name.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Chart(ChartCommand::New {
            dir,
            kind,
            api_version,
        }) => {
            chart_tools::scaffold::new_chart(&dir, &kind, &api_version)?;
            let dir = dir.display();
            let _ = writeln!(
                std::io::stderr(),
                "kiln: wrote a {kind} chart to {dir}; `kiln chart lint {dir}` and `kiln chart \
                 test {dir}` check it, `kiln render -f SPECS --chart {dir}` uses it"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Chart(ChartCommand::Lint {
            dir,
            values,
            format,
        }) => match chart_tools::lint::lint(&dir, &values) {
            Ok(lines) if format == Format::Text => {
                write_stdout(format!("{}\n", lines.join("\n")).as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
            Ok(_) => {
                emit(format, &[], true)?;
                Ok(ExitCode::SUCCESS)
            }
            // A folder that cannot be read is an I/O error (exit 2); anything else the
            // chart says wrongly is the finding lint exists for (exit 1).
            Err(error @ ChartError::Io { .. }) => Err(error.to_string()),
            Err(error) if format == Format::Text => {
                let _ = writeln!(std::io::stderr(), "{error}");
                Ok(ExitCode::from(1))
            }
            Err(error) => {
                emit(format, &[chart_finding(&error)], true)?;
                Ok(ExitCode::from(1))
            }
        },
        Command::Chart(ChartCommand::Test { dir, update }) => chart_test(&dir, update),
        Command::Schema { kind, charts } => {
            let charts =
                Chart::load_all(&charts.charts, &charts.values).map_err(|e| e.to_string())?;
            let wanted = kind.to_ascii_lowercase();
            let chart = charts
                .iter()
                .find(|c| c.renders.kind.to_ascii_lowercase() == wanted || c.plural() == wanted)
                .ok_or_else(|| {
                    let known: Vec<&str> = charts.iter().map(|c| c.renders.kind.as_str()).collect();
                    format!(
                        "no chart renders a kind {kind:?}; kiln knows {}",
                        known.join(", ")
                    )
                })?;
            let schema = crate::export::json_schema::json_schema(chart)
                .ok_or_else(|| format!("{}: the chart has no schema.yaml", chart.origin))?;
            let text = serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())?;
            write_stdout(format!("{text}\n").as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crd(args) => {
            let charts = Chart::load_all(&args.charts, &args.values).map_err(|e| e.to_string())?;
            let crds: Vec<serde_json::Value> = charts
                .iter()
                .filter_map(crate::export::crd::custom_resource_definition)
                .collect();
            print_stream("kiln crd", "schemas", &crds)
        }
        Command::Policy(args) => {
            let charts = Chart::load_all(&args.charts, &args.values).map_err(|e| e.to_string())?;
            let mut objects = Vec::new();
            for chart in &charts {
                objects.extend(
                    crate::export::policy::admission_policies(chart).map_err(|e| e.to_string())?,
                );
            }
            print_stream("kiln policy", "rules", &objects)
        }
    }
}

/// Plans the jobs; a broken project file is reported as findings (exit 2).
fn plan_jobs(
    input: &InputArgs,
    output: Option<&str>,
    format: Format,
    how_to_choose: &str,
) -> Result<Vec<Job>, Exit> {
    jobs::plan(input, output, how_to_choose).map_err(|error| match error {
        PlanError::Usage(message) => Exit::Usage(message),
        PlanError::Project(findings) => {
            let _ = emit(format, &findings, true);
            Exit::Code(ExitCode::from(2))
        }
    })
}

/// How a command ends early: a usage message (exit 2) or an exit code already earned.
enum Exit {
    Usage(String),
    Code(ExitCode),
}

impl From<String> for Exit {
    fn from(message: String) -> Self {
        Exit::Usage(message)
    }
}

fn exit(result: Result<ExitCode, Exit>) -> Result<ExitCode, String> {
    match result {
        Ok(code) | Err(Exit::Code(code)) => Ok(code),
        Err(Exit::Usage(message)) => Err(message),
    }
}

fn render(args: &RenderArgs) -> Result<ExitCode, String> {
    exit(render_jobs(args, jobs::CHOOSE_WITH_FLAGS))
}

/// `render`, with `how_to_choose` saying how to name an environment (`jobs::plan`).
fn render_jobs(args: &RenderArgs, how_to_choose: &str) -> Result<ExitCode, Exit> {
    let jobs = plan_jobs(
        &args.input,
        args.output.as_deref(),
        args.format,
        how_to_choose,
    )?;
    let to_stdout = jobs.iter().any(|job| job.output.is_none());
    if args.check && to_stdout {
        return Err(Exit::Usage(
            "--check compares with an output folder: give -o DIR, or render an environment of \
             kiln.yaml"
                .into(),
        ));
    }
    let (reports, findings) = jobs::run_all(&jobs, !args.input.no_passthrough)?;
    if findings.iter().any(Finding::is_error) {
        return Ok(finish(&findings, args.format, !to_stdout));
    }
    if args.check {
        let mut stale = Vec::new();
        for (job, report) in jobs.iter().zip(&reports) {
            let root = job.output.as_deref().expect("checked above");
            let comparison = diff::Comparison::of(root, &report.objects)?;
            stale.extend(diff::stale_findings(
                root,
                &comparison.changes,
                &rerun("kiln render", job),
            ));
        }
        let mut all = findings;
        all.extend(stale);
        return Ok(finish(&all, args.format, true));
    }
    for (job, report) in jobs.iter().zip(&reports) {
        match &job.output {
            None => {
                let mut stdout =
                    std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
                output::write_yaml_stream(&mut stdout, &report.objects)
                    .map_err(|e| format!("cannot write to stdout: {e}"))?;
            }
            Some(dir) => write_folder(dir, report, job.env.as_deref())?,
        }
    }
    Ok(finish(&findings, args.format, !to_stdout))
}

/// The command that brings an output folder up to date, for messages.
fn rerun(command: &str, job: &Job) -> String {
    match &job.env {
        Some(env) => format!("{command} --env {env}"),
        None => format!(
            "{command} -f ... -o {}",
            job.output.as_deref().unwrap_or(Path::new("-")).display()
        ),
    }
}

fn write_folder(dir: &Path, report: &Report, env: Option<&str>) -> Result<(), String> {
    let files =
        output::folder::plan(&report.objects).map_err(|e| format!("{e}; nothing was written"))?;
    let summary =
        output::folder::write(dir, &files).map_err(|e| format!("{e}; nothing was written"))?;
    for path in &summary.unrecorded {
        let _ = writeln!(
            std::io::stderr(),
            "kiln: note: {path} carries kiln's header but is not listed in this folder's {}; left in place",
            output::folder::KUSTOMIZATION
        );
    }
    for replaced in &summary.replaced {
        let _ = writeln!(
            std::io::stderr(),
            "kiln: warning: {ns}/{old} is replaced by {ns}/{new} (app.kubernetes.io/name: {app}): the old instance's objects leave the folder in this change, and its pods stop when the GitOps tool prunes them. Argo CD prunes objects marked PruneLast=true only after the sync is healthy; with Flux or kubectl, keep the old spec until {new} is ready and remove it in a second change",
            ns = replaced.namespace,
            old = replaced.old,
            new = replaced.new,
            app = replaced.app,
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "kiln: {}{} {} in {}: {} {} written, {} unchanged, {} removed",
        env.map(|e| format!("{e}: ")).unwrap_or_default(),
        report.objects.len(),
        plural(report.objects.len(), "object"),
        dir.display(),
        summary.written,
        plural(summary.written, "file"),
        summary.unchanged,
        summary.removed
    );
    Ok(())
}

fn validate(args: &ValidateArgs) -> Result<ExitCode, String> {
    exit((|| {
        let jobs = plan_jobs(&args.input, None, args.format, jobs::CHOOSE_WITH_FLAGS)?;
        let (_, findings) = jobs::run_all(&jobs, !args.input.no_passthrough)?;
        Ok(finish(&findings, args.format, true))
    })())
}

/// `kiln diff`: 0 identical, 1 different, 2 on any error, invalid specs included.
fn diff(args: &DiffArgs) -> Result<ExitCode, String> {
    exit(diff_jobs(args))
}

fn diff_jobs(args: &DiffArgs) -> Result<ExitCode, Exit> {
    let jobs = plan_jobs(
        &args.input,
        args.output.as_deref(),
        args.format,
        jobs::CHOOSE_WITH_FLAGS,
    )?;
    if jobs.iter().any(|job| job.output.is_none()) {
        return Err(Exit::Usage(
            "kiln diff compares with an output folder: give -o DIR, or choose an environment \
             of kiln.yaml"
                .into(),
        ));
    }
    let (reports, findings) = jobs::run_all(&jobs, !args.input.no_passthrough)?;
    if findings.iter().any(Finding::is_error) {
        finish(&findings, args.format, true);
        return Ok(ExitCode::from(2));
    }
    let color = args.color.enabled();
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let mut all = findings;
    let mut counts = Vec::new();
    let mut different = false;
    for (job, report) in jobs.iter().zip(&reports) {
        let root = job.output.as_deref().expect("checked above");
        let comparison = diff::Comparison::of(root, &report.objects)?;
        different |= !comparison.changes.is_empty();
        if args.format == Format::Text {
            diff::print(&mut stdout, root, &comparison, color)
                .map_err(|e| format!("cannot write to stdout: {e}"))?;
        }
        counts.push(format!(
            "kiln diff: {}{}: {}",
            job.env
                .as_deref()
                .map(|e| format!("{e} "))
                .unwrap_or_default(),
            root.display(),
            comparison.summary(),
        ));
        all.extend(diff::stale_findings(
            root,
            &comparison.changes,
            &rerun("kiln render", job),
        ));
    }
    stdout
        .flush()
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);
    if args.format == Format::Text {
        let warnings: Vec<Finding> = all
            .iter()
            .filter(|f| !f.is_error() && f.rule != "stale-output")
            .cloned()
            .collect();
        let _ = emit(Format::Text, &warnings, false);
        let mut stderr = std::io::stderr().lock();
        for line in counts {
            let _ = writeln!(stderr, "{line}");
        }
    } else {
        emit(args.format, &all, true).map_err(|e| format!("cannot write the findings: {e}"))?;
    }
    Ok(if different {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `kiln init`: the starter project and a first spec, never over an existing file.
fn init(dir: &Path) -> Result<ExitCode, String> {
    let project = dir.join(crate::project::FILE_NAME);
    let spec = dir.join("specs").join("hello.yaml");
    for path in [&project, &spec] {
        if path.exists() {
            return Err(format!(
                "{}: already exists; kiln init writes only new files",
                path.display()
            ));
        }
    }
    std::fs::create_dir_all(dir.join("specs")).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&project, crate::project::STARTER)
        .map_err(|e| format!("{}: {e}", project.display()))?;
    std::fs::write(&spec, crate::project::STARTER_SPEC)
        .map_err(|e| format!("{}: {e}", spec.display()))?;
    let _ = writeln!(
        std::io::stderr(),
        "kiln: wrote {} and {}; `kiln render --all-envs` renders both environments",
        project.display(),
        spec.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A chart error as a finding, at the file and position its message starts with.
fn chart_finding(error: &ChartError) -> Finding {
    let text = error.to_string();
    let (head, message) = text.split_once(": ").unwrap_or(("", text.as_str()));
    let mut parts = head.rsplitn(3, ':');
    let (column, line, file) = (parts.next(), parts.next(), parts.next());
    let position = match (
        file,
        line.and_then(|l| l.parse().ok()),
        column.and_then(|c| c.parse().ok()),
    ) {
        (Some(file), Some(line), Some(column)) => Some((file.to_owned(), line, column)),
        _ if !head.is_empty() => Some((head.to_owned(), 1, 1)),
        _ => None,
    };
    let finding = Finding::error("chart", crate::FieldPath::root(), message);
    match position {
        Some((file, line, column)) => finding.at(crate::Location {
            file: file.into(),
            line,
            column,
        }),
        None => finding,
    }
}

/// Prints generated objects as one YAML stream under a header that names the command.
fn print_stream(
    command: &str,
    source: &str,
    objects: &[serde_json::Value],
) -> Result<ExitCode, String> {
    let mut text = format!("# Generated by `{command}` from the charts' {source}. Do not edit.\n");
    for (index, object) in objects.iter().enumerate() {
        if index > 0 {
            text.push_str("---\n");
        }
        text.push_str(&output::yaml::to_yaml(object));
    }
    write_stdout(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a full disk or a closed pipe is an I/O error (exit 2), never a panic.
fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

/// Prints the findings (in `format`; machine formats to stdout when `stdout_free`), a text
/// summary when there are errors, and picks the exit code.
fn finish(findings: &[Finding], format: Format, stdout_free: bool) -> ExitCode {
    let _ = emit(format, findings, stdout_free);
    let errors = findings.iter().filter(|f| f.is_error()).count();
    if errors == 0 {
        return ExitCode::SUCCESS;
    }
    if format == Format::Text {
        let warnings = findings.len() - errors;
        let _ = writeln!(
            std::io::stderr(),
            "kiln: {errors} {}{}; nothing was written",
            plural(errors, "error"),
            match warnings {
                0 => String::new(),
                n => format!(", {n} {}", plural(n, "warning")),
            }
        );
    }
    ExitCode::from(1)
}

fn emit(format: Format, findings: &[Finding], stdout_free: bool) -> Result<(), String> {
    findings::emit(format, findings, stdout_free)
        .map_err(|e| format!("cannot write the findings: {e}"))
}

/// `kiln chart test`: a line per case, the diffs of failed ones, and a summary.
fn chart_test(dir: &Path, update: bool) -> Result<ExitCode, String> {
    let results = chart_tools::cases::run(dir, update).map_err(|e| e.to_string())?;
    let mut text = String::new();
    for result in &results {
        let verdict = match (update, result.passed) {
            (true, _) => "wrote",
            (false, true) => "ok",
            (false, false) => "FAIL",
        };
        text.push_str(&format!("{verdict:<5} {}: ", result.name));
        text.push_str(&result.detail);
        text.push('\n');
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    text.push_str(&format!(
        "kiln chart test: {} {}, {} passed, {failed} failed\n",
        results.len(),
        plural(results.len(), "case"),
        results.len() - failed
    ));
    write_stdout(text.as_bytes())?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

fn export_chart(dir: &Path, name: Option<&str>) -> Result<(), String> {
    let files = crate::chart::builtin_files(name).ok_or_else(|| {
        format!(
            "no built-in chart {:?}; the built-in charts are {}",
            name.unwrap_or_default(),
            crate::chart::builtin_names().join(", ")
        )
    })?;
    if dir.exists() {
        return Err(format!(
            "{}: already exists; choose a new folder",
            dir.display()
        ));
    }
    for (relative, contents) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let _ = writeln!(
        std::io::stderr(),
        "kiln: wrote the built-in chart to {}; render with --chart {}",
        dir.display(),
        dir.display()
    );
    Ok(())
}
