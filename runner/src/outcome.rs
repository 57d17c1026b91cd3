//! What happened to each job and to the run, as data shaped exactly like `results.json`;
//! and the two decisions over it: a job's [`Status`] from what the executor observed
//! ([`classify`]) and the run's exit code ([`run_exit_code`]).
//!
//! Pure: the executor gathers [`Facts`]; reports read [`RunResult`]s. Nothing here talks
//! to Docker, the store or the clock (times are handed in).

use crate::detect::Runner;
use crate::matrix::Combination;
use crate::sandbox::changes::InstallChange;
use crate::testresults::{Counts, Failure};
use crate::time::{human_duration, timestamp};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, SystemTime};

/// How a job ended, as a user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The tests ran and none failed.
    Passed,
    /// Tests failed, or the test command failed.
    Failed,
    /// An install command failed: the project (or its dependencies) did not install.
    InstallFailed,
    /// The test command found nothing to run.
    NoTests,
    /// The wall-clock timeout or the no-output timeout tripped.
    Timeout,
    /// Killed by a limit: out of memory, or out of processes.
    LimitExceeded,
    /// Docker or ponyswarm could not do its part (a service never got healthy, an image
    /// failed to build, the engine went away). Not the project's fault: worth a retry.
    Error,
    /// Stopped before finishing because another job failed (fail-fast).
    Cancelled,
}

impl Status {
    /// Every status, in the order reports list them: declaration order, best first.
    pub const ALL: [Status; 8] = [
        Status::Passed,
        Status::Failed,
        Status::InstallFailed,
        Status::NoTests,
        Status::Timeout,
        Status::LimitExceeded,
        Status::Error,
        Status::Cancelled,
    ];

    /// The name used in results.json and reports: `install-failed`, `no-tests`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::InstallFailed => "install-failed",
            Status::NoTests => "no-tests",
            Status::Timeout => "timeout",
            Status::LimitExceeded => "limit-exceeded",
            Status::Error => "error",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether this status fails the run (unless the job may fail). `error` does not: it
    /// says nothing about the project, and has its own exit code.
    pub fn is_failure(self) -> bool {
        !matches!(self, Status::Passed | Status::Error)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's test counts in results.json; the job's `tests` is `null` when they could not
/// be known (no JUnit XML and no summary line we could read).
pub type Tests = Counts;

/// Everything results.json says about one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutcome {
    /// `"<spec name> (v1, v2, …)"`, unique within the run.
    pub name: String,
    /// The job's matrix values in axis order, YAML types kept.
    pub matrix: Combination,
    /// How the job ended (see [`classify`]).
    pub status: Status,
    /// Whether `allow-failure` matches this job: its failure does not fail the run.
    pub allowed_failure: bool,
    /// Why, when the status alone does not say: `service postgres never became healthy`,
    /// `killed: out of memory`, `no output for 10m`.
    pub detail: Option<String>,
    /// `null` when unknown.
    pub tests: Option<Tests>,
    /// Failed and errored tests, with their messages.
    pub failures: Vec<Failure>,
    /// The test command run, with what ponyswarm added.
    pub test_command: Option<String>,
    /// When the matrix file had no `test:`: what detection found and why.
    pub detected: Option<String>,
    /// What the install changed, flagged where a reviewer should look.
    pub install_changes: Vec<InstallChange>,
    /// Changes left out of `install_changes` to keep it readable.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub install_changes_omitted: usize,
    /// Phase name → seconds, in the order the phases ran.
    pub phases: IndexMap<String, f64>,
    /// Image name (`python`, a service name) → image id, so a result can be reproduced.
    pub images: IndexMap<String, String>,
    /// The kept output: head and tail, the middle cut when it was too long.
    pub log: String,
    /// Service name → the last lines of its output, for a job that did not pass: why
    /// a database refused the tests is often only there.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub service_logs: IndexMap<String, String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl JobOutcome {
    /// An outcome with a status and nothing else recorded yet.
    pub fn new(name: impl Into<String>, matrix: Combination, status: Status) -> JobOutcome {
        JobOutcome {
            name: name.into(),
            matrix,
            status,
            allowed_failure: false,
            detail: None,
            tests: None,
            failures: Vec::new(),
            test_command: None,
            detected: None,
            install_changes: Vec::new(),
            install_changes_omitted: 0,
            phases: IndexMap::new(),
            images: IndexMap::new(),
            log: String::new(),
            service_logs: IndexMap::new(),
        }
    }

    /// Records how long a phase took, to the millisecond.
    pub fn record_phase(&mut self, phase: impl Into<String>, took: Duration) {
        let seconds = (took.as_secs_f64() * 1000.0).round() / 1000.0;
        self.phases.insert(phase.into(), seconds);
    }
}

/// The run as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run's id, also its directory under `.ponyswarm/runs/`.
    pub id: String,
    /// The matrix file's `name:`.
    pub name: String,
    /// The matrix file, as given on the command line.
    pub matrix_file: String,
    /// RFC 3339, UTC (see [`crate::time::timestamp`]).
    pub started: String,
    /// `None` while the run is going.
    pub finished: Option<String>,
    /// `passed`, `failed` or `error` (see [`run_status`]); `cancelled` when interrupted.
    pub status: Status,
    /// What `ponyswarm run` exits with (see [`run_exit_code`]).
    pub exit_code: i32,
    /// The version of ponyswarm that ran it.
    pub ponyswarm: String,
}

