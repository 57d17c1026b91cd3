//! A job's record: the facts its run gathered ([`JobRecord`]), and their translation
//! into the outcome results.json shows ([`outcome_of`]), through
//! [`crate::outcome::classify`].
//!
//! Pure: no Docker, no clock.

use crate::detect::runner_of;
use crate::outcome::{classify, Facts, JobOutcome, Status, TimedOut};
use crate::plan::JobPlan;
use crate::run::layout::{VENV, WORK};
use crate::run::progress::Phase;
use crate::sandbox::changes::{classify_changes, ChangeKind};
use crate::sandbox::container::ExecEnd;
use crate::testresults::{Counts, Failure};
use std::time::Duration;

/// Where a job stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// Docker or ponyswarm failed: nothing is known about the project (`error`).
    Error(String),
    /// A service did not become healthy (or exited first).
    Unhealthy {
        /// The service's name.
        service: String,
        /// What was seen.
        message: String,
    },
    /// Fetching the dependencies failed (pip said why, in the log).
    PrepareFailed(String),
    /// The prepare (or waiting for it) ran out of the job's time.
    PrepareTimedOut,
    /// The wheels the prepare fetched and built did not fit in `limits.wheelhouse`
    /// (`limit-exceeded`).
    WheelhouseFull {
        /// The cap, bytes.
        cap: u64,
        /// The prepare log, its first line saying the cap was hit.
        log: String,
    },
    /// An install command did not succeed.
    Install {
        /// The command.
        command: String,
        /// How it ended (non-zero exit, timeout, no output).
        end: ExecEnd,
    },
    /// The kernel's OOM killer stopped an install command while the job's
    /// environment image was built (`limit-exceeded`): the job's memory limit is too
    /// small for its install.
    EnvOutOfMemory {
        /// The install command.
        command: String,
    },
    /// The tests ran (to the end, or until a limit stopped them).
    Tested(ExecEnd),
}

/// What happened in one job: the facts `crate::outcome` classifies.
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// Where it stopped.
    pub end: JobEnd,
    /// Time per phase, in the order they ran (prepare may overlap services).
    pub phases: Vec<(Phase, Duration)>,
    /// The images used: `python` or the service's name → image id.
    pub images: Vec<(String, String)>,
    /// The wheelhouse volume, and whether it was reused without fetching.
    pub wheelhouse: Option<(String, bool)>,
    /// Test counts: from the JUnit XML, else read from the output; `None`: unknown.
    pub counts: Option<Counts>,
    /// Failed and errored tests (from the JUnit XML).
    pub failures: Vec<Failure>,
    /// Why the JUnit XML could not be used, when the runner should have written it.
    pub junit_problem: Option<String>,
    /// What the install changed in the container's writable areas.
    pub install_changes: Vec<(String, ChangeKind)>,
    /// A writable area found full after the phase that ran last (`/work (64 MiB)`).
    pub full_area: Option<String>,
    /// Whether the kernel OOM-killed a process of the job's container.
    pub oom_killed: bool,
    /// The test command as run (with what ponyswarm added).
    pub test_command: Option<String>,
    /// The captured output, capped.
    pub log: String,
    /// Each service's name and the tail of its output, taken before teardown when
    /// the job did not end with passing tests.
    pub service_logs: Vec<(String, String)>,
}

