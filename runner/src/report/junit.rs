//! One JUnit XML file for the whole run, for CI systems that read JUnit (GitLab, Jenkins,
//! GitHub test reporters): a `<testsuite>` per job, named with its matrix values
//! (`demo [python=3.12, django=5.1]`) and carrying them as properties.
//!
//! Outcomes keep failed tests, not passing ones, so each suite lists its failures as
//! test cases and states the full counts in its attributes. A job that ended without
//! test failures to show (an install failure, a timeout, …) gets one `ponyswarm.job`
//! case saying so. Allowed failures are written as skipped, so a CI system judges the
//! run as ponyswarm's exit code does.
//!
//! Pure: a run in, XML text out. Everything from the job is escaped, and characters
//! XML 1.0 forbids are dropped.

use crate::outcome::{JobOutcome, RunResult, Status};
use std::fmt::Write as _;

/// The class name of the case standing for a job's own outcome.
const JOB_CLASS: &str = "ponyswarm.job";

/// The merged JUnit XML of `run`.
pub fn merged(run: &RunResult) -> String {
    let mut total = [0u64; 4];
    for job in &run.jobs {
        let c = counts(job);
        for (t, n) in total.iter_mut().zip(c) {
            *t += u64::from(n);
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        esc(&format!("{} {}", run.run.name, run.run.id)),
        total[0],
        total[1],
        total[2],
        total[3]
    );
    for job in &run.jobs {
        suite(&mut out, &run.run.name, job);
    }
    out.push_str("</testsuites>\n");
    out
}

/// tests, failures, errors, skipped of a suite, counting the job case when there is one.
fn counts(job: &JobOutcome) -> [u32; 4] {
    let t = job.tests.unwrap_or_default();
    let mut c = [t.total(), t.failed, t.errors, t.skipped];
    if let Some(kind) = job_case(job) {
        c[0] += 1;
        match kind {
            CaseKind::Failure => c[1] += 1,
            CaseKind::Error => c[2] += 1,
            CaseKind::Skipped => c[3] += 1,
        }
    }
    if job.allowed_failure {
        // Written as skipped (see the module comment).
        c[3] += c[1] + c[2];
        c[1] = 0;
        c[2] = 0;
    }
    c
}

#[derive(Clone, Copy)]
enum CaseKind {
    Failure,
    Error,
    Skipped,
}

/// The kind of the `ponyswarm.job` case, when the job needs one: it did not pass and no
/// failed test tells why.
fn job_case(job: &JobOutcome) -> Option<CaseKind> {
    if job.status == Status::Passed || !job.failures.is_empty() {
        return None;
    }
    Some(match job.status {
        Status::Cancelled => CaseKind::Skipped,
        Status::Error => CaseKind::Error,
        _ => CaseKind::Failure,
    })
}

fn suite(out: &mut String, run_name: &str, job: &JobOutcome) {
    let values: Vec<String> = job
        .matrix
        .iter()
        .map(|(k, v)| format!("{k}={}", v.text()))
        .collect();
    let name = format!("{run_name} [{}]", values.join(", "));
    let time: f64 = job.phases.values().sum();
    let [tests, failures, errors, skipped] = counts(job);
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" \
         skipped=\"{skipped}\" time=\"{time:.3}\">",
        esc(&name)
    );
    out.push_str("    <properties>\n");
    for (k, v) in &job.matrix {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            esc(k),
            esc(&v.text())
        );
    }
    let _ = writeln!(
        out,
        "      <property name=\"ponyswarm.status\" value=\"{}\"/>",
        job.status
    );
    out.push_str("    </properties>\n");
    let outcome = if job.allowed_failure {
        "skipped"
    } else {
        "failure"
    };
    for f in &job.failures {
        let (class, name) = f.test.rsplit_once("::").unwrap_or(("", &f.test));
        let message = if job.allowed_failure {
            format!("allowed to fail: {}", first_line(&f.message))
        } else {
            first_line(&f.message)
        };
        let _ = writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\">\n      <{outcome} message=\"{}\">{}</{outcome}>\n    </testcase>",
            esc(class),
            esc(name),
            esc(&message),
            esc(&f.message)
        );
    }
    if let Some(kind) = job_case(job) {
        let tag = match kind {
            _ if job.allowed_failure => "skipped",
            CaseKind::Failure => "failure",
            CaseKind::Error => "error",
            CaseKind::Skipped => "skipped",
        };
        let detail = job.detail.as_deref().unwrap_or("");
        let message = match (job.allowed_failure, detail) {
            (true, "") => format!("allowed to fail: {}", job.status),
            (true, d) => format!("allowed to fail: {}: {d}", job.status),
            (false, "") => job.status.to_string(),
            (false, d) => format!("{}: {d}", job.status),
        };
        let _ = writeln!(
            out,
            "    <testcase classname=\"{JOB_CLASS}\" name=\"{}\">\n      <{tag} message=\"{}\"/>\n    </testcase>",
            esc(job.status.as_str()),
            esc(&message)
        );
    }
    out.push_str("  </testsuite>\n");
}

