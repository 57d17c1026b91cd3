//! A job's page: its matrix values, images, phase timings, test counts, failures, install
//! changes (unexpected ones flagged) and log (ANSI colors rendered, the long part
//! folded). Pure.

use super::{counts_text, duration, label, JobLink};
use crate::outcome::{JobOutcome, RunResult};
use crate::report::ansi;
use crate::sandbox::changes::ChangeKind;
use serde::Serialize;

/// Logs longer than this many lines are folded: all but the last [`LOG_TAIL_LINES`]
/// go into a closed `<details>`, since the end of a log says how the job ended.
pub const LOG_FOLD_LINES: usize = 300;
/// Lines shown below the fold.
pub const LOG_TAIL_LINES: usize = 150;
/// Failures shown open; the rest are folded, each with its own summary line.
pub const FAILURES_OPEN: usize = 5;

/// A job's page.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    /// `<title>`.
    pub title: String,
    /// The run's name.
    pub run_name: String,
    /// The run's id.
    pub run_id: String,
    /// The run's page, relative to this one.
    pub index_href: String,
    /// The job's name.
    pub name: String,
    /// Status name (CSS class).
    pub status: &'static str,
    /// How it reads.
    pub label: &'static str,
    /// Allowed to fail.
    pub allowed: bool,
    /// Why, when the status does not say.
    pub detail: String,
    /// Matrix values.
    pub matrix: Vec<KeyValue>,
    /// Image name → id.
    pub images: Vec<Image>,
    /// Phases with their share of the job's time.
    pub phases: Vec<PhaseRow>,
    /// All phases together.
    pub total: String,
    /// Test counts; `None` when unknown.
    pub tests: Option<TestCounts>,
    /// `41 ✓ · 2 ✗`.
    pub counts: String,
    /// The test command.
    pub test_command: String,
    /// What detection found, when the file had no `test:`.
    pub detected: String,
    /// Failed tests.
    pub failures: Vec<FailureView>,
    /// Install changes, flagged first.
    pub changes: Vec<ChangeView>,
    /// How many are flagged.
    pub flagged: usize,
    /// Changes not listed.
    pub changes_omitted: usize,
    /// The log.
    pub log: LogView,
    /// The tail of each service's output, kept when the job did not pass.
    pub service_logs: Vec<ServiceLog>,
    /// The previous job in the run.
    pub prev: Option<JobLink>,
    /// The next job in the run.
    pub next: Option<JobLink>,
}

/// `key = value`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyValue {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// An image the job used.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// `python`, a service name.
    pub name: String,
    /// The full id.
    pub id: String,
    /// The id cut to 12 hex digits after its algorithm, as `docker images` shows it.
    pub short: String,
}

/// A phase and its timing.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseRow {
    /// Name.
    pub name: String,
    /// How long.
    pub took: String,
    /// Share of the job's time, in percent (at least 1, so every bar shows).
    pub percent: u32,
}

/// Test counts.
#[derive(Debug, Clone, Serialize)]
pub struct TestCounts {
    /// Passed.
    pub passed: u32,
    /// Failed.
    pub failed: u32,
    /// Errors.
    pub errors: u32,
    /// Skipped.
    pub skipped: u32,
}

/// A failed test.
#[derive(Debug, Clone, Serialize)]
pub struct FailureView {
    /// The test.
    pub test: String,
    /// The message's first line.
    pub summary: String,
    /// The message as HTML (ANSI rendered, escaped).
    pub message_html: String,
    /// Shown open.
    pub open: bool,
}

/// An install change.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    /// Path.
    pub path: String,
    /// `added`, `changed`, `deleted`.
    pub kind: &'static str,
    /// Unexpected.
    pub flagged: bool,
    /// Paths inside an added directory.
    pub inside: usize,
}

/// The last lines a service wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceLog {
    /// The service's name.
    pub name: String,
    /// Its output as HTML (ANSI rendered, escaped); empty when it wrote nothing.
    pub html: String,
}

/// The log, folded when long.
#[derive(Debug, Clone, Serialize)]
pub struct LogView {
    /// No output at all.
    pub empty: bool,
    /// Lines in all.
    pub lines: usize,
    /// Lines folded away.
    pub folded_lines: usize,
    /// The folded part as HTML.
    pub folded_html: String,
    /// The shown part as HTML.
    pub shown_html: String,
}