/// `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The run as a whole.
    pub run: RunInfo,
    /// One outcome per job, in expansion order.
    pub jobs: Vec<JobOutcome>,
}

impl RunResult {
    /// A run that started at `started` and has no jobs finished yet.
    pub fn new(id: String, name: String, matrix_file: String, started: SystemTime) -> RunResult {
        RunResult {
            run: RunInfo {
                id,
                name,
                matrix_file,
                started: timestamp(started),
                finished: None,
                status: Status::Passed,
                exit_code: 0,
                ponyswarm: env!("CARGO_PKG_VERSION").to_string(),
            },
            jobs: Vec::new(),
        }
    }

    /// Marks the run finished at `at`, its status and exit code decided from its jobs.
    pub fn finish(&mut self, at: SystemTime) {
        self.run.finished = Some(timestamp(at));
        self.run.status = run_status(&self.jobs);
        self.run.exit_code = run_exit_code(&self.jobs);
    }
}

/// A timeout that tripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimedOut {
    /// The job's `timeout:` (wall clock) passed.
    WallClock(Duration),
    /// Nothing was printed for this long.
    NoOutput(Duration),
}

/// What the executor observed about a job; the input of [`classify`].
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// Why the job was stopped early (e.g. `fail-fast: another job failed`).
    pub cancelled: Option<String>,
    /// Docker's or ponyswarm's own error, already worded for the user.
    pub error: Option<String>,
    /// A service that never got healthy before its deadline.
    pub unhealthy_service: Option<String>,
    /// Which timeout tripped, if one did.
    pub timed_out: Option<TimedOut>,
    /// Docker's `State.OOMKilled`.
    pub oom_killed: bool,
    /// Exit code of the install phase; `None` when it did not run to the end.
    pub install_exit: Option<i64>,
    /// Exit code of the test command; `None` when it did not run to the end.
    pub test_exit: Option<i64>,
    /// The runner of the test command: pytest's and unittest's exit 5 mean "no tests".
    pub runner: Runner,
    /// From JUnit XML or the runner's summary; `None` when unknown.
    pub counts: Option<Counts>,
    /// A writable area found full after the phase that ran last, with its size
    /// (`/work (64 MiB)`).
    pub full_area: Option<String>,
    /// The kept output, searched for signs of the pids and disk limits.
    pub log: &'a str,
}

/// Signs in a log that a process could not fork or start a thread: what hitting the pids
/// limit looks like from inside (bash, Python's threading, glibc). Generic EAGAIN messages
/// ("Resource temporarily unavailable" alone) are left out: non-blocking sockets print them.
const PIDS_LIMIT_SIGNS: &[&str] = &[
    "fork: Resource temporarily unavailable",
    "fork: retry: Resource temporarily unavailable",
    "can't start new thread",
    "pthread_create failed: Resource temporarily unavailable",
];

/// Signs in a log that a write found no room: ENOSPC as libc, Python and PostgreSQL
/// word it, and as MariaDB's InnoDB does ("preallocating … failed with error 28").
pub const DISK_FULL_SIGNS: &[&str] = &["No space left on device", "failed with error 28"];

