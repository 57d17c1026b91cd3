//! The run's page: what happened at a glance, the findings ([`super::findings`]: where it
//! fails, what changed since the previous run), the matrix as grids, and the jobs that
//! did not pass. Pure.

use super::findings::{attribution_view, compare_view, AttributionView, CompareView};
use super::{counts_text, duration, job_files, label, JobLink, STATUS_ORDER};
use crate::outcome::{RunResult, Status};
use crate::report::compare::Comparison;
use crate::report::grid::{self, Grid};
use crate::time::parse_timestamp;
use serde::Serialize;

/// The run's page.
#[derive(Debug, Clone, Serialize)]
pub struct IndexView {
    /// `<title>`.
    pub title: String,
    /// The run.
    pub run: RunHeader,
    /// Jobs by status, statuses that occur only.
    pub summary: Vec<StatusCount>,
    /// Tests over all jobs.
    pub tests: TestTotals,
    /// Where it fails.
    pub attribution: AttributionView,
    /// Since the previous run; `None` when there is none.
    pub comparison: Option<CompareView>,
    /// The matrix.
    pub grid: GridView,
    /// Jobs that did not pass, in job order.
    pub not_passed: Vec<JobRow>,
}

/// The run as its header shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunHeader {
    /// Run id.
    pub id: String,
    /// The matrix's name.
    pub name: String,
    /// The matrix file.
    pub matrix_file: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it finished; empty while going.
    pub finished: String,
    /// How long it took, when finished.
    pub took: String,
    /// `passed`, `failed`, …
    pub status: &'static str,
    /// How the status reads.
    pub label: &'static str,
    /// `ponyswarm run`'s exit code.
    pub exit_code: i32,
    /// The version that ran it.
    pub ponyswarm: String,
    /// Number of jobs.
    pub jobs: usize,
}

/// A summary chip.
#[derive(Debug, Clone, Serialize)]
pub struct StatusCount {
    /// Status name (CSS class).
    pub status: &'static str,
    /// How it reads.
    pub label: &'static str,
    /// Jobs with it.
    pub count: usize,
    /// Of those, allowed to fail.
    pub allowed: usize,
}

/// Test counts summed over the jobs that know them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TestTotals {
    /// Passed.
    pub passed: u64,
    /// Failed or errored.
    pub failed: u64,
    /// Skipped.
    pub skipped: u64,
    /// Jobs whose counts are unknown.
    pub unknown_jobs: usize,
}

/// The matrix grids.
#[derive(Debug, Clone, Serialize)]
pub struct GridView {
    /// Row axis name (empty when none).
    pub row_axis: String,
    /// Column axis name (empty when none).
    pub col_axis: String,
    /// One table per combination of the other axes.
    pub groups: Vec<GroupView>,
}

/// One table.
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    /// `database=mariadb · django=5.1`; empty when there are no other axes.
    pub title: String,
    /// Column headers.
    pub cols: Vec<String>,
    /// Rows.
    pub rows: Vec<RowView>,
}

/// A table row.
#[derive(Debug, Clone, Serialize)]
pub struct RowView {
    /// Row header.
    pub value: String,
    /// Cells, one per column.
    pub cells: Vec<Vec<CellJob>>,
}

/// A job in a cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellJob {
    /// Link to its page.
    pub href: String,
    /// Status name (CSS class).
    pub status: &'static str,
    /// How the status reads.
    pub label: &'static str,
    /// Test counts, or empty.
    pub counts: String,
    /// Tooltip: name, values, detail.
    pub title: String,
    /// Allowed to fail.
    pub allowed: bool,
}

/// A line of the "did not pass" table.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    /// The job.
    pub job: JobLink,
    /// How the status reads.
    pub label: &'static str,
    /// Allowed to fail.
    pub allowed: bool,
    /// Why.
    pub detail: String,
    /// Test counts.
    pub counts: String,
    /// `3 failed tests`, or empty.
    pub failures: String,
}

/// Builds the run's page. `comparison` comes from [`crate::report::compare::compare`].
pub fn build(run: &RunResult, comparison: Option<&Comparison>) -> IndexView {
    let files = job_files(run);
    let links: Vec<JobLink> = run
        .jobs
        .iter()
        .zip(&files)
        .map(|(job, file)| JobLink {
            name: job.name.clone(),
            href: file.clone(),
            status: job.status.as_str(),
        })
        .collect();
    IndexView {
        title: format!("{} · {} · ponyswarm", run.run.name, label(run.run.status)),
        run: header(run),
        summary: summary(run),
        tests: totals(run),
        attribution: attribution_view(run, &links),
        comparison: comparison.map(|c| compare_view(c, &links)),
        grid: grid_view(run, &grid::layout(&run.jobs), &links),
        not_passed: run
            .jobs
            .iter()
            .zip(&links)
            .filter(|(job, _)| job.status != Status::Passed)
            .map(|(job, link)| JobRow {
                job: link.clone(),
                label: label(job.status),
                allowed: job.allowed_failure,
                detail: job.detail.clone().unwrap_or_default(),
                counts: counts_text(job),
                failures: match job.failures.len() {
                    0 => String::new(),
                    1 => "1 failed test".to_string(),
                    n => format!("{n} failed tests"),
                },
            })
            .collect(),
    }
}

