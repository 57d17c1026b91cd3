//! `ponyswarm run FILE`: plan every job, run them in sandboxes, write results.json.

use super::docker::{connect, DockerArgs};
use super::CliError;
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
}

pub async fn run(args: RunArgs<'_>) -> Result<ExitCode, CliError> {
    let bad = |e: &dyn std::fmt::Display| CliError::BadInput(e.to_string());
    let selection = Selection::filters(args.filters).map_err(|e| bad(&e))?;
    let env_cap = env_cache_size(args.env_cache_size).map_err(|e| bad(&e))?;
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
