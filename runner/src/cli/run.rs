//! `ponyswarm run FILE`: plan every job, run them in sandboxes, write results.json.

use super::docker::{connect, DockerArgs};
use super::CliError;
use ponyswarm::matrix::Ceiling;
use ponyswarm::plan::{self, Selection};
use ponyswarm::report::github::forward::Forwarding;
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
    /// `--env-cache-size`: a size, or `off`.
    pub env_cache_size: &'a str,
    pub fail_fast: bool,
    pub docker: &'a DockerArgs,
    /// `--database` (else `PONYSWARM_DATABASE`, else the default SQLite file).
    pub database: Option<&'a str>,
    /// `--github OWNER/REPO@SHA` and friends.
    pub github: super::github::GithubArgs,
    /// `--mail-to` and friends.
    pub mail: super::mail::MailArgs,
    /// `--max-memory` and friends.
    pub maxima: MaximaArgs,
}

/// `--max-KEY`: the host's maxima for every job of the run, whatever its matrix asks
/// (`matrix::Ceiling`, one option per [`ponyswarm::matrix::CEILING_KEYS`]). Each only
/// lowers this machine's default ceiling.
///
/// ## Security
/// A matrix is the project's, and `ponyswarm run` applies its `limits:` and `timeout:`
/// on this machine. These are the machine owner's word over it: a limit above one is
/// lowered to it, and the job's log says so.
#[derive(Debug, Default, clap::Args)]
pub struct MaximaArgs {
    /// Most memory any job may take (`8g`, `512m`; at least 6m). A matrix asking more
    /// is lowered to it, and the job's log says so. Default 16g.
    #[arg(long, value_name = "SIZE", value_parser = |v: &str| maximum("memory", v))]
    pub max_memory: Option<String>,
    /// Most disk (its writable areas, held in memory) any job may take (at least 16m).
    /// Default 16g.
    #[arg(long, value_name = "SIZE", value_parser = |v: &str| maximum("disk", v))]
    pub max_disk: Option<String>,
    /// Most CPUs any job may take (`0.5`, `2`). Default: this machine's CPUs.
    #[arg(long, value_name = "N", value_parser = |v: &str| maximum("cpus", v))]
    pub max_cpus: Option<String>,
    /// Most processes any job may run at once. Default 4096.
    #[arg(long, value_name = "N", value_parser = |v: &str| maximum("pids", v))]
    pub max_pids: Option<String>,
    /// Longest any job may take (`2h`, `30m`). Default 6h.
    #[arg(long, value_name = "DURATION", value_parser = |v: &str| maximum("timeout", v))]
    pub max_timeout: Option<String>,
    /// Longest any job may print nothing before it is stopped. Default 1h.
    #[arg(long, value_name = "DURATION", value_parser = |v: &str| maximum("no-output-timeout", v))]
    pub max_no_output_timeout: Option<String>,
    /// Most log kept of any job (at least 1k). Default 64m.
    #[arg(long, value_name = "SIZE", value_parser = |v: &str| maximum("log-size", v))]
    pub max_log_size: Option<String>,
    /// Largest wheelhouse any job may fill (at least 16m; held in memory while it
    /// fills). Default 16g.
    #[arg(long, value_name = "SIZE", value_parser = |v: &str| maximum("wheelhouse", v))]
    pub max_wheelhouse: Option<String>,
}

impl MaximaArgs {
    /// This machine's ceiling lowered by the options given.
    pub fn ceiling(&self) -> Result<Ceiling, String> {
        let mut ceiling = Ceiling::for_this_machine();
        let given = [
            ("memory", &self.max_memory),
            ("disk", &self.max_disk),
            ("cpus", &self.max_cpus),
            ("pids", &self.max_pids),
            ("timeout", &self.max_timeout),
            ("no-output-timeout", &self.max_no_output_timeout),
            ("log-size", &self.max_log_size),
            ("wheelhouse", &self.max_wheelhouse),
        ];
        for (key, value) in given {
            if let Some(value) = value {
                ceiling
                    .lower(key, value)
                    .map_err(|what| format!("--max-{key} must be {what}"))?;
            }
        }
        Ok(ceiling)
    }
}