fn header(run: &RunResult) -> RunHeader {
    let info = &run.run;
    let took = match (
        parse_timestamp(&info.started),
        info.finished.as_deref().and_then(parse_timestamp),
    ) {
        (Some(a), Some(b)) if b >= a => duration((b - a) as f64),
        _ => String::new(),
    };
    RunHeader {
        id: info.id.clone(),
        name: info.name.clone(),
        matrix_file: info.matrix_file.clone(),
        started: info.started.clone(),
        finished: info.finished.clone().unwrap_or_default(),
        took,
        status: info.status.as_str(),
        label: label(info.status),
        exit_code: info.exit_code,
        ponyswarm: info.ponyswarm.clone(),
        jobs: run.jobs.len(),
    }
}

fn summary(run: &RunResult) -> Vec<StatusCount> {
    STATUS_ORDER
        .iter()
        .map(|&s| {
            let with = run.jobs.iter().filter(|j| j.status == s);
            StatusCount {
                status: s.as_str(),
                label: label(s),
                count: with.clone().count(),
                allowed: with
                    .filter(|j| j.allowed_failure && s != Status::Passed)
                    .count(),
            }
        })
        .filter(|c| c.count > 0)
        .collect()
}

fn totals(run: &RunResult) -> TestTotals {
    let mut t = TestTotals::default();
    for job in &run.jobs {
        match job.tests {
            Some(c) => {
                t.passed += u64::from(c.passed);
                t.failed += u64::from(c.failed) + u64::from(c.errors);
                t.skipped += u64::from(c.skipped);
            }
            None => t.unknown_jobs += 1,
        }
    }
    t
}

fn grid_view(run: &RunResult, grid: &Grid, links: &[JobLink]) -> GridView {
    let shown = |v: &str| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.to_string()
        }
    };
    let groups = grid
        .groups
        .iter()
        .map(|g| GroupView {
            title: grid
                .group_axes
                .iter()
                .zip(&g.values)
                .map(|(a, v)| format!("{a}={}", shown(v)))
                .collect::<Vec<_>>()
                .join(" · "),
            cols: g.cols.iter().map(|c| shown(c)).collect(),
            rows: g
                .rows
                .iter()
                .zip(&g.cells)
                .map(|(value, cells)| RowView {
                    value: shown(value),
                    cells: cells
                        .iter()
                        .map(|jobs| jobs.iter().map(|&i| cell_job(run, i, &links[i])).collect())
                        .collect(),
                })
                .collect(),
        })
        .collect();
    GridView {
        row_axis: grid.row_axis.clone().unwrap_or_default(),
        col_axis: grid.col_axis.clone().unwrap_or_default(),
        groups,
    }
}

fn cell_job(run: &RunResult, i: usize, link: &JobLink) -> CellJob {
    let job = &run.jobs[i];
    // The values are the cell's row, column and table; the name says them once more.
    let mut title = format!("{}\n{}", job.name, label(job.status));
    if job.allowed_failure {
        title.push_str(" (allowed to fail)");
    }
    if let Some(d) = &job.detail {
        title.push_str(": ");
        title.push_str(d);
    }
    CellJob {
        href: link.href.clone(),
        status: job.status.as_str(),
        label: label(job.status),
        counts: counts_text(job),
        title,
        allowed: job.allowed_failure,
    }
}

#[cfg(test)]
mod tests {
    use super::super::findings::{MAX_TERMS, MAX_TEST_GROUPS};
    use super::*;
    use crate::matrix::Value;
    use crate::outcome::Tests;
    use crate::report::synthetic::{fail, SyntheticRun};

    /// `n` jobs on one axis; job `i` fails test `t{i}` when `i` is odd, so every failing
    /// test is a group of its own.
    fn run(n: usize) -> RunResult {
        (0..n)
            .fold(SyntheticRun::new("r", "m"), |run, i| {
                let failing = i % 2 == 1;
                let status = if failing {
                    Status::Failed
                } else {
                    Status::Passed
                };
                run.job(&[("shard", Value::Int(i as i64))], status, |job| {
                    job.tests = Some(Tests::new(3, u32::from(failing), 0, 0));
                    if failing {
                        fail(job, &format!("t{i:03}"), "x");
                    }
                })
            })
            .finished()
    }

    #[test]
    fn every_job_is_in_the_grid_once() {
        let r = run(7);
        let view = build(&r, None);
        let mut hrefs: Vec<String> = view
            .grid
            .groups
            .iter()
            .flat_map(|g| g.rows.iter())
            .flat_map(|row| row.cells.iter().flatten())
            .map(|c| c.href.clone())
            .collect();
        hrefs.sort();
        assert_eq!(hrefs, job_files(&r));
        assert_eq!(view.not_passed.len(), 3);
        assert_eq!(view.not_passed[0].failures, "1 failed test");
        assert_eq!(view.run.took, "0ms");
    }

    #[test]
    fn long_lists_are_capped_and_say_so() {
        let view = build(&run(2 * (MAX_TEST_GROUPS + 10)), None);
        assert_eq!(view.attribution.tests.len(), MAX_TEST_GROUPS);
        assert_eq!(view.attribution.more_groups, 10);
        assert_eq!(view.attribution.kind, "only");
        assert_eq!(view.attribution.terms.len(), MAX_TERMS);
        assert_eq!(
            view.attribution.more_terms,
            MAX_TEST_GROUPS + 10 - MAX_TERMS
        );
    }
}
