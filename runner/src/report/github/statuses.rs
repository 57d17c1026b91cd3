//! Which commit statuses a run posts: one per job (`ponyswarm/<job name>`) and one for the
//! run (`ponyswarm/<matrix name>`), with GitHub's length limits applied.
//!
//! Pure: outcomes in, [`CommitStatus`]es out. Posting them is [`super::poster`]'s job.

use crate::outcome::{JobOutcome, RunResult, Status};
use crate::report::pages::{job_files, STATUS_ORDER};
use crate::shorten::shorten;
use serde::Serialize;
use url::Url;

/// GitHub rejects a context longer than this (in characters).
pub const MAX_CONTEXT: usize = 255;
/// GitHub rejects a description longer than this (in characters).
pub const MAX_DESCRIPTION: usize = 140;

/// The state of a commit status, as GitHub names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The job (or run) is under way.
    Pending,
    /// Passed, or failed where failure is allowed.
    Success,
    /// The project's fault: tests failed, install failed, a limit or timeout tripped.
    Failure,
    /// ponyswarm or Docker could not do its part.
    Error,
}

impl State {
    /// The name GitHub uses: `pending`, `success`, `failure`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Success => "success",
            State::Failure => "failure",
            State::Error => "error",
        }
    }

    /// The state GitHub names `name`.
    pub fn parse(name: &str) -> Option<State> {
        [State::Pending, State::Success, State::Failure, State::Error]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One commit status, shaped like the body of `POST /repos/{owner}/{repo}/statuses/{sha}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitStatus {
    /// `pending`, `success`, `failure` or `error`.
    pub state: State,
    /// What GitHub groups statuses by: `ponyswarm/<job name>`; at most [`MAX_CONTEXT`].
    pub context: String,
    /// A short line for people; at most [`MAX_DESCRIPTION`].
    pub description: String,
    /// The job's (or run's) report page, when a base URL for reports is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
}

/// The context of a job's status: `ponyswarm/<job name>`, the job name already being
/// `<matrix name> (v1, v2, …)`.
pub fn job_context(job_name: &str) -> String {
    shorten(&format!("ponyswarm/{job_name}"), MAX_CONTEXT)
}

/// The context of the run's status: `ponyswarm/<matrix name>`.
pub fn run_context(matrix_name: &str) -> String {
    shorten(&format!("ponyswarm/{matrix_name}"), MAX_CONTEXT)
}

/// The status of a job that has just started. It carries no link: the report is written
/// when the run finishes, and a link to a page not written yet would be a dead end.
pub fn job_started(job_name: &str) -> CommitStatus {
    CommitStatus {
        state: State::Pending,
        context: job_context(job_name),
        description: "running".to_string(),
        target_url: None,
    }
}

/// The run's status while its `jobs` jobs run.
pub fn run_started(matrix_name: &str, jobs: usize) -> CommitStatus {
    let plural = if jobs == 1 { "" } else { "s" };
    CommitStatus {
        state: State::Pending,
        context: run_context(matrix_name),
        description: format!("running {jobs} job{plural}"),
        target_url: None,
    }
}

/// The final statuses of a finished run: one per job in expansion order, then the run's.
/// Links point into `<reports>/<run id>/` when `reports` is given.
pub fn statuses_for(result: &RunResult, reports: Option<&Url>) -> Vec<CommitStatus> {
    let base = reports.map(|url| run_url(url, &result.run.id));
    let mut out: Vec<CommitStatus> = job_files(result)
        .iter()
        .zip(&result.jobs)
        .map(|(file, job)| job_finished(job, base.as_ref().map(|b| format!("{b}/{file}"))))
        .collect();
    out.push(run_finished(
        result,
        base.as_ref().map(|b| format!("{b}/index.html")),
    ));
    out
}

/// The final status of one job, linking to `target_url`.
pub fn job_finished(job: &JobOutcome, target_url: Option<String>) -> CommitStatus {
    let state = if job.allowed_failure {
        State::Success
    } else {
        state_of(job.status)
    };
    let mut description = what_happened(job);
    if job.allowed_failure && job.status != Status::Passed {
        // In front, so truncation never cuts the reason the state is green.
        description = format!("allowed to fail: {description}");
    }
    CommitStatus {
        state,
        context: job_context(&job.name),
        description: shorten(&description, MAX_DESCRIPTION),
        target_url,
    }
}

/// The run's final status: its state, and how many jobs ended how.
pub fn run_finished(result: &RunResult, target_url: Option<String>) -> CommitStatus {
    let jobs = &result.jobs;
    let mut parts = Vec::new();
    for status in STATUS_ORDER {
        let n = jobs
            .iter()
            .filter(|j| j.status == status && !j.allowed_failure)
            .count();
        if n > 0 {
            parts.push(format!("{n} {}", words(status)));
        }
    }
    let allowed = jobs
        .iter()
        .filter(|j| j.allowed_failure && j.status != Status::Passed)
        .count();
    if allowed > 0 {
        parts.push(format!("{allowed} allowed to fail"));
    }
    let plural = if jobs.len() == 1 { "" } else { "s" };
    let description = format!("{} job{plural}: {}", jobs.len(), parts.join(", "));
    CommitStatus {
        state: state_of(result.run.status),
        context: run_context(&result.run.name),
        description: shorten(description.trim_end_matches(": "), MAX_DESCRIPTION),
        target_url,
    }
}

/// `success` for passed, `error` when ponyswarm or Docker failed, `failure` otherwise.
fn state_of(status: Status) -> State {
    match status {
        Status::Passed => State::Success,
        Status::Error => State::Error,
        _ => State::Failure,
    }
}

/// A status as words in a sentence.
fn words(status: Status) -> &'static str {
    match status {
        Status::InstallFailed => "install failed",
        Status::NoTests => "no tests",
        Status::Timeout => "timed out",
        Status::LimitExceeded => "limit exceeded",
        other => other.as_str(),
    }
}

/// Test counts when known (`12 passed, 1 failed, 2 skipped`); otherwise, or when the
/// status says more than counts do, the status and its detail.
fn what_happened(job: &JobOutcome) -> String {
    let counts = job.tests.map(|t| {
        let mut parts = vec![format!("{} passed", t.passed)];
        let errors = if t.errors == 1 { "error" } else { "errors" };
        for (n, what) in [
            (t.failed, "failed"),
            (t.errors, errors),
            (t.skipped, "skipped"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        parts.join(", ")
    });
    let plain = matches!(job.status, Status::Passed | Status::Failed);
    match (counts, &job.detail) {
        (Some(counts), None) if plain => counts,
        (Some(counts), Some(detail)) if plain => format!("{counts}: {detail}"),
        // Some details already name the status (`cancelled: fail-fast`): say it once.
        (_, Some(detail)) if detail.starts_with(words(job.status)) => detail.clone(),
        (_, Some(detail)) => format!("{}: {detail}", words(job.status)),
        (_, None) => words(job.status).to_string(),
    }
}

/// `<base>/<run id>`, without a doubled slash whether or not `base` ends in one.
fn run_url(base: &Url, run_id: &str) -> String {
    format!("{}/{run_id}", base.as_str().trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testresults::Counts;
    use std::time::UNIX_EPOCH;
    use Status as S;

    fn job(
        status: Status,
        allowed: bool,
        tests: Option<(u32, u32, u32)>,
        detail: &str,
    ) -> JobOutcome {
        let mut job = JobOutcome::new("demo (3.12, pg)", Default::default(), status);
        job.allowed_failure = allowed;
        job.tests = tests.map(|(passed, failed, skipped)| Counts {
            passed,
            failed,
            skipped,
            errors: 0,
        });
        job.detail = (!detail.is_empty()).then(|| detail.to_string());
        job
    }

    #[test]
    fn job_states_and_descriptions() {
        use State::*;
        let cases = [
            (
                job(S::Passed, false, Some((12, 0, 2)), ""),
                Success,
                "12 passed, 2 skipped",
            ),
            (job(S::Passed, false, None, ""), Success, "passed"),
            (
                job(S::Failed, false, Some((12, 1, 2)), ""),
                Failure,
                "12 passed, 1 failed, 2 skipped",
            ),
            (
                job(S::Failed, false, None, "exit 2"),
                Failure,
                "failed: exit 2",
            ),
            (
                job(S::Failed, true, Some((3, 1, 0)), ""),
                Success,
                "allowed to fail: 3 passed, 1 failed",
            ),
            (
                job(S::InstallFailed, false, None, ""),
                Failure,
                "install failed",
            ),
            (
                job(S::NoTests, false, Some((0, 0, 0)), ""),
                Failure,
                "no tests",
            ),
            (
                job(S::Timeout, false, None, "no output for 10m"),
                Failure,
                "timed out: no output for 10m",
            ),
            (
                job(S::LimitExceeded, false, None, "killed: out of memory"),
                Failure,
                "limit exceeded: killed: out of memory",
            ),
            (
                job(S::Cancelled, false, None, "cancelled: fail-fast"),
                Failure,
                "cancelled: fail-fast",
            ),
            (
                job(S::Error, false, None, "service pg never became healthy"),
                Error,
                "error: service pg never became healthy",
            ),
            (
                job(S::Error, true, None, "engine gone"),
                Success,
                "allowed to fail: error: engine gone",
            ),
        ];
        for (job, state, description) in cases {
            let status = job_finished(&job, None);
            assert_eq!(status.state, state, "{description}");
            assert_eq!(status.description, description);
            assert_eq!(status.context, "ponyswarm/demo (3.12, pg)");
            assert_eq!(status.target_url, None);
        }
    }

    #[test]
    fn errored_tests_are_counted() {
        let mut failed = job(S::Failed, false, Some((4, 0, 0)), "");
        let with_errors = |failed: &mut JobOutcome, errors| {
            failed.tests = failed.tests.map(|t| Counts { errors, ..t });
            job_finished(failed, None).description
        };
        assert_eq!(with_errors(&mut failed, 1), "4 passed, 1 error");
        assert_eq!(with_errors(&mut failed, 3), "4 passed, 3 errors");
    }

    #[test]
    fn long_texts_are_cut_to_githubs_limits() {
        let mut long = job(S::Error, true, None, &"é".repeat(300));
        long.name = "x".repeat(400);
        let status = job_finished(&long, None);
        assert_eq!(status.context.chars().count(), MAX_CONTEXT);
        assert!(status.context.starts_with("ponyswarm/xxx") && status.context.ends_with('…'));
        assert_eq!(status.description.chars().count(), MAX_DESCRIPTION);
        assert!(status.description.starts_with("allowed to fail: error: éé"));
        assert_eq!(shorten("short", 140), "short");
    }

    fn run(jobs: Vec<JobOutcome>) -> RunResult {
        let mut run = RunResult::new("r7".into(), "demo".into(), "m.yaml".into(), UNIX_EPOCH);
        run.jobs = jobs;
        run.finish(UNIX_EPOCH);
        run
    }

    #[test]
    fn run_statuses_link_to_job_pages_and_summarise() {
        let mut other = job(S::Failed, false, Some((1, 2, 0)), "");
        other.name = "demo (3.13, pg)".into();
        let r = run(vec![job(S::Passed, false, Some((5, 0, 0)), ""), other]);
        let base = Url::parse("https://ci.example.org/reports/").ok();
        let statuses = statuses_for(&r, base.as_ref());
        let urls: Vec<_> = statuses.iter().map(|s| s.target_url.as_deref()).collect();
        assert_eq!(
            urls,
            [
                Some("https://ci.example.org/reports/r7/jobs/001-demo-3.12-pg.html"),
                Some("https://ci.example.org/reports/r7/jobs/002-demo-3.13-pg.html"),
                Some("https://ci.example.org/reports/r7/index.html"),
            ]
        );
        let summary = &statuses[2];
        assert_eq!(summary.context, "ponyswarm/demo");
        assert_eq!(summary.state, State::Failure);
        assert_eq!(summary.description, "2 jobs: 1 passed, 1 failed");
        assert!(statuses_for(&r, None)
            .iter()
            .all(|s| s.target_url.is_none()));
    }

    #[test]
    fn run_summaries() {
        let cases = [
            (
                vec![job(S::Passed, false, None, "")],
                State::Success,
                "1 job: 1 passed",
            ),
            (
                vec![
                    job(S::Passed, false, None, ""),
                    job(S::Timeout, true, None, ""),
                ],
                State::Success,
                "2 jobs: 1 passed, 1 allowed to fail",
            ),
            (
                vec![
                    job(S::Error, false, None, ""),
                    job(S::Passed, false, None, ""),
                ],
                State::Error,
                "2 jobs: 1 passed, 1 error",
            ),
            (vec![], State::Success, "0 jobs"),
        ];
        for (jobs, state, description) in cases {
            let status = run_finished(&run(jobs), None);
            assert_eq!(
                (status.state, status.description.as_str()),
                (state, description)
            );
        }
    }

    #[test]
    fn started_statuses_are_pending_without_links() {
        assert_eq!(
            job_started("demo (3.12)"),
            CommitStatus {
                state: State::Pending,
                context: "ponyswarm/demo (3.12)".into(),
                description: "running".into(),
                target_url: None,
            }
        );
        assert_eq!(run_started("demo", 1).description, "running 1 job");
        assert_eq!(run_started("demo", 4).context, "ponyswarm/demo");
    }
}
