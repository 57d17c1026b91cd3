//! `--github OWNER/REPO@SHA`: commit statuses for a run, `pending` per job as it starts,
//! the job's state as it ends, and the run's summary (with links into the report when
//! `--reports-url` is given) once the report is written.
//!
//! Posting never fails the run: what did not land is printed as a note.

use super::CliError;
use ponyswarm::outcome::RunResult;
use ponyswarm::report::github::{credentials_from_env, GithubStatuses, PostFailure};
use ponyswarm::run::RunEvent;
use std::sync::Arc;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;
use url::Url;

/// GitHub options of `ponyswarm run`.
#[derive(Debug, Clone, clap::Args)]
pub struct GithubArgs {
    /// Post commit statuses to this commit (GITHUB_TOKEN, or a GitHub App: see README).
    #[arg(long, value_name = "OWNER/REPO@SHA")]
    pub github: Option<String>,
    /// The GitHub API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(
        long,
        env = "PONYSWARM_GITHUB_API",
        default_value = "https://api.github.com",
        value_name = "URL"
    )]
    pub github_api: String,
    /// Where reports are published: statuses and mail link to URL/<run id>/….
    #[arg(long, env = "PONYSWARM_REPORTS_URL", value_name = "URL")]
    pub reports_url: Option<String>,
}

/// `OWNER/REPO@SHA`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The owner (user or organisation).
    pub owner: String,
    /// The repository.
    pub repo: String,
    /// The commit.
    pub sha: String,
}

/// Splits `OWNER/REPO@SHA`; the names and SHA are checked further by the poster.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let bad = || format!("--github {text:?}: expected OWNER/REPO@SHA, e.g. pony/app@3f2a9c1");
    let (repo, sha) = text.rsplit_once('@').ok_or_else(bad)?;
    let (owner, repo) = repo.split_once('/').ok_or_else(bad)?;
    if owner.is_empty() || repo.is_empty() || sha.is_empty() || repo.contains('/') {
        return Err(bad());
    }
    Ok(Target {
        owner: owner.to_string(),
        repo: repo.to_string(),
        sha: sha.to_string(),
    })
}

/// The base URL reports are published under, checked.
pub fn reports_url(args: &GithubArgs) -> Result<Option<Url>, CliError> {
    args.reports_url
        .as_deref()
        .map(|u| {
            let mut url = Url::parse(u)
                .map_err(|e| CliError::BadInput(format!("--reports-url {u:?}: {e}")))?;
            // `join` replaces the last segment unless the path ends in a slash.
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            Ok(url)
        })
        .transpose()
}

/// A checked `--github`, ready to [`Prepared::start`].
pub struct Prepared(GithubStatuses);

impl Prepared {
    /// Checks the arguments and the token (before anything runs); `None` without
    /// `--github`.
    pub fn prepare(args: &GithubArgs) -> Result<Option<Prepared>, CliError> {
        let Some(target) = args.github.as_deref() else {
            return Ok(None);
        };
        let target = parse_target(target).map_err(CliError::BadInput)?;
        let api = Url::parse(&args.github_api)
            .map_err(|e| CliError::BadInput(format!("--github-api {:?}: {e}", args.github_api)))?;
        let credentials = credentials_from_env().map_err(|e| CliError::BadInput(e.to_string()))?;
        let statuses =
            GithubStatuses::new(&api, credentials, &target.owner, &target.repo, &target.sha)
                .map_err(|e| CliError::BadInput(e.to_string()))?;
        Ok(Some(Prepared(statuses)))
    }

    /// Starts posting: `pending` for the run of `jobs` jobs of `matrix_name`, then each
    /// event, in order, from a task of its own so a slow API never holds the run up.
    pub fn start(self, matrix_name: &str, jobs: usize) -> Reporter {
        let statuses = Arc::new(self.0);
        let (events, mut rx) = unbounded_channel::<RunEvent>();
        let poster = statuses.clone();
        let matrix_name = matrix_name.to_string();
        // One task, so a job's `pending` always precedes its end.
        let task = tokio::spawn(async move {
            let mut failures = poster.post_run_started(&matrix_name, jobs).await;
            while let Some(event) = rx.recv().await {
                failures.extend(match event {
                    RunEvent::JobStarted { name } => poster.post_job_started(&name).await,
                    RunEvent::JobFinished(outcome) => poster.post_job(&outcome, None).await,
                });
            }
            failures
        });
        Reporter {
            statuses,
            task,
            events,
        }
    }
}

/// Posts a run's statuses as its events come.
pub struct Reporter {
    statuses: Arc<GithubStatuses>,
    task: JoinHandle<Vec<PostFailure>>,
    events: UnboundedSender<RunEvent>,
}

impl Reporter {
    /// The sender to put in `RunOptions::events`.
    pub fn events(&self) -> UnboundedSender<RunEvent> {
        self.events.clone()
    }

    /// Waits for the per-job posts, then posts the final statuses: every job's again with
    /// its link and the run's when reports are published, else only the run's.
    pub async fn finish(self, result: &RunResult, reports: Option<&Url>) -> Vec<PostFailure> {
        let Reporter {
            statuses,
            task,
            events,
        } = self;
        drop(events);
        let mut failures = task.await.unwrap_or_default();
        failures.extend(match reports {
            Some(url) => statuses.post_finished(result, Some(url)).await,
            None => statuses.post_summary(result, None).await,
        });
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_owner_repo_and_sha() {
        assert_eq!(
            parse_target("pony/app@3f2a9c1"),
            Ok(Target {
                owner: "pony".into(),
                repo: "app".into(),
                sha: "3f2a9c1".into()
            })
        );
        for bad in [
            "pony/app",
            "ponyapp@3f2a",
            "/app@3f",
            "pony/@3f",
            "pony/app@",
            "a/b/c@3f",
        ] {
            let err = parse_target(bad).unwrap_err();
            assert!(err.contains("OWNER/REPO@SHA"), "{bad}: {err}");
        }
    }
}