/// Decides a job's status, and a detail saying why when the status alone does not.
///
/// The first rule that applies wins, most specific cause first:
/// 1. cancelled → `cancelled` (a cancel can cause any of the symptoms below);
/// 2. an error of Docker or ponyswarm → `error`;
/// 3. a service never healthy → `error` naming it;
/// 4. OOM-killed → `limit-exceeded`;
/// 5. a timeout → `timeout`;
/// 6. the phase that ran last failed and the log shows fork or thread creation failing →
///    `limit-exceeded` (a guess: the pids limit has no flag of its own in Docker; a test
///    suite that prints these messages itself and fails would be misread);
/// 7. the phase that ran last failed, and a writable area was found full after it or
///    the log shows a write finding no room → `limit-exceeded` (the disk limit);
/// 8. install exit ≠ 0 → `install-failed`;
/// 9. no tests: pytest's exit 5, unittest's exit 5 (Python ≥ 3.12), or zero tests counted
///    with exit 0 → `no-tests`;
/// 10. exit 0 and no failed or errored test counted → `passed`; anything else → `failed`.
pub fn classify(facts: &Facts<'_>) -> (Status, Option<String>) {
    if let Some(why) = &facts.cancelled {
        return (Status::Cancelled, Some(format!("cancelled: {why}")));
    }
    if let Some(error) = &facts.error {
        return (Status::Error, Some(error.clone()));
    }
    if let Some(service) = &facts.unhealthy_service {
        return (
            Status::Error,
            Some(format!("service {service} never became healthy")),
        );
    }
    if facts.oom_killed {
        return (
            Status::LimitExceeded,
            Some("killed: out of memory".to_string()),
        );
    }
    match facts.timed_out {
        Some(TimedOut::WallClock(after)) => {
            return (
                Status::Timeout,
                Some(format!("timed out after {}", human_duration(after))),
            );
        }
        Some(TimedOut::NoOutput(silent)) => {
            return (
                Status::Timeout,
                Some(format!("no output for {}", human_duration(silent))),
            );
        }
        None => {}
    }
    let last_exit = facts.test_exit.or(facts.install_exit);
    if last_exit.is_some_and(|code| code != 0) {
        if let Some(sign) = log_sign(facts.log, PIDS_LIMIT_SIGNS) {
            return (
                Status::LimitExceeded,
                Some(format!("hit the process limit: {sign}")),
            );
        }
        if let Some(area) = &facts.full_area {
            return (
                Status::LimitExceeded,
                Some(format!("ran out of disk: {area} is full")),
            );
        }
        if let Some(sign) = log_sign(facts.log, DISK_FULL_SIGNS) {
            return (
                Status::LimitExceeded,
                Some(format!("ran out of disk: {sign}")),
            );
        }
    }
    match facts.install_exit {
        None => {
            return (
                Status::Error,
                Some("the install did not report an exit status".to_string()),
            )
        }
        Some(code) if code != 0 => return (Status::InstallFailed, Some(exited("install", code))),
        Some(_) => {}
    }
    let Some(code) = facts.test_exit else {
        return (
            Status::Error,
            Some("the test command did not report an exit status".to_string()),
        );
    };
    classify_tests(code, facts.runner, facts.counts)
}

/// Rules 9 and 10 of [`classify`]: the install went fine and the tests exited with `code`.
fn classify_tests(code: i64, runner: Runner, counts: Option<Counts>) -> (Status, Option<String>) {
    let ran = counts.map(|c| c.total());
    let broken = counts.map_or(0, |c| c.failed.saturating_add(c.errors));
    match (runner, code) {
        (Runner::Pytest, 5) => {
            return (
                Status::NoTests,
                Some("pytest collected no tests (exit 5)".to_string()),
            )
        }
        (Runner::Unittest, 5) if ran.unwrap_or(0) == 0 => {
            return (
                Status::NoTests,
                Some("unittest found no tests (exit 5)".to_string()),
            )
        }
        (_, 0) if ran == Some(0) => return (Status::NoTests, Some("no tests ran".to_string())),
        _ => {}
    }
    if code == 0 {
        return match broken {
            0 => (Status::Passed, None),
            n => (
                Status::Failed,
                Some(format!("the test command exited 0, but {n} tests failed")),
            ),
        };
    }
    let detail = match (runner, code) {
        (_, 129..=192) => Some(exited("the test command", code)),
        (Runner::Pytest, 2) => {
            Some("pytest was interrupted (exit 2), e.g. by errors while collecting".to_string())
        }
        (Runner::Pytest, 3) => Some("pytest hit an internal error (exit 3)".to_string()),
        (Runner::Pytest, 4) => Some("pytest rejected its command line (exit 4)".to_string()),
        _ if counts.is_some() && broken == 0 => Some(format!(
            "the test command exited {code}, but no test failed"
        )),
        _ => None,
    };
    (Status::Failed, detail)
}

