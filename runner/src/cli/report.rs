//! `ponyswarm report RUN [--html DIR] [--json] [--junit FILE]` and `ponyswarm runs`:
//! reports of recorded runs, from the store or from a results.json.
//!
//! RUN is a run id in the store, `latest`, or a path to a results.json (or the run
//! directory holding one), such as a CI artifact. Without `--html`, `--json` or
//! `--junit`, a summary is printed.

use super::CliError;
use ponyswarm::outcome::RunResult;
use ponyswarm::report::{self, compare::compare, results, text};
use ponyswarm::store::{previous_run_of, resolve_url, Store, StoreError, DEFAULT_URL, ENV_VAR};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `ponyswarm report` was asked.
pub struct ReportArgs<'a> {
    /// A run id, `latest`, or a results.json path.
    pub run: &'a str,
    /// Write the HTML report into this directory.
    pub html: Option<&'a Path>,
    /// Print results.json to stdout.
    pub json: bool,
    /// Write merged JUnit XML to this file.
    pub junit: Option<&'a Path>,
    /// `--database` (else `PONYSWARM_DATABASE`, else the default SQLite file).
    pub database: Option<&'a str>,
}

/// `ponyswarm report`.
pub async fn report(args: ReportArgs<'_>) -> Result<ExitCode, CliError> {
    let (result, store) = load(args.run, args.database).await?;
    let previous = previous_run_of(store.as_ref(), &result)
        .await
        .map_err(infra)?;
    let mut wrote_something = false;
    if let Some(dir) = args.html {
        let site = report::write_html(&result, previous.as_ref(), dir)
            .map_err(|e| CliError::Infra(format!("cannot write the HTML report: {e}")))?;
        eprintln!("report: {}", site.index.display());
        wrote_something = true;
    }
    if let Some(file) = args.junit {
        std::fs::write(file, report::junit::merged(&result))
            .map_err(|e| CliError::Infra(format!("cannot write {}: {e}", file.display())))?;
        eprintln!("junit: {}", file.display());
        wrote_something = true;
    }
    if args.json {
        let json = serde_json::to_string_pretty(&result)
            .map_err(|e| CliError::Infra(format!("cannot serialize the run: {e}")))?;
        println!("{json}");
    } else if !wrote_something {
        let comparison = previous.as_ref().map(|p| compare(&result, p));
        print!("{}", text::summary(&result, comparison.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

/// `ponyswarm runs [--limit N] [--json]`: the most recent runs, newest first.
pub async fn runs(limit: usize, json: bool, database: Option<&str>) -> Result<ExitCode, CliError> {
    let store = open(database).await?;
    let runs = store.list_runs(limit).await.map_err(infra)?;
    if json {
        let lines: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "run": r.info,
                    "interrupted": r.interrupted,
                    "jobs": r.jobs,
                    "by_status": r.by_status,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(lines));
    } else if runs.is_empty() {
        eprintln!("no runs recorded yet");
    } else {
        print!("{}", text::runs_table(&runs));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the HTML report of a run that just ended into `dir`, beside its results.json,
/// compared with the previous run of the same matrix when a store is given. For `ponyswarm
/// run`, after `Store::finish_run`.
pub async fn html_beside_results(
    store: Option<&Store>,
    result: &RunResult,
    dir: &Path,
) -> Result<PathBuf, CliError> {
    let previous = previous_run_of(store, result).await.map_err(infra)?;
    let site = report::write_html(result, previous.as_ref(), dir)
        .map_err(|e| CliError::Infra(format!("cannot write the HTML report: {e}")))?;
    Ok(site.index)
}

/// The run RUN names, and the store when one was opened. A results.json path is read
/// without a store unless one is configured (or the default file exists): reporting a CI
/// artifact must not create a database.
async fn load(run: &str, database: Option<&str>) -> Result<(RunResult, Option<Store>), CliError> {
    let path = Path::new(run);
    if path.exists() {
        let result = results::load(path).map_err(|e| CliError::BadInput(e.to_string()))?;
        let store = if store_configured(database) {
            Some(open(database).await?)
        } else {
            None
        };
        return Ok((result, store));
    }
    let store = open(database).await?;
    let id = if run == "latest" {
        let newest = store.list_runs(1).await.map_err(infra)?;
        match newest.into_iter().next() {
            Some(r) => r.info.id,
            None => return Err(CliError::BadInput("no runs recorded yet".into())),
        }
    } else {
        run.to_string()
    };
    match store.load_run(&id).await {
        Ok(result) => Ok((result, Some(store))),
        Err(StoreError::NoSuchRun(id)) => Err(CliError::BadInput(format!(
            "no run {id} in the store, and no file of that name (see `ponyswarm runs`)"
        ))),
        Err(e) => Err(infra(e)),
    }
}

/// Whether a store was asked for, or the default one exists.
fn store_configured(database: Option<&str>) -> bool {
    let env = std::env::var(ENV_VAR).ok();
    let url = resolve_url(database, env.as_deref());
    url != DEFAULT_URL || Path::new(DEFAULT_URL.trim_start_matches("sqlite://")).exists()
}

async fn open(database: Option<&str>) -> Result<Store, CliError> {
    Store::open_default(database).await.map_err(|e| match e {
        StoreError::UnsupportedUrl(_) => CliError::BadInput(e.to_string()),
        e => infra(e),
    })
}

fn infra(e: StoreError) -> CliError {
    CliError::Infra(e.to_string())
}
