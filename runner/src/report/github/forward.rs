//! Forwarding a run's events to GitHub as they happen: `pending` for the run and for
//! each job as it starts, the job's state as it ends, then the run's summary (with
//! links into the report when reports are published) once the report is written.
//! What `ponyswarm run --github OWNER/REPO@SHA` does.
//!
//! Posting never fails the run: what did not land comes back as [`PostFailure`]s.

use super::{credentials_from_env, GithubError, GithubStatuses, PostFailure};
use crate::outcome::RunResult;
use crate::run::RunEvent;
use std::sync::Arc;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;
use url::Url;

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

/// Why statuses cannot be posted at all (checked before anything runs).
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The target is not `OWNER/REPO@SHA`.
    #[error("--github {0:?}: expected OWNER/REPO@SHA, e.g. pony/app@3f2a9c1")]
    BadTarget(String),
    /// The API base URL does not parse.
    #[error("--github-api {url:?}: {reason}")]
    BadApi {
        /// As given.
        url: String,
        /// Why not.
        reason: String,
    },
    /// No usable credentials, or the poster refused the target.
    #[error(transparent)]
    Github(#[from] GithubError),
}

/// Splits `OWNER/REPO@SHA`; the names and SHA are checked further by the poster.
pub fn parse_target(text: &str) -> Result<Target, ForwardError> {
    let bad = || ForwardError::BadTarget(text.to_string());
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

/// A checked target with credentials, ready to [`Forwarder::start`].
pub struct Forwarder(GithubStatuses);

impl Forwarder {
    /// Checks `target` (`OWNER/REPO@SHA`), the API base URL `api` and the credentials
    /// in the environment, before anything runs.
    pub fn new(target: &str, api: &str) -> Result<Forwarder, ForwardError> {
        let target = parse_target(target)?;
        let api = Url::parse(api).map_err(|e| ForwardError::BadApi {
            url: api.to_string(),
            reason: e.to_string(),
        })?;
        let credentials = credentials_from_env()?;
        let statuses =
            GithubStatuses::new(&api, credentials, &target.owner, &target.repo, &target.sha)?;
        Ok(Forwarder(statuses))
    }

    /// Starts posting: `pending` for the run of `jobs` jobs of `matrix_name`, then each
    /// event, in order, from a task of its own so a slow API never holds the run up.
    pub fn start(self, matrix_name: &str, jobs: usize) -> Forwarding {
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
        Forwarding {
            statuses,
            task,
            events,
        }
    }
}

/// A run's statuses being posted as its events come.
pub struct Forwarding {
    statuses: Arc<GithubStatuses>,
    task: JoinHandle<Vec<PostFailure>>,
    events: UnboundedSender<RunEvent>,
}

impl Forwarding {
    /// The sender to put in `RunOptions::events`.
    pub fn events(&self) -> UnboundedSender<RunEvent> {
        self.events.clone()
    }

    /// Waits for the per-job posts, then posts the final statuses: every job's again with
    /// its link and the run's when reports are published, else only the run's.
    pub async fn finish(self, result: &RunResult, reports: Option<&Url>) -> Vec<PostFailure> {
        let Forwarding {
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
            parse_target("pony/app@3f2a9c1").ok(),
            Some(Target {
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
            let err = parse_target(bad).unwrap_err().to_string();
            assert!(err.contains("OWNER/REPO@SHA"), "{bad}: {err}");
        }
    }
}