/// Builds the page of job `i` of `run`. `files` are [`super::job_files`]`(run)`.
pub fn build(run: &RunResult, i: usize, files: &[String]) -> JobView {
    let job = &run.jobs[i];
    // Job pages live in `jobs/`; links between them stay in it.
    let sibling = |j: usize| JobLink {
        name: run.jobs[j].name.clone(),
        href: files[j].trim_start_matches("jobs/").to_string(),
        status: run.jobs[j].status.as_str(),
    };
    let total: f64 = job.phases.values().sum();
    JobView {
        title: format!("{} · {} · ponyswarm", job.name, label(job.status)),
        run_name: run.run.name.clone(),
        run_id: run.run.id.clone(),
        index_href: "../index.html".to_string(),
        name: job.name.clone(),
        status: job.status.as_str(),
        label: label(job.status),
        allowed: job.allowed_failure,
        detail: job.detail.clone().unwrap_or_default(),
        matrix: job
            .matrix
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: v.text(),
            })
            .collect(),
        images: job
            .images
            .iter()
            .map(|(name, id)| Image {
                name: name.clone(),
                id: id.clone(),
                short: short_id(id),
            })
            .collect(),
        phases: job
            .phases
            .iter()
            .map(|(name, &secs)| PhaseRow {
                name: name.clone(),
                took: duration(secs),
                percent: if total > 0.0 {
                    ((secs / total * 100.0).round() as u32).clamp(1, 100)
                } else {
                    1
                },
            })
            .collect(),
        total: duration(total),
        tests: job.tests.map(|t| TestCounts {
            passed: t.passed,
            failed: t.failed,
            errors: t.errors,
            skipped: t.skipped,
        }),
        counts: counts_text(job),
        test_command: job.test_command.clone().unwrap_or_default(),
        detected: job.detected.clone().unwrap_or_default(),
        failures: failures(job),
        changes: job
            .install_changes
            .iter()
            .map(|c| ChangeView {
                path: c.path.clone(),
                kind: match c.kind {
                    ChangeKind::Added => "added",
                    ChangeKind::Changed => "changed",
                    ChangeKind::Deleted => "deleted",
                },
                flagged: c.flagged,
                inside: c.inside,
            })
            .collect(),
        flagged: job.install_changes.iter().filter(|c| c.flagged).count(),
        changes_omitted: job.install_changes_omitted,
        log: log(&job.log),
        service_logs: job
            .service_logs
            .iter()
            .map(|(name, text)| ServiceLog {
                name: name.clone(),
                html: ansi::to_html(text.trim_end()),
            })
            .collect(),
        prev: i.checked_sub(1).map(sibling),
        next: (i + 1 < run.jobs.len()).then(|| sibling(i + 1)),
    }
}

fn failures(job: &JobOutcome) -> Vec<FailureView> {
    job.failures
        .iter()
        .enumerate()
        .map(|(i, f)| FailureView {
            test: f.test.clone(),
            summary: ansi::lines(f.message.lines().next().unwrap_or("")).concat(),
            message_html: ansi::to_html(&f.message),
            open: i < FAILURES_OPEN,
        })
        .collect()
}

/// `sha256:0123456789ab`.
fn short_id(id: &str) -> String {
    match id.split_once(':') {
        Some((algo, hex)) => format!("{algo}:{}", hex.chars().take(12).collect::<String>()),
        None => id.chars().take(19).collect(),
    }
}

/// The log as HTML, folded past [`LOG_FOLD_LINES`].
pub fn log(text: &str) -> LogView {
    if text.is_empty() {
        return LogView {
            empty: true,
            lines: 0,
            folded_lines: 0,
            folded_html: String::new(),
            shown_html: String::new(),
        };
    }
    let lines = ansi::lines(text);
    let fold = if lines.len() > LOG_FOLD_LINES {
        lines.len() - LOG_TAIL_LINES
    } else {
        0
    };
    LogView {
        empty: false,
        lines: lines.len(),
        folded_lines: fold,
        folded_html: lines[..fold].join("\n"),
        shown_html: lines[fold..].join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_logs_fold_all_but_the_tail() {
        let cases = [
            (0, 0, 0),
            (1, 1, 0),
            (LOG_FOLD_LINES, LOG_FOLD_LINES, 0),
            (
                LOG_FOLD_LINES + 1,
                LOG_FOLD_LINES + 1,
                LOG_FOLD_LINES + 1 - LOG_TAIL_LINES,
            ),
            (5000, 5000, 5000 - LOG_TAIL_LINES),
        ];
        for (n, lines, folded) in cases {
            let text: String = (0..n).map(|i| format!("line {i}\n")).collect();
            let v = log(&text);
            assert_eq!((v.lines, v.folded_lines), (lines, folded), "{n} lines");
            if n > 0 {
                assert!(v.shown_html.ends_with(&format!("line {}", n - 1)), "{n}");
                assert!(!v.empty);
            }
        }
    }

    #[test]
    fn short_image_ids() {
        let cases = [
            ("sha256:0123456789abcdef0123", "sha256:0123456789ab"),
            ("python:3.12", "python:3.12"),
            ("plain", "plain"),
        ];
        for (id, want) in cases {
            assert_eq!(short_id(id), want);
        }
    }
}