/// The job's outcome as results.json shows it: the record's facts classified by
/// [`crate::outcome::classify`].
pub fn outcome_of(plan: &JobPlan, record: JobRecord) -> JobOutcome {
    let mut facts = Facts {
        runner: runner_of(&plan.test.command),
        counts: record.counts,
        oom_killed: record.oom_killed,
        full_area: record.full_area.clone(),
        log: &record.log,
        ..Facts::default()
    };
    let timed_out = |end: &ExecEnd| match end {
        ExecEnd::TimedOut => Some(TimedOut::WallClock(plan.timeout)),
        ExecEnd::NoOutput(d) => Some(TimedOut::NoOutput(*d)),
        ExecEnd::Exited(_) => None,
    };
    let exit = |end: &ExecEnd| match end {
        ExecEnd::Exited(code) => Some(*code),
        _ => None,
    };
    let mut detail = None;
    match &record.end {
        JobEnd::Error(message) => facts.error = Some(message.clone()),
        JobEnd::Unhealthy { service, message } => {
            facts.unhealthy_service = Some(service.clone());
            detail = Some(message.lines().next().unwrap_or(message).to_string());
        }
        JobEnd::PrepareFailed(log) => {
            facts.install_exit = Some(1);
            let step = log.lines().next().unwrap_or_default();
            detail = Some(format!("fetching dependencies failed: {step}"));
        }
        JobEnd::PrepareTimedOut => facts.timed_out = Some(TimedOut::WallClock(plan.timeout)),
        JobEnd::WheelhouseFull { cap, .. } => {
            facts.install_exit = Some(1);
            facts.full_area = Some(format!(
                "the wheelhouse ({}, limits.wheelhouse)",
                crate::untar::human_bytes(*cap)
            ));
        }
        JobEnd::Install { end, .. } => {
            facts.timed_out = timed_out(end);
            facts.install_exit = exit(end);
        }
        JobEnd::EnvOutOfMemory { .. } => {
            facts.oom_killed = true;
            facts.install_exit = Some(137);
            detail = Some("killed: out of memory while building the environment".to_string());
        }
        JobEnd::Tested(end) => {
            facts.install_exit = Some(0);
            facts.timed_out = timed_out(end);
            facts.test_exit = exit(end);
        }
    }
    let (status, classified) = classify(&facts);
    let changes = classify_changes(record.install_changes, VENV, WORK);
    let mut out = JobOutcome::new(&plan.job.name, plan.job.matrix.clone(), status);
    out.allowed_failure = plan.job.allow_failure;
    out.detail = match (status, &record.end) {
        (Status::LimitExceeded, JobEnd::EnvOutOfMemory { .. }) => detail.or(classified),
        (Status::InstallFailed | Status::Error, _) => detail.or(classified),
        _ => classified,
    };
    out.tests = record.counts;
    out.failures = record.failures;
    out.test_command = record.test_command;
    out.detected = plan.test.detected.clone();
    out.install_changes = changes.changes;
    out.install_changes_omitted = changes.omitted;
    for (phase, took) in &record.phases {
        let name = match (phase, &record.wheelhouse) {
            // Whether the wheelhouse was reused shows in the phase's name.
            (Phase::Prepare, Some((_, true))) => "prepare-cached",
            _ => phase.name(),
        };
        out.record_phase(name, *took);
    }
    out.images = record.images.into_iter().collect();
    out.log = record.log;
    if status != Status::Passed {
        out.service_logs = record.service_logs.into_iter().collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{Job, Limits};
    use crate::plan::TestCommand;

    fn plan() -> JobPlan {
        JobPlan {
            job: Job {
                index: 0,
                name: "p (a)".into(),
                matrix: Default::default(),
                python: "3.11".into(),
                services: vec![],
                allow_failure: false,
            },
            python_image: "3.11".into(),
            services: vec![],
            env: Default::default(),
            files: Default::default(),
            install: vec![],
            prepare: None,
            test: TestCommand {
                command: "python -m pytest".into(),
                detected: None,
            },
            timeout: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }

    fn record(end: JobEnd) -> JobRecord {
        JobRecord {
            end,
            phases: vec![
                (Phase::Images, Duration::from_millis(1500)),
                (Phase::Prepare, Duration::ZERO),
            ],
            images: vec![("python".into(), "sha256:1".into())],
            wheelhouse: Some(("w".into(), true)),
            counts: None,
            failures: vec![],
            junit_problem: None,
            install_changes: vec![],
            full_area: None,
            oom_killed: false,
            test_command: None,
            log: String::new(),
            service_logs: vec![("redis".into(), "Ready to accept connections\n".into())],
        }
    }

    #[test]
    fn tests_that_ran_green_pass() {
        let mut r = record(JobEnd::Tested(ExecEnd::Exited(0)));
        r.counts = Some(Counts {
            passed: 3,
            ..Counts::default()
        });
        let o = outcome_of(&plan(), r);
        assert_eq!(o.status, Status::Passed);
        assert_eq!(o.phases["images"], 1.5);
        assert!(o.phases.contains_key("prepare-cached"));
        assert_eq!(o.images["python"], "sha256:1");
    }

    #[test]
    fn a_failed_fetch_is_an_install_failure_saying_so() {
        let o = outcome_of(
            &plan(),
            record(JobEnd::PrepareFailed(
                "pip download ./broken (exit 1)\nlog".into(),
            )),
        );
        assert_eq!(o.status, Status::InstallFailed);
        assert_eq!(
            o.detail.as_deref(),
            Some("fetching dependencies failed: pip download ./broken (exit 1)")
        );
    }

    #[test]
    fn a_full_wheelhouse_is_the_limit_naming_the_cap() {
        let end = JobEnd::WheelhouseFull {
            cap: 32 << 20,
            log: "ponyswarm: the wheelhouse reached its cap of 32 MiB\nlog".into(),
        };
        let o = outcome_of(&plan(), record(end));
        assert_eq!(o.status, Status::LimitExceeded);
        assert_eq!(
            o.detail.as_deref(),
            Some("ran out of disk: the wheelhouse (32 MiB, limits.wheelhouse) is full")
        );
    }

    #[test]
    fn an_unhealthy_service_is_an_error_naming_it() {
        let end = JobEnd::Unhealthy {
            service: "redis".into(),
            message: "service redis did not become healthy within 20s".into(),
        };
        let o = outcome_of(&plan(), record(end));
        assert_eq!(o.status, Status::Error);
        assert!(o.detail.unwrap_or_default().contains("redis"));
    }

    #[test]
    fn service_logs_are_kept_only_for_jobs_that_did_not_pass() {
        let failed = outcome_of(&plan(), record(JobEnd::Tested(ExecEnd::Exited(1))));
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(
            failed.service_logs["redis"],
            "Ready to accept connections\n"
        );
        let passed = outcome_of(&plan(), record(JobEnd::Tested(ExecEnd::Exited(0))));
        assert_eq!(passed.status, Status::Passed);
        assert!(passed.service_logs.is_empty());
    }

    #[test]
    fn limits_that_trip_are_timeouts_or_oom() {
        let o = outcome_of(&plan(), record(JobEnd::Tested(ExecEnd::TimedOut)));
        assert_eq!(o.status, Status::Timeout);
        let end = JobEnd::Install {
            command: "pip install x".into(),
            end: ExecEnd::NoOutput(Duration::from_secs(8)),
        };
        let o = outcome_of(&plan(), record(end));
        assert_eq!(o.status, Status::Timeout);
        assert_eq!(o.detail.as_deref(), Some("no output for 8s"));
        let mut r = record(JobEnd::Tested(ExecEnd::Exited(137)));
        r.oom_killed = true;
        assert_eq!(outcome_of(&plan(), r).status, Status::LimitExceeded);
    }

    #[test]
    fn oom_while_building_the_environment_is_the_memory_limit_not_a_failed_install() {
        let end = JobEnd::EnvOutOfMemory {
            command: "pip install -e .".into(),
        };
        let o = outcome_of(&plan(), record(end));
        assert_eq!(o.status, Status::LimitExceeded);
        assert_eq!(
            o.detail.as_deref(),
            Some("killed: out of memory while building the environment")
        );
    }

    #[test]
    fn writes_outside_the_venv_and_tree_are_flagged() {
        let mut r = record(JobEnd::Tested(ExecEnd::Exited(0)));
        r.install_changes = vec![
            ("/work/venv".into(), ChangeKind::Added),
            ("/work/venv/bin".into(), ChangeKind::Added),
            ("/home/pony/.evil".into(), ChangeKind::Added),
            ("/work/src/pkg.egg-info".into(), ChangeKind::Added),
        ];
        let o = outcome_of(&plan(), r);
        let listed: Vec<(&str, bool)> = o
            .install_changes
            .iter()
            .map(|c| (c.path.as_str(), c.flagged))
            .collect();
        assert_eq!(
            listed,
            [
                ("/home/pony/.evil", true),
                ("/work/src/pkg.egg-info", false),
                ("/work/venv", false),
            ]
        );
    }

    #[test]
    fn a_full_area_after_failing_tests_is_the_disk_limit() {
        let mut r = record(JobEnd::Tested(ExecEnd::Exited(1)));
        r.full_area = Some("/work (64 MiB)".into());
        let o = outcome_of(&plan(), r);
        assert_eq!(o.status, Status::LimitExceeded);
        assert_eq!(
            o.detail.as_deref(),
            Some("ran out of disk: /work (64 MiB) is full")
        );
    }
}