/// `install exited with 1`, or `install was killed by signal 9 (exit 137)`.
fn exited(what: &str, code: i64) -> String {
    match code {
        129..=192 => format!("{what} was killed by signal {} (exit {code})", code - 128),
        _ => format!("{what} exited with {code}"),
    }
}

/// The last log line showing one of `signs`, trimmed to 200 characters.
fn log_sign(log: &str, signs: &[&str]) -> Option<String> {
    let line = log
        .lines()
        .rev()
        .find(|l| signs.iter().any(|s| l.contains(s)))?;
    let line = line.trim();
    Some(match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    })
}

/// The run's status: `failed` when a job failed that may not fail, else `error` when a job
/// that may not fail hit an error, else `passed`.
///
/// A failure outranks an error: the project's verdict is known, and retrying the errored
/// job cannot turn the run green. A job allowed to fail is excused whatever its status,
/// `error` included. A run without jobs passes (an empty filter is bad input, caught
/// before this).
pub fn run_status(jobs: &[JobOutcome]) -> Status {
    let counted = || jobs.iter().filter(|j| !j.allowed_failure);
    if counted().any(|j| j.status.is_failure()) {
        Status::Failed
    } else if counted().any(|j| j.status == Status::Error) {
        Status::Error
    } else {
        Status::Passed
    }
}