/// A message's first line, cut to 200 characters, for the `message` attribute.
fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// Escapes text for XML content and attributes, dropping characters XML 1.0 forbids.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Value;
    use crate::outcome::Tests;
    use crate::report::synthetic::{fail, SyntheticRun};
    use quick_xml::events::Event;
    use quick_xml::Reader;

    fn sample() -> RunResult {
        let axes = |python: &str| {
            [
                ("python", Value::Str(python.into())),
                ("django", Value::Float(5.1)),
            ]
        };
        SyntheticRun::new("r1", "demo")
            .job(&axes("3.11"), Status::Passed, |job| {
                job.tests = Some(Tests::new(4, 0, 1, 0));
            })
            .job(&axes("3.12"), Status::Failed, |job| {
                job.tests = Some(Tests::new(3, 1, 1, 0));
                let message = "assert 1 == 2\n  where \"x\" & \x1b[31mred\x1b[0m";
                fail(job, "tests.test_x::test_<a>", message);
                job.phases.insert("test".into(), 1.5);
            })
            .job(&axes("3.13"), Status::InstallFailed, |job| {
                job.detail = Some("install exited with 1".into());
            })
            .job(&axes("3.14"), Status::Timeout, |job| {
                job.allowed_failure = true;
            })
            .unfinished()
    }

    /// Parses the XML and returns (element, attributes) for every start tag.
    fn elements(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut reader = Reader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("attribute");
                            let value = a
                                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .expect("escaped")
                                .into_owned();
                            (String::from_utf8_lossy(a.key.as_ref()).into_owned(), value)
                        })
                        .collect();
                    out.push((
                        String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                        attrs,
                    ));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> &'a str {
        attrs.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v)
    }

    #[test]
    fn suites_are_named_with_matrix_values() {
        let xml = merged(&sample());
        let els = elements(&xml);
        let suites: Vec<(&str, &str, &str, &str)> = els
            .iter()
            .filter(|(n, _)| n == "testsuite")
            .map(|(_, a)| {
                (
                    attr(a, "name"),
                    attr(a, "tests"),
                    attr(a, "failures"),
                    attr(a, "skipped"),
                )
            })
            .collect();
        assert_eq!(
            suites,
            [
                ("demo [python=3.11, django=5.1]", "5", "0", "1"),
                ("demo [python=3.12, django=5.1]", "5", "1", "1"),
                ("demo [python=3.13, django=5.1]", "1", "1", "0"),
                ("demo [python=3.14, django=5.1]", "1", "0", "1"),
            ]
        );
        let root = &els[0].1;
        assert_eq!(
            (
                attr(root, "tests"),
                attr(root, "failures"),
                attr(root, "skipped")
            ),
            ("12", "2", "3")
        );
    }

    #[test]
    fn cases_say_what_failed() {
        let els = elements(&merged(&sample()));
        let cases: Vec<(&str, &str)> = els
            .iter()
            .filter(|(n, _)| n == "testcase")
            .map(|(_, a)| (attr(a, "classname"), attr(a, "name")))
            .collect();
        assert_eq!(
            cases,
            [
                ("tests.test_x", "test_<a>"),
                ("ponyswarm.job", "install-failed"),
                ("ponyswarm.job", "timeout"),
            ]
        );
        let outcomes: Vec<(&str, &str)> = els
            .iter()
            .filter(|(n, _)| matches!(n.as_str(), "failure" | "error" | "skipped"))
            .map(|(n, a)| (n.as_str(), attr(a, "message")))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("failure", "assert 1 == 2"),
                ("failure", "install-failed: install exited with 1"),
                ("skipped", "allowed to fail: timeout"),
            ]
        );
        let properties: Vec<&str> = els
            .iter()
            .filter(|(n, _)| n == "property")
            .take(3)
            .map(|(_, a)| attr(a, "value"))
            .collect();
        assert_eq!(properties, ["3.11", "5.1", "passed"]);
    }

    #[test]
    fn forbidden_characters_are_dropped() {
        assert_eq!(
            esc("a\x1b[31mb\x00c\td&<>\"'"),
            "a[31mbc\td&amp;&lt;&gt;&quot;&apos;"
        );
    }
}