/// Checks `value` as the maximum `key` (clap's parser of `--max-KEY`).
fn maximum(key: &str, value: &str) -> Result<String, String> {
    Ceiling::fixed()
        .lower(key, value)
        .map_err(|what| format!("must be {what}"))?;
    Ok(value.to_string())
}

pub async fn run(args: RunArgs<'_>) -> Result<ExitCode, CliError> {
    let bad = |e: &dyn std::fmt::Display| CliError::BadInput(e.to_string());
    let selection = Selection::filters(args.filters).map_err(|e| bad(&e))?;
    let env_cap = env_cache_size(args.env_cache_size).map_err(|e| bad(&e))?;
    let ceiling = args.maxima.ceiling().map_err(|e| bad(&e))?;
    let plan::Plans { spec, jobs: plans } =
        plan::from_file(args.file, &selection).map_err(|e| bad(&e))?;

    let reports_url = super::github::reports_url(&args.github)?;
    let github = super::github::forwarder(&args.github)?;

    let store = ponyswarm::store::Store::open_default(args.database)
        .await
        .map_err(|e| CliError::Infra(format!("cannot open the results store: {e}")))?;
    let docker = connect().await?;
    let egress = args.docker.egress()?;
    let mut opts = RunOptions::new(PathBuf::new());
    opts.report_dir = args
        .report_dir
        .unwrap_or_else(|| PathBuf::from(".ponyswarm/runs").join(&opts.run_id));
    opts.jobs = args.jobs;
    opts.fail_fast = args.fail_fast.then_some(true);
    opts.images = args.docker.image_options(egress.clone());
    // A CPython no Debian suite ships must be pulled: say so before any job starts.
    ponyswarm::pythons::check(&docker, &plans, &opts.images)
        .await
        .map_err(|e| bad(&e))?;
    opts.egress = egress;
    opts.output = OutputMode::auto(args.quiet);
    opts.store = Some(store.clone());
    opts.env_cap = env_cap;
    opts.ceiling = ceiling;
    let github = github.map(|g| g.start(&spec.name, plans.len()));
    opts.events = github.as_ref().map(Forwarding::events);

    // Ctrl-C or SIGTERM cancels the run, which removes its containers before
    // returning; a second Ctrl-C means "now" and exits at once (`ponyswarm clean`, or
    // the next run, removes what is left).
    let cancel = opts.cancel.clone();
    tokio::spawn(async move {
        super::stop_signal().await;
        eprintln!("interrupted: cancelling the run and removing its containers (Ctrl-C again to quit now)…");
        cancel.cancel();
        super::stop_signal().await;
        eprintln!("quitting now: `ponyswarm clean` removes what is left");
        std::process::exit(130);
    });

    let report_dir = opts.report_dir.clone();
    let result = run::run(&docker, &spec, plans, opts)
        .await
        .map_err(|e| CliError::Infra(e.to_string()))?;
    println!("results: {}", report_dir.join("results.json").display());
    let index = super::report::html_beside_results(Some(&store), &result, &report_dir).await?;
    println!("report: {}", index.display());
    if let Some(note) =
        super::mail::after_run(&args.mail, Some(&store), &result, reports_url.as_ref()).await
    {
        println!("{note}");
    }
    if let Some(github) = github {
        let failures = github.finish(&result, reports_url.as_ref()).await;
        if failures.is_empty() {
            println!("github: commit statuses posted");
        }
        for failure in failures {
            eprintln!("ponyswarm: {failure}");
        }
    }
    Ok(ExitCode::from(result.run.exit_code.clamp(0, 255) as u8))
}

/// The environment images' size cap `--env-cache-size` asks for: bytes, or `None` for
/// `off`.
fn env_cache_size(text: &str) -> Result<Option<u64>, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    ponyswarm::matrix::parse_size(text)
        .map(Some)
        .ok_or_else(|| {
            format!("--env-cache-size {text:?}: not a size (like 20g or 512m) nor `off`")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_cache_size_reads_sizes_and_off() {
        let cases: &[(&str, Option<Option<u64>>)] = &[
            ("20g", Some(Some(20 << 30))),
            ("512m", Some(Some(512 << 20))),
            ("OFF", Some(None)),
            ("twenty", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(env_cache_size(text).ok(), *want, "{text}");
        }
    }
}
