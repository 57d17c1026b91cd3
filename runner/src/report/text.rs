//! The report as plain text, for a terminal: `ponyswarm report RUN` without `--html`,
//! and the `ponyswarm runs` table. Pure: values in, text out.

use super::attribution::{attribute, Explanation};
use super::compare::Comparison;
use super::pages::{counts_text, label, STATUS_ORDER};
use crate::outcome::{RunResult, Status};
use crate::store::RunSummary;
use std::fmt::Write as _;

/// Failing-test groups printed; the rest are counted.
const GROUPS_PRINTED: usize = 10;
/// Tests named per group.
const TESTS_PRINTED: usize = 3;

/// The run's summary: header, counts, where it fails, what changed, jobs that did not
/// pass.
pub fn summary(run: &RunResult, comparison: Option<&Comparison>) -> String {
    let mut out = String::new();
    let info = &run.run;
    let _ = writeln!(
        out,
        "{} — {} (run {}, {})",
        info.name,
        label(info.status),
        info.id,
        info.matrix_file
    );
    let _ = writeln!(out, "jobs: {}", status_counts(run));
    let a = attribute(&run.jobs);
    match &a.jobs {
        Explanation::NothingFails => {}
        e => {
            let _ = writeln!(out, "where it fails: {}", e.sentence());
        }
    }
    for g in a.tests.iter().take(GROUPS_PRINTED) {
        let names: Vec<&str> = g
            .tests
            .iter()
            .take(TESTS_PRINTED)
            .map(String::as_str)
            .collect();
        let more = g.tests.len().saturating_sub(TESTS_PRINTED);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {}{more}: {}",
            names.join(", "),
            g.explanation.sentence()
        );
    }
    if a.tests.len() > GROUPS_PRINTED {
        let _ = writeln!(
            out,
            "  … and {} more groups of failing tests",
            a.tests.len() - GROUPS_PRINTED
        );
    }
    if let Some(c) = comparison {
        let _ = writeln!(
            out,
            "since run {}: {} new failures, {} fixed, {} still failing, {} jobs changed status",
            c.previous,
            c.new_failures.len(),
            c.fixed.len(),
            c.still_failing.len(),
            c.status_changes.len()
        );
    }
    for job in run.jobs.iter().filter(|j| j.status != Status::Passed) {
        let allowed = if job.allowed_failure {
            " (allowed)"
        } else {
            ""
        };
        let detail = job
            .detail
            .as_deref()
            .map(|d| format!(" — {d}"))
            .unwrap_or_default();
        let counts = counts_text(job);
        let counts = if counts.is_empty() {
            String::new()
        } else {
            format!(" [{counts}]")
        };
        let _ = writeln!(
            out,
            "  {:<15} {}{allowed}{counts}{detail}",
            label(job.status),
            job.name
        );
    }
    out
}

/// `4 passed, 1 failed (1 allowed)`.
fn status_counts(run: &RunResult) -> String {
    let parts: Vec<String> = STATUS_ORDER
        .iter()
        .filter_map(|&s| {
            let n = run.jobs.iter().filter(|j| j.status == s).count();
            let allowed = run
                .jobs
                .iter()
                .filter(|j| j.status == s && j.allowed_failure)
                .count();
            match (n, allowed) {
                (0, _) => None,
                (n, 0) => Some(format!("{n} {}", label(s))),
                (n, a) => Some(format!("{n} {} ({a} allowed)", label(s))),
            }
        })
        .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// The `ponyswarm runs` table: id, started, status, name, job counts.
pub fn runs_table(runs: &[RunSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<20} {:<12} {:<20} jobs",
        "RUN", "STARTED", "STATUS", "MATRIX"
    );
    for r in runs {
        let status = if r.interrupted {
            "interrupted"
        } else if r.info.finished.is_none() {
            "running"
        } else {
            r.info.status.as_str()
        };
        let counts: Vec<String> = r
            .by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let ended: usize = r.by_status.values().sum();
        let pending = if ended < r.jobs {
            format!(", {} not ended", r.jobs - ended)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<24} {:<20} {:<12} {:<20} {}: {}{pending}",
            r.info.id,
            r.info.started,
            status,
            r.info.name,
            r.jobs,
            counts.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Value;
    use crate::outcome::Tests;
    use crate::report::synthetic::{fail, SyntheticRun};
    use indexmap::IndexMap;

    fn run() -> RunResult {
        SyntheticRun::new("r1", "demo")
            .job(
                &[("python", Value::Str("3.12".into()))],
                Status::Passed,
                |_| {},
            )
            .job(
                &[("python", Value::Str("3.13".into()))],
                Status::Failed,
                |job| {
                    job.tests = Some(Tests::new(9, 1, 0, 0));
                    fail(job, "t::a", "boom");
                },
            )
            .job(
                &[("python", Value::Str("3.14".into()))],
                Status::Timeout,
                |job| {
                    job.allowed_failure = true;
                    job.detail = Some("timed out after 10m".into());
                },
            )
            .finished()
    }

    #[test]
    fn summary_names_where_it_fails() {
        let text = summary(&run(), None);
        let want = "\
demo — failed (run r1, m.yaml)
jobs: 1 passed, 1 failed, 1 timeout (1 allowed)
where it fails: fails only where python=3.13 (1 of 1 job), or where python=3.14 (1 of 1 job)
  t::a: fails only where python=3.13 (1 of 1 job)
  failed          demo (3.13) [9 ✓ · 1 ✗]
  timeout         demo (3.14) (allowed) — timed out after 10m
";
        assert_eq!(text, want);
    }

    #[test]
    fn runs_table_lines() {
        let r = run();
        let mut by_status = IndexMap::new();
        by_status.insert("passed".to_string(), 2);
        let line = RunSummary {
            info: r.run.clone(),
            interrupted: false,
            jobs: 3,
            by_status,
        };
        let table = runs_table(&[line]);
        assert!(
            table
                .lines()
                .nth(1)
                .expect("a line")
                .ends_with("3: 2 passed, 1 not ended"),
            "{table}"
        );
        assert!(table.contains("failed"), "{table}");
    }
}
