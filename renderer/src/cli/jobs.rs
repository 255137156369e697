//! From the command line (and the project file, when there is one) to jobs: one render's
//! inputs, charts, values, patches and destination per environment. Running a job is the
//! same for render, validate, diff and check, so they can never disagree about the output.

use std::path::{Path, PathBuf};

use super::InputArgs;
use crate::chart::ChartError;
use crate::project::{self, PatchRef, Project, ProjectError};
use crate::spec::load::{Document, InputFile, parse_all, read_inputs};
use crate::{Finding, Kiln, Report};

/// One render: what it reads and where its output goes.
#[derive(Debug, Clone)]
pub struct Job {
    /// The environment's name, when the job comes from a project file.
    pub env: Option<String>,
    pub files: Vec<String>,
    pub charts: Vec<PathBuf>,
    pub values: Vec<PathBuf>,
    pub patches: Vec<PatchRef>,
    /// The GitOps folder; `None` for standard output.
    pub output: Option<PathBuf>,
}

/// Why no job could be planned.
#[derive(Debug)]
pub enum PlanError {
    /// A usage problem (exit 2).
    Usage(String),
    /// The project file is wrong: findings with positions (exit 2).
    Project(Vec<Finding>),
}

impl From<String> for PlanError {
    fn from(message: String) -> Self {
        PlanError::Usage(message)
    }
}

/// How the command line chooses among a project's environments, for the message when a
/// project has several and none was chosen.
pub const CHOOSE_WITH_FLAGS: &str = "choose one with --env NAME, or --all-envs";

/// The jobs a command runs. `output` is the command's `-o` (`-` for standard output);
/// `how_to_choose` ends the message when the project has several environments and none was
/// chosen ([`CHOOSE_WITH_FLAGS`] on the command line).
pub fn plan(
    args: &InputArgs,
    output: Option<&str>,
    how_to_choose: &str,
) -> Result<Vec<Job>, PlanError> {
    let output_flag = output.map(|o| (o != "-").then(|| PathBuf::from(o)));
    let extra_patches: Vec<PatchRef> = args
        .patches
        .iter()
        .map(|p| crate::patch::patch_ref(p))
        .collect();
    if !args.files.is_empty() {
        if args.env.is_some() || args.all_envs || args.project.is_some() {
            return Err(PlanError::Usage(
                "--env, --all-envs and --project choose from a project file; with -f, kiln \
                 reads no project file"
                    .into(),
            ));
        }
        return Ok(vec![Job {
            env: None,
            files: args.files.clone(),
            charts: args.charts.charts.clone(),
            values: args.charts.values.clone(),
            patches: extra_patches,
            output: output_flag.flatten(),
        }]);
    }
    let path = match &args.project {
        Some(path) => path.clone(),
        None => project::find(Path::new(".")).ok_or_else(|| {
            format!(
                "no spec files given (-f PATH) and no {} in this folder or a parent; \
                 `kiln init` writes one",
                project::FILE_NAME
            )
        })?,
    };
    let project = Project::load(&path).map_err(|error| match error {
        ProjectError::Invalid(findings) => PlanError::Project(findings),
        io @ ProjectError::Io { .. } => PlanError::Usage(io.to_string()),
    })?;
    let environments = project.select(args.env.as_deref(), args.all_envs, how_to_choose)?;
    if environments.len() > 1 && output.is_some() {
        return Err(PlanError::Usage(
            "-o names one destination; with --all-envs each environment renders into its own \
             output folder"
                .into(),
        ));
    }
    Ok(environments
        .into_iter()
        .map(|environment| Job {
            env: Some(environment.name.clone()),
            files: environment.specs.clone(),
            charts: [&environment.charts[..], &args.charts.charts[..]].concat(),
            values: [&environment.values[..], &args.charts.values[..]].concat(),
            patches: [&environment.patches[..], &extra_patches[..]].concat(),
            output: match &output_flag {
                Some(flag) => flag.clone(),
                None => Some(environment.output.clone()),
            },
        })
        .collect())
}

/// Loads the job's charts, reads its inputs, runs the pipeline and applies its patches.
/// `Err` is a usage or I/O problem (exit 2); findings about the inputs are in the report.
pub fn run(job: &Job, passthrough: bool) -> Result<Report, String> {
    let load = || Kiln::load(&job.charts, &job.values);
    let (kiln, parsed) = if job.files.iter().any(|file| file == "-") {
        // Standard input is read after the charts load: a broken chart must not leave it
        // waiting for its end.
        let kiln = load().map_err(|e| e.to_string())?;
        let files = read_inputs(&job.files).map_err(|e| e.to_string())?;
        load_and_parse(|| Ok(kiln), &files)
    } else {
        match read_inputs(&job.files) {
            Ok(files) => load_and_parse(load, &files),
            // A chart error is the one to report first, as when the charts load first.
            Err(error) => {
                load().map_err(|e| e.to_string())?;
                return Err(error.to_string());
            }
        }
    };
    let kiln = kiln
        .map_err(|e| e.to_string())?
        .with_passthrough(passthrough);
    let patches = crate::patch::load(&job.patches);
    let mut report = kiln.run_parsed(parsed);
    match patches {
        Err(findings) => report.findings.extend(findings),
        Ok(patches) if !report.has_errors() => {
            let values_for = |object: &serde_json::Value| kiln.values_for_rendered(object).clone();
            let findings = crate::patch::apply(&patches, &mut report.objects, &values_for);
            report.findings.extend(findings);
        }
        Ok(_) => {}
    }
    Ok(report)
}

/// Loads the charts while another thread parses `files`, then compiles the chart of each kind
/// the files mention, still beside the parse: parsing tells a file's kinds only when the
/// whole file is parsed, and a run's first spec would otherwise wait for its chart.
fn load_and_parse(
    load: impl FnOnce() -> Result<Kiln, ChartError>,
    files: &[InputFile],
) -> (Result<Kiln, ChartError>, (Vec<Document>, Vec<Finding>)) {
    std::thread::scope(|scope| {
        let parsing = scope.spawn(|| parse_all(files));
        let kiln = load();
        // A file that names a kind nearly always holds one; when it does not, a chart was
        // compiled for nothing, on the core the parse leaves free.
        if let Ok(kiln) = &kiln {
            kiln.compile_kinds(|kind| {
                files
                    .iter()
                    .any(|file| file.text.contains(kind.kind.as_str()))
            });
        }
        let parsed = parsing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (kiln, parsed)
    })
}

/// Runs every job; the findings of all of them, each reported once, in position order.
pub fn run_all(jobs: &[Job], passthrough: bool) -> Result<(Vec<Report>, Vec<Finding>), String> {
    let mut reports = Vec::with_capacity(jobs.len());
    let mut findings: Vec<Finding> = Vec::new();
    for job in jobs {
        let mut report = run(job, passthrough)?;
        findings.append(&mut report.findings);
        reports.push(report);
    }
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    // A spec every environment shares gives the same finding once per environment.
    findings.dedup();
    Ok((reports, findings))
}
