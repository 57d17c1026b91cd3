//! From a run's job outcomes to attribution tables: which jobs count as failing, and, per
//! failing test, where it failed and where it ran without failing. Pure.

use super::{explain, Evidence, Explanation, Table};
use crate::outcome::{JobOutcome, Status};
use std::collections::HashMap;

/// The attribution of a whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// Why jobs fail. Row indexes are job indexes.
    pub jobs: Explanation,
    /// Failing tests, grouped when they fail in exactly the same jobs (one cause, many
    /// tests): most failing jobs first.
    pub tests: Vec<TestGroup>,
}

/// Tests failing in the same set of jobs, and where that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestGroup {
    /// The tests, sorted.
    pub tests: Vec<String>,
    /// The jobs (indexes) they fail in.
    pub failing_jobs: Vec<usize>,
    /// The axis values they fail under. Row indexes are job indexes.
    pub explanation: Explanation,
}

/// What a job's status says about the project. `error` (Docker's or ponyswarm's fault)
/// and `cancelled` (stopped by fail-fast or Ctrl-C) say nothing. Allowed failures count
/// as failures: where they fail is worth knowing too.
pub fn job_evidence(job: &JobOutcome) -> Evidence {
    match job.status {
        Status::Passed => Evidence::Passes,
        Status::Error | Status::Cancelled => Evidence::Unknown,
        _ => Evidence::Fails,
    }
}

/// Whether the job's tests ran, so that a test absent from its failures passed there
/// (or was skipped). A failed job with no passing test at all most likely stopped
/// early (a collection error), so its silence says nothing.
fn tests_ran(job: &JobOutcome) -> bool {
    match job.status {
        Status::Passed => true,
        Status::Failed => job.tests.is_some_and(|t| t.passed > 0),
        _ => false,
    }
}

/// The axes of `jobs`, in first-seen order (an `include` may add an axis to some jobs).
pub fn axes(jobs: &[JobOutcome]) -> Vec<String> {
    let mut axes: Vec<String> = Vec::new();
    for job in jobs {
        for key in job.matrix.keys() {
            if !axes.contains(key) {
                axes.push(key.clone());
            }
        }
    }
    axes
}

/// The jobs as an attribution table, by [`job_evidence`].
pub fn job_table(jobs: &[JobOutcome]) -> Table {
    let axes = axes(jobs);
    let rows = jobs
        .iter()
        .map(|job| {
            let values = axes
                .iter()
                .map(|a| job.matrix.get(a).map(|v| v.text()))
                .collect();
            (values, job_evidence(job))
        })
        .collect();
    Table { axes, rows }
}

/// Explains the failing jobs and each failing test of a run.
pub fn attribute(jobs: &[JobOutcome]) -> Attribution {
    // test → jobs it fails in, in job order.
    let mut failing: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        for f in &job.failures {
            let seen = failing.entry(f.test.as_str()).or_default();
            if seen.last() != Some(&i) {
                seen.push(i);
            }
        }
    }
    let mut groups: HashMap<Vec<usize>, Vec<String>> = HashMap::new();
    for (test, in_jobs) in failing {
        groups.entry(in_jobs).or_default().push(test.to_string());
    }
    // One table for all groups: only the verdicts change from one group to the next.
    let mut per_test = job_table(jobs);
    let mut tests: Vec<TestGroup> = groups
        .into_iter()
        .map(|(failing_jobs, mut tests)| {
            tests.sort();
            for (i, row) in per_test.rows.iter_mut().enumerate() {
                row.1 = if failing_jobs.binary_search(&i).is_ok() {
                    Evidence::Fails
                } else if tests_ran(&jobs[i]) {
                    Evidence::Passes
                } else {
                    Evidence::Unknown
                };
            }
            TestGroup {
                explanation: explain(&per_test),
                tests,
                failing_jobs,
            }
        })
        .collect();
    tests.sort_by(|a, b| {
        b.failing_jobs
            .len()
            .cmp(&a.failing_jobs.len())
            .then_with(|| a.tests.cmp(&b.tests))
    });
    Attribution {
        jobs: explain(&job_table(jobs)),
        tests,
    }
}
