//! What the mail says, as data for its templates (`templates/mail.txt.hbs` and
//! `templates/mail.html.hbs`): the run, its counts, the jobs that did not pass with their
//! first failure, what changed since the previous run, and links when reports are
//! published at a URL.
//!
//! Pure: a run (and the comparison with the previous one) in, a view out.

use crate::outcome::{RunResult, Status};
use crate::report::compare::{Comparison, TestChange};
use crate::report::pages::job_files;
use crate::shorten::shorten;
use serde::Serialize;
use url::Url;

/// Jobs listed in the mail; the rest are counted ("and 12 more"): a mail is a summary,
/// the report has everything.
pub const MAX_JOBS: usize = 20;
/// Tests listed per kind of change, likewise.
pub const MAX_TESTS: usize = 20;
/// Characters of a failure's message kept in the mail.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// The templates' data.
#[derive(Debug, Clone, Serialize)]
pub struct MailView {
    /// The matrix's name.
    pub name: String,
    /// The run's id.
    pub run_id: String,
    /// The run's status (`passed`, `failed`, `error`, …).
    pub status: String,
    /// Whether the run passed (for colouring).
    pub passed: bool,
    /// The matrix file.
    pub matrix_file: String,
    /// RFC 3339.
    pub started: String,
    /// RFC 3339, empty when unknown.
    pub finished: String,
    /// `12 jobs: 10 passed, 2 failed`.
    pub jobs_line: String,
    /// `340 tests: 330 passed, 4 failed, 6 skipped`, empty when no counts are known.
    pub tests_line: String,
    /// Jobs that did not pass, at most [`MAX_JOBS`].
    pub failing: Vec<FailingJob>,
    /// Failing jobs not listed.
    pub failing_more: usize,
    /// What changed since the previous run; `None` for a first run.
    pub changes: Option<Changes>,
    /// The run's report, when reports are published.
    pub report_url: Option<String>,
}

/// A job that did not pass.
#[derive(Debug, Clone, Serialize)]
pub struct FailingJob {
    /// The job's name.
    pub name: String,
    /// Its status.
    pub status: String,
    /// Whether `allow-failure` excuses it.
    pub allowed: bool,
    /// Why, when the status alone does not say.
    pub detail: Option<String>,
    /// The first failing test, if any.
    pub first_failure: Option<String>,
    /// Its message, cut to [`MAX_MESSAGE_CHARS`].
    pub message: Option<String>,
    /// The same, line by line (the text mail indents them).
    pub message_lines: Vec<String>,
    /// Other failing tests in the job.
    pub more_failures: usize,
    /// The job's page, when reports are published.
    pub url: Option<String>,
}

/// Differences from the previous run.
#[derive(Debug, Clone, Serialize)]
pub struct Changes {
    /// The previous run's id.
    pub previous: String,
    /// Whether nothing changed.
    pub none: bool,
    /// Tests that newly fail.
    pub new_failures: TestList,
    /// Tests fixed.
    pub fixed: TestList,
    /// Tests failing in both.
    pub still_failing: TestList,
    /// `py3.12: passed → failed`.
    pub status_changes: Vec<String>,
}

/// A capped list of tests, each with the jobs it changed in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TestList {
    /// `tests/test_x.py::test_y (m (3.12), m (3.13))`.
    pub items: Vec<String>,
    /// Tests not listed.
    pub more: usize,
    /// All of them.
    pub total: usize,
}

