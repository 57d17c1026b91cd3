//! What changed since the previous run of the same matrix: tests that newly fail, tests
//! fixed, tests still failing, and jobs whose status changed.
//!
//! Jobs are matched by their matrix values (as text), so a renamed matrix file or a
//! reordered axis list still lines up. A test counts as fixed only where its job's tests
//! ran this time: an install failure hides failures, it does not fix them.
//!
//! Pure: two runs in, the differences out.

use crate::outcome::{JobOutcome, RunResult, Status};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The differences between a run and the previous one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// The previous run's id.
    pub previous: String,
    /// Tests failing now that did not fail before in the same job.
    pub new_failures: Vec<TestChange>,
    /// Tests that failed before and ran without failing now.
    pub fixed: Vec<TestChange>,
    /// Tests failing in both.
    pub still_failing: Vec<TestChange>,
    /// Jobs in both runs whose status changed.
    pub status_changes: Vec<JobChange>,
    /// Jobs (current names) the previous run did not have.
    pub added_jobs: Vec<String>,
    /// Jobs (previous names) this run does not have.
    pub removed_jobs: Vec<String>,
}

/// A test and the current run's jobs (indexes) where the change happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestChange {
    /// `classname::name`.
    pub test: String,
    /// Job indexes in the current run.
    pub jobs: Vec<usize>,
}

/// A job whose status changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobChange {
    /// Index in the current run.
    pub job: usize,
    /// Its status in the previous run.
    pub before: Status,
    /// Its status now.
    pub after: Status,
}

impl Comparison {
    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.new_failures.is_empty()
            && self.fixed.is_empty()
            && self.status_changes.is_empty()
            && self.added_jobs.is_empty()
            && self.removed_jobs.is_empty()
    }
}

/// A job's identity across runs: its values as text, sorted by axis.
fn key(job: &JobOutcome) -> Vec<(String, String)> {
    let mut k: Vec<(String, String)> = job
        .matrix
        .iter()
        .map(|(a, v)| (a.clone(), v.text()))
        .collect();
    k.sort();
    k
}

/// Whether the job's tests ran, so a test missing from its failures did not fail.
fn tests_ran(job: &JobOutcome) -> bool {
    matches!(job.status, Status::Passed | Status::Failed) && job.tests.is_none_or(|t| t.total() > 0)
}

/// Compares `current` with `previous`.
pub fn compare(current: &RunResult, previous: &RunResult) -> Comparison {
    let before: HashMap<Vec<(String, String)>, &JobOutcome> =
        previous.jobs.iter().map(|j| (key(j), j)).collect();
    let mut changes: [BTreeMap<String, Vec<usize>>; 3] = Default::default();
    let [new_failures, fixed, still] = &mut changes;
    let mut out = Comparison {
        previous: previous.run.id.clone(),
        ..Comparison::default()
    };
    let mut matched: BTreeSet<Vec<(String, String)>> = BTreeSet::new();
    for (i, job) in current.jobs.iter().enumerate() {
        let k = key(job);
        let failing_now: BTreeSet<&str> = job.failures.iter().map(|f| f.test.as_str()).collect();
        let Some(old) = before.get(&k) else {
            out.added_jobs.push(job.name.clone());
            for test in failing_now {
                new_failures.entry(test.to_string()).or_default().push(i);
            }
            continue;
        };
        matched.insert(k);
        if old.status != job.status {
            out.status_changes.push(JobChange {
                job: i,
                before: old.status,
                after: job.status,
            });
        }
        let failing_before: BTreeSet<&str> = old.failures.iter().map(|f| f.test.as_str()).collect();
        for &test in &failing_now {
            let bucket = if failing_before.contains(test) {
                &mut *still
            } else {
                &mut *new_failures
            };
            bucket.entry(test.to_string()).or_default().push(i);
        }
        if tests_ran(job) {
            for &test in failing_before.difference(&failing_now) {
                fixed.entry(test.to_string()).or_default().push(i);
            }
        }
    }
    out.removed_jobs = previous
        .jobs
        .iter()
        .filter(|j| !matched.contains(&key(j)))
        .map(|j| j.name.clone())
        .collect();
    let [new_failures, fixed, still] = changes;
    let list = |m: BTreeMap<String, Vec<usize>>| {
        m.into_iter()
            .map(|(test, jobs)| TestChange { test, jobs })
            .collect::<Vec<_>>()
    };
    out.new_failures = list(new_failures);
    out.fixed = list(fixed);
    out.still_failing = list(still);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Tests;
    use crate::report::synthetic::SyntheticRun;

    /// A run from jobs like `("3.12", Status::Failed, &["t1", "t2"])` on a python axis.
    fn run(id: &str, jobs: &[(&str, Status, &[&str])]) -> RunResult {
        SyntheticRun::new(id, "m")
            .python_jobs(jobs, |job| {
                job.tests = matches!(job.status, Status::Passed | Status::Failed)
                    .then_some(Tests::new(5, job.failures.len() as u32, 0, 0));
            })
            .unfinished()
    }

    fn tests(changes: &[TestChange]) -> Vec<(&str, Vec<usize>)> {
        changes
            .iter()
            .map(|c| (c.test.as_str(), c.jobs.clone()))
            .collect()
    }

    #[test]
    fn new_fixed_and_still_failing() {
        use Status::*;
        let before = run(
            "r1",
            &[
                ("3.11", Failed, &["a", "b"]),
                ("3.12", Failed, &["a"]),
                ("3.13", Passed, &[]),
                ("3.10", Passed, &[]),
            ],
        );
        let now = run(
            "r2",
            &[
                ("3.11", Failed, &["a", "c"]),
                ("3.12", InstallFailed, &[]),
                ("3.13", Failed, &["a"]),
                ("3.14", Failed, &["d"]),
            ],
        );
        let c = compare(&now, &before);
        assert_eq!(c.previous, "r1");
        assert_eq!(
            tests(&c.new_failures),
            [("a", vec![2]), ("c", vec![0]), ("d", vec![3])]
        );
        // b is fixed in 3.11; a in 3.12 is hidden by the install failure, not fixed.
        assert_eq!(tests(&c.fixed), [("b", vec![0])]);
        assert_eq!(tests(&c.still_failing), [("a", vec![0])]);
        assert_eq!(
            c.status_changes,
            [
                JobChange {
                    job: 1,
                    before: Failed,
                    after: InstallFailed
                },
                JobChange {
                    job: 2,
                    before: Passed,
                    after: Failed
                },
            ]
        );
        assert_eq!(c.added_jobs, ["m (3.14)"]);
        assert_eq!(c.removed_jobs, ["m (3.10)"]);
        assert!(!c.is_empty());
    }

    #[test]
    fn the_same_run_twice_changes_nothing() {
        let r = run(
            "r",
            &[
                ("3.11", Status::Failed, &["a"]),
                ("3.12", Status::Passed, &[]),
            ],
        );
        let c = compare(&r, &r);
        assert!(c.is_empty(), "{c:?}");
        assert_eq!(tests(&c.still_failing), [("a", vec![0])]);
    }
}
