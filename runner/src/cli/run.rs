//! `ponyswarm run FILE`: plan every job, run them in sandboxes, write results.json.

use super::docker::{connect, DockerArgs};
use super::plan::load_jobs;
use super::Failure;
use ponyswarm::detect::{self, SourceTree};
use ponyswarm::plan::{self, TestCommand};
use ponyswarm::run::progress::OutputMode;
use ponyswarm::run::{self, RunOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `ponyswarm run` was asked.
pub struct RunArgs<'a> {
    pub file: &'a Path,
    pub report_dir: Option<PathBuf>,
    pub jobs: Option<usize>,
    pub filters: &'a [String],
    pub quiet: bool,
    pub fail_fast: bool,
    pub docker: &'a DockerArgs,
}

pub async fn run(args: RunArgs<'_>) -> Result<ExitCode, Failure> {
    let (spec, jobs) = load_jobs(args.file, args.filters)?;
    let templates = plan::load_templates(&spec).map_err(|e| Failure::BadInput(e.to_string()))?;
    let default_test = detected_test(&spec.source)?;
    let plans =
        plan::plan_all(&spec, &jobs, &templates, &default_test).map_err(|e| Failure::BadInput(e.to_string()))?;

    let docker = connect().await?;
    let egress = args.docker.egress()?;
    let mut opts = RunOptions::new(PathBuf::new());
    opts.report_dir = args
        .report_dir
        .unwrap_or_else(|| PathBuf::from(".ponyswarm/runs").join(&opts.run_id));
    opts.jobs = args.jobs;
    opts.fail_fast = args.fail_fast.then_some(true);
    opts.images = args.docker.image_options(egress.clone());
    opts.egress = egress;
    opts.output = OutputMode::auto(args.quiet);

    // Ctrl-C cancels the run; the run removes its containers before returning.
    let cancel = opts.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: cancelling the run and removing its containers…");
            cancel.cancel();
        }
    });

    let report_dir = opts.report_dir.clone();
    let result = run::run(&docker, &spec, plans, opts).await.map_err(|e| Failure::Infra(e.to_string()))?;
    println!("results: {}", report_dir.join("results.json").display());
    Ok(ExitCode::from(result.run.exit_code.clamp(0, 255) as u8))
}

/// The test command when the file has none: detected from the source tree.
fn detected_test(source: &Path) -> Result<TestCommand, Failure> {
    let tree = SourceTree::read(source).map_err(|e| {
        Failure::BadInput(format!("cannot read the source tree {}: {e}", source.display()))
    })?;
    let d = detect::detect(&tree);
    Ok(TestCommand {
        command: d.command,
        detected: Some(d.reason),
    })
}
