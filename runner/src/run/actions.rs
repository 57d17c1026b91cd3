//! A run's output inside GitHub Actions: a `::group::` per job around its lines,
//! `::error` annotations for failing tests (with the file and line of the failure
//! when the JUnit results say them), and the Markdown of the step summary.
//!
//! Pure: formats text; [`super::progress`] prints it and appends the summary to
//! `$GITHUB_STEP_SUMMARY`.

use super::progress::JobLine;
use crate::testresults::Failure;
use std::fmt::Write;
use std::time::Duration;

/// Most annotations per job: GitHub shows only the first ten errors of a step anyway.
pub const MAX_ANNOTATIONS: usize = 10;

/// Whether the environment says this is a GitHub Actions runner.
pub fn detected() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// The lines printed for a finished job: its line and failures folded in a group,
/// then one annotation per failing test.
pub fn job_block(line: &JobLine, summary_line: &str) -> String {
    let mut out = format!("::group::{}\n", escape_data(summary_line));
    if let Some(why) = &line.why {
        let _ = writeln!(out, "{why}");
    }
    for f in &line.failures {
        let _ = writeln!(out, "FAILED {}\n{}", f.test, f.message);
    }
    out.push_str("::endgroup::\n");
    for f in line.failures.iter().take(MAX_ANNOTATIONS) {
        out.push_str(&annotation(&line.name, f));
        out.push('\n');
    }
    if line.failures.is_empty() && line.why.is_some() && !line.status.starts_with("passed") {
        let why = line.why.as_deref().unwrap_or_default();
        let _ = writeln!(
            out,
            "::error title={}::{}",
            escape_property(&format!("{} {}", line.name, line.status)),
            escape_data(why)
        );
    }
    out
}

/// `::error file=…,line=…,title=…::message` for one failing test of job `job`.
pub fn annotation(job: &str, f: &Failure) -> String {
    let mut props = Vec::new();
    let (file, line) = location(f);
    if let Some(file) = file {
        props.push(format!("file={}", escape_property(&file)));
    }
    if let Some(line) = line {
        props.push(format!("line={line}"));
    }
    props.push(format!(
        "title={}",
        escape_property(&format!("{} [{job}]", f.test))
    ));
    let message = if f.message.is_empty() {
        "failed"
    } else {
        &f.message
    };
    format!("::error {}::{}", props.join(","), escape_data(message))
}

