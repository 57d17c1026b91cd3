//! Whether a finished run is worth a mail: `always`, `changed` (the result differs from
//! the previous run of the same matrix) or `failed` (the run did not pass).
//!
//! Pure: the run and the previous one in, a decision with its reason out.

use crate::outcome::{RunResult, Status};
use crate::report::compare::{compare, Comparison};

/// When `ponyswarm run` sends its report by mail (`--mail-when`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MailWhen {
    /// After every run.
    Always,
    /// When the result differs from the previous run of the same matrix: the run's or a
    /// job's status changed, or tests newly fail or got fixed. A first run is mailed
    /// only when it fails (there is nothing to compare a passing one with).
    #[default]
    Changed,
    /// When the run did not pass (`failed` or `error`).
    Failed,
}

/// Whether to send, and why (shown to the user either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send the mail.
    Send(String),
    /// Don't: the reason, e.g. `the result is the same as run r41's (failed)`.
    Skip(String),
}

impl Decision {
    /// Whether the mail goes out.
    pub fn sends(&self) -> bool {
        matches!(self, Decision::Send(_))
    }
}

/// Decides whether `current` is mailed under `when`, `previous` being the last finished
/// run of the same matrix (see `Store::previous_run`).
pub fn decide(when: MailWhen, current: &RunResult, previous: Option<&RunResult>) -> Decision {
    let status = current.run.status;
    match when {
        MailWhen::Always => Decision::Send("--mail-when always".to_string()),
        MailWhen::Failed if status == Status::Passed => {
            Decision::Skip("the run passed (--mail-when failed)".to_string())
        }
        MailWhen::Failed => Decision::Send(format!("the run {}", words(status))),
        MailWhen::Changed => match previous {
            None if status == Status::Passed => {
                Decision::Skip("the run passed and there is no previous run to compare with".into())
            }
            None => Decision::Send(format!(
                "the run {} and there is no previous run",
                words(status)
            )),
            Some(previous) => changed(current, previous),
        },
    }
}

/// The `changed` policy against a previous run.
fn changed(current: &RunResult, previous: &RunResult) -> Decision {
    let (now, before) = (current.run.status, previous.run.status);
    if now != before {
        return Decision::Send(format!(
            "the run {} (run {} {})",
            words(now),
            previous.run.id,
            words(before)
        ));
    }
    let c = compare(current, previous);
    match what_changed(&c) {
        Some(what) => Decision::Send(format!("{what} since run {}", previous.run.id)),
        None => Decision::Skip(format!(
            "the result is the same as run {}'s ({})",
            previous.run.id,
            now.as_str()
        )),
    }
}

/// What changed for the people reading the mail; `None` when nothing they act on did.
/// Added or removed jobs alone are not news: their failures show as new failures.
fn what_changed(c: &Comparison) -> Option<String> {
    let mut parts = Vec::new();
    let count = |n: usize, one: &str, many: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    };
    if !c.new_failures.is_empty() {
        parts.push(count(
            c.new_failures.len(),
            "test newly fails",
            "tests newly fail",
        ));
    }
    if !c.fixed.is_empty() {
        parts.push(count(c.fixed.len(), "test fixed", "tests fixed"));
    }
    if !c.status_changes.is_empty() {
        parts.push(count(
            c.status_changes.len(),
            "job changed status",
            "jobs changed status",
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `passed`, `failed`, `hit an error`: how a run's status reads after "the run".
fn words(status: Status) -> &'static str {
    match status {
        Status::Error => "hit an error",
        Status::Cancelled => "was cancelled",
        other => other.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::synthetic::SyntheticRun;
    use Status::{Error, Failed, Passed};

    /// A finished run of jobs `(python, status, failing tests)`.
    fn run(id: &str, jobs: &[(&str, Status, &[&str])]) -> RunResult {
        SyntheticRun::new(id, "m")
            .python_jobs(jobs, |_| {})
            .finished()
    }

    #[test]
    fn each_policy_decides_from_this_run_and_the_previous() {
        use MailWhen::{Always, Changed, Failed as IfFailed};
        let pass = run("p", &[("3.12", Passed, &[])]);
        let fail_a = run("fa", &[("3.12", Failed, &["a"])]);
        let fail_a2 = run("fa2", &[("3.12", Failed, &["a"])]);
        let fail_b = run("fb", &[("3.12", Failed, &["b"])]);
        let error = run("e", &[("3.12", Error, &[])]);
        #[rustfmt::skip]
        let table: &[(MailWhen, &RunResult, Option<&RunResult>, bool)] = &[
            (Always, &pass, Some(&pass), true),
            (Always, &pass, None, true),
            (IfFailed, &pass, Some(&fail_a), false),
            (IfFailed, &fail_a, Some(&fail_a2), true),
            (IfFailed, &error, None, true),
            // changed: pass→fail and fail→pass send, fail→fail with the same failures not.
            (Changed, &fail_a, Some(&pass), true),
            (Changed, &pass, Some(&fail_a), true),
            (Changed, &fail_a2, Some(&fail_a), false),
            (Changed, &pass, Some(&pass), false),
            // fail→fail, but another test fails now.
            (Changed, &fail_b, Some(&fail_a), true),
            (Changed, &error, Some(&fail_a), true),
            // a first run: news only when it fails.
            (Changed, &pass, None, false),
            (Changed, &fail_a, None, true),
        ];
        for (i, (when, now, before, sends)) in table.iter().enumerate() {
            let d = decide(*when, now, *before);
            assert_eq!(d.sends(), *sends, "row {i}: {when:?} {d:?}");
        }
    }

    #[test]
    fn reasons_name_the_previous_run() {
        let before = run("r41", &[("3.12", Failed, &["a"])]);
        let same = run("r42", &[("3.12", Failed, &["a"])]);
        assert_eq!(
            decide(MailWhen::Changed, &same, Some(&before)),
            Decision::Skip("the result is the same as run r41's (failed)".into())
        );
        let pass = run("r42", &[("3.12", Passed, &[])]);
        assert_eq!(
            decide(MailWhen::Changed, &pass, Some(&before)),
            Decision::Send("the run passed (run r41 failed)".into())
        );
        let other = run("r42", &[("3.12", Failed, &["b", "c"])]);
        assert_eq!(
            decide(MailWhen::Changed, &other, Some(&before)),
            Decision::Send("2 tests newly fail, 1 test fixed since run r41".into())
        );
    }
}
