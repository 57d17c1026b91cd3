//! `ponyswarm pypi test` and `ponyswarm pypi watch`: resolve a release on an index,
//! download and verify its files, install and test it in the sandbox, score it, and
//! write its report (JSON and HTML) and save it in the store. `watch` does the same
//! for every new upload the index announces.

use super::docker::DockerArgs;
use super::CliError;
use ponyswarm::pypi::as_of::AsOf;
use ponyswarm::pypi::index::{Index, IndexError};
use ponyswarm::pypi::pipeline::{PipelineError, ReleaseTester};
use ponyswarm::pypi::report::ReleaseReport;
use ponyswarm::pypi::trial::{self, TrialOptions};
use ponyswarm::pypi::watch::projects::parse_projects_file;
use ponyswarm::pypi::watch::{self, Announced, Processed, Start, WatchOptions};
use ponyswarm::pypi::Requirement;
use ponyswarm::run::progress::OutputMode;
use ponyswarm::store::Store;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// PyPI, the default index.
const PYPI: &str = "https://pypi.org";

/// `ponyswarm pypi …`.
#[derive(Debug, clap::Subcommand)]
pub enum PypiCommand {
    /// Install, inspect and test one release from an index.
    Test(TestArgs),
    /// Follow an index's new uploads and test each.
    Watch(WatchArgs),
}

/// How releases are tested: shared by `test` and `watch`.
#[derive(Debug, clap::Args)]
pub struct TestingArgs {
    /// The index's base URL (any index with PyPI's JSON API or the Simple API).
    #[arg(long, default_value = PYPI, value_name = "URL")]
    pub index: String,
    /// A Python to install and test on, as a catalog name (repeatable).
    #[arg(long = "python", value_name = "VERSION", default_values_t = ["3.11".to_string()])]
    pub pythons: Vec<String>,
    /// Where reports go: one directory per release (default .ponyswarm/pypi/).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// The results database: sqlite://FILE or postgres://… (default .ponyswarm/ponyswarm.db).
    #[arg(long, env = "PONYSWARM_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// Most jobs at once within a release (one job per Python and file).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Time allowed for each job, e.g. 15m, 900s.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Resolve the test tools and dependencies as they stood at: `release` (when the
    /// release was uploaded, the default), `now` (today), a date (2024-05-01, midnight
    /// UTC) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", default_value = "release", value_parser = parse_as_of)]
    pub as_of: AsOf,
}

/// `ponyswarm pypi test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// NAME or NAME==VERSION.
    pub release: String,
    #[command(flatten)]
    pub testing: TestingArgs,
}

/// `ponyswarm pypi watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub testing: TestingArgs,
    /// Only projects whose normalized name matches GLOB (repeatable; default all).
    #[arg(long, value_name = "GLOB")]
    pub filter: Vec<String>,
    /// Between two polls of the index's feed, e.g. 60s, 5m.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Releases tested at once.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub releases: u16,
    /// Without a checkpoint, start at this changelog serial instead of now.
    #[arg(long, value_name = "SERIAL")]
    pub since_serial: Option<i64>,
    /// Follow only this project, polling its page (JSON or Simple API) with
    /// conditional requests instead of the index's feed (repeatable).
    #[arg(long = "project", value_name = "NAME")]
    pub projects: Vec<String>,
    /// Follow the projects named in FILE, one per line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub projects_file: Option<PathBuf>,
}

/// Runs a `pypi` command.
pub async fn pypi(command: PypiCommand, docker: &DockerArgs) -> Result<ExitCode, CliError> {
    match command {
        PypiCommand::Test(args) => test(args, docker).await,
        PypiCommand::Watch(args) => watch_index(args, docker).await,
    }
}

/// The release tester the options describe: the index, the store, the engine, and
/// how releases are tried.
async fn tester(
    args: &TestingArgs,
    docker_args: &DockerArgs,
    output: OutputMode,
) -> Result<ReleaseTester, CliError> {
    let egress = docker_args.egress()?;
    let client = ponyswarm::http::client(&egress).map_err(|e| CliError::BadInput(e.to_string()))?;
    let index = Index::new(&args.index, client).map_err(|e| CliError::BadInput(e.to_string()))?;
    let store = Store::open_default(args.database.as_deref())
        .await
        .map_err(|e| CliError::Infra(e.to_string()))?;
    let docker = super::docker::connect().await?;
    let report_root = args
        .report_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(".ponyswarm/pypi"));
    let mut trial = TrialOptions::new(report_root.join(".work"));
    trial.pythons = args.pythons.clone();
    trial.images = docker_args.image_options(egress.clone());
    trial.egress = egress;
    trial.timeout = args.timeout;
    trial.as_of = args.as_of;
    trial.jobs = args.jobs.map(usize::from);
    trial.output = output;
    // PyPI itself is where dependencies come from anyway; another index (a local
    // one in the tests, a private one) is added, as containers reach it.
    if index.url().as_str().trim_end_matches('/') != PYPI {
        trial.extra_index = Some(trial::container_index_url(&docker, index.url().as_str()).await);
    }
    Ok(ReleaseTester {
        index,
        docker,
        store,
        trial,
        report_root,
    })
}

/// The exit code a pipeline error means: a missing release is bad input.
fn pipeline_failure(e: PipelineError) -> CliError {
    if e.is_bad_input() {
        CliError::BadInput(e.to_string())
    } else {
        CliError::Infra(e.to_string())
    }
}