/// What `ponyswarm run` exits with: 0 all passed (or were allowed to fail), 1 a job
/// failed, 3 ponyswarm or Docker could not do its part; see [`run_status`]. (2, bad
/// input, is decided before any job runs.)
pub fn run_exit_code(jobs: &[JobOutcome]) -> i32 {
    match run_status(jobs) {
        Status::Passed => 0,
        Status::Error => 3,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Value;
    use std::time::UNIX_EPOCH;

    fn counts(passed: u32, failed: u32, skipped: u32, errors: u32) -> Option<Counts> {
        Some(Counts {
            passed,
            failed,
            skipped,
            errors,
        })
    }

    /// Install succeeded, pytest ran: the base the cases change.
    fn ran(test_exit: i64, counts: Option<Counts>) -> Facts<'static> {
        Facts {
            install_exit: Some(0),
            test_exit: Some(test_exit),
            runner: Runner::Pytest,
            counts,
            ..Facts::default()
        }
    }

    #[test]
    fn classification() {
        let min = Duration::from_secs(60);
        let cases: Vec<(&str, Facts<'static>, Status, Option<&str>)> = vec![
            (
                "all green",
                ran(0, counts(3, 0, 1, 0)),
                Status::Passed,
                None,
            ),
            ("green, counts unknown", ran(0, None), Status::Passed, None),
            (
                "a test failed",
                ran(1, counts(3, 1, 0, 0)),
                Status::Failed,
                None,
            ),
            (
                "errors only",
                ran(1, counts(3, 0, 0, 2)),
                Status::Failed,
                None,
            ),
            (
                "exit 0 with failures is not a pass",
                Facts {
                    runner: Runner::Other,
                    ..ran(0, counts(1, 2, 0, 0))
                },
                Status::Failed,
                Some("the test command exited 0, but 2 tests failed"),
            ),
            (
                "pytest exit 5",
                ran(5, counts(0, 0, 0, 0)),
                Status::NoTests,
                Some("pytest collected no tests (exit 5)"),
            ),
            (
                "unittest 3.12 exit 5",
                Facts {
                    runner: Runner::Unittest,
                    ..ran(5, counts(0, 0, 0, 0))
                },
                Status::NoTests,
                Some("unittest found no tests (exit 5)"),
            ),
            (
                "Django ran 0 tests",
                Facts {
                    runner: Runner::Django,
                    ..ran(0, counts(0, 0, 0, 0))
                },
                Status::NoTests,
                Some("no tests ran"),
            ),
            (
                "exit 5 of another runner is just a failure",
                Facts {
                    runner: Runner::Other,
                    ..ran(5, None)
                },
                Status::Failed,
                None,
            ),
            (
                "pytest collection error",
                ran(2, counts(0, 0, 0, 1)),
                Status::Failed,
                Some("pytest was interrupted (exit 2), e.g. by errors while collecting"),
            ),
            (
                "non-zero exit, nothing failed",
                ran(1, counts(4, 0, 0, 0)),
                Status::Failed,
                Some("the test command exited 1, but no test failed"),
            ),
            (
                "killed by a signal",
                ran(137, None),
                Status::Failed,
                Some("the test command was killed by signal 9 (exit 137)"),
            ),
            (
                "install failed",
                Facts {
                    install_exit: Some(1),
                    ..Facts::default()
                },
                Status::InstallFailed,
                Some("install exited with 1"),
            ),
            (
                "install did not finish",
                Facts::default(),
                Status::Error,
                Some("the install did not report an exit status"),
            ),
            (
                "tests did not finish",
                Facts {
                    install_exit: Some(0),
                    ..Facts::default()
                },
                Status::Error,
                Some("the test command did not report an exit status"),
            ),
            (
                "oom beats the failure it caused",
                Facts {
                    oom_killed: true,
                    ..ran(137, counts(1, 1, 0, 0))
                },
                Status::LimitExceeded,
                Some("killed: out of memory"),
            ),
            (
                "oom during install",
                Facts {
                    oom_killed: true,
                    install_exit: Some(137),
                    ..Facts::default()
                },
                Status::LimitExceeded,
                Some("killed: out of memory"),
            ),
            (
                "pids limit guessed from the log",
                Facts {
                    log: "ok\nbash: fork: Resource temporarily unavailable\nFAILED\n",
                    ..ran(1, counts(0, 1, 0, 0))
                },
                Status::LimitExceeded,
                Some("hit the process limit: bash: fork: Resource temporarily unavailable"),
            ),
            (
                "pids during install",
                Facts {
                    install_exit: Some(1),
                    log: "RuntimeError: can't start new thread",
                    ..Facts::default()
                },
                Status::LimitExceeded,
                Some("hit the process limit: RuntimeError: can't start new thread"),
            ),
            (
                "a full area after failing tests",
                Facts {
                    full_area: Some("/work (64 MiB)".into()),
                    ..ran(1, counts(0, 1, 0, 0))
                },
                Status::LimitExceeded,
                Some("ran out of disk: /work (64 MiB) is full"),
            ),
            (
                "disk full during install, seen in the log",
                Facts {
                    install_exit: Some(1),
                    log: "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n",
                    ..Facts::default()
                },
                Status::LimitExceeded,
                Some("ran out of disk: ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"),
            ),
            (
                "a full area ignored when the job passed",
                Facts {
                    full_area: Some("/tmp (512 MiB)".into()),
                    log: "No space left on device",
                    ..ran(0, counts(1, 0, 0, 0))
                },
                Status::Passed,
                None,
            ),
            (
                "pids signs ignored when the job passed",
                Facts {
                    log: "RuntimeError: can't start new thread",
                    ..ran(0, counts(1, 0, 0, 0))
                },
                Status::Passed,
                None,
            ),
            (
                "wall clock",
                Facts {
                    timed_out: Some(TimedOut::WallClock(30 * min)),
                    test_exit: None,
                    ..ran(0, None)
                },
                Status::Timeout,
                Some("timed out after 30m"),
            ),
            (
                "no output",
                Facts {
                    timed_out: Some(TimedOut::NoOutput(Duration::from_secs(3725))),
                    ..ran(137, None)
                },
                Status::Timeout,
                Some("no output for 1h 2m 5s"),
            ),
            (
                "unhealthy service",
                Facts {
                    unhealthy_service: Some("postgres".into()),
                    ..Facts::default()
                },
                Status::Error,
                Some("service postgres never became healthy"),
            ),
            (
                "docker error beats what it caused",
                Facts {
                    error: Some("Docker: image python:3.14 not found".into()),
                    timed_out: Some(TimedOut::WallClock(min)),
                    ..Facts::default()
                },
                Status::Error,
                Some("Docker: image python:3.14 not found"),
            ),
            (
                "cancelled beats everything",
                Facts {
                    cancelled: Some("fail-fast: another job failed".into()),
                    error: Some("x".into()),
                    ..ran(137, None)
                },
                Status::Cancelled,
                Some("cancelled: fail-fast: another job failed"),
            ),
        ];
        for (what, facts, status, detail) in cases {
            assert_eq!(
                classify(&facts),
                (status, detail.map(String::from)),
                "{what}"
            );
        }
    }

    fn job(status: Status, allowed_failure: bool) -> JobOutcome {
        JobOutcome {
            allowed_failure,
            ..JobOutcome::new("j", Combination::new(), status)
        }
    }

    #[test]
    fn run_exit_codes() {
        use Status::*;
        /// What, the jobs as (status, allowed to fail), the exit code.
        type Case = (&'static str, &'static [(Status, bool)], i32);
        let cases: &[Case] = &[
            ("no jobs", &[], 0),
            ("all passed", &[(Passed, false), (Passed, false)], 0),
            ("allowed failure", &[(Passed, false), (Failed, true)], 0),
            ("allowed error", &[(Passed, false), (Error, true)], 0),
            ("a failure", &[(Passed, false), (Failed, false)], 1),
            ("install failed", &[(InstallFailed, false)], 1),
            ("no tests", &[(NoTests, false)], 1),
            ("timeout", &[(Timeout, false)], 1),
            ("limit", &[(LimitExceeded, false)], 1),
            (
                "cancelled by fail-fast",
                &[(Failed, false), (Cancelled, false)],
                1,
            ),
            ("an error", &[(Passed, false), (Error, false)], 3),
            (
                "failure outranks error",
                &[(Error, false), (Failed, false)],
                1,
            ),
        ];
        for (what, jobs, want) in cases {
            let jobs: Vec<JobOutcome> = jobs.iter().map(|&(s, a)| job(s, a)).collect();
            assert_eq!(run_exit_code(&jobs), *want, "{what}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_415_191, "2026-11-23T06:26:31Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
        ];
        for (secs, want) in cases {
            assert_eq!(
                timestamp(UNIX_EPOCH + Duration::from_secs(secs)),
                want,
                "{secs}"
            );
        }
        assert_eq!(
            timestamp(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn results_json_shape() {
        let mut matrix = Combination::new();
        matrix.insert("python".into(), Value::Str("3.12".into()));
        matrix.insert("django".into(), Value::Float(5.1));
        let mut outcome = JobOutcome::new("demo (3.12, 5.1)", matrix, Status::InstallFailed);
        outcome.tests = counts(1, 0, 0, 0);
        outcome.record_phase("install", Duration::from_millis(12_345));
        outcome.failures.push(Failure {
            test: "t::a".into(),
            message: "boom".into(),
        });
        let mut run = RunResult::new(
            "r1".into(),
            "demo".into(),
            "ponyswarm.yaml".into(),
            UNIX_EPOCH,
        );
        run.jobs.push(outcome);
        run.finish(UNIX_EPOCH + Duration::from_secs(61));
        let json = serde_json::to_value(&run).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "run": {
                    "id": "r1", "name": "demo", "matrix_file": "ponyswarm.yaml",
                    "started": "1970-01-01T00:00:00Z", "finished": "1970-01-01T00:01:01Z",
                    "status": "failed", "exit_code": 1, "ponyswarm": env!("CARGO_PKG_VERSION"),
                },
                "jobs": [{
                    "name": "demo (3.12, 5.1)",
                    "matrix": {"python": "3.12", "django": 5.1},
                    "status": "install-failed",
                    "allowed_failure": false,
                    "detail": null,
                    "tests": {"passed": 1, "failed": 0, "skipped": 0, "errors": 0},
                    "failures": [{"test": "t::a", "message": "boom"}],
                    "test_command": null,
                    "detected": null,
                    "install_changes": [],
                    "phases": {"install": 12.345},
                    "images": {},
                    "log": "",
                }],
            })
        );
    }

    #[test]
    fn statuses_serialize_kebab_case() {
        for status in Status::ALL {
            assert_eq!(
                serde_json::to_value(status).expect("serializes"),
                status.as_str(),
                "{status:?}"
            );
        }
        assert_eq!(Status::LimitExceeded.to_string(), "limit-exceeded");
    }
}

#[cfg(test)]
mod roundtrip_tests {
    use super::*;
    use crate::matrix::Value;

    #[test]
    fn results_json_reads_back_with_types_and_order_kept() {
        let mut matrix = Combination::new();
        matrix.insert("python".into(), Value::Str("3.11".into()));
        matrix.insert("workers".into(), Value::Int(12));
        matrix.insert("ratio".into(), Value::Float(0.5));
        matrix.insert("fast".into(), Value::Bool(true));
        let mut run = RunResult::new(
            "r1".into(),
            "m".into(),
            "ponyswarm.yaml".into(),
            std::time::SystemTime::UNIX_EPOCH,
        );
        run.jobs.push(JobOutcome::new(
            "m (3.11, 12, 0.5, true)",
            matrix,
            Status::Failed,
        ));
        let text = serde_json::to_string(&run).expect("serializes");
        let back: RunResult = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, run);
        let keys: Vec<&String> = back.jobs[0].matrix.keys().collect();
        assert_eq!(keys, ["python", "workers", "ratio", "fast"]);
    }
}
