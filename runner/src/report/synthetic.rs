//! Synthetic runs for report tests: one builder, so every report test reads the same kind
//! of run and a change to `RunResult` is made in one place.
//!
//! Test-only (`#[cfg(test)]`); pure.

use crate::matrix::Value;
use crate::outcome::{JobOutcome, RunResult, Status};
use crate::sandbox::changes::{ChangeKind, InstallChange};
use crate::testresults::Failure;
use std::time::{Duration, UNIX_EPOCH};

/// A run being built: `RunResult::new(id, name, "m.yaml", 1970-01-01)` plus jobs.
pub(crate) struct SyntheticRun(RunResult);

impl SyntheticRun {
    /// A run `id` of the matrix `name` from `m.yaml`, started at 1970-01-01, no jobs.
    pub(crate) fn new(id: &str, name: &str) -> SyntheticRun {
        SyntheticRun(RunResult::new(
            id.into(),
            name.into(),
            "m.yaml".into(),
            UNIX_EPOCH,
        ))
    }

    /// The matrix file the run says it came from.
    pub(crate) fn matrix_file(mut self, file: &str) -> SyntheticRun {
        self.0.run.matrix_file = file.into();
        self
    }

    /// Adds a job with these axis values and status, named `<run name> (<values>)` as
    /// `ponyswarm run` names it; `shape` sets the rest (tests, failures, detail, …).
    pub(crate) fn job(
        mut self,
        axes: &[(&str, Value)],
        status: Status,
        shape: impl FnOnce(&mut JobOutcome),
    ) -> SyntheticRun {
        let values: Vec<String> = axes.iter().map(|(_, v)| v.to_string()).collect();
        let name = format!("{} ({})", self.0.run.name, values.join(", "));
        let matrix = axes
            .iter()
            .map(|(axis, value)| (axis.to_string(), value.clone()))
            .collect();
        let mut job = JobOutcome::new(name, matrix, status);
        shape(&mut job);
        self.0.jobs.push(job);
        self
    }

    /// Adds one job per `(python, status, failing tests)` on a `python` axis, the failing
    /// tests as failures without a message; `shape` sets the rest of each.
    pub(crate) fn python_jobs(
        self,
        jobs: &[(&str, Status, &[&str])],
        shape: impl Fn(&mut JobOutcome),
    ) -> SyntheticRun {
        jobs.iter().fold(self, |run, (python, status, failing)| {
            run.job(
                &[("python", Value::Str(python.to_string()))],
                *status,
                |job| {
                    for test in *failing {
                        fail(job, test, "");
                    }
                    shape(job);
                },
            )
        })
    }

    /// The run as it is, not finished.
    pub(crate) fn unfinished(self) -> RunResult {
        self.0
    }

    /// The run, finished `took` after it started (its status and exit code decided).
    pub(crate) fn finished_after(mut self, took: Duration) -> RunResult {
        self.0.finish(UNIX_EPOCH + took);
        self.0
    }

    /// The run, finished the moment it started.
    pub(crate) fn finished(self) -> RunResult {
        self.finished_after(Duration::ZERO)
    }
}

/// Adds the failed test `test` with `message` to `job`.
pub(crate) fn fail(job: &mut JobOutcome, test: &str, message: &str) {
    job.failures.push(Failure {
        test: test.into(),
        message: message.into(),
    });
}

/// Adds a flagged install change that added `path` to `job`.
pub(crate) fn flagged_addition(job: &mut JobOutcome, path: &str) {
    job.install_changes.push(InstallChange {
        path: path.into(),
        kind: ChangeKind::Added,
        flagged: true,
        inside: 0,
    });
}