/// Where a failure happened: the last `path.py:LINE` of its message (pytest ends a
/// failure's text with `tests/test_x.py:12: AssertionError`), else the module
/// file its class name implies (`tests.test_x.TestY` → `tests/test_x.py`).
pub fn location(f: &Failure) -> (Option<String>, Option<u32>) {
    let found = f.message.split_whitespace().rev().find_map(|word| {
        let (path, rest) = word.split_once(".py:")?;
        let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let path = path.trim_start_matches(['"', '\'', '(']);
        Some((format!("{path}.py"), line.parse().ok()?))
    });
    if let Some((file, line)) = found {
        return (Some(file), Some(line));
    }
    let classname = f.test.split("::").next().filter(|_| f.test.contains("::"));
    let module: Vec<&str> = classname
        .unwrap_or_default()
        .split('.')
        .take_while(|s| !s.is_empty() && !s.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect();
    let file = (!module.is_empty()).then(|| format!("{}.py", module.join("/")));
    (file, None)
}

/// The step summary: a table of the jobs, then each failing test.
pub fn step_summary(run_name: &str, lines: &[JobLine], wall: Duration) -> String {
    let passed = lines.iter().filter(|l| l.status == "passed").count();
    let mut out = format!(
        "### ponyswarm: {}\n\n{passed} of {} jobs passed in {:.1}s\n\n| status | job | tests p/f/s/e | time |\n|---|---|---|---|\n",
        cell(run_name),
        lines.len(),
        wall.as_secs_f64()
    );
    for l in lines {
        let mark = if l.status == "passed" {
            "✅"
        } else if l.status.contains("allowed") {
            "⚠️"
        } else {
            "❌"
        };
        let _ = writeln!(
            out,
            "| {mark} {} | {} | {} | {:.1}s |",
            cell(&l.status),
            cell(&l.name),
            l.tests,
            l.duration.as_secs_f64()
        );
    }
    let failing: Vec<&JobLine> = lines
        .iter()
        .filter(|l| l.why.is_some() && l.status != "passed")
        .collect();
    if !failing.is_empty() {
        out.push_str("\n#### Failures\n\n");
        for l in failing {
            if l.failures.is_empty() {
                let _ = writeln!(
                    out,
                    "- **{}**: {}",
                    cell(&l.name),
                    cell(l.why.as_deref().unwrap_or_default())
                );
            }
            for f in &l.failures {
                let first = f.message.lines().next().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- **{}**: `{}` {}",
                    cell(&l.name),
                    f.test.replace('`', "'"),
                    cell(first)
                );
            }
        }
    }
    out
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A workflow command's message: `%`, CR and LF escaped as GitHub reads them.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(test: &str, message: &str) -> Failure {
        Failure {
            test: test.into(),
            message: message.into(),
        }
    }

    #[test]
    fn failure_locations_from_message_or_class_name() {
        let cases = [
            (
                "tests.test_x::test_a",
                "assert 1 == 2\ntests/test_x.py:12: AssertionError",
                (Some("tests/test_x.py"), Some(12)),
            ),
            (
                "tests.test_views.TestIndex::test_get",
                "boom",
                (Some("tests/test_views.py"), None),
            ),
            ("test_a", "", (None, None)),
        ];
        for (test, message, (file, line)) in cases {
            let got = location(&failure(test, message));
            assert_eq!((got.0.as_deref(), got.1), (file, line), "{test}");
        }
    }

    #[test]
    fn annotations_escape_what_github_would_misread() {
        let a = annotation(
            "lib (3.11, a,b)",
            &failure("t::x", "50% off\nline two\nt.py:3: E"),
        );
        assert_eq!(
            a,
            "::error file=t.py,line=3,title=t%3A%3Ax [lib (3.11%2C a%2Cb)]::50%25 off%0Aline two%0At.py:3: E"
        );
    }

    fn line(name: &str, status: &str, failures: Vec<Failure>) -> JobLine {
        JobLine {
            name: name.into(),
            status: status.into(),
            tests: "1/1/0/0".into(),
            duration: Duration::from_secs(3),
            why: (status != "passed").then(|| "t::x — boom".to_string()),
            failures,
        }
    }

    #[test]
    fn job_block_groups_lines_and_annotates_each_failure() {
        let l = line(
            "lib (3.11)",
            "failed",
            vec![failure("tests.test_x::test_a", "boom")],
        );
        let block = job_block(&l, "failed lib (3.11)");
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines[0], "::group::failed lib (3.11)");
        assert!(lines.contains(&"::endgroup::"), "{block}");
        assert_eq!(
            *lines.last().unwrap(),
            "::error file=tests/test_x.py,title=tests.test_x%3A%3Atest_a [lib (3.11)]::boom"
        );
        let passed = job_block(&line("ok", "passed", vec![]), "passed ok");
        assert!(!passed.contains("::error"), "{passed}");
    }

    #[test]
    fn step_summary_has_the_jobs_table_and_failures() {
        let s = step_summary(
            "lib",
            &[
                line("lib (3.9)", "passed", vec![]),
                line("lib (3.11)", "failed", vec![failure("t::x", "boom\nmore")]),
            ],
            Duration::from_secs(7),
        );
        assert!(s.contains("1 of 2 jobs passed in 7.0s"), "{s}");
        assert!(
            s.contains("| ❌ failed | lib (3.11) | 1/1/0/0 | 3.0s |"),
            "{s}"
        );
        assert!(s.contains("- **lib (3.11)**: `t::x` boom"), "{s}");
    }
}
