//! What each page of the HTML report shows, as plain data the templates only lay out:
//! every decision (what to fold, what to cap, which link goes where, how a duration
//! reads) is made here, where it can be tested, and none in the templates.
//!
//! - [`index`]: the run's page: summary, the matrix grids, jobs that did not pass;
//! - [`findings`]: on the run's page, where it fails and what changed;
//! - [`job`]: one page per job.
//!
//! Pure: outcomes in, serializable views out. Text from jobs is escaped by the templates;
//! the only HTML built here is the ANSI rendering of logs and messages ([`super::ansi`]),
//! which escapes its input.

pub mod findings;
pub mod index;
pub mod job;

use crate::outcome::{JobOutcome, RunResult, Status};
use serde::Serialize;

/// Statuses in the order the summary lists them.
pub const STATUS_ORDER: [Status; 8] = Status::ALL;

/// A link to a job page, as shown in lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobLink {
    /// The job's name.
    pub name: String,
    /// Relative to the page that shows the link.
    pub href: String,
    /// Its status name, also its CSS class suffix.
    pub status: &'static str,
}

/// The job pages' file names, relative to the report's directory: `jobs/007-demo-3-12.html`.
/// Numbered, so names stay unique whatever the job names are; the slug is for people.
pub fn job_files(run: &RunResult) -> Vec<String> {
    let width = run.jobs.len().to_string().len().max(3);
    run.jobs
        .iter()
        .enumerate()
        .map(|(i, job)| format!("jobs/{:0width$}-{}.html", i + 1, slug(&job.name)))
        .collect()
}

/// Lower-case letters, digits, `.` and `-` only, at most 60 characters.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches(['-', '.']).trim_start_matches('.');
    if out.is_empty() {
        "job".to_string()
    } else {
        out.to_string()
    }
}

/// A short label for a status, for cells and badges.
pub fn label(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::InstallFailed => "install failed",
        Status::NoTests => "no tests",
        Status::Timeout => "timeout",
        Status::LimitExceeded => "limit",
        Status::Error => "error",
        Status::Cancelled => "cancelled",
    }
}

/// `850ms`, `4.2s`, `1m 05s`, `2h 03m`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".to_string();
    }
    if seconds < 1.0 {
        return format!("{}ms", (seconds * 1000.0).round() as u64);
    }
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let s = seconds.round() as u64;
    if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, s / 60 % 60)
    }
}

/// Test counts as a cell shows them: `41 ✓ · 2 ✗ · 3 skipped`; empty when unknown.
pub fn counts_text(job: &JobOutcome) -> String {
    let Some(t) = job.tests else {
        return String::new();
    };
    let mut parts = vec![format!("{} ✓", t.passed)];
    let broken = t.failed.saturating_add(t.errors);
    if broken > 0 {
        parts.push(format!("{broken} ✗"));
    }
    if t.skipped > 0 {
        parts.push(format!("{} skipped", t.skipped));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        let cases = [
            ("demo (3.12, 5.1)", "demo-3.12-5.1"),
            ("Django / MariaDB!", "django-mariadb"),
            ("...", "job"),
            ("", "job"),
            // Non-ASCII letters are dropped: file names stay portable.
            ("ünïcode ✓ name", "n-code-name"),
        ];
        for (name, want) in cases {
            assert_eq!(slug(name), want, "{name}");
        }
        assert!(slug(&"x".repeat(500)).len() <= 60);
    }

    #[test]
    fn durations() {
        let cases = [
            (0.0, "0ms"),
            (0.85, "850ms"),
            (4.25, "4.2s"),
            (65.0, "1m 05s"),
            (7380.0, "2h 03m"),
            (-1.0, "?"),
            (f64::NAN, "?"),
        ];
        for (s, want) in cases {
            assert_eq!(duration(s), want, "{s}");
        }
    }
}