/// The view of `result`, with `comparison` against the previous run when there is one
/// and links under `<reports>/<run id>/` when `reports` is given.
pub fn build(
    result: &RunResult,
    comparison: Option<&Comparison>,
    reports: Option<&Url>,
) -> MailView {
    let base =
        reports.map(|url| format!("{}/{}", url.as_str().trim_end_matches('/'), result.run.id));
    let files = job_files(result);
    let failing: Vec<FailingJob> = result
        .jobs
        .iter()
        .zip(&files)
        .filter(|(job, _)| job.status != Status::Passed)
        .map(|(job, file)| {
            let message = job
                .failures
                .first()
                .map(|f| shorten(f.message.trim(), MAX_MESSAGE_CHARS))
                .filter(|m| !m.is_empty());
            FailingJob {
                name: job.name.clone(),
                status: job.status.as_str().to_string(),
                allowed: job.allowed_failure,
                detail: job.detail.clone(),
                first_failure: job.failures.first().map(|f| f.test.clone()),
                message_lines: message
                    .iter()
                    .flat_map(|m| m.lines())
                    .map(str::to_string)
                    .collect(),
                message,
                more_failures: job.failures.len().saturating_sub(1),
                url: base.as_ref().map(|b| format!("{b}/{file}")),
            }
        })
        .collect();
    let failing_more = failing.len().saturating_sub(MAX_JOBS);
    MailView {
        name: result.run.name.clone(),
        run_id: result.run.id.clone(),
        status: result.run.status.as_str().to_string(),
        passed: result.run.status == Status::Passed,
        matrix_file: result.run.matrix_file.clone(),
        started: result.run.started.clone(),
        finished: result.run.finished.clone().unwrap_or_default(),
        jobs_line: jobs_line(result),
        tests_line: tests_line(result),
        failing: failing.into_iter().take(MAX_JOBS).collect(),
        failing_more,
        changes: comparison.map(|c| changes(result, c)),
        report_url: base.map(|b| format!("{b}/index.html")),
    }
}

/// `[ponyswarm] NAME: failed — 2 of 12 jobs did not pass`.
pub fn subject(view: &MailView) -> String {
    let total = view.failing.len() + view.failing_more;
    let jobs = view.jobs_line.split(':').next().unwrap_or_default();
    let detail = match total {
        0 => jobs.to_string(),
        n => format!("{n} of {jobs} did not pass"),
    };
    format!("[ponyswarm] {}: {} — {detail}", view.name, view.status)
}

/// `12 jobs: 10 passed, 2 failed` (statuses in order of first appearance).
fn jobs_line(result: &RunResult) -> String {
    let mut by_status: Vec<(Status, usize)> = Vec::new();
    for job in &result.jobs {
        match by_status.iter_mut().find(|(s, _)| *s == job.status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((job.status, 1)),
        }
    }
    let parts: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let jobs = plural(result.jobs.len(), "job");
    match parts.is_empty() {
        true => jobs,
        false => format!("{jobs}: {}", parts.join(", ")),
    }
}

/// `340 tests: 330 passed, 4 failed, 6 skipped`; empty when no job has counts.
fn tests_line(result: &RunResult) -> String {
    let counts: Vec<_> = result.jobs.iter().filter_map(|j| j.tests).collect();
    if counts.is_empty() {
        return String::new();
    }
    let sum = |f: fn(&crate::testresults::Counts) -> u32| {
        counts.iter().map(f).map(u64::from).sum::<u64>()
    };
    let (passed, failed, skipped, errors) = (
        sum(|c| c.passed),
        sum(|c| c.failed),
        sum(|c| c.skipped),
        sum(|c| c.errors),
    );
    let mut parts = vec![format!("{passed} passed")];
    for (n, what) in [(failed, "failed"), (errors, "errors"), (skipped, "skipped")] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let total = passed + failed + skipped + errors;
    format!("{}: {}", plural(total as usize, "test"), parts.join(", "))
}

/// The view of a comparison, jobs named rather than numbered.
fn changes(result: &RunResult, c: &Comparison) -> Changes {
    let name = |i: usize| result.jobs.get(i).map_or("?", |j| j.name.as_str());
    let list = |tests: &[TestChange]| TestList {
        items: tests
            .iter()
            .take(MAX_TESTS)
            .map(|t| {
                let jobs: Vec<&str> = t.jobs.iter().map(|&i| name(i)).collect();
                format!("{} ({})", t.test, jobs.join(", "))
            })
            .collect(),
        more: tests.len().saturating_sub(MAX_TESTS),
        total: tests.len(),
    };
    Changes {
        previous: c.previous.clone(),
        none: c.new_failures.is_empty() && c.fixed.is_empty() && c.status_changes.is_empty(),
        new_failures: list(&c.new_failures),
        fixed: list(&c.fixed),
        still_failing: list(&c.still_failing),
        status_changes: c
            .status_changes
            .iter()
            .map(|s| format!("{}: {} → {}", name(s.job), s.before, s.after))
            .collect(),
    }
}

/// `1 job`, `3 jobs`.
fn plural(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}
