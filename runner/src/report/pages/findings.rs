//! The findings on the run's page: where it fails (attribution) and what changed since
//! the previous run, as the page shows them, capped so that a run of thousands of jobs and
//! failures still gives a page a browser opens quickly; every cap says how much it left
//! out. Pure.

use super::JobLink;
use crate::outcome::RunResult;
use crate::report::attribution::{self, Explanation, Term};
use crate::report::compare::{Comparison, TestChange};
use serde::Serialize;

/// Terms shown per explanation; the rest are counted.
pub const MAX_TERMS: usize = 20;
/// Jobs failing on their own linked; the rest are counted.
pub const MAX_UNEXPLAINED: usize = 50;
/// Test groups shown in the attribution; the rest are counted.
pub const MAX_TEST_GROUPS: usize = 50;
/// Tests named per group before the rest fold away.
pub const TESTS_SHOWN: usize = 5;
/// Tests named per group at most (folded part included).
pub const MAX_TESTS_LISTED: usize = 200;
/// Job links per list entry.
pub const MAX_JOB_LINKS: usize = 12;
/// Lists longer than this start folded, so the grid stays near the top.
pub const OPEN_LIST: usize = 10;
/// Entries per comparison list.
pub const MAX_CHANGES: usize = 100;

/// The attribution section.
#[derive(Debug, Clone, Serialize)]
pub struct AttributionView {
    /// `nothing`, `everywhere` or `only`.
    pub kind: &'static str,
    /// The sentence for the jobs.
    pub sentence: String,
    /// The terms explaining the failing jobs, at most [`MAX_TERMS`].
    pub terms: Vec<TermView>,
    /// Terms left out.
    pub more_terms: usize,
    /// Failing jobs no term explains (they fail on their own), at most
    /// [`MAX_UNEXPLAINED`].
    pub unexplained: Vec<JobLink>,
    /// Such jobs left out.
    pub more_unexplained: usize,
    /// Failing tests, grouped by where they fail.
    pub tests: Vec<TestGroupView>,
    /// Groups left out by [`MAX_TEST_GROUPS`].
    pub more_groups: usize,
}

/// One term: `python=3.13` (4 of 4 jobs).
#[derive(Debug, Clone, Serialize)]
pub struct TermView {
    /// The axis values.
    pub values: Vec<AxisValue>,
    /// Failing jobs it matches.
    pub failing: usize,
    /// Jobs it matches that passed or failed.
    pub known: usize,
    /// Equally good terms, described.
    pub alternatives: Vec<String>,
}

/// `axis=value`.
#[derive(Debug, Clone, Serialize)]
pub struct AxisValue {
    /// Axis.
    pub axis: String,
    /// Value as text.
    pub value: String,
}

/// Tests failing in the same jobs.
#[derive(Debug, Clone, Serialize)]
pub struct TestGroupView {
    /// How many tests.
    pub count: usize,
    /// The first few.
    pub shown: Vec<String>,
    /// The next ones, folded.
    pub folded: Vec<String>,
    /// Tests not listed at all.
    pub unlisted: usize,
    /// Where they fail.
    pub sentence: String,
    /// The terms, as chips, at most [`MAX_TERMS`].
    pub terms: Vec<TermView>,
    /// Terms left out.
    pub more_terms: usize,
    /// Jobs they fail in.
    pub jobs: Vec<JobLink>,
    /// Jobs not linked.
    pub more_jobs: usize,
}

/// The comparison section.
#[derive(Debug, Clone, Serialize)]
pub struct CompareView {
    /// The previous run's id.
    pub previous: String,
    /// Whether nothing changed.
    pub unchanged: bool,
    /// Tests newly failing.
    pub new_failures: ChangeList,
    /// Tests fixed.
    pub fixed: ChangeList,
    /// Tests still failing.
    pub still_failing: ChangeList,
    /// Jobs whose status changed, the first [`MAX_CHANGES`].
    pub status_changes: Vec<StatusChange>,
    /// How many jobs changed status.
    pub status_changes_count: usize,
    /// Whether that list is short enough to show unfolded.
    pub status_changes_open: bool,
    /// Jobs the previous run did not have.
    pub added_jobs: Vec<String>,
    /// Jobs this run does not have.
    pub removed_jobs: Vec<String>,
}

/// A capped list of test changes.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeList {
    /// How many tests in all.
    pub count: usize,
    /// The first [`MAX_CHANGES`].
    pub items: Vec<ChangeItem>,
    /// Left out.
    pub more: usize,
}