/// `pypi test`: exit 0 when every install worked and no test failed, 1 otherwise.
async fn test(args: TestArgs, docker: &DockerArgs) -> Result<ExitCode, CliError> {
    let req: Requirement = args
        .release
        .parse()
        .map_err(|e: IndexError| CliError::BadInput(e.to_string()))?;
    let tester = tester(&args.testing, docker, OutputMode::Quiet).await?;
    let cancel = CancellationToken::new();
    let stopper = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            super::stop_signal().await;
            cancel.cancel();
        }
    });
    let result = tester.test(&req, cancel).await.map_err(pipeline_failure);
    stopper.abort();
    tester.store.close().await;
    let (report, html) = result?;
    print_summary(&report, &html);
    let good = report.facts.installs_cleanly && report.facts.tests_passed != Some(false);
    Ok(if good {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_summary(report: &ReleaseReport, html: &Path) {
    let tests = match report.facts.tests_passed {
        Some(true) => "tests passed",
        Some(false) => "tests failed",
        None => "no tests ran",
    };
    let installs = if report.facts.installs_cleanly {
        "installs cleanly"
    } else {
        "an install failed"
    };
    let score = report
        .score
        .as_ref()
        .map(|s| format!("score {}/{}", s.total, s.max))
        .unwrap_or_default();
    println!(
        "{} {}: {installs}, {tests}, {score}",
        report.name, report.version
    );
    if let Some(r) = &report.resolution {
        println!("  dependencies {}", r.said);
    }
    // One line per (Python, file): the judgement a reader acts on, and why.
    for i in &report.installs {
        println!(
            "  {} {}: {}",
            i.python,
            i.filename,
            i.judged.judgement.as_str()
        );
        for why in &i.judged.why {
            println!("    {why}");
        }
    }
    for note in report
        .notes
        .iter()
        .filter(|n| n.starts_with("no wheel for "))
    {
        println!("  {note}");
    }
    println!("report: {}", html.display());
}

/// `pypi watch`: runs until Ctrl-C or SIGTERM.
async fn watch_index(args: WatchArgs, docker: &DockerArgs) -> Result<ExitCode, CliError> {
    let mut filters = Vec::new();
    for f in &args.filter {
        let pattern = glob::Pattern::new(f)
            .map_err(|e| CliError::BadInput(format!("--filter {f:?} is not a glob: {e}")))?;
        filters.push(pattern);
    }
    // Names on the command line and in the file read alike: normalized, each once.
    let mut named = args.projects.join("\n");
    if let Some(path) = &args.projects_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::BadInput(format!("--projects-file {}: {e}", path.display())))?;
        if parse_projects_file(&text).is_empty() {
            return Err(CliError::BadInput(format!(
                "--projects-file {} names no project",
                path.display()
            )));
        }
        named = format!("{named}\n{text}");
    }
    let projects = parse_projects_file(&named);
    let opts = WatchOptions {
        poll_interval: args.poll_interval,
        filters,
        jobs: usize::from(args.releases),
        start: args.since_serial.map_or(Start::Latest, Start::Serial),
        projects,
        ..WatchOptions::default()
    };
    let tester = Arc::new(tester(&args.testing, docker, OutputMode::Silent).await?);
    let cancel = CancellationToken::new();
    let stopper = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            super::stop_signal().await;
            eprintln!("stopping: waiting for the releases being tested");
            cancel.cancel();
        }
    });
    match opts.projects.as_slice() {
        [] => println!("watching {}", tester.index.url()),
        names => println!("watching {} on {}", names.join(", "), tester.index.url()),
    }
    let process = {
        let (tester, cancel) = (tester.clone(), cancel.clone());
        move |job: Announced| {
            let (tester, cancel) = (tester.clone(), cancel.clone());
            async move { process(&tester, job, cancel).await }
        }
    };
    let result = watch::watch(&tester.index, &tester.store, &opts, process, cancel).await;
    stopper.abort();
    tester.store.close().await;
    result.map_err(|e| CliError::Infra(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

async fn process(tester: &ReleaseTester, job: Announced, cancel: CancellationToken) -> Processed {
    let req = Requirement {
        name: job.name.clone(),
        version: Some(job.version.clone()),
    };
    match tester.test(&req, cancel.clone()).await {
        _ if cancel.is_cancelled() => Processed::Interrupted,
        Ok((report, html)) => {
            print_summary(&report, &html);
            Processed::Done
        }
        Err(e) => {
            let why = e.to_string();
            eprintln!("{} {}: {why}", job.name, job.version);
            Processed::Failed(why)
        }
    }
}

/// `release`, `now`, a date or an RFC 3339 time.
fn parse_as_of(text: &str) -> Result<AsOf, String> {
    text.parse()
        .map_err(|e: ponyswarm::pypi::as_of::AsOfError| e.to_string())
}

/// `100ms`, `30s`, `5m`, `1h`, or bare seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    ponyswarm::time::parse_duration_arg(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_units() {
        let cases = [
            ("100ms", Some(Duration::from_millis(100))),
            ("30s", Some(Duration::from_secs(30))),
            ("45", Some(Duration::from_secs(45))),
            ("5m", Some(Duration::from_secs(300))),
            ("1h", Some(Duration::from_secs(3600))),
            ("5 days", None),
            ("m", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).ok(), want, "{text:?}");
        }
    }
}
