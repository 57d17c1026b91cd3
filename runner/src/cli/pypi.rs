//! `ponyswarm pypi test` and `ponyswarm pypi watch`: resolve a release on an index,
//! download and verify its files, install and test it in the sandbox, score it, and
//! write its report (JSON and HTML) and save it in the store. `watch` does the same
//! for every new upload the index announces.

use super::docker::DockerArgs;
use super::Failure;
use bollard::Docker;
use ponyswarm::pypi::index::{Index, IndexError};
use ponyswarm::pypi::report::{self, ReleaseReport};
use ponyswarm::pypi::sandbox::{self, SandboxOptions};
use ponyswarm::pypi::watch::{self, Announced, Processed, Start, WatchOptions};
use ponyswarm::pypi::{quality, DistFile, Requirement};
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
}

/// Runs a `pypi` command.
pub async fn pypi(command: PypiCommand, docker: &DockerArgs) -> Result<ExitCode, Failure> {
    match command {
        PypiCommand::Test(args) => test(args, docker).await,
        PypiCommand::Watch(args) => watch_index(args, docker).await,
    }
}

/// What testing a release needs, made once.
struct Tester {
    index: Index,
    docker: Docker,
    store: Store,
    sandbox: SandboxOptions,
    report_root: PathBuf,
}

impl Tester {
    async fn new(
        args: &TestingArgs,
        docker_args: &DockerArgs,
        output: OutputMode,
    ) -> Result<Tester, Failure> {
        let egress = docker_args.egress()?;
        let client =
            ponyswarm::http::client(&egress).map_err(|e| Failure::BadInput(e.to_string()))?;
        let index =
            Index::new(&args.index, client).map_err(|e| Failure::BadInput(e.to_string()))?;
        let store = Store::open_default(args.database.as_deref())
            .await
            .map_err(|e| Failure::Infra(e.to_string()))?;
        let docker = super::docker::connect().await?;
        let report_root = args
            .report_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".ponyswarm/pypi"));
        let mut sandbox = SandboxOptions::new(report_root.join(".work"));
        sandbox.pythons = args.pythons.clone();
        sandbox.images = docker_args.image_options(egress.clone());
        sandbox.egress = egress;
        sandbox.timeout = args.timeout;
        sandbox.jobs = args.jobs.map(usize::from);
        sandbox.output = output;
        // PyPI itself is where dependencies come from anyway; another index (a local
        // one in the tests, a private one) is added, as containers reach it.
        if index.url().as_str().trim_end_matches('/') != PYPI {
            sandbox.extra_index =
                Some(sandbox::container_index_url(&docker, index.url().as_str()).await);
        }
        Ok(Tester {
            index,
            docker,
            store,
            sandbox,
            report_root,
        })
    }

    /// Resolves, downloads, tests, scores, writes and saves one release. Returns the
    /// report and the HTML page's path.
    async fn test(
        &self,
        req: &Requirement,
        cancel: CancellationToken,
    ) -> Result<(ReleaseReport, PathBuf), Failure> {
        let release = self.index.resolve(req).await.map_err(index_failure)?;
        let dir = self
            .report_root
            .join(format!("{}-{}", release.name, safe(&release.version)));
        let downloads = dir.join("files");
        std::fs::create_dir_all(&downloads)
            .map_err(|e| Failure::Infra(format!("cannot create {}: {e}", downloads.display())))?;
        let mut files: Vec<(DistFile, PathBuf)> = Vec::new();
        for file in &release.files {
            let path = self
                .index
                .download(file, &downloads)
                .await
                .map_err(index_failure)?;
            files.push((file.clone(), path));
        }
        let mut opts = self.sandbox.clone();
        opts.cancel = cancel;
        let tested = sandbox::test_release(&self.docker, &release, &files, &opts).await;
        // The files were only needed for the test; the report names them and their hashes.
        let _ = std::fs::remove_dir_all(&downloads);
        let mut report = tested.map_err(|e| Failure::Infra(e.to_string()))?;
        if report.facts.description_renders.is_none() {
            report.facts.description_renders = quality::renders_without_checking(&report.metadata);
        }
        let score = quality::score(&report.metadata, &report.facts);
        report.score = Some(score.clone());
        let (json, html) =
            report::write(&report, &dir).map_err(|e| Failure::Infra(e.to_string()))?;
        let text = std::fs::read_to_string(&json)
            .map_err(|e| Failure::Infra(format!("cannot read back {}: {e}", json.display())))?;
        self.store
            .save_release_report(&report.name, &report.version, &text, Some(&score))
            .await
            .map_err(|e| Failure::Infra(e.to_string()))?;
        Ok((report, html))
    }
}

/// `pypi test`: exit 0 when every install worked and no test failed, 1 otherwise.
async fn test(args: TestArgs, docker: &DockerArgs) -> Result<ExitCode, Failure> {
    let req: Requirement = args
        .release
        .parse()
        .map_err(|e: IndexError| Failure::BadInput(e.to_string()))?;
    let tester = Tester::new(&args.testing, docker, OutputMode::Quiet).await?;
    let cancel = CancellationToken::new();
    let stopper = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            super::stop_signal().await;
            cancel.cancel();
        }
    });
    let result = tester.test(&req, cancel).await;
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
    println!("report: {}", html.display());
}

/// `pypi watch`: runs until Ctrl-C or SIGTERM.
async fn watch_index(args: WatchArgs, docker: &DockerArgs) -> Result<ExitCode, Failure> {
    let mut filters = Vec::new();
    for f in &args.filter {
        let pattern = glob::Pattern::new(f)
            .map_err(|e| Failure::BadInput(format!("--filter {f:?} is not a glob: {e}")))?;
        filters.push(pattern);
    }
    let opts = WatchOptions {
        poll_interval: args.poll_interval,
        filters,
        jobs: usize::from(args.releases),
        start: args.since_serial.map_or(Start::Latest, Start::Serial),
        ..WatchOptions::default()
    };
    let tester = Arc::new(Tester::new(&args.testing, docker, OutputMode::Silent).await?);
    let cancel = CancellationToken::new();
    let stopper = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            super::stop_signal().await;
            eprintln!("stopping: waiting for the releases being tested");
            cancel.cancel();
        }
    });
    println!("watching {}", tester.index.url());
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
    result.map_err(|e| Failure::Infra(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

async fn process(tester: &Tester, job: Announced, cancel: CancellationToken) -> Processed {
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
        Err(Failure::BadInput(why) | Failure::Infra(why)) => {
            eprintln!("{} {}: {why}", job.name, job.version);
            Processed::Failed(why)
        }
    }
}

/// Whether the index or the user is at fault: a missing project is bad input.
fn index_failure(e: IndexError) -> Failure {
    match e {
        IndexError::NotFound { .. }
        | IndexError::BadRequirement(_)
        | IndexError::NoFiles { .. } => Failure::BadInput(e.to_string()),
        _ => Failure::Infra(e.to_string()),
    }
}

/// A version as a directory name: anything but `[A-Za-z0-9._+-]` becomes `_`.
fn safe(version: &str) -> String {
    let cleaned: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned.trim_start_matches('.').to_string()
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

    #[test]
    fn versions_become_safe_directory_names() {
        for (version, want) in [
            ("1.0", "1.0"),
            ("1.0+local", "1.0+local"),
            ("../x", "_x"),
            ("a/b", "a_b"),
        ] {
            assert_eq!(safe(version), want, "{version}");
        }
    }
}