/// A test and where it changed.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeItem {
    /// The test.
    pub test: String,
    /// Jobs.
    pub jobs: Vec<JobLink>,
    /// Jobs not linked.
    pub more_jobs: usize,
}

/// A job whose status changed.
#[derive(Debug, Clone, Serialize)]
pub struct StatusChange {
    /// The job.
    pub job: JobLink,
    /// Before.
    pub before: &'static str,
    /// Now.
    pub after: &'static str,
}

fn term_view(t: &Term) -> TermView {
    TermView {
        values: t
            .literals
            .iter()
            .map(|l| AxisValue {
                axis: l.axis.clone(),
                value: l.value.clone(),
            })
            .collect(),
        failing: t.failing,
        known: t.known,
        alternatives: t
            .alternatives
            .iter()
            .map(|a| attribution::describe(a))
            .collect(),
    }
}

/// The terms of an explanation and its unexplained rows.
fn parts(e: &Explanation) -> (&'static str, &[Term], &[usize]) {
    match e {
        Explanation::NothingFails => ("nothing", &[], &[]),
        Explanation::Everywhere { .. } => ("everywhere", &[], &[]),
        Explanation::Only { terms, unexplained } => ("only", terms, unexplained),
    }
}

pub(super) fn capped_links(jobs: &[usize], links: &[JobLink]) -> (Vec<JobLink>, usize) {
    let shown = jobs
        .iter()
        .take(MAX_JOB_LINKS)
        .map(|&i| links[i].clone())
        .collect();
    (shown, jobs.len().saturating_sub(MAX_JOB_LINKS))
}

pub(super) fn attribution_view(run: &RunResult, links: &[JobLink]) -> AttributionView {
    let a = attribution::attribute(&run.jobs);
    let (kind, terms, unexplained) = parts(&a.jobs);
    let more_groups = a.tests.len().saturating_sub(MAX_TEST_GROUPS);
    let tests = a
        .tests
        .iter()
        .take(MAX_TEST_GROUPS)
        .map(|g| {
            let (_, terms, _) = parts(&g.explanation);
            let (jobs, more_jobs) = capped_links(&g.failing_jobs, links);
            let listed = g.tests.len().min(MAX_TESTS_LISTED);
            TestGroupView {
                count: g.tests.len(),
                shown: g.tests.iter().take(TESTS_SHOWN).cloned().collect(),
                folded: g.tests[TESTS_SHOWN.min(listed)..listed].to_vec(),
                unlisted: g.tests.len() - listed,
                sentence: g.explanation.sentence(),
                terms: terms.iter().take(MAX_TERMS).map(term_view).collect(),
                more_terms: terms.len().saturating_sub(MAX_TERMS),
                jobs,
                more_jobs,
            }
        })
        .collect();
    AttributionView {
        kind,
        sentence: a.jobs.sentence(),
        terms: terms.iter().take(MAX_TERMS).map(term_view).collect(),
        more_terms: terms.len().saturating_sub(MAX_TERMS),
        unexplained: unexplained
            .iter()
            .take(MAX_UNEXPLAINED)
            .map(|&i| links[i].clone())
            .collect(),
        more_unexplained: unexplained.len().saturating_sub(MAX_UNEXPLAINED),
        tests,
        more_groups,
    }
}

fn change_list(changes: &[TestChange], links: &[JobLink]) -> ChangeList {
    ChangeList {
        count: changes.len(),
        items: changes
            .iter()
            .take(MAX_CHANGES)
            .map(|c| {
                let (jobs, more_jobs) = capped_links(&c.jobs, links);
                ChangeItem {
                    test: c.test.clone(),
                    jobs,
                    more_jobs,
                }
            })
            .collect(),
        more: changes.len().saturating_sub(MAX_CHANGES),
    }
}

pub(super) fn compare_view(c: &Comparison, links: &[JobLink]) -> CompareView {
    CompareView {
        previous: c.previous.clone(),
        unchanged: c.is_empty(),
        new_failures: change_list(&c.new_failures, links),
        fixed: change_list(&c.fixed, links),
        still_failing: change_list(&c.still_failing, links),
        status_changes: c
            .status_changes
            .iter()
            .take(MAX_CHANGES)
            .map(|s| StatusChange {
                job: links[s.job].clone(),
                before: s.before.as_str(),
                after: s.after.as_str(),
            })
            .collect(),
        status_changes_count: c.status_changes.len(),
        status_changes_open: c.status_changes.len() <= OPEN_LIST,
        added_jobs: c.added_jobs.iter().take(MAX_CHANGES).cloned().collect(),
        removed_jobs: c.removed_jobs.iter().take(MAX_CHANGES).cloned().collect(),
    }
}
